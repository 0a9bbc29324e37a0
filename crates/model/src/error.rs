//! The error type of the model crate: every failure names the file, tensor or field at fault.

use std::path::PathBuf;

use crate::gguf::GgufError;
use crate::tokenizer::TokenizerError;

/// Failures while reading weights from a safetensors directory or a GGUF file into a backbone.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// `config.json` is not valid for this family.
    #[error("{path} is not a valid model config: {source}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What serde said.
        source: serde_json::Error,
    },
    /// A tensor the backbone needs is not in the file.
    #[error("{path} has no tensor `{name}` (the backbone needs it)")]
    MissingTensor {
        /// The weights file.
        path: PathBuf,
        /// The tensor name as stored in the file.
        name: String,
    },
    /// Tensors in the file that the backbone does not use.
    #[error("{path} holds tensors this backbone does not know: {names:?}")]
    UnexpectedTensors {
        /// The weights file.
        path: PathBuf,
        /// Their names.
        names: Vec<String>,
    },
    /// A tensor has another shape than the config implies.
    #[error("tensor `{name}` in {path} has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// The weights file.
        path: PathBuf,
        /// The tensor name as stored in the file.
        name: String,
        /// The shape the config implies.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A safetensors file is unreadable (truncated, bad header) or holds an unsupported dtype.
    #[error("{path}: {source}")]
    Safetensors {
        /// The weights file.
        path: PathBuf,
        /// What is wrong with it.
        source: crate::safetensors_source::SafetensorsError,
    },
    /// The model files describe an architecture no backbone here implements.
    #[error(
        "{path}: model family `{found}` is not supported (supported: {}); \
         use a BERT, Llama or Gemma 3 checkpoint",
        crate::family::ModelFamily::SUPPORTED.join(", ")
    )]
    UnsupportedFamily {
        /// The model file or directory.
        path: PathBuf,
        /// The `model_type` (config.json) or `general.architecture` (GGUF) found.
        found: String,
    },
    /// The model file describes a variant of its family that this implementation does not
    /// compute.
    #[error("{path}: unsupported {family} variant: {what}")]
    UnsupportedVariant {
        /// The model file.
        path: PathBuf,
        /// The family (`gemma3`).
        family: &'static str,
        /// What is not supported.
        what: String,
    },
    /// A GGUF file could not be read (the message names the file and tensor).
    #[error(transparent)]
    Gguf(#[from] GgufError),
}

/// Everything that can go wrong in the model crate.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model file or folder does not exist.
    #[error(
        "model {} not found: fetch the default model with `cargo xtask fetch` or set \
         model.path to a GGUF file or a Hugging Face folder",
        path.display()
    )]
    Missing {
        /// The path looked at.
        path: PathBuf,
    },
    /// Loading weights failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A GGUF file could not be read.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// A tokenizer could not be built.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// A llama-family model could not be built.
    #[error(transparent)]
    Llama(#[from] crate::llama::LlamaError),
    /// A soft prompt could not be built, saved or loaded.
    #[error(transparent)]
    Prompt(#[from] crate::soft_prompt::PromptError),
    /// The label words cannot tell the classes apart.
    #[error(transparent)]
    Verbalizer(Box<prompt_data::DataError>),
}

impl From<prompt_data::DataError> for ModelError {
    fn from(error: prompt_data::DataError) -> Self {
        Self::Verbalizer(Box::new(error))
    }
}
