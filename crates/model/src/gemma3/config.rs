//! Shape and numerics of a Gemma 3 text decoder, read from GGUF `gemma3.*` metadata.

use std::path::Path;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::model::Gemma3;
use crate::error::LoadError;
use crate::gguf::GgufFile;
use crate::llama::RandomParams;

/// Values transformers' `Gemma3TextConfig` uses that a GGUF file does not store.
mod hf_defaults {
    /// Rotary base of the local (sliding-window) layers.
    pub const ROPE_LOCAL_THETA: f64 = 10_000.0;
    /// Every sixth layer (5, 11, 17, …) attends globally.
    pub const SLIDING_WINDOW_PATTERN: usize = 6;
    /// Queries are scaled by `query_pre_attn_scalar^-1/2`.
    pub const QUERY_PRE_ATTN_SCALAR: usize = 256;
}

/// The longest input the rotary tables cover. The file allows 32,768 positions, but tables that
/// long take 134 MB for two bases; prompt tuning's inputs (a prompt and one example) are far
/// shorter, and 8,192 positions keep the tables at 34 MB.
pub const MAX_POSITIONS: usize = 8192;

/// Hyper-parameters of a Gemma 3 decoder (HF `Gemma3TextConfig` field names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gemma3Config {
    /// Rows of the token embedding (and of the tied vocabulary head).
    pub vocab_size: usize,
    /// Width of the residual stream (`d`).
    pub hidden_size: usize,
    /// Width of the GeGLU feed-forward layer.
    pub intermediate_size: usize,
    /// Number of decoder blocks.
    pub num_hidden_layers: usize,
    /// Number of query heads.
    pub num_attention_heads: usize,
    /// Number of key/value heads.
    pub num_key_value_heads: usize,
    /// Width of one attention head.
    pub head_dim: usize,
    /// Epsilon of every RMSNorm.
    pub rms_norm_eps: f64,
    /// Rotary base of the global layers.
    pub rope_theta: f64,
    /// Rotary base of the local (sliding-window) layers.
    pub rope_local_base_freq: f64,
    /// How many previous positions (itself included) a query of a local layer sees.
    pub sliding_window: usize,
    /// Layer `i` is global when `(i + 1)` is a multiple of this.
    pub sliding_window_pattern: usize,
    /// Longest sequence the rotary tables cover.
    pub max_position_embeddings: usize,
}

impl Gemma3Config {
    /// Reads the `gemma3.*` metadata of a GGUF file (see [`hf_defaults`] for what it lacks).
    /// The vocabulary size comes from the token embedding's shape.
    pub(crate) fn from_gguf(gguf: &GgufFile) -> Result<Self, LoadError> {
        let path = gguf.path();
        let unsupported = |what: String| unsupported(path, what);
        let architecture = gguf.get_str("general.architecture")?;
        if architecture != "gemma3" {
            return Err(unsupported(format!(
                "general.architecture {architecture:?} (expected \"gemma3\")"
            )));
        }
        if let Ok(kind) = gguf.get_str("gemma3.rope.scaling.type")
            && kind != "none"
        {
            return Err(unsupported(format!("gemma3.rope.scaling.type {kind:?}")));
        }
        let int = |key: &str| gguf.get_u64(key).map(|v| v as usize);
        let vocab_size = match gguf.tensor_shape(super::load::GGUF_EMBEDDING).as_deref() {
            Some([rows, _]) => *rows,
            found => {
                return Err(unsupported(format!(
                    "token embedding `{}` with shape {found:?}",
                    super::load::GGUF_EMBEDDING
                )));
            }
        };
        let head_dim = int("gemma3.attention.key_length")?;
        let value_dim = int("gemma3.attention.value_length")?;
        if value_dim != head_dim {
            return Err(unsupported(format!(
                "key width {head_dim} and value width {value_dim} differ"
            )));
        }
        let config = Self {
            vocab_size,
            hidden_size: int("gemma3.embedding_length")?,
            intermediate_size: int("gemma3.feed_forward_length")?,
            num_hidden_layers: int("gemma3.block_count")?,
            num_attention_heads: int("gemma3.attention.head_count")?,
            num_key_value_heads: int("gemma3.attention.head_count_kv")?,
            head_dim,
            rms_norm_eps: f64::from(gguf.get_f32("gemma3.attention.layer_norm_rms_epsilon")?),
            rope_theta: f64::from(gguf.get_f32("gemma3.rope.freq_base")?),
            rope_local_base_freq: hf_defaults::ROPE_LOCAL_THETA,
            sliding_window: int("gemma3.attention.sliding_window")?,
            sliding_window_pattern: hf_defaults::SLIDING_WINDOW_PATTERN,
            max_position_embeddings: int("gemma3.context_length")?.min(MAX_POSITIONS),
        };
        config.validate(path)?;
        Ok(config)
    }

    /// Checks that the head counts and widths fit together, and that the query scale
    /// transformers assumes (`query_pre_attn_scalar` 256, not in the file) is the head width's.
    pub(crate) fn validate(&self, path: &Path) -> Result<(), LoadError> {
        let heads_ok = self.num_attention_heads > 0
            && self.num_key_value_heads > 0
            && self
                .num_attention_heads
                .is_multiple_of(self.num_key_value_heads)
            && self.head_dim > 0
            && self.head_dim.is_multiple_of(2);
        if !heads_ok {
            return Err(unsupported(
                path,
                format!(
                    "{} query heads, {} key/value heads, head width {} (query heads must be a \
                     multiple of key/value heads and the head width even)",
                    self.num_attention_heads, self.num_key_value_heads, self.head_dim
                ),
            ));
        }
        if self.head_dim != hf_defaults::QUERY_PRE_ATTN_SCALAR {
            return Err(unsupported(
                path,
                format!(
                    "head width {}: queries are scaled by 1/sqrt(query_pre_attn_scalar), which \
                     the file does not store; transformers' default, {}, is only right for \
                     heads that wide",
                    self.head_dim,
                    hf_defaults::QUERY_PRE_ATTN_SCALAR
                ),
            ));
        }
        if self.sliding_window == 0 || self.sliding_window_pattern == 0 {
            return Err(unsupported(path, "a sliding window of 0".to_string()));
        }
        Ok(())
    }

    /// Whether layer `layer` attends to every earlier position (global) rather than to the last
    /// `sliding_window` ones (local).
    pub fn is_global(&self, layer: usize) -> bool {
        (layer + 1).is_multiple_of(self.sliding_window_pattern)
    }

    /// A model with random weights of this shape (tests, speed measurements). Like a loaded
    /// model, every parameter is frozen.
    pub fn init(&self, device: &Device) -> Gemma3 {
        self.assemble(&RandomParams { device }, device)
            .expect("random parameters always fit their shapes")
    }
}

fn unsupported(path: &Path, what: String) -> LoadError {
    LoadError::UnsupportedVariant {
        path: path.to_path_buf(),
        family: "gemma3",
        what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sixth_layer_is_global() {
        let config = Gemma3Config {
            vocab_size: 8,
            hidden_size: 4,
            intermediate_size: 8,
            num_hidden_layers: 18,
            num_attention_heads: 1,
            num_key_value_heads: 1,
            head_dim: 256,
            rms_norm_eps: 1e-6,
            rope_theta: 1e6,
            rope_local_base_freq: 1e4,
            sliding_window: 512,
            sliding_window_pattern: 6,
            max_position_embeddings: 64,
        };
        let global: Vec<usize> = (0..18).filter(|&i| config.is_global(i)).collect();
        assert_eq!(global, [5, 11, 17]);
        let err = Gemma3Config {
            head_dim: 128,
            ..config
        }
        .validate(Path::new("m.gguf"))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("m.gguf: unsupported gemma3 variant: head width 128"),
            "{err}"
        );
    }
}
