//! What can stop a server from starting, naming the file or address at fault.

use std::path::PathBuf;

/// A server that could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Loading the model or a task's prompts failed.
    #[error(transparent)]
    Eval(#[from] prompt_eval::EvalError),
    /// A folder given as tasks holds no prompt or run folder.
    #[error(
        "{} holds no task: give a prompt folder (adapter_config.json), a run folder \
         (config.toml), a folder of them, or a tasks .toml file",
        path.display()
    )]
    NoTasks {
        /// The path given.
        path: PathBuf,
    },
    /// A tasks file that cannot be used.
    #[error("{} is not a valid tasks file: {reason}", path.display())]
    TasksFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The token file is unreadable or empty.
    #[error("{}: {reason}", path.display())]
    Token {
        /// The token file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// What the system said.
        source: std::io::Error,
    },
}
