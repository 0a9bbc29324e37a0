//! Frozen pretrained backbones with a trainable soft prompt in front of their input.
//!
//! A [`Backbone`] is a frozen transformer (llama-family or Gemma 3 causal LM, BERT masked LM)
//! that can embed tokens, encode a sequence of embeddings and score hidden states against a few
//! rows of its vocabulary head. `PromptTuned` prepends a `SoftPrompt` to the token embeddings and
//! turns the hidden state at each example's answer slot into class scores.
#![warn(missing_docs)]

mod activation_memory;
mod backbone;
mod bert;
pub mod cache;
mod error;
mod family;
mod gemma3;
pub mod gguf;
mod hf_dir;
mod kernels;
mod llama;
mod load;
mod prefix;
pub mod prompt_file;
mod prompt_tuned;
pub mod reference;
mod safetensors_source;
pub mod soft_prompt;
pub mod tokenizer;
pub mod weights;

pub use activation_memory::{ActivationShape, BlockKind};
pub use backbone::{Backbone, encode_prefix_in_every_row};
pub use bert::{Bert, BertConfig, HiddenAct};
pub use error::{LoadError, ModelError};
pub use family::ModelFamily;
pub use gemma3::{Gemma3, Gemma3Config};
pub use hf_dir::HfDir;
pub use kernels::matmul_kernels;
pub use llama::{
    FusedClassHead, FusedLlama, FusedPrompt, FusedStep, Llama, LlamaConfig, LlamaError,
};
pub use load::{AnyBackbone, LoadedModel, load};
pub use prefix::{LayerKv, PrefixCache, RowPrefixes, encode_behind_in_every_row};
pub use prompt_file::{AdapterConfig, PromptTask, SavedPrompt, save_prompt};
pub use prompt_tuned::{ClassTokens, PromptPlacement, PromptTuned, answer_hidden_behind};
pub use safetensors_source::SafetensorsFile;
pub use soft_prompt::{PromptError, SoftPrompt, SoftPromptInit};
