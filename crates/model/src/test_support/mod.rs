//! Helpers for the unit tests that read real files: the shared fixtures, the cached models and
//! a writer of small GGUF files.
#![allow(dead_code)] // each test module uses a different subset

mod fixtures;
pub mod gguf_writer;

pub use fixtures::*;

use crate::{Gemma3Config, LlamaConfig, cache};
