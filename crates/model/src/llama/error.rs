//! Failures specific to llama-family backbones (beyond reading tensors).

use std::path::PathBuf;

use crate::error::LoadError;

/// Why a llama-family model could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LlamaError {
    /// Reading or matching the weights failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The GGUF file could not be opened or parsed.
    #[error(transparent)]
    Gguf(#[from] crate::gguf::GgufError),
    /// The checkpoint uses a feature this implementation does not compute.
    #[error("{path}: unsupported llama variant: {what}")]
    Unsupported {
        /// The config or weights file.
        path: PathBuf,
        /// What is not supported.
        what: String,
    },
}
