//! `cargo xtask bench-predict --artifact DIR`: what serving several tasks from one backbone
//! costs. Three tasks (the artifact's prompt behind three templates and verbalizers) scored
//! one after another against the same rows mixed in shared batches; and a prompt's keys and
//! values computed once for all batches against once per batch, at k = 20 and k = 100.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Distribution, Tensor};
use prompt_data::{
    ColumnMapping, Encoded, PromptBatcher, ReadOptions, read_dataset, sorted_batches,
};
use prompt_eval::artifact_experiment;
use prompt_eval::predict::{Input, Predictor, Row, TaskSpec};
use prompt_model::{Backbone, ClassTokens, PromptTuned, SavedPrompt, SoftPrompt};
use prompt_train::{Override, TaskEncoder, evaluate, on_threads};

use crate::fetch;

#[derive(clap::Args)]
pub struct BenchPredictArgs {
    /// The prompt (or run) folder whose prompt and model are timed.
    #[arg(long, value_name = "DIR")]
    artifact: PathBuf,
    /// The texts: a TSV, CSV or JSONL file with a `sentence` column.
    #[arg(long, default_value = "../shared/assets/sst2/dev.tsv")]
    data: PathBuf,
    /// Inputs per task.
    #[arg(long, default_value_t = 256)]
    examples: usize,
    /// Rows per forward pass.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
}

/// The two extra tasks: a template and label words each (speed does not depend on whether
/// the prompt was trained for them).
const OTHER_TASKS: [(&str, &str, &str); 2] = [
    (
        "topic",
        "{sentence}\nTopic:{mask}",
        r#"[[" film"], [" food"]]"#,
    ),
    (
        "polite",
        "Is this polite? {sentence} Answer:{mask}",
        r#"[[" yes"], [" no"]]"#,
    ),
];

pub fn run(args: &BenchPredictArgs, device: &Device) -> Result<()> {
    let (config, _) = artifact_experiment(&args.artifact, None, None, false, &[])
        .with_context(|| format!("cannot use {}", args.artifact.display()))?;
    let model_path = config.model.resolved_path();
    fetch::ensure_model(&model_path)?;
    on_threads(config.threads, || -> Result<()> {
        let predictor = Predictor::load(&model_path, device)?;
        let texts = texts(args)?;
        let mut tasks = vec![("sst2".to_string(), Vec::new())];
        for (name, template, words) in OTHER_TASKS {
            let set = [
                Override::parse(&format!("template={template}"))?,
                Override::parse(&format!("verbalizer.label_words={words}"))?,
            ];
            tasks.push((name.to_string(), set.to_vec()));
        }
        for (name, overrides) in &tasks {
            let spec = TaskSpec {
                artifacts: vec![args.artifact.clone()],
                overrides: overrides.clone(),
                ..TaskSpec::default()
            };
            predictor.register(name, &spec)?;
        }
        println!(
            "{:36} {:>6} {:>9} {:>9}",
            "phase (faster of 2 alternating runs)", "rows", "seconds", "rows/s"
        );
        let rows_of = |task: &str| -> Result<Vec<Row>> {
            texts
                .iter()
                .map(|t| Ok(predictor.prepare(task, &Input::Text(t.clone()))?))
                .collect()
        };
        let per_task: Vec<Vec<Row>> = tasks
            .iter()
            .map(|(name, _)| rows_of(name))
            .collect::<Result<_>>()?;
        let mixed: Vec<Row> = (0..texts.len())
            .flat_map(|i| per_task.iter().map(move |rows| rows[i].clone()))
            .collect();
        compare(
            "3 tasks one after another",
            &mut || {
                for rows in &per_task {
                    predictor.score(rows, args.batch_size, |_| {});
                }
            },
            "3 tasks mixed in shared batches",
            &mut || {
                predictor.score(&mixed, args.batch_size, |_| {});
            },
            mixed.len(),
            "mixed / one after another",
        );

        let model = predictor.model();
        let saved = SavedPrompt::load(&config_prompt_dir(&args.artifact))?;
        let encoder = TaskEncoder::new(&config, model, &config.data.columns.label_names)?;
        let classes = ClassTokens::new(&encoder.verbalizer, device);
        let encoded: Vec<Encoded> = per_task[0].iter().map(|r| r.encoded().clone()).collect();
        for k in [20, 100] {
            let values = if k == saved.num_tokens() {
                saved.to_soft_prompt(model.backbone.hidden_size(), device)?
            } else {
                SoftPrompt::from_tensor(Tensor::random(
                    [k, model.backbone.hidden_size()],
                    Distribution::Normal(0.0, 0.1),
                    device,
                ))
            };
            let tuned = PromptTuned::new(model.backbone.clone(), values)?;
            compare(
                &format!("k = {k}: prompt computed per batch"),
                &mut || per_batch(&tuned, &classes, &encoded, args.batch_size, device),
                &format!("k = {k}: prompt computed once"),
                &mut || {
                    evaluate(&tuned, &classes, &encoded, args.batch_size, 0, device);
                },
                encoded.len(),
                &format!("k = {k}: once / per batch"),
            );
        }
        Ok(())
    })
}

/// The artifact's prompt folder (a run folder's `best/`).
fn config_prompt_dir(artifact: &std::path::Path) -> PathBuf {
    let best = artifact.join("best");
    if best.is_dir() {
        best
    } else {
        artifact.to_path_buf()
    }
}

/// The first `examples` texts of the data file.
fn texts(args: &BenchPredictArgs) -> Result<Vec<String>> {
    let mapping = ColumnMapping::unlabelled(vec!["sentence".into()]);
    let data = read_dataset(&args.data, &mapping, &ReadOptions::default())?;
    Ok(data
        .examples
        .into_iter()
        .take(args.examples)
        .map(|e| e.fields["sentence"].clone())
        .collect())
}

/// Scores `examples` with the training forward, which computes the prompt in every batch.
fn per_batch<B: Backbone + burn::module::Module>(
    model: &PromptTuned<B>,
    classes: &ClassTokens,
    examples: &[Encoded],
    batch_size: usize,
    device: &Device,
) {
    let lengths: Vec<usize> = examples.iter().map(|e| e.ids.len()).collect();
    let batcher = PromptBatcher { pad_id: 0 };
    for indices in sorted_batches(&lengths, batch_size).unwrap_or_default() {
        let batch = batcher.batch(
            indices.iter().map(|&i| examples[i].clone()).collect(),
            device,
        );
        let scores = model.forward(batch.ids, batch.mask, batch.answer_pos, classes);
        // Read the scores back so the work is done before the clock stops.
        let _ = scores.into_data();
    }
}

/// Times `a` and `b` (each `rows` rows) alternately, twice each, and prints each one's faster
/// run and the speed ratio of `b` to `a`: alternating gives both the same machine state, and
/// the faster of two runs drops first-use costs and passing noise.
fn compare(
    name_a: &str,
    a: &mut dyn FnMut(),
    name_b: &str,
    b: &mut dyn FnMut(),
    rows: usize,
    ratio: &str,
) {
    let mut best = [f64::INFINITY; 2];
    let time = |run: &mut dyn FnMut()| {
        let start = Instant::now();
        run();
        start.elapsed().as_secs_f64()
    };
    for _ in 0..2 {
        best[0] = best[0].min(time(a));
        best[1] = best[1].min(time(b));
    }
    for (name, seconds) in [(name_a, best[0]), (name_b, best[1])] {
        let rate = rows as f64 / seconds.max(1e-9);
        println!("{name:36} {rows:>6} {seconds:>9.2} {rate:>9.2}");
    }
    println!("{ratio}: {:.2}x", best[0] / best[1]);
}
