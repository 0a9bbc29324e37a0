//! Everything that can stop an evaluation, a sweep or a regression check, naming the file or
//! key at fault.

use std::path::PathBuf;

use prompt_model::PromptError;
use prompt_train::{ConfigError, TrainError};

/// An evaluation, sweep or regression check that could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Reading or encoding the data, or training, failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The model could not be found, detected or loaded.
    #[error(transparent)]
    Model(#[from] prompt_model::ModelError),
    /// A config could not be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A saved prompt could not be used.
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// The folder is neither a run folder nor a prompt folder.
    #[error(
        "{} is neither a training run folder (config.toml, as `cargo xtask train` writes, e.g. \
         runs/sst2) nor a prompt folder (adapter_config.json, e.g. baselines/sst2-k20)",
        path.display()
    )]
    NotAnArtifact {
        /// The folder given.
        path: PathBuf,
    },
    /// A PEFT prompt folder has no task file: the template and verbalizer must come from a
    /// config.
    #[error(
        "{} is a prompt folder without prompt_task.json (PEFT writes none): pass the \
         experiment config that gives its template and verbalizer, and the data, its columns \
         and the model, with --config (e.g. configs/sst2.toml)",
        path.display()
    )]
    PromptFolderNeedsConfig {
        /// The folder given.
        path: PathBuf,
    },
    /// A prompt folder says what the prompt is, not which data to score it on.
    #[error(
        "{} is a prompt folder: name the data to score with --data FILE (e.g. --data \
         sst2/dev.tsv; its columns default to the template's fields, `label` and the label \
         words, and --set data.columns.…=… changes them), or pass an experiment config with \
         --config",
        path.display()
    )]
    PromptFolderNeedsData {
        /// The folder given.
        path: PathBuf,
    },
    /// The run has not saved a best prompt yet (it saves one at its first dev evaluation).
    #[error(
        "{} has no best prompt yet: the run saves one at its first dev evaluation (or use \
         --zero-shot to score the template alone)",
        path.display()
    )]
    NoBestPrompt {
        /// The missing `best/` folder.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A JSON or TOML file holds something else than expected.
    #[error("{} is not a valid {what}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What the file should hold.
        what: &'static str,
        /// What the parser said.
        reason: String,
    },
    /// A task was registered without any prompt.
    #[error("task `{task}` names no prompt folder")]
    NoPrompts {
        /// The task.
        task: String,
    },
    /// A request names a task that is not registered.
    #[error("unknown task `{task}`; the tasks are: {}", known.join(", "))]
    UnknownTask {
        /// The name asked for.
        task: String,
        /// The registered tasks.
        known: Vec<String>,
    },
    /// An input has no text to classify.
    #[error("the input for task `{task}` is empty: give the text to classify")]
    EmptyInput {
        /// The task.
        task: String,
    },
    /// A plain text was given to a task whose template has several fields.
    #[error(
        "task `{task}` reads the fields {}: give each by name (a JSON object, or a TSV, CSV \
         or JSONL file with those columns)",
        fields.join(", ")
    )]
    InputNeedsFields {
        /// The task.
        task: String,
        /// The template's fields.
        fields: Vec<String>,
    },
    /// An input lacks a field of the task's template.
    #[error("the input for task `{task}` has no field `{field}` (the task reads {})", fields.join(", "))]
    InputMissingField {
        /// The task.
        task: String,
        /// The missing field.
        field: String,
        /// The template's fields.
        fields: Vec<String>,
    },
    /// A prompt was trained for another backbone than the one loaded.
    #[error(
        "{} was trained for the model {}, but the loaded model is {}: one process serves the \
         prompts of one model; give it prompts trained for the same model",
        artifact.display(),
        wanted.display(),
        loaded.display()
    )]
    OtherModel {
        /// The prompt or run folder.
        artifact: PathBuf,
        /// The model its config names.
        wanted: PathBuf,
        /// The model loaded.
        loaded: PathBuf,
    },
    /// The prompts of an ensemble do not describe the same task.
    #[error(
        "{} and {} differ in their {what}: an ensemble's prompts must share the template, the \
         verbalizer and the class names",
        first.display(),
        other.display()
    )]
    EnsembleMismatch {
        /// The first prompt.
        first: PathBuf,
        /// The one that differs.
        other: PathBuf,
        /// What differs.
        what: &'static str,
    },
}
