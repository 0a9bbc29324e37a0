//! Scoring a trained prompt (a run folder's `best/`) or the template alone (zero-shot, k = 0)
//! on any data file the config's columns can read.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{Module, ModuleDisplay};
use burn::tensor::{Device, Tensor, TensorData};
use prompt_data::Tokenizer;
use prompt_model::{
    Backbone, ClassTokens, ModelFamily, PromptError, PromptTuned, SavedPrompt, SoftPrompt,
};
use prompt_train::artifacts::RunDir;
use prompt_train::{
    ExperimentConfig, Override, TaskEncoder, TrainError, WithBackbone, evaluate, on_threads,
    read_split, with_backbone,
};
use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::metrics::ClassificationMetrics;

/// Which soft prompt goes in front of the template.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptChoice {
    /// A saved prompt folder (PEFT layout).
    Saved(PathBuf),
    /// No prompt: the template alone (the paper's "prompt design" baseline).
    ZeroShot,
    /// Given values `[k, d]`, row-major (a prompt in memory, e.g. one just trained).
    Values {
        /// Prompt rows `k`.
        rows: usize,
        /// Row-major values.
        values: Vec<f32>,
    },
}

/// What to score: the experiment (template, verbalizer, model, columns), the prompt and the
/// data file.
#[derive(Debug, Clone)]
pub struct EvalSpec {
    /// The experiment the prompt belongs to.
    pub config: ExperimentConfig,
    /// The prompt.
    pub prompt: PromptChoice,
    /// The data file (found like the config's data paths).
    pub data: PathBuf,
    /// Score only the first `n` examples (`None`: all).
    pub limit: Option<usize>,
}

impl EvalSpec {
    /// The best prompt of the run in folder `run` (written by `cargo xtask train`), on `data`
    /// (default: the run's dev split), or the run's template alone when `zero_shot`;
    /// `overrides` change the run's config (e.g. `template=…`).
    pub fn for_run(
        run: &Path,
        data: Option<&Path>,
        zero_shot: bool,
        overrides: &[Override],
    ) -> Result<Self, EvalError> {
        let dir = RunDir::new(run);
        if !dir.config().is_file() {
            return Err(EvalError::NotARun {
                path: run.to_path_buf(),
            });
        }
        let config = ExperimentConfig::load(&dir.config(), overrides)?;
        let prompt = if zero_shot {
            PromptChoice::ZeroShot
        } else if dir.best().is_dir() {
            PromptChoice::Saved(dir.best())
        } else {
            return Err(EvalError::NoBestPrompt { path: dir.best() });
        };
        Ok(Self::new(config, prompt, data))
    }

    /// `prompt` with the experiment `config`, on `data` (default: the config's dev split).
    /// A data file other than the config's is read in the format its extension names.
    pub fn new(mut config: ExperimentConfig, prompt: PromptChoice, data: Option<&Path>) -> Self {
        let data = match data {
            Some(path) if path != config.data.dev => {
                config.data.format = None;
                path.to_path_buf()
            }
            _ => config.data.dev.clone(),
        };
        Self {
            config,
            prompt,
            data,
            limit: None,
        }
    }
}

/// The result of scoring one prompt on one data file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The data file read.
    pub data: PathBuf,
    /// Where the prompt came from: its folder, `zero-shot`, or `in memory`.
    pub prompt: String,
    /// Prompt rows `k` (0 for zero-shot).
    pub prompt_tokens: usize,
    /// The template.
    pub template: String,
    /// Mean cross-entropy over the classes.
    pub loss: f64,
    /// Accuracy, F1, per-class numbers and the confusion matrix.
    pub metrics: ClassificationMetrics,
    /// Rows of the file that were skipped as malformed (only with `data.skip_bad_rows`).
    pub skipped_rows: usize,
    /// Seconds spent scoring (model loading and encoding excluded).
    pub seconds: f64,
}

/// Loads the model, the prompt and the data of `spec` onto `device` and scores them.
pub fn score(spec: &EvalSpec, device: &Device) -> Result<EvalReport, EvalError> {
    let saved = match &spec.prompt {
        PromptChoice::Saved(dir) => Some(SavedPrompt::load(dir)?),
        _ => None,
    };
    let k = match (&spec.prompt, &saved) {
        (_, Some(saved)) => saved.num_tokens(),
        (PromptChoice::Values { rows, .. }, _) => *rows,
        _ => 0,
    };
    let mut config = spec.config.clone();
    // The encoder leaves room for exactly the prompt that is used.
    config.prompt.length = k;
    let work = Score {
        spec,
        config: &config,
        saved: saved.as_ref(),
        device,
    };
    Ok(on_threads(config.threads, || {
        with_backbone(&config.model.resolved_path(), device, work)
    })?)
}

struct Score<'a> {
    spec: &'a EvalSpec,
    config: &'a ExperimentConfig,
    saved: Option<&'a SavedPrompt>,
    device: &'a Device,
}

impl WithBackbone for Score<'_> {
    type Output = EvalReport;

    fn run<B: Backbone + Module + ModuleDisplay>(
        self,
        backbone: B,
        tokenizer: &Tokenizer,
        family: ModelFamily,
    ) -> Result<EvalReport, TrainError> {
        let Self {
            spec,
            config,
            saved,
            device,
        } = self;
        let data = read_split(config, &spec.data)?;
        let encoder = TaskEncoder::new(
            config,
            tokenizer,
            family,
            backbone.max_positions(),
            &data.label_names,
        )?;
        let mut examples = encoder.encode(&data)?;
        if let Some(limit) = spec.limit {
            examples.truncate(limit);
        }
        let width = backbone.hidden_size();
        let (prompt, source) = match (&spec.prompt, saved) {
            (_, Some(saved)) => (
                saved.to_soft_prompt(width, device)?,
                saved.dir.display().to_string(),
            ),
            (PromptChoice::Values { rows, values }, _) => {
                if values.len() != rows * width {
                    return Err(PromptError::ModelWidth {
                        found: values.len() / (*rows).max(1),
                        expected: width,
                    }
                    .into());
                }
                let values = TensorData::new(values.clone(), [*rows, width]);
                (
                    SoftPrompt::from_tensor(Tensor::from_data(values, device)),
                    "in memory".to_string(),
                )
            }
            _ => (
                SoftPrompt::from_tensor(Tensor::zeros([0, width], device)),
                "zero-shot".to_string(),
            ),
        };
        let prompt_tokens = prompt.num_tokens();
        let model = PromptTuned::new(backbone, prompt)?;
        let classes = ClassTokens::new(&encoder.label_token_ids, encoder.policy, device)?;
        let start = Instant::now();
        let evaluation = evaluate(
            &model,
            &classes,
            &examples,
            config.train.eval_batch_size,
            // Padding is masked out, so any id serves.
            0,
            device,
        );
        let gold: Vec<usize> = examples.iter().map(|e| e.label).collect();
        Ok(EvalReport {
            data: data
                .path
                .canonicalize()
                .unwrap_or_else(|_| data.path.clone()),
            prompt: source,
            prompt_tokens,
            template: config.template.source().to_string(),
            loss: evaluation.loss,
            metrics: ClassificationMetrics::new(&data.label_names, &gold, &evaluation.predictions),
            skipped_rows: data.skipped.len(),
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_config_is_not_a_run() {
        let dir = tempfile::tempdir().unwrap();
        let err = EvalSpec::for_run(dir.path(), None, false, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is not a training run folder: it has no config.toml (pass the `output` \
                 folder of `cargo xtask train`, e.g. runs/sst2)",
                dir.path().display()
            )
        );
    }

    #[test]
    fn a_run_without_best_prompt_says_so_and_zero_shot_still_works() {
        let dir = tempfile::tempdir().unwrap();
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/sst2.toml");
        std::fs::copy(config, dir.path().join("config.toml")).unwrap();
        let err = EvalSpec::for_run(dir.path(), None, false, &[]).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "{} has no best prompt yet",
                dir.path().join("best").display()
            )),
            "{err}"
        );
        let spec = EvalSpec::for_run(dir.path(), None, true, &[]).unwrap();
        assert_eq!(spec.prompt, PromptChoice::ZeroShot);
    }
}
