//! Everything that can stop an evaluation, a sweep or a regression check, naming the file or
//! key at fault.

use std::path::PathBuf;

use prompt_model::soft_prompt::PromptError;
use prompt_train::{ConfigError, TrainError};

/// An evaluation, sweep or regression check that could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Loading the model or data, or training, failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// A config could not be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A saved prompt could not be used.
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// The folder is not one `cargo xtask train` wrote.
    #[error(
        "{} is not a training run folder: it has no config.toml (pass the `output` folder of \
         `cargo xtask train`, e.g. runs/sst2)",
        path.display()
    )]
    NotARun {
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
}
