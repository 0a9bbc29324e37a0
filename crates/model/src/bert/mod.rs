//! BERT (masked LM) as a frozen backbone: config, modules, and loading from a Hugging Face
//! directory.

mod build;
mod config;
mod embeddings;
mod layer;
mod load;
#[cfg(test)]
mod load_tests;
mod mlm_head;
mod model;

pub use config::{BertConfig, HiddenAct};
pub use model::Bert;
