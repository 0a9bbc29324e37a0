//! Loading the tasks a command serves: the backbone the first task's prompt was trained for,
//! then every task's prompts registered on it.

use anyhow::{Context, Result};
use burn::tensor::Device;
use prompt_eval::artifact_experiment;
use prompt_eval::predict::{Predictor, TaskInfo, TaskSpec};

use crate::fetch;

/// The loaded tasks and the thread count of the first task's config.
pub struct LoadedTasks {
    pub predictor: Predictor,
    pub infos: Vec<TaskInfo>,
    pub threads: usize,
}

/// Loads the backbone the first task's prompt was trained for and registers every task.
pub fn load_tasks(tasks: &[(String, TaskSpec)], device: &Device) -> Result<LoadedTasks> {
    let (name, first) = &tasks[0];
    let (config, _) = artifact_experiment(
        &first.artifacts[0],
        first.config.as_deref(),
        None,
        false,
        &first.overrides,
    )
    .with_context(|| format!("cannot read task `{name}`"))?;
    let model = config.model.resolved_path();
    fetch::ensure_model(&model)?;
    let predictor = Predictor::load(&model, device)?;
    let infos = tasks
        .iter()
        .map(|(name, spec)| {
            predictor
                .register(name, spec)
                .with_context(|| format!("cannot load the prompts of task `{name}`"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(LoadedTasks {
        predictor,
        infos,
        threads: config.threads,
    })
}
