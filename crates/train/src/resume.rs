//! Starting a run: fresh (the output folder must hold no checkpoints) or resumed from the
//! newest checkpoint that reads back intact, with the prompt, optimizer, scheduler and data
//! position it saved; checkpoints of another shape or seed are refused.

use std::path::PathBuf;

use burn::lr_scheduler::LrSchedulerRecord;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::module::ParamId;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use prompt_model::SoftPrompt;

use crate::artifacts::RunDir;
use crate::checkpoint::{CheckpointDir, LatestCheckpoint};
use crate::error::{CheckpointError, TrainError};
use crate::run_state::RunState;

/// How a session of a run begins.
pub(crate) struct Start {
    /// The prompt to train from.
    pub prompt: SoftPrompt,
    /// The optimizer, with its saved state on resume.
    pub optimizer: ModuleOptimizer,
    /// The learning-rate schedule, at its saved step on resume.
    pub scheduler: ModuleLrScheduler,
    /// Where the run stands.
    pub state: RunState,
    /// The step resumed from (`None` for a fresh run).
    pub resumed_from: Option<usize>,
    /// The checkpoint resumed from, the last good one so far.
    pub checkpoint: Option<PathBuf>,
    /// Checkpoints skipped because they did not read back intact.
    pub skipped: Vec<String>,
    /// Leftovers of interrupted writes that were tidied.
    pub tidied: Vec<PathBuf>,
}

/// A fresh start from `prompt`: refused when `checkpoints` already holds a run.
pub(crate) fn fresh(
    prompt: SoftPrompt,
    optimizer: ModuleOptimizer,
    scheduler: ModuleLrScheduler,
    checkpoints: &CheckpointDir,
) -> Result<Start, TrainError> {
    if !checkpoints.steps()?.is_empty() {
        return Err(TrainError::OutputInUse {
            dir: checkpoints.path().to_path_buf(),
        });
    }
    Ok(Start {
        prompt,
        optimizer,
        scheduler,
        state: RunState::default(),
        resumed_from: None,
        checkpoint: None,
        skipped: Vec::new(),
        tidied: Vec::new(),
    })
}

/// Resumes from the newest intact checkpoint of `checkpoints` after tidying `run_dir`: loads
/// the saved state into `optimizer` and `scheduler` and the prompt onto `device`, with the
/// parameter id the optimizer state is keyed by. The checkpoint must hold a `shape` prompt
/// written with `seed`.
pub(crate) fn resume(
    run_dir: &RunDir,
    checkpoints: &CheckpointDir,
    shape: [usize; 2],
    seed: u64,
    optimizer: ModuleOptimizer,
    scheduler: ModuleLrScheduler,
    device: &Device,
) -> Result<Start, TrainError> {
    let tidied = run_dir.recover()?;
    let LatestCheckpoint { found, skipped } = checkpoints.latest_valid()?;
    let skipped_names = skipped.iter().map(ToString::to_string).collect();
    let Some((path, checkpoint)) = found else {
        return Err(TrainError::NothingToResume {
            dir: checkpoints.path().to_path_buf(),
            skipped,
        });
    };
    let header = &checkpoint.header;
    if header.prompt_shape != shape {
        return Err(CheckpointError::Shape {
            path,
            expected: shape,
            found: header.prompt_shape,
        }
        .into());
    }
    if header.seed != seed {
        return Err(TrainError::ResumeMismatch {
            path,
            what: format!(
                "it was written with seed {}, the config says {seed}",
                header.seed
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
    let values = Tensor::<2>::from_data(
        TensorData::new(checkpoint.prompt.clone(), header.prompt_shape),
        device,
    );
    let mut prompt = SoftPrompt::from_tensor(values);
    // The optimizer state is keyed by the parameter's id.
    prompt.embeddings.id = ParamId::from(header.prompt_param_id);
    Ok(Start {
        prompt,
        optimizer: optimizer.load_record(optimizer_record),
        scheduler: scheduler.load_record(scheduler_record),
        state: RunState {
            step: header.step,
            cursor: header.cursor,
            best: header.best,
            evals_since_best: header.evals_since_best,
            elapsed_s: header.elapsed_s,
        },
        resumed_from: Some(header.step),
        checkpoint: Some(path),
        skipped: skipped_names,
        tidied,
    })
}
