//! Llama-family causal language models (SmolLM2, Llama, …) as frozen prompt-tuning backbones.

mod attention;
mod build;
mod config;
mod error;
mod load;
mod mlp;
mod model;
mod rope;

pub use attention::Attention;
pub use config::LlamaConfig;
pub use error::LlamaError;
pub use load::{GGUF_NAMES, HF_NAMES};
pub use mlp::Mlp;
pub use model::{DecoderLayer, Llama};
pub use rope::Rope;
