//! One session of a run (from its start or resume to its stop): where it writes (the metrics
//! log, the best prompt, checkpoints) and what it prints, one method per thing the loop does
//! after a step.

use std::path::PathBuf;
use std::time::Instant;

use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use prompt_model::{Backbone, PromptTuned, SoftPrompt};

use crate::artifacts::RunDir;
use crate::checkpoint::{Checkpoint, CheckpointDir, CheckpointHeader};
use crate::config::ExperimentConfig;
use crate::engine::Engine;
use crate::error::{CheckpointError, TrainError};
use crate::evaluate::Evaluation;
use crate::memory::{ByteSize, Footprint, MemoryBudget};
use crate::metrics::{MetricRecord, MetricsLog, Split};
use crate::progress::{Progress, ProgressMode};
use crate::resume::Start;
use crate::run::prompt_values;
use crate::run_state::{DevOutcome, RunState};
use crate::task::PreparedTask;

/// A run's outputs and display for one session.
pub(crate) struct Session<'a> {
    config: &'a ExperimentConfig,
    run_dir: &'a RunDir,
    checkpoints: &'a CheckpointDir,
    metrics: MetricsLog,
    progress: Progress,
    /// The newest checkpoint written or resumed from: the one a divergence leaves in place.
    last_checkpoint: Option<PathBuf>,
    /// Seconds of training before this session, and when it began.
    seconds_before: f64,
    started: Instant,
}

impl<'a> Session<'a> {
    /// Begins a session from `start`: writes the run's config, opens its metrics log (cut
    /// back to the resumed step) and the progress display.
    pub fn begin(
        config: &'a ExperimentConfig,
        run_dir: &'a RunDir,
        checkpoints: &'a CheckpointDir,
        progress: ProgressMode,
        start: &Start,
    ) -> Result<Self, TrainError> {
        run_dir.write_config(config)?;
        let path = run_dir.metrics();
        let metrics = MetricsLog::open(&path, start.resumed_from)
            .map_err(|source| TrainError::Io { path, source })?;
        Ok(Self {
            config,
            run_dir,
            checkpoints,
            metrics,
            progress: Progress::new(progress, config.train.steps, start.state.step),
            last_checkpoint: start.checkpoint.clone(),
            seconds_before: start.state.elapsed_s,
            started: Instant::now(),
        })
    }

    /// Prints how the session starts: the memory estimate, the kernels, and what resuming
    /// found.
    pub fn announce(
        &self,
        memory: Option<(Footprint, MemoryBudget)>,
        kernels: &str,
        start: &Start,
    ) {
        if let Some((peak, budget)) = memory {
            self.progress.line(&format!(
                "memory: peak {peak}; {} available ({})",
                ByteSize(budget.bytes),
                budget.source
            ));
        }
        self.progress.line(&format!("kernels: {kernels}"));
        if let Some(step) = start.resumed_from {
            self.progress.line(&format!("resumed from step {step}"));
        }
        for name in &start.skipped {
            self.progress.line(&format!("skipped {name}"));
        }
        for path in &start.tidied {
            self.progress.line(&format!(
                "tidied {} (left by an interrupted write)",
                path.display()
            ));
        }
    }

    /// Seconds of training over all sessions of the run, now.
    pub fn seconds(&self) -> f64 {
        self.seconds_before + self.started.elapsed().as_secs_f64()
    }

    /// Logs and shows a training metrics line.
    pub fn log_train(&mut self, record: MetricRecord) -> Result<(), TrainError> {
        self.progress.train(
            record.step,
            record.loss,
            record.examples_per_s,
            record.lr.unwrap_or_default(),
        );
        self.log(&record)
    }

    /// Advances the progress display to `step` without a line.
    pub fn tick(&self, step: usize) {
        self.progress.tick(step);
    }

    /// Scores `model` on `task`'s dev split, logs it, records it in `state` and replaces the
    /// best prompt when it is better. A non-finite dev loss is a divergence.
    pub fn evaluate<B: Backbone + Module>(
        &mut self,
        engine: &Engine,
        model: &PromptTuned<B>,
        task: &PreparedTask,
        state: &mut RunState,
    ) -> Result<(Evaluation, DevOutcome), TrainError> {
        let started = Instant::now();
        let dev = engine.evaluate(model, &task.dev, self.config.train.eval_batch_size);
        if !dev.loss.is_finite() {
            return Err(self.diverged(state.step, format!("the dev loss is {}", dev.loss)));
        }
        self.log(&MetricRecord {
            step: state.step,
            split: Split::Dev,
            loss: dev.loss,
            accuracy: dev.accuracy,
            examples: dev.examples,
            examples_per_s: dev.examples as f64 / started.elapsed().as_secs_f64().max(1e-9),
            seconds: self.seconds(),
            lr: None,
        })?;
        let outcome = state.record_dev(&dev, self.config.train.patience);
        if outcome == DevOutcome::Improved {
            self.run_dir
                .save_best(&model.prompt, self.config, task.family)?;
        }
        let best = if outcome == DevOutcome::Improved {
            " (best)"
        } else {
            ""
        };
        self.progress.line(&format!(
            "step {}: dev loss {:.4}, accuracy {:.4}{best}",
            state.step, dev.loss, dev.accuracy
        ));
        Ok((dev, outcome))
    }

    /// Writes a checkpoint of the prompt, optimizer, scheduler and `state`; older ones beyond
    /// the kept number go, the best step's excepted.
    pub fn checkpoint(
        &mut self,
        prompt: &SoftPrompt,
        optimizer: &ModuleOptimizer,
        scheduler: &ModuleLrScheduler,
        state: &RunState,
    ) -> Result<(), TrainError> {
        let checkpoint =
            snapshot(prompt, optimizer, scheduler, state, self.config.seed).map_err(|source| {
                CheckpointError::Record {
                    path: self.checkpoints.file_for(state.step),
                    source,
                }
            })?;
        let written = self
            .checkpoints
            .save(&checkpoint, state.best.map(|b| b.step))?;
        self.last_checkpoint = Some(written);
        Ok(())
    }

    /// The error of a run that diverged at `step`, naming the checkpoint that is kept.
    pub fn diverged(&self, step: usize, what: String) -> TrainError {
        let kept = self.last_checkpoint.as_ref().map_or_else(
            || "no checkpoint had been written yet".to_string(),
            |path| format!("the last good checkpoint, {}, is kept", path.display()),
        );
        TrainError::Diverged { step, what, kept }
    }

    /// Closes the progress display.
    pub fn finish(&self) {
        self.progress.finish();
    }

    fn log(&mut self, record: &MetricRecord) -> Result<(), TrainError> {
        self.metrics
            .append(record)
            .map_err(|source| TrainError::Io {
                path: self.metrics.path().to_path_buf(),
                source,
            })
    }
}

/// The checkpoint of the run at `state`.
fn snapshot(
    prompt: &SoftPrompt,
    optimizer: &ModuleOptimizer,
    scheduler: &ModuleLrScheduler,
    state: &RunState,
    seed: u64,
) -> Result<Checkpoint, burn::store::RecordError> {
    Ok(Checkpoint {
        header: CheckpointHeader {
            step: state.step,
            cursor: state.cursor,
            seed,
            prompt_param_id: prompt.embeddings.id.val(),
            prompt_shape: [prompt.num_tokens(), prompt.width()],
            best: state.best,
            evals_since_best: state.evals_since_best,
            elapsed_s: state.elapsed_s,
            optimizer_len: 0,
            scheduler_len: 0,
        },
        prompt: prompt_values(prompt),
        optimizer: optimizer.into_bytes()?.to_vec(),
        scheduler: scheduler.to_record().into_bytes()?.to_vec(),
    })
}
