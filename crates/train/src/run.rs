//! The training loop: batches in checkpointed order, forward through the frozen backbone,
//! gradients on the prompt only, burn-optim's optimizer and scheduler, periodic dev
//! evaluation, best-prompt export, prompt-only checkpoints, exact resume.

use std::path::PathBuf;
use std::time::Instant;

use burn::module::{Module, ModuleDisplay};
use burn::tensor::Device;
use prompt_data::Encoded;
use prompt_model::{Backbone, PromptPlacement, PromptTuned, SoftPrompt};

use crate::artifacts::RunDir;
use crate::checkpoint::{Best, CheckpointDir};
use crate::config::ExperimentConfig;
use crate::engine::Engine;
use crate::error::TrainError;
use crate::evaluate::Evaluation;
use crate::lock::OutputLock;
use crate::memory::{Footprint, MemoryBudget, check_all, run_shapes};
use crate::optim::{build_optimizer, build_schedule};
use crate::order::DataOrder;
use crate::progress::ProgressMode;
use crate::resume::{Start, fresh, resume};
use crate::run_state::{DevOutcome, Due, TrainWindow};
use crate::session::Session;
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
/// patience) and writes a checkpoint, each when [`Due`] says.
pub fn train_prompt<B: Backbone + Module + ModuleDisplay>(
    backbone: B,
    prompt: SoftPrompt,
    task: &PreparedTask,
    config: &ExperimentConfig,
    options: &TrainOptions,
) -> Result<TrainSummary, TrainError> {
    let memory = check_run_fits(&backbone, task, config, options)?;
    let run_dir = RunDir::new(&config.output);
    // Held until the run ends: no other process writes this folder meanwhile.
    let _lock = OutputLock::acquire(run_dir.root())?;
    let checkpoints = CheckpointDir::new(run_dir.checkpoints(), config.train.keep_checkpoints);
    let start = start_run(&backbone, prompt, &run_dir, &checkpoints, config, options)?;
    let engine = Engine::new(
        &backbone,
        &task.verbalizer,
        task.pad_id,
        config.kernels,
        PromptPlacement::default(),
        &options.device,
    );
    let mut session = Session::begin(config, &run_dir, &checkpoints, options.progress, &start)?;
    session.announce(memory, engine.kernels(), &start);
    let Start {
        prompt,
        mut optimizer,
        mut scheduler,
        mut state,
        resumed_from,
        skipped,
        ..
    } = start;
    let mut model = PromptTuned::new(backbone, prompt)?;
    let order = DataOrder::new(
        config.seed,
        task.train.iter().map(|e| e.ids.len()).collect(),
        config.train.batch_size,
        config.train.bucket_batches,
    );

    let (mut session_examples, mut session_train_s) = (0usize, 0.0f64);
    let mut window = TrainWindow::default();
    let mut epoch_cache = None;
    let mut last_dev = None;
    let mut stopped_early = false;
    while state.step < config.train.steps && !stopped_early {
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
            return Err(session.diverged(state.step, what));
        }
        let step_s = step_start.elapsed().as_secs_f64();
        window.add(loss, correct, indices.len(), step_s);
        session_examples += indices.len();
        session_train_s += step_s;
        state.elapsed_s = session.seconds();

        let due = Due::after(state.step, &config.train);
        if due.log {
            session.log_train(window.take(state.step, state.elapsed_s, lr))?;
        } else {
            session.tick(state.step);
        }
        if due.evaluate {
            let (dev, outcome) = session.evaluate(&engine, &model, task, &mut state)?;
            stopped_early = outcome == DevOutcome::OutOfPatience;
            last_dev = Some(dev);
        }
        let interrupted = options.stop_after.is_some_and(|stop| state.step >= stop);
        if due.checkpoint || stopped_early || interrupted {
            state.elapsed_s = session.seconds();
            session.checkpoint(&model.prompt, &optimizer, &scheduler, &state)?;
        }
        if interrupted {
            break;
        }
    }
    session.finish();

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

/// The run's start: resumed from its checkpoints when `options.resume` says so, else fresh
/// from `prompt`, with the optimizer and schedule `config` names.
fn start_run<B: Backbone>(
    backbone: &B,
    prompt: SoftPrompt,
    run_dir: &RunDir,
    checkpoints: &CheckpointDir,
    config: &ExperimentConfig,
    options: &TrainOptions,
) -> Result<Start, TrainError> {
    let optimizer = build_optimizer(&config.optimizer);
    let scheduler = build_schedule(&config.schedule, config.optimizer.lr, config.train.steps)?;
    if !options.resume {
        return fresh(prompt, optimizer, scheduler, checkpoints);
    }
    resume(
        run_dir,
        checkpoints,
        [config.prompt.length, backbone.hidden_size()],
        config.seed,
        optimizer,
        scheduler,
        &options.device.clone().autodiff(),
    )
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

/// The prompt's values, row-major.
pub fn prompt_values(prompt: &SoftPrompt) -> Vec<f32> {
    prompt
        .values()
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("float tensors convert to f32")
}
