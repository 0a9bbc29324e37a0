//! Gemma 3 (text) causal language models as frozen prompt-tuning backbones, built from the
//! llama family's attention, feed-forward block and rotary tables. What differs from llama:
//! token embeddings scaled by `sqrt(d)`, RMSNorm on queries and keys, norms before and after
//! attention and feed-forward, GeGLU, and local sliding-window layers (rotary base 10,000)
//! between global ones (every sixth layer).

mod build;
mod config;
#[cfg(test)]
mod gguf_tests;
mod load;
mod mask;
mod model;

pub use config::Gemma3Config;
pub use model::Gemma3;
