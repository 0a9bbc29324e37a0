//! The training loop: batches in checkpointed order, forward through the frozen backbone,
//! gradients on the prompt only, burn-optim's optimizer and scheduler, periodic dev
//! evaluation, best-prompt export, prompt-only checkpoints, exact resume.

use std::path::PathBuf;
use std::time::Instant;

use burn::module::{Module, ModuleDisplay};
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use prompt_data::Encoded;
use prompt_model::{Backbone, PromptPlacement, PromptTuned, SoftPrompt};

use crate::artifacts::RunDir;
use crate::checkpoint::{Best, Checkpoint, CheckpointDir, CheckpointHeader};
use crate::config::ExperimentConfig;
use crate::engine::Engine;
use crate::error::{CheckpointError, TrainError};
use crate::evaluate::Evaluation;
use crate::lock::OutputLock;
use crate::memory::{ByteSize, Footprint, MemoryBudget, check_all, run_shapes};
use crate::metrics::{MetricRecord, MetricsLog, Split};
use crate::optim::{build_optimizer, build_schedule};
use crate::order::DataOrder;
use crate::progress::{Progress, ProgressMode};
use crate::resume::{Start, fresh, resume};
use crate::run_state::{DevOutcome, RunState, TrainWindow};
use crate::task::PreparedTask;

/// How to run (as opposed to what to train, which the config says).
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Continue from the newest intact checkpoint in `<output>/checkpoints`.
    pub resume: bool,
    /// Progress display.
    pub progress: ProgressMode,
    /// Device for the model and batches (without autodiff; training adds it).
    pub device: Device,
    /// Stop once this many steps are done (a checkpoint is written), as an interruption
    /// would; a later `resume` continues to `train.steps`.
    pub stop_after: Option<usize>,
    /// The memory the run may use; `None` means what the machine has free (or
    /// `PROMPT_TUNING_MEMORY_LIMIT`).
    pub memory: Option<MemoryBudget>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            resume: false,
            progress: ProgressMode::Auto,
            device: Device::default(),
            stop_after: None,
            memory: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// The output folder.
    pub output: PathBuf,
    /// Steps done in total (over all sessions of the run).
    pub steps: usize,
    /// The step this session resumed from.
    pub resumed_from: Option<usize>,
    /// Best dev result and its step; its prompt is in `<output>/best`.
    pub best: Option<Best>,
    /// The last dev evaluation of this session.
    pub last_dev: Option<Evaluation>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Training examples per second in this session (evaluation time excluded).
    pub examples_per_s: f64,
    /// Seconds of training over all sessions.
    pub seconds: f64,
    /// The final prompt, row-major `[k, d]`.
    pub prompt: Vec<f32>,
    /// Checkpoints that were skipped on resume because they did not read back intact.
    pub skipped_checkpoints: Vec<String>,
}

/// Trains the prompt in front of `backbone` on `task` as `config` says.
///
/// `backbone` must live on `options.device` with autodiff (`device.clone().autodiff()`) and
/// be frozen; `prompt` is the starting prompt for a fresh run (ignored on resume, where the
/// checkpoint's prompt is used).
///
/// The run: checks that it fits, starts or resumes, then steps until `train.steps`; after a
/// step it logs the training window, evaluates on dev (keeping the best prompt and counting
/// patience) and writes a checkpoint, each at its own cadence.
pub fn train_prompt<B: Backbone + Module + ModuleDisplay>(
    backbone: B,
    prompt: SoftPrompt,
    task: &PreparedTask,
    config: &ExperimentConfig,
    options: &TrainOptions,
) -> Result<TrainSummary, TrainError> {
    let memory = check_run_fits(&backbone, task, config, options)?;
    let train_device = options.device.clone().autodiff();
    let run_dir = RunDir::new(&config.output);
    // Held until the run ends: no other process writes this folder meanwhile.
    let _lock = OutputLock::acquire(run_dir.root())?;
    let checkpoints = CheckpointDir::new(run_dir.checkpoints(), config.train.keep_checkpoints);
    let optimizer = build_optimizer(&config.optimizer);
    let scheduler = build_schedule(&config.schedule, config.optimizer.lr, config.train.steps)?;
    let Start {
        prompt,
        mut optimizer,
        mut scheduler,
        mut state,
        resumed_from,
        checkpoint: mut last_checkpoint,
        skipped,
        tidied,
    } = if options.resume {
        let shape = [config.prompt.length, backbone.hidden_size()];
        resume(
            &run_dir,
            &checkpoints,
            shape,
            config.seed,
            optimizer,
            scheduler,
            &train_device,
        )?
    } else {
        fresh(prompt, optimizer, scheduler, &checkpoints)?
    };
    run_dir.write_config(config)?;
    let metrics_path = run_dir.metrics();
    let mut metrics =
        MetricsLog::open(&metrics_path, resumed_from).map_err(|source| TrainError::Io {
            path: metrics_path.clone(),
            source,
        })?;
    let mut log = |record: MetricRecord| {
        metrics.append(&record).map_err(|source| TrainError::Io {
            path: metrics_path.clone(),
            source,
        })
    };

    let engine = Engine::new(
        &backbone,
        &task.verbalizer,
        task.pad_id,
        config.kernels,
        PromptPlacement::default(),
        &options.device,
    );
    let mut model = PromptTuned::new(backbone, prompt)?;
    let order = DataOrder::new(
        config.seed,
        task.train.iter().map(|e| e.ids.len()).collect(),
        config.train.batch_size,
        config.train.bucket_batches,
    );
    let total = config.train.steps;
    let progress = Progress::new(options.progress, total, state.step);
    if let Some((peak, budget)) = memory {
        progress.line(&format!(
            "memory: peak {peak}; {} available ({})",
            ByteSize(budget.bytes),
            budget.source
        ));
    }
    progress.line(&format!("kernels: {}", engine.kernels()));
    if let Some(step) = resumed_from {
        progress.line(&format!("resumed from step {step}"));
    }
    for name in &skipped {
        progress.line(&format!("skipped {name}"));
    }
    for path in &tidied {
        progress.line(&format!(
            "tidied {} (left by an interrupted write)",
            path.display()
        ));
    }

    let session_start = Instant::now();
    let elapsed_before = state.elapsed_s;
    let elapsed = || elapsed_before + session_start.elapsed().as_secs_f64();
    let (mut session_examples, mut session_train_s) = (0usize, 0.0f64);
    let mut window = TrainWindow::default();
    let mut epoch_cache = None;
    let mut last_dev = None;
    let mut stopped_early = false;

    while state.step < total && !stopped_early {
        let step_start = Instant::now();
        let (indices, next_cursor) = order
            .next(state.cursor, &mut epoch_cache)
            .expect("the training set is not empty");
        let items: Vec<Encoded> = indices.iter().map(|&i| task.train[i].clone()).collect();
        let rate = scheduler.step();
        let lr = rate.base();
        let (loss, correct) = engine.train_step(&mut model, &mut optimizer, rate, items);
        state.step += 1;
        state.cursor = next_cursor;
        fail::fail_point!("train::after_step");
        if let Some(what) = non_finite_step(loss, &model.prompt) {
            return Err(diverged(state.step, what, &last_checkpoint));
        }
        let step_s = step_start.elapsed().as_secs_f64();
        window.add(loss, correct, indices.len(), step_s);
        session_examples += indices.len();
        session_train_s += step_s;
        state.elapsed_s = elapsed();

        let last = state.step == total;
        if state.step % config.train.log_every == 0 || last {
            let record = window.take(state.step, state.elapsed_s, lr);
            progress.train(state.step, record.loss, record.examples_per_s, lr);
            log(record)?;
        } else {
            progress.tick(state.step);
        }

        if state.step % config.train.eval_every == 0 || last {
            let eval_start = Instant::now();
            let dev = engine.evaluate(&model, &task.dev, config.train.eval_batch_size);
            if !dev.loss.is_finite() {
                let what = format!("the dev loss is {}", dev.loss);
                return Err(diverged(state.step, what, &last_checkpoint));
            }
            log(dev_record(state.step, &dev, eval_start, elapsed()))?;
            let outcome = state.record_dev(&dev, config.train.patience);
            if outcome == DevOutcome::Improved {
                run_dir.save_best(&model.prompt, config, task.family)?;
            }
            stopped_early = outcome == DevOutcome::OutOfPatience;
            progress.line(&format!(
                "step {}: dev loss {:.4}, accuracy {:.4}{}",
                state.step,
                dev.loss,
                dev.accuracy,
                if outcome == DevOutcome::Improved {
                    " (best)"
                } else {
                    ""
                }
            ));
            last_dev = Some(dev);
        }

        let interrupted = options.stop_after.is_some_and(|stop| state.step >= stop);
        if state.step % config.train.checkpoint_every == 0 || last || stopped_early || interrupted {
            state.elapsed_s = elapsed();
            let checkpoint = snapshot(&model.prompt, &optimizer, &scheduler, &state, config.seed)
                .map_err(|source| CheckpointError::Record {
                path: checkpoints.file_for(state.step),
                source,
            })?;
            last_checkpoint = Some(checkpoints.save(&checkpoint, state.best.map(|b| b.step))?);
        }
        if interrupted {
            break;
        }
    }
    progress.finish();

    Ok(TrainSummary {
        output: config.output.clone(),
        steps: state.step,
        resumed_from,
        best: state.best,
        last_dev,
        stopped_early,
        examples_per_s: session_examples as f64 / session_train_s.max(1e-9),
        seconds: state.elapsed_s,
        prompt: prompt_values(&model.prompt),
        skipped_checkpoints: skipped,
    })
}

/// Refuses a run that cannot work before anything is written: an empty training split, a
/// batch larger than it, or a peak memory estimate above what the process can have. Returns
/// the estimate and the budget where the system says what it has.
fn check_run_fits<B: Backbone + Module>(
    backbone: &B,
    task: &PreparedTask,
    config: &ExperimentConfig,
    options: &TrainOptions,
) -> Result<Option<(Footprint, MemoryBudget)>, TrainError> {
    if task.train.is_empty() {
        return Err(TrainError::NoTrainingData);
    }
    if config.train.batch_size > task.train.len() {
        return Err(TrainError::BatchLargerThanSplit {
            batch: config.train.batch_size,
            examples: task.train.len(),
        });
    }
    Ok(check_all(
        backbone,
        &run_shapes(task, config),
        options.memory.as_ref(),
    )?)
}

/// What is not finite after a step, if anything: the loss, or prompt values (a finite loss can
/// still come with an update that overflowed; such a prompt must never reach a checkpoint).
/// Checked on the device: one boolean per step comes back.
fn non_finite_step(loss: f64, prompt: &SoftPrompt) -> Option<String> {
    if !loss.is_finite() {
        return Some(format!("the loss is {loss}"));
    }
    let overflowed = prompt.values().is_finite().bool_not().any();
    if !overflowed.into_scalar::<bool>() {
        return None;
    }
    let bad_values = prompt_values(prompt)
        .iter()
        .filter(|v| !v.is_finite())
        .count();
    Some(format!("the prompt has {bad_values} non-finite values"))
}

/// The error of a run that diverged at `step`, naming the checkpoint that is kept.
fn diverged(step: usize, what: String, last_checkpoint: &Option<PathBuf>) -> TrainError {
    let kept = last_checkpoint.as_ref().map_or_else(
        || "no checkpoint had been written yet".to_string(),
        |path| format!("the last good checkpoint, {}, is kept", path.display()),
    );
    TrainError::Diverged { step, what, kept }
}

/// The metrics line of dev evaluation `dev` at `step`, which started at `started`.
fn dev_record(step: usize, dev: &Evaluation, started: Instant, seconds: f64) -> MetricRecord {
    MetricRecord {
        step,
        split: Split::Dev,
        loss: dev.loss,
        accuracy: dev.accuracy,
        examples: dev.examples,
        examples_per_s: dev.examples as f64 / started.elapsed().as_secs_f64().max(1e-9),
        seconds,
        lr: None,
    }
}

/// The prompt's values, row-major.
pub fn prompt_values(prompt: &SoftPrompt) -> Vec<f32> {
    prompt
        .values()
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("float tensors convert to f32")
}

fn snapshot(
    prompt: &SoftPrompt,
    optimizer: &ModuleOptimizer,
    scheduler: &burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler,
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
