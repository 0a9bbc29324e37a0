//! Throughput of a config on its own data: training steps and dev evaluation, in examples per
//! second (what `cargo xtask bench CONFIG` prints). It runs the training loop's step and the
//! evaluator, so what it measures is what a run spends its time on.

use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
use prompt_data::Encoded;
use prompt_data::SplitMix64;
use prompt_model::{Backbone, LoadedModel, PromptPlacement, PromptTuned};
use serde::Serialize;

use crate::config::ExperimentConfig;
use crate::engine::Engine;
use crate::error::TrainError;
use crate::matmul_rate::{example_flops, matmul_gflops};
use crate::on_threads;
use crate::optim::{build_optimizer, build_schedule};
use crate::order::{Cursor, DataOrder};
use crate::task::{PreparedTask, TaskEncoder, prepare_task};

/// How much to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Training steps run before timing starts (first-use allocations, caches).
    pub warmup_steps: usize,
    /// Timed training steps.
    pub train_steps: usize,
    /// Dev examples in the timed evaluation (the first ones of the dev split).
    pub eval_examples: usize,
    /// Device for the model and batches (without autodiff; training adds it).
    pub device: Device,
    /// How the prompt rows are computed (to measure what sharing them saves).
    pub placement: PromptPlacement,
    /// Inputs of exactly this many random tokens instead of the config's data files (speed
    /// does not depend on which tokens; the classes still come from the verbalizer).
    pub synthetic_length: Option<usize>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            warmup_steps: 2,
            train_steps: 20,
            eval_examples: 256,
            device: Device::default(),
            placement: PromptPlacement::default(),
            synthetic_length: None,
        }
    }
}

/// What was measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Prompt length `k`.
    pub prompt_len: usize,
    /// Which kernels ran (`"fused"` or `"burn"`).
    pub kernels: &'static str,
    /// Whether the inputs were random tokens (`synthetic_length`) rather than the data.
    pub synthetic: bool,
    /// How the prompt rows were computed.
    pub placement: PromptPlacement,
    /// Training batch size.
    pub batch_size: usize,
    /// Timed training steps.
    pub train_steps: usize,
    /// Examples in the timed steps.
    pub train_examples: usize,
    /// Mean tokens per training example (prompt excluded).
    pub train_mean_tokens: f64,
    /// Seconds of the timed steps.
    pub train_seconds: f64,
    /// Training examples per second (forward, backward, optimizer step).
    pub train_examples_per_s: f64,
    /// Evaluation batch size.
    pub eval_batch_size: usize,
    /// Examples evaluated.
    pub eval_examples: usize,
    /// Mean tokens per evaluated example (prompt excluded).
    pub eval_mean_tokens: f64,
    /// Seconds of the evaluation.
    pub eval_seconds: f64,
    /// Evaluation examples per second (forward only).
    pub eval_examples_per_s: f64,
    /// Matmul weights an input token goes through (the parameters outside the token
    /// embedding; the head is scored on the verbalizer rows only).
    pub matmul_weights: usize,
    /// The machine's f32 matmul rate at the model's shapes, GFLOP/s.
    pub matmul_gflops: f64,
    /// Training matmul rate achieved, GFLOP/s (`4 · weights · tokens` per example).
    pub train_gflops: f64,
    /// Evaluation matmul rate achieved, GFLOP/s (`2 · weights · tokens` per example).
    pub eval_gflops: f64,
}

/// Loads the config's model and data and times its training step and its evaluation.
pub fn bench(config: &ExperimentConfig, options: &BenchOptions) -> Result<BenchReport, TrainError> {
    on_threads(config.threads, || {
        options.device.seed(config.seed);
        let train_device = options.device.clone().autodiff();
        let model = prompt_model::load(&config.model.resolved_path(), &train_device)?;
        let task = match options.synthetic_length {
            None => prepare_task(config, &model)?,
            Some(length) => synthetic_task(config, options, &model, length)?,
        };
        if task.train.is_empty() {
            return Err(TrainError::NoTrainingData);
        }
        let embedding = model.backbone.vocab_size() * model.backbone.hidden_size();
        let matmul_weights = model.backbone.num_params() - embedding;
        let matmul_gflops = matmul_gflops(&model.backbone.activation_shape(), &options.device);
        let prompt =
            task.initial_prompt(config, &model.backbone, &model.tokenizer, &train_device)?;
        let engine = Engine::new(
            &model.backbone,
            &task.verbalizer,
            task.pad_id,
            config.kernels,
            options.placement,
            &options.device,
        );
        let mut model = PromptTuned::new(model.backbone, prompt)?.with_placement(options.placement);
        let mut optimizer = build_optimizer(&config.optimizer);
        let steps = options.warmup_steps + options.train_steps;
        let mut scheduler = build_schedule(&config.schedule, config.optimizer.lr, steps)?;
        let order = DataOrder::new(
            config.seed,
            task.train.iter().map(|e| e.ids.len()).collect(),
            config.train.batch_size,
            config.train.bucket_batches,
        );
        let (mut cursor, mut epoch_cache) = (Cursor::default(), None);
        let (mut train_examples, mut train_tokens, mut train_seconds) = (0, 0, 0.0);
        for step in 0..steps {
            let (indices, next) = order
                .next(cursor, &mut epoch_cache)
                .expect("the training set is not empty");
            cursor = next;
            let items: Vec<Encoded> = indices.iter().map(|&i| task.train[i].clone()).collect();
            let tokens: usize = items.iter().map(|e| e.ids.len()).sum();
            let start = Instant::now();
            engine.train_step(&mut model, &mut optimizer, scheduler.step(), items);
            if step >= options.warmup_steps {
                train_seconds += start.elapsed().as_secs_f64();
                train_examples += indices.len();
                train_tokens += tokens;
            }
        }

        let dev = &task.dev[..options.eval_examples.min(task.dev.len())];
        let start = Instant::now();
        engine.evaluate(&model, dev, config.train.eval_batch_size);
        let eval_seconds = start.elapsed().as_secs_f64();
        let eval_tokens: usize = dev.iter().map(|e| e.ids.len()).sum();

        Ok(BenchReport {
            prompt_len: config.prompt.length,
            kernels: engine.kernels(),
            synthetic: options.synthetic_length.is_some(),
            placement: options.placement,
            batch_size: config.train.batch_size,
            train_steps: options.train_steps,
            train_examples,
            train_mean_tokens: train_tokens as f64 / train_examples.max(1) as f64,
            train_seconds,
            train_examples_per_s: train_examples as f64 / train_seconds.max(1e-9),
            eval_batch_size: config.train.eval_batch_size,
            eval_examples: dev.len(),
            eval_mean_tokens: eval_tokens as f64 / dev.len().max(1) as f64,
            eval_seconds,
            eval_examples_per_s: dev.len() as f64 / eval_seconds.max(1e-9),
            matmul_weights,
            matmul_gflops,
            train_gflops: example_flops(matmul_weights, train_tokens as f64, true)
                / train_seconds.max(1e-9)
                / 1e9,
            eval_gflops: example_flops(matmul_weights, eval_tokens as f64, false)
                / eval_seconds.max(1e-9)
                / 1e9,
        })
    })
}

/// Enough random `length`-token examples for the timed steps and the evaluation, with the
/// config's verbalizer classes, drawn with the config's seed.
fn synthetic_task(
    config: &ExperimentConfig,
    options: &BenchOptions,
    model: &LoadedModel,
    length: usize,
) -> Result<PreparedTask, TrainError> {
    let label_names = &config.data.columns.label_names;
    let encoder = TaskEncoder::new(config, model, label_names)?;
    let vocab = model.backbone.vocab_size();
    let mut rng = SplitMix64(config.seed);
    let mut examples = |n: usize| -> Vec<Encoded> {
        (0..n)
            .map(|i| Encoded {
                ids: (0..length).map(|_| rng.below(vocab) as u32).collect(),
                answer_pos: length - 1,
                label: i % label_names.len(),
            })
            .collect()
    };
    let steps = options.warmup_steps + options.train_steps;
    Ok(PreparedTask {
        train: examples(steps * config.train.batch_size),
        dev: examples(options.eval_examples),
        verbalizer: encoder.verbalizer,
        pad_id: 0,
        family: model.family,
    })
}
