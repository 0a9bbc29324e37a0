//! The training loop: batches in checkpointed order, forward through the frozen backbone,
//! gradients on the prompt only, burn-optim's optimizer and scheduler, periodic dev
//! evaluation, best-prompt export, prompt-only checkpoints, exact resume.

use std::path::PathBuf;
use std::time::Instant;

use burn::data::dataloader::batcher::Batcher;
use burn::lr_scheduler::LrSchedulerRecord;
use burn::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::module::{Module, ModuleDisplay, ParamId};
use burn::optim::{GradientsParams, ModuleOptimizer, OptimizerRecord};
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use prompt_data::{Encoded, PromptBatch, PromptBatcher};
use prompt_model::{Backbone, ClassTokens, PromptTuned, SoftPrompt};

use crate::artifacts::RunDir;
use crate::checkpoint::{Best, Checkpoint, CheckpointDir, CheckpointHeader, LatestCheckpoint};
use crate::config::ExperimentConfig;
use crate::error::{CheckpointError, TrainError};
use crate::evaluate::{Evaluation, evaluate, predictions, score_batch};
use crate::lock::OutputLock;
use crate::memory::{ByteSize, MemoryBudget, check_all, run_shapes};
use crate::metrics::{MetricRecord, MetricsLog, Split};
use crate::optim::{build_optimizer, build_schedule};
use crate::order::{Cursor, DataOrder};
use crate::progress::{Progress, ProgressMode};
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

/// Where the run stands; saved in every checkpoint.
struct RunState {
    step: usize,
    cursor: Cursor,
    best: Option<Best>,
    evals_since_best: usize,
    elapsed_s: f64,
}

/// Trains the prompt in front of `backbone` on `task` as `config` says.
///
/// `backbone` must live on `options.device` with autodiff (`device.clone().autodiff()`) and
/// be frozen; `prompt` is the starting prompt for a fresh run (ignored on resume, where the
/// checkpoint's prompt is used).
pub fn train_prompt<B: Backbone + Module + ModuleDisplay>(
    backbone: B,
    prompt: SoftPrompt,
    task: &PreparedTask,
    config: &ExperimentConfig,
    options: &TrainOptions,
) -> Result<TrainSummary, TrainError> {
    if task.train.is_empty() {
        return Err(TrainError::NoTrainingData);
    }
    if config.train.batch_size > task.train.len() {
        return Err(TrainError::BatchLargerThanSplit {
            batch: config.train.batch_size,
            examples: task.train.len(),
        });
    }
    // Before anything is written: a run that cannot fit is refused, not killed half-way.
    let memory = check_all(
        &backbone,
        &run_shapes(task, config),
        options.memory.as_ref(),
    )?;
    let train_device = options.device.clone().autodiff();
    let run_dir = RunDir::new(&config.output);
    // Held until the run ends: no other process writes this folder meanwhile.
    let _lock = OutputLock::acquire(run_dir.root())?;
    let checkpoints = CheckpointDir::new(run_dir.checkpoints(), config.train.keep_checkpoints);
    let mut optimizer = build_optimizer(&config.optimizer);
    let mut scheduler = build_schedule(&config.schedule, config.optimizer.lr, config.train.steps)?;
    let total = config.train.steps;

    let mut skipped_checkpoints = Vec::new();
    let mut recovered = Vec::new();
    let mut last_checkpoint = None;
    let (prompt, mut state, resumed_from) = if options.resume {
        recovered = run_dir.recover()?;
        let LatestCheckpoint { found, skipped } = checkpoints.latest_valid()?;
        skipped_checkpoints = skipped.iter().map(ToString::to_string).collect();
        let Some((path, checkpoint)) = found else {
            return Err(TrainError::NothingToResume {
                dir: checkpoints.path().to_path_buf(),
                skipped,
            });
        };
        let header = &checkpoint.header;
        let expected = [config.prompt.length, backbone.hidden_size()];
        if header.prompt_shape != expected {
            return Err(CheckpointError::Shape {
                path,
                expected,
                found: header.prompt_shape,
            }
            .into());
        }
        if header.seed != config.seed {
            return Err(TrainError::ResumeMismatch {
                path,
                what: format!(
                    "it was written with seed {}, the config says {}",
                    header.seed, config.seed
                ),
            });
        }
        let record_error = |source| CheckpointError::Record {
            path: path.clone(),
            source,
        };
        let optimizer_record =
            OptimizerRecord::from_bytes(Bytes::from_bytes_vec(checkpoint.optimizer.clone()))
                .map_err(record_error)?;
        let scheduler_record =
            LrSchedulerRecord::from_bytes(Bytes::from_bytes_vec(checkpoint.scheduler.clone()))
                .map_err(record_error)?;
        optimizer = optimizer.load_record(optimizer_record);
        scheduler = scheduler.load_record(scheduler_record);
        let values = Tensor::<2>::from_data(
            TensorData::new(checkpoint.prompt.clone(), header.prompt_shape),
            &train_device,
        );
        let mut prompt = SoftPrompt::from_tensor(values);
        // The optimizer state is keyed by the parameter's id.
        prompt.embeddings.id = ParamId::from(header.prompt_param_id);
        let state = RunState {
            step: header.step,
            cursor: header.cursor,
            best: header.best,
            evals_since_best: header.evals_since_best,
            elapsed_s: header.elapsed_s,
        };
        last_checkpoint = Some(path);
        (prompt, state, Some(header.step))
    } else {
        if !checkpoints.steps()?.is_empty() {
            return Err(TrainError::OutputInUse {
                dir: checkpoints.path().to_path_buf(),
            });
        }
        let state = RunState {
            step: 0,
            cursor: Cursor::default(),
            best: None,
            evals_since_best: 0,
            elapsed_s: 0.0,
        };
        (prompt, state, None)
    };
    run_dir.write_config(config)?;
    let mut metrics =
        MetricsLog::open(&run_dir.metrics(), resumed_from).map_err(|source| TrainError::Io {
            path: run_dir.metrics(),
            source,
        })?;
    let mut log = |record: MetricRecord| {
        metrics.append(&record).map_err(|source| TrainError::Io {
            path: run_dir.metrics(),
            source,
        })
    };

    let mut model = PromptTuned::new(backbone, prompt)?;
    let train_classes = ClassTokens::new(&task.label_token_ids, task.policy, &train_device)?;
    let eval_classes = ClassTokens::new(&task.label_token_ids, task.policy, &options.device)?;
    let lengths = task.train.iter().map(|e| e.ids.len()).collect();
    let order = DataOrder::new(
        config.seed,
        lengths,
        config.train.batch_size,
        config.train.bucket_batches,
    );
    let batcher = PromptBatcher {
        pad_id: task.pad_id,
    };
    let progress = Progress::new(options.progress, total, state.step);
    if let Some((peak, budget)) = memory {
        progress.line(&format!(
            "memory: peak {peak}; {} available ({})",
            ByteSize(budget.bytes),
            budget.source
        ));
    }
    if let Some(step) = resumed_from {
        progress.line(&format!("resumed from step {step}"));
    }
    for skipped in &skipped_checkpoints {
        progress.line(&format!("skipped {skipped}"));
    }
    for path in &recovered {
        progress.line(&format!(
            "tidied {} (left by an interrupted write)",
            path.display()
        ));
    }
    let diverged = |step: usize, what: String, last_checkpoint: &Option<PathBuf>| {
        let kept = last_checkpoint.as_ref().map_or_else(
            || "no checkpoint had been written yet".to_string(),
            |path| format!("the last good checkpoint, {}, is kept", path.display()),
        );
        TrainError::Diverged { step, what, kept }
    };

    let session_start = Instant::now();
    let elapsed_before = state.elapsed_s;
    let (mut session_examples, mut session_train_s) = (0usize, 0.0f64);
    let (mut window_loss, mut window_correct, mut window_examples, mut window_s) =
        (0.0f64, 0usize, 0usize, 0.0f64);
    let mut epoch_cache = None;
    let mut last_dev = None;
    let mut stopped_early = false;

    while state.step < total && !stopped_early {
        let step_start = Instant::now();
        let (indices, next_cursor) = order
            .next(state.cursor, &mut epoch_cache)
            .expect("the training set is not empty");
        let items: Vec<Encoded> = indices.iter().map(|&i| task.train[i].clone()).collect();
        let batch = batcher.batch(items, &train_device);
        let rate = scheduler.step();
        let lr = rate.base();
        let (loss, correct) = train_step(&mut model, &mut optimizer, rate, &train_classes, batch);
        state.step += 1;
        state.cursor = next_cursor;
        fail::fail_point!("train::after_step");
        if !loss.is_finite() {
            return Err(diverged(
                state.step,
                format!("the loss is {loss}"),
                &last_checkpoint,
            ));
        }
        // A finite loss can still come with an update that overflowed; such a prompt must
        // never reach a checkpoint. Checked on the device: one boolean per step comes back.
        let overflowed = model.prompt.values().is_finite().bool_not().any();
        if overflowed.into_scalar::<bool>() {
            let bad_values = prompt_values(&model.prompt)
                .iter()
                .filter(|v| !v.is_finite())
                .count();
            let what = format!("the prompt has {bad_values} non-finite values");
            return Err(diverged(state.step, what, &last_checkpoint));
        }
        let step_s = step_start.elapsed().as_secs_f64();
        window_loss += loss * indices.len() as f64;
        window_correct += correct;
        window_examples += indices.len();
        window_s += step_s;
        session_examples += indices.len();
        session_train_s += step_s;
        state.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();

        let last = state.step == total;
        if state.step % config.train.log_every == 0 || last {
            let examples_per_s = window_examples as f64 / window_s.max(1e-9);
            let mean_loss = window_loss / window_examples as f64;
            log(MetricRecord {
                step: state.step,
                split: Split::Train,
                loss: mean_loss,
                accuracy: window_correct as f64 / window_examples as f64,
                examples: window_examples,
                examples_per_s,
                seconds: state.elapsed_s,
                lr: Some(lr),
            })?;
            progress.train(state.step, mean_loss, examples_per_s, lr);
            (window_loss, window_correct, window_examples, window_s) = (0.0, 0, 0, 0.0);
        } else {
            progress.tick(state.step);
        }

        if state.step % config.train.eval_every == 0 || last {
            let eval_start = Instant::now();
            let dev = evaluate(
                &model.valid(),
                &eval_classes,
                &task.dev,
                config.train.eval_batch_size,
                task.pad_id,
                &options.device,
            );
            if !dev.loss.is_finite() {
                let what = format!("the dev loss is {}", dev.loss);
                return Err(diverged(state.step, what, &last_checkpoint));
            }
            let eval_s = eval_start.elapsed().as_secs_f64();
            log(MetricRecord {
                step: state.step,
                split: Split::Dev,
                loss: dev.loss,
                accuracy: dev.accuracy,
                examples: dev.examples,
                examples_per_s: dev.examples as f64 / eval_s.max(1e-9),
                seconds: elapsed_before + session_start.elapsed().as_secs_f64(),
                lr: None,
            })?;
            let improved = state.best.is_none_or(|best| {
                dev.accuracy > best.accuracy
                    || (dev.accuracy == best.accuracy && dev.loss < best.loss)
            });
            if improved {
                state.best = Some(Best {
                    step: state.step,
                    accuracy: dev.accuracy,
                    loss: dev.loss,
                });
                state.evals_since_best = 0;
                run_dir.save_best(&model.prompt, config, task.family)?;
            } else {
                state.evals_since_best += 1;
                stopped_early =
                    config.train.patience > 0 && state.evals_since_best >= config.train.patience;
            }
            progress.line(&format!(
                "step {}: dev loss {:.4}, accuracy {:.4}{}",
                state.step,
                dev.loss,
                dev.accuracy,
                if improved { " (best)" } else { "" }
            ));
            last_dev = Some(dev);
        }

        let interrupted = options.stop_after.is_some_and(|stop| state.step >= stop);
        if state.step % config.train.checkpoint_every == 0 || last || stopped_early || interrupted {
            state.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
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
        skipped_checkpoints,
    })
}

/// One optimizer step on `batch` (built on an autodiff device): updates the prompt and returns
/// the batch's mean loss and how many of its rows the model got right before the update.
pub fn train_step<B: Backbone + Module>(
    model: &mut PromptTuned<B>,
    optimizer: &mut ModuleOptimizer,
    rate: ModuleLearningRate,
    classes: &ClassTokens,
    batch: PromptBatch,
) -> (f64, usize) {
    let labels = batch.labels.clone();
    let (loss, scores) = score_batch(model, classes, batch);
    let grads = GradientsParams::from_grads(loss.backward(), &model.prompt);
    model.prompt = optimizer.step(rate, model.prompt.clone(), grads);
    let (_, correct) = predictions(scores, labels);
    (f64::from(loss.into_scalar::<f32>()), correct)
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
