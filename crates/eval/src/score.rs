//! Scoring a trained prompt (a run folder's `best/`) or the template alone (zero-shot, k = 0)
//! on any data file the config's columns can read.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use prompt_model::{
    Backbone, LoadedModel, PromptError, PromptPlacement, PromptTask, PromptTuned, SavedPrompt,
    SoftPrompt, prompt_file,
};
use prompt_train::artifacts::RunDir;
use prompt_train::memory::{check_all, eval_shape};
use prompt_train::{
    Engine, ExperimentConfig, Override, TaskEncoder, TrainError, on_threads, read_split,
};
use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::metrics::ClassificationMetrics;
use crate::prompt_folder::task_experiment;

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
    /// What `cargo xtask eval --artifact DIR` scores: [`artifact_experiment`] on `data`, which
    /// a prompt folder without `config` must name.
    pub fn for_artifact(
        artifact: &Path,
        config: Option<&Path>,
        data: Option<&Path>,
        zero_shot: bool,
        overrides: &[Override],
    ) -> Result<Self, EvalError> {
        let is_prompt_folder = !RunDir::new(artifact).config().is_file()
            && artifact.join(prompt_file::TASK_FILE).is_file();
        if is_prompt_folder && config.is_none() && data.is_none() {
            return Err(EvalError::PromptFolderNeedsData {
                path: artifact.to_path_buf(),
            });
        }
        let (config, prompt) = artifact_experiment(artifact, config, data, zero_shot, overrides)?;
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

/// The experiment and prompt an artifact folder stands for. `artifact` is a run folder
/// (written by `cargo xtask train`: its config and best prompt) or a prompt folder (PEFT
/// layout, written here or by PEFT), which takes its template and verbalizer from its
/// `prompt_task.json` (from `config` when it has none, as PEFT's) and its data, columns and
/// model from `config`; without `config`, from `data` with the columns of
/// [`task_experiment`](crate::prompt_folder::task_experiment) (no data: prediction). `config`
/// given with a run folder replaces the run's own. `overrides` apply last.
pub fn artifact_experiment(
    artifact: &Path,
    config: Option<&Path>,
    data: Option<&Path>,
    zero_shot: bool,
    overrides: &[Override],
) -> Result<(ExperimentConfig, PromptChoice), EvalError> {
    let run = RunDir::new(artifact);
    if run.config().is_file() {
        let config = ExperimentConfig::load(config.unwrap_or(&run.config()), overrides)?;
        let prompt = if zero_shot {
            PromptChoice::ZeroShot
        } else if run.best().is_dir() {
            PromptChoice::Saved(run.best())
        } else {
            return Err(EvalError::NoBestPrompt { path: run.best() });
        };
        return Ok((config, prompt));
    }
    if !artifact.join(prompt_file::CONFIG_FILE).is_file() {
        return Err(EvalError::NotAnArtifact {
            path: artifact.to_path_buf(),
        });
    }
    let saved = SavedPrompt::load(artifact)?;
    let task_path = artifact.join(prompt_file::TASK_FILE);
    let config = match (config, &saved.task) {
        (Some(config), task) => {
            let mut all = match task {
                Some(task) => task_overrides(task, &task_path)?,
                None => Vec::new(),
            };
            all.extend_from_slice(overrides);
            ExperimentConfig::load(config, &all)?
        }
        (None, None) => {
            return Err(EvalError::PromptFolderNeedsConfig {
                path: artifact.to_path_buf(),
            });
        }
        (None, Some(task)) => task_experiment(task, &task_path, data, overrides)?,
    };
    let prompt = if zero_shot {
        PromptChoice::ZeroShot
    } else {
        PromptChoice::Saved(artifact.to_path_buf())
    };
    Ok((config, prompt))
}

/// The template and verbalizer of a prompt's `prompt_task.json` (at `path`) as config
/// overrides, so that the config's checks apply to them and `--set` can still change them.
fn task_overrides(task: &PromptTask, path: &Path) -> Result<Vec<Override>, EvalError> {
    let verbalizer = toml::Value::try_from(&task.verbalizer).map_err(|e| EvalError::Format {
        path: path.to_path_buf(),
        what: "prompt task file (its verbalizer)",
        reason: e.to_string(),
    })?;
    let from_file = |key: &str, value: toml::Value| Override {
        assignment: format!("{key} from {}", path.display()),
        key: vec![key.to_string()],
        value,
    };
    Ok(vec![
        from_file("template", toml::Value::String(task.template.clone())),
        from_file("verbalizer", verbalizer),
    ])
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
    /// The predicted class of each example, in file order.
    #[serde(skip)]
    pub predictions: Vec<usize>,
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
    on_threads(config.threads, || {
        let model = prompt_model::load(&config.model.resolved_path(), device)?;
        score_loaded(spec, &config, saved.as_ref(), model, device)
    })
}

/// Scores `spec` with the already loaded `model`.
fn score_loaded(
    spec: &EvalSpec,
    config: &ExperimentConfig,
    saved: Option<&SavedPrompt>,
    model: LoadedModel,
    device: &Device,
) -> Result<EvalReport, EvalError> {
    let data = read_split(config, &spec.data)?;
    let encoder = TaskEncoder::new(config, &model, &data.label_names)?;
    let mut examples = encoder.encode(&data)?;
    if let Some(limit) = spec.limit {
        examples.truncate(limit);
    }
    let width = model.backbone.hidden_size();
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
    let shape = eval_shape(&examples, config.train.eval_batch_size, prompt_tokens);
    check_all(&model.backbone, &[shape], None).map_err(TrainError::from)?;
    // Padding is masked out, so any id serves.
    let engine = Engine::new(
        &model.backbone,
        &encoder.verbalizer,
        0,
        config.kernels,
        PromptPlacement::default(),
        device,
    );
    let model = PromptTuned::new(model.backbone, prompt)?;
    let start = Instant::now();
    let evaluation = engine.evaluate(&model, &examples, config.train.eval_batch_size);
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
        predictions: evaluation.predictions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_of_neither_kind_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = EvalSpec::for_artifact(dir.path(), None, None, false, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is neither a training run folder (config.toml, as `cargo xtask train` \
                 writes, e.g. runs/sst2) nor a prompt folder (adapter_config.json, e.g. \
                 baselines/sst2-k20)",
                dir.path().display()
            )
        );
    }

    fn sst2_config() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/sst2.toml")
    }

    /// A prompt folder like PEFT writes (no `prompt_task.json`), or like ours with `task`.
    fn prompt_folder(task: Option<&PromptTask>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let prompt = SoftPrompt::from_tensor(Tensor::zeros([2, 4], &Device::flex()));
        let init = prompt_model::SoftPromptInit::default();
        let config = prompt_model::AdapterConfig::new("CAUSAL_LM", "m", 2, 4, &init, "");
        let placeholder = PromptTask {
            template: String::new(),
            verbalizer: serde_json::Value::Null,
            label_names: None,
            model_file: None,
            init: None,
        };
        prompt_model::save_prompt(dir.path(), &prompt, &config, task.unwrap_or(&placeholder))
            .unwrap();
        if task.is_none() {
            std::fs::remove_file(dir.path().join(prompt_file::TASK_FILE)).unwrap();
        }
        dir
    }

    #[test]
    fn a_peft_prompt_folder_takes_template_and_verbalizer_from_the_config() {
        let dir = prompt_folder(None);
        let err = EvalSpec::for_artifact(dir.path(), None, None, false, &[]).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "{} is a prompt folder without prompt_task.json (PEFT writes none): pass the \
                 experiment config that gives its template and verbalizer",
                dir.path().display()
            )),
            "{err}"
        );
        let spec =
            EvalSpec::for_artifact(dir.path(), Some(&sst2_config()), None, false, &[]).unwrap();
        assert_eq!(spec.prompt, PromptChoice::Saved(dir.path().to_path_buf()));
        let config = ExperimentConfig::load(&sst2_config(), &[]).unwrap();
        assert_eq!(spec.config.template, config.template);
        assert_eq!(spec.config.verbalizer, config.verbalizer);
    }

    #[test]
    fn a_task_file_whose_verbalizer_is_not_a_table_names_the_file() {
        let task = PromptTask {
            template: "{sentence}{mask}".to_string(),
            verbalizer: serde_json::Value::Null,
            label_names: None,
            model_file: None,
            init: None,
        };
        let dir = prompt_folder(Some(&task));
        let err = EvalSpec::for_artifact(dir.path(), Some(&sst2_config()), None, false, &[])
            .unwrap_err()
            .to_string();
        let file = dir.path().join(prompt_file::TASK_FILE);
        assert!(
            err.starts_with(&format!(
                "{} is not a valid prompt task file (its verbalizer):",
                file.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn our_prompt_folder_brings_its_template_and_verbalizer_and_set_still_applies() {
        let task = PromptTask {
            template: "Review: {sentence}\nSentiment:{mask}".to_string(),
            verbalizer: serde_json::json!({"label_words": [[" bad"], [" good"]]}),
            label_names: None,
            model_file: None,
            init: None,
        };
        let dir = prompt_folder(Some(&task));
        let err = EvalSpec::for_artifact(dir.path(), None, None, false, &[]).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "{} is a prompt folder: name the data to score with --data FILE",
                dir.path().display()
            )),
            "{err}"
        );
        let data = Path::new("sst2/dev.tsv");
        let spec = EvalSpec::for_artifact(dir.path(), None, Some(data), false, &[]).unwrap();
        assert_eq!(spec.config.template.source(), task.template);
        assert_eq!(spec.data, data);
        assert_eq!(spec.config.data.columns.label_names, ["bad", "good"]);
        let spec =
            EvalSpec::for_artifact(dir.path(), Some(&sst2_config()), None, false, &[]).unwrap();
        assert_eq!(spec.config.template.source(), task.template);
        assert_eq!(
            spec.config.verbalizer.label_words,
            [[" bad".to_string()], [" good".to_string()]]
        );
        let set = [Override::parse("template={sentence} It was{mask}").unwrap()];
        let spec =
            EvalSpec::for_artifact(dir.path(), Some(&sst2_config()), None, true, &set).unwrap();
        assert_eq!(spec.config.template.source(), "{sentence} It was{mask}");
        assert_eq!(spec.prompt, PromptChoice::ZeroShot);
    }

    #[test]
    fn a_run_without_best_prompt_says_so_and_zero_shot_still_works() {
        let dir = tempfile::tempdir().unwrap();
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/sst2.toml");
        std::fs::copy(config, dir.path().join("config.toml")).unwrap();
        let err = EvalSpec::for_artifact(dir.path(), None, None, false, &[]).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "{} has no best prompt yet",
                dir.path().join("best").display()
            )),
            "{err}"
        );
        let spec = EvalSpec::for_artifact(dir.path(), None, None, true, &[]).unwrap();
        assert_eq!(spec.prompt, PromptChoice::ZeroShot);
    }
}
