//! Shape and numerics of a llama-family decoder, read from HF `config.json` or GGUF metadata.

use std::path::Path;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::build::RandomParams;
use super::error::LlamaError;
use super::load::{GGUF_EMBEDDING, GGUF_HEAD};
use super::model::Llama;
use crate::error::LoadError;
use crate::gguf::GgufFile;

/// Hyper-parameters of a llama-family decoder (HF `LlamaConfig` field names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlamaConfig {
    /// Rows of the token embedding (and of the vocabulary head).
    pub vocab_size: usize,
    /// Width of the residual stream (`d`).
    pub hidden_size: usize,
    /// Width of the SwiGLU feed-forward layer.
    pub intermediate_size: usize,
    /// Number of decoder blocks.
    pub num_hidden_layers: usize,
    /// Number of query heads.
    pub num_attention_heads: usize,
    /// Number of key/value heads (grouped-query attention shares each among several query heads).
    pub num_key_value_heads: usize,
    /// Width of one attention head.
    pub head_dim: usize,
    /// Epsilon of every RMSNorm.
    pub rms_norm_eps: f64,
    /// Base of the rotary position frequencies.
    pub rope_theta: f64,
    /// Longest sequence the rotary table covers.
    pub max_position_embeddings: usize,
    /// Whether the vocabulary head reuses the token embedding.
    pub tie_word_embeddings: bool,
}

/// The subset of an HF llama `config.json` this crate reads. HF files carry many fields that do
/// not matter here (dtype, token ids, library versions), so unknown fields are accepted; the
/// fields that would change the computation are checked in [`LlamaConfig::from_hf_json`].
#[derive(Deserialize)]
struct HfLlamaConfig {
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    #[serde(default = "hf_default_rms_norm_eps")]
    rms_norm_eps: f64,
    rope_theta: Option<f64>,
    /// transformers >= 5 writes `rope_parameters: {rope_type, rope_theta}` instead.
    rope_parameters: Option<HfRopeParameters>,
    rope_scaling: Option<serde_json::Value>,
    #[serde(default = "hf_default_max_positions")]
    max_position_embeddings: usize,
    #[serde(default)]
    tie_word_embeddings: bool,
    #[serde(default = "hf_default_act")]
    hidden_act: String,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    mlp_bias: bool,
}

#[derive(Deserialize)]
struct HfRopeParameters {
    rope_type: Option<String>,
    rope_theta: Option<f64>,
}

// Defaults of transformers' `LlamaConfig`.
fn hf_default_rms_norm_eps() -> f64 {
    1e-6
}
fn hf_default_max_positions() -> usize {
    2048
}
fn hf_default_act() -> String {
    "silu".to_string()
}
const HF_DEFAULT_ROPE_THETA: f64 = 10_000.0;

impl LlamaConfig {
    /// Reads an HF `config.json`, rejecting variants this implementation does not compute
    /// (rope scaling, biases, activations other than SiLU).
    pub fn from_hf_json(path: &Path) -> Result<Self, LlamaError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let hf: HfLlamaConfig =
            serde_json::from_str(&text).map_err(|source| LoadError::Config {
                path: path.to_path_buf(),
                source,
            })?;
        let unsupported = |what: String| LlamaError::Unsupported {
            path: path.to_path_buf(),
            what,
        };
        let scaled = |v: &Option<serde_json::Value>| v.as_ref().is_some_and(|v| !v.is_null());
        if scaled(&hf.rope_scaling) {
            return Err(unsupported(format!("rope_scaling {:?}", hf.rope_scaling)));
        }
        if let Some(kind) = hf
            .rope_parameters
            .as_ref()
            .and_then(|r| r.rope_type.as_deref())
            && kind != "default"
        {
            return Err(unsupported(format!("rope_type {kind:?}")));
        }
        if hf.hidden_act != "silu" {
            return Err(unsupported(format!("hidden_act {:?}", hf.hidden_act)));
        }
        if hf.attention_bias || hf.mlp_bias {
            return Err(unsupported("attention_bias / mlp_bias".to_string()));
        }
        let rope_theta = hf
            .rope_parameters
            .as_ref()
            .and_then(|r| r.rope_theta)
            .or(hf.rope_theta)
            .unwrap_or(HF_DEFAULT_ROPE_THETA);
        let config = Self {
            vocab_size: hf.vocab_size,
            hidden_size: hf.hidden_size,
            intermediate_size: hf.intermediate_size,
            num_hidden_layers: hf.num_hidden_layers,
            num_attention_heads: hf.num_attention_heads,
            num_key_value_heads: hf.num_key_value_heads.unwrap_or(hf.num_attention_heads),
            head_dim: hf
                .head_dim
                .unwrap_or(hf.hidden_size / hf.num_attention_heads.max(1)),
            rms_norm_eps: hf.rms_norm_eps,
            rope_theta,
            max_position_embeddings: hf.max_position_embeddings,
            tie_word_embeddings: hf.tie_word_embeddings,
        };
        config.validate(path)?;
        Ok(config)
    }

    /// Reads the `llama.*` metadata of a GGUF file. The vocabulary size comes from the
    /// token embedding's shape; the head is tied unless the file has `output.weight`.
    pub(crate) fn from_gguf(gguf: &GgufFile) -> Result<Self, LlamaError> {
        let path = gguf.path();
        let architecture = gguf.get_str("general.architecture")?;
        if architecture != "llama" {
            return Err(LlamaError::Unsupported {
                path: path.to_path_buf(),
                what: format!("general.architecture {architecture:?} (expected \"llama\")"),
            });
        }
        if let Ok(kind) = gguf.get_str("llama.rope.scaling.type")
            && kind != "none"
        {
            return Err(LlamaError::Unsupported {
                path: path.to_path_buf(),
                what: format!("llama.rope.scaling.type {kind:?}"),
            });
        }
        let int = |key: &str| gguf.get_u64(key).map(|v| v as usize);
        let optional_int = |key: &str| gguf.metadata(key).map(|_| int(key)).transpose();
        let hidden_size = int("llama.embedding_length")?;
        let num_attention_heads = int("llama.attention.head_count")?;
        let vocab_size = match gguf.tensor_shape(GGUF_EMBEDDING).as_deref() {
            Some([rows, _]) => *rows,
            found => {
                return Err(LlamaError::Unsupported {
                    path: path.to_path_buf(),
                    what: format!("token embedding `{GGUF_EMBEDDING}` with shape {found:?}"),
                });
            }
        };
        let config = Self {
            vocab_size,
            hidden_size,
            intermediate_size: int("llama.feed_forward_length")?,
            num_hidden_layers: int("llama.block_count")?,
            num_attention_heads,
            num_key_value_heads: optional_int("llama.attention.head_count_kv")?
                .unwrap_or(num_attention_heads),
            head_dim: optional_int("llama.rope.dimension_count")?
                .unwrap_or(hidden_size / num_attention_heads.max(1)),
            rms_norm_eps: gguf.get_f32("llama.attention.layer_norm_rms_epsilon")? as f64,
            rope_theta: match gguf.metadata("llama.rope.freq_base") {
                Some(_) => gguf.get_f32("llama.rope.freq_base")? as f64,
                None => HF_DEFAULT_ROPE_THETA,
            },
            max_position_embeddings: int("llama.context_length")?,
            tie_word_embeddings: gguf.tensor_info(GGUF_HEAD).is_none(),
        };
        config.validate(path)?;
        Ok(config)
    }

    /// Checks that the head counts and widths fit together.
    pub(crate) fn validate(&self, path: &Path) -> Result<(), LlamaError> {
        let ok = self.num_attention_heads > 0
            && self.num_key_value_heads > 0
            && self
                .num_attention_heads
                .is_multiple_of(self.num_key_value_heads)
            && self.head_dim.is_multiple_of(2)
            && self.head_dim > 0;
        if ok {
            Ok(())
        } else {
            Err(LlamaError::Unsupported {
                path: path.to_path_buf(),
                what: format!(
                    "{} query heads, {} key/value heads, head width {} (query heads must be a \
                     multiple of key/value heads and the head width even)",
                    self.num_attention_heads, self.num_key_value_heads, self.head_dim
                ),
            })
        }
    }

    /// A model with random weights of this shape (tests, speed measurements). Like a loaded
    /// model, every parameter is frozen.
    pub fn init(&self, device: &Device) -> Llama {
        self.assemble(&RandomParams { device }, device)
            .expect("random parameters always fit their shapes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::smollm2_gguf;

    #[test]
    fn smollm2_config_is_read_from_the_gguf_metadata() {
        let gguf = GgufFile::open(smollm2_gguf()).unwrap();
        assert_eq!(
            LlamaConfig::from_gguf(&gguf).unwrap(),
            LlamaConfig {
                vocab_size: 49152,
                hidden_size: 576,
                intermediate_size: 1536,
                num_hidden_layers: 30,
                num_attention_heads: 9,
                num_key_value_heads: 3,
                head_dim: 64,
                rms_norm_eps: 1e-5f32 as f64,
                rope_theta: 100_000.0,
                max_position_embeddings: 8192,
                tie_word_embeddings: true,
            }
        );
    }
}
