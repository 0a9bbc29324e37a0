//! Llama-family causal language models (SmolLM2, Llama, …) as frozen prompt-tuning backbones.

mod attention;
mod build;
mod config;
mod error;
mod load;
mod mlp;
mod model;
mod rope;

pub use config::LlamaConfig;
pub use error::LlamaError;
pub use model::Llama;
