//! Frozen pretrained backbones with a trainable soft prompt in front of their input.
//!
//! A [`Backbone`] is a frozen transformer (llama-family or Gemma 3 causal LM, BERT masked LM)
//! that can embed tokens, encode a sequence of embeddings and score hidden states against a few
//! rows of its vocabulary head. `PromptTuned` prepends a `SoftPrompt` to the token embeddings and
//! turns the hidden state at each example's answer slot into class scores.
//!
//! What the other crates use:
//! - [`load`] opens a GGUF file or a Hugging Face folder and returns a [`LoadedModel`]: the
//!   backbone as [`AnyBackbone`] (one variant per family), its tokenizer and its conventions.
//!   [`Llama`], [`Gemma3`] and [`Bert`] also build from a config with random weights, for tests.
//! - [`SoftPrompt`] (initialised by [`SoftPromptInit`]), [`PromptTuned`] and [`ClassTokens`]
//!   for training and scoring; [`PrefixCache`] and [`RowPrefixes`] to encode a prompt once and
//!   reuse it; [`FusedLlama`] for the hand-written CPU kernels.
//! - [`prompt_file`]: trained prompts in the PEFT folder layout ([`save_prompt`],
//!   [`SavedPrompt`]).
//! - [`cache`]: the model cache and the models the project can fetch.
//! - [`reference`]: a model checked against HF transformers' outputs (`cargo xtask
//!   check-reference` and the parity tests).
//!
//! The GGUF and safetensors readers, the tokenizer builder and the families' layers are
//! private: a model reaches users only through [`load`] and the family types.
#![warn(missing_docs)]

mod activation_memory;
mod backbone;
mod bert;
pub mod cache;
mod error;
mod family;
mod gemma3;
mod gguf;
mod hf_dir;
mod kernels;
mod llama;
mod load;
mod prefix;
pub mod prompt_file;
mod prompt_tuned;
pub mod reference;
mod safetensors_source;
mod soft_prompt;
#[cfg(test)]
mod test_support;
mod tokenizer;
mod weights;

pub use activation_memory::{ActivationShape, BlockKind};
pub use backbone::Backbone;
pub use bert::{Bert, BertConfig, HiddenAct};
pub use error::{LoadError, ModelError};
pub use family::ModelFamily;
pub use gemma3::{Gemma3, Gemma3Config};
pub use kernels::matmul_kernels;
pub use llama::{
    FusedClassHead, FusedLlama, FusedPrompt, FusedStep, Llama, LlamaConfig, LlamaError,
};
pub use load::{AnyBackbone, LoadedModel, load};
pub use prefix::{PrefixCache, RowPrefixes};
pub use prompt_file::{AdapterConfig, PromptTask, SavedPrompt, save_prompt};
pub use prompt_tuned::{ClassTokens, PromptPlacement, PromptTuned, answer_hidden_behind};
pub use soft_prompt::{PromptError, PromptVocab, SoftPrompt, SoftPromptInit};
