//! Llama-family causal language models (SmolLM2, Llama, …) as frozen prompt-tuning backbones.
//! Their attention, feed-forward block, rotary tables and parameter sources are also the parts
//! Gemma 3 is built from.

mod attention;
mod build;
mod config;
mod error;
mod fused;
#[cfg(test)]
mod hf_dir_tests;
mod load;
mod mlp;
mod model;
mod rope;

pub(crate) use attention::Attention;
pub(crate) use build::{ParamSource, RandomParams};
pub use config::LlamaConfig;
pub use error::LlamaError;
pub use fused::{FusedClassHead, FusedLlama, FusedPrompt, FusedStep};
pub(crate) use load::{Layout, load_from_file};
pub(crate) use mlp::{GateActivation, Mlp};
pub use model::Llama;
pub(crate) use rope::{Rope, Rotation};
