//! Scoring an ensemble (several prompts trained for one task) on labelled data: every input
//! behind every prompt in one batched pass, each member's metrics beside the ensemble's.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;
use prompt_train::memory::{check_all, eval_shape};
use prompt_train::{Override, TrainError, on_threads, read_split};
use serde::Serialize;

use crate::error::EvalError;
use crate::metrics::ClassificationMetrics;
use crate::predict::{Input, Predictor, TaskSpec, Vote};
use crate::score::{EvalReport, EvalSpec};

/// Each member's report and the ensemble's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnsembleReport {
    /// How the members decided.
    pub vote: Vote,
    /// One report per prompt, in the order given.
    pub members: Vec<EvalReport>,
    /// The ensemble's report (its loss is that of the members' mean probabilities).
    pub ensemble: EvalReport,
}

/// Scores the prompts `artifacts` as one ensemble on `data` (default: the first artifact's dev
/// split; see [`EvalSpec::for_artifact`] for `config`, `data` and `overrides`), the first
/// `limit` examples only when given.
pub fn score_ensemble(
    artifacts: &[PathBuf],
    config: Option<&Path>,
    data: Option<&Path>,
    overrides: &[Override],
    vote: Vote,
    limit: Option<usize>,
    device: &Device,
) -> Result<EnsembleReport, EvalError> {
    let first = artifacts.first().ok_or_else(|| EvalError::NoPrompts {
        task: "ensemble".into(),
    })?;
    let spec = EvalSpec::for_artifact(first, config, data, false, overrides)?;
    let model_path = spec.config.model.resolved_path();
    on_threads(spec.config.threads, || {
        let predictor = Predictor::load(&model_path, device)?;
        let task = TaskSpec {
            artifacts: artifacts.to_vec(),
            config: config.map(Path::to_path_buf),
            overrides: overrides.to_vec(),
            vote,
            ..TaskSpec::default()
        };
        let info = predictor.register("ensemble", &task)?;
        let dataset = read_split(&spec.config, &spec.data)?;
        let mut examples = dataset.examples;
        examples.truncate(limit.unwrap_or(usize::MAX));
        let rows = examples
            .iter()
            .map(|e| predictor.prepare("ensemble", &Input::Fields(e.fields.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let batch = spec.config.train.eval_batch_size;
        let encoded: Vec<_> = rows.iter().map(|row| row.encoded().clone()).collect();
        let prompt = info.prompt_tokens.iter().copied().max().unwrap_or(0);
        check_all(
            &predictor.model().backbone,
            &[eval_shape(&encoded, batch, prompt)],
            None,
        )
        .map_err(TrainError::from)?;
        let start = Instant::now();
        let predictions = predictor.score(&rows, batch, |_| {});
        let seconds = start.elapsed().as_secs_f64();
        let gold: Vec<usize> = examples.iter().map(|e| e.label).collect();
        let data = dataset
            .path
            .canonicalize()
            .unwrap_or_else(|_| dataset.path.clone());
        let report = |prompt: String, tokens: usize, predicted: Vec<usize>, gold_p: Vec<f32>| {
            let loss = gold_p.iter().map(|&p| -f64::from(p).ln()).sum::<f64>()
                / gold_p.len().max(1) as f64;
            EvalReport {
                data: data.clone(),
                prompt,
                prompt_tokens: tokens,
                template: info.template.clone(),
                loss,
                metrics: ClassificationMetrics::new(&info.labels, &gold, &predicted),
                skipped_rows: dataset.skipped.len(),
                seconds,
                predictions: predicted,
            }
        };
        let members = (0..artifacts.len())
            .map(|m| {
                let member = |i: usize| &predictions[i].members[m];
                report(
                    info.prompts[m].display().to_string(),
                    info.prompt_tokens[m],
                    (0..gold.len()).map(|i| member(i).class).collect(),
                    (0..gold.len())
                        .map(|i| member(i).probabilities[gold[i]])
                        .collect(),
                )
            })
            .collect();
        let ensemble = report(
            format!("ensemble of {} ({vote})", artifacts.len()),
            prompt,
            predictions.iter().map(|p| p.class).collect(),
            predictions
                .iter()
                .zip(&gold)
                .map(|(p, &g)| p.probabilities[g])
                .collect(),
        );
        Ok(EnsembleReport {
            vote,
            members,
            ensemble,
        })
    })
}
