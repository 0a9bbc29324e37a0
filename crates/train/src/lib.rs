//! Prompt tuning experiments: a TOML config, a training loop that updates only the soft
//! prompt of a frozen backbone, prompt-only checkpoints with exact resume, progress output and
//! a metrics log.
//!
//! [`train`] runs a whole experiment from an [`ExperimentConfig`]; [`train_prompt`] is the loop
//! for a backbone, prompt and encoded data the caller already has; [`evaluate()`] scores a
//! prompt on encoded examples.
#![warn(missing_docs)]

pub mod artifacts;
mod bench;
pub mod checkpoint;
pub mod config;
mod durable;
mod engine;
mod error;
mod evaluate;
mod lock;
mod matmul_rate;
pub mod memory;
pub mod metrics;
mod optim;
mod order;
mod progress;
mod resume;
mod run;
mod run_state;
mod session;
mod task;

pub use bench::{BenchOptions, BenchReport, bench};
pub use config::{ExperimentConfig, Kernels, Override};
pub use durable::write_atomic;
pub use engine::Engine;
pub use error::{CheckpointError, ConfigError, TrainError};
pub use evaluate::{Evaluation, evaluate};
pub use lock::lock_holder;
pub use progress::ProgressMode;
pub use run::{TrainOptions, TrainSummary, prompt_values, train_prompt};
pub use task::{PreparedTask, TaskEncoder, prepare_task, read_split};

/// Runs the experiment `config` describes: loads the backbone and its tokenizer, reads and
/// encodes the data, initialises the prompt (or resumes) and trains it, writing the output
/// folder (see [`artifacts`]).
pub fn train(
    config: &ExperimentConfig,
    options: &TrainOptions,
) -> Result<TrainSummary, TrainError> {
    on_threads(config.threads, || {
        options.device.seed(config.seed);
        let device = options.device.clone().autodiff();
        let model = prompt_model::load(&config.model.resolved_path(), &device)?;
        let task = prepare_task(config, &model)?;
        let prompt = task.initial_prompt(config, &model.backbone, &model.tokenizer, &device)?;
        train_prompt(model.backbone, prompt, &task, config, options)
    })
}

/// Runs `work` on a pool of `threads` threads (0: rayon's global pool, one per core), where
/// the backend's parallel tensor work runs.
pub fn on_threads<T, E>(threads: usize, work: impl FnOnce() -> Result<T, E> + Send) -> Result<T, E>
where
    T: Send,
    E: Send + From<TrainError>,
{
    if threads == 0 {
        return work();
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|source| TrainError::Threads { threads, source })?
        .install(work)
}
