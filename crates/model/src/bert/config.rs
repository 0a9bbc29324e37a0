//! `BertConfig`: the architecture fields of a Hugging Face BERT `config.json`.

use std::path::Path;

use serde::Deserialize;

use crate::error::LoadError;
use crate::hf_dir::HfDir;

/// The BERT hyper-parameters read from `config.json`.
///
/// Unknown fields are accepted: a Hugging Face config carries many training-only keys
/// (dropout rates, `initializer_range`, …) that do not change inference. Fields that would
/// change the computation and that this implementation does not support (another activation,
/// relative positions) are rejected by name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawBertConfig")]
pub struct BertConfig {
    /// Rows of the word-embedding table (and of the MLM decoder).
    pub vocab_size: usize,
    /// Width of every hidden state (`d`).
    pub hidden_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer; divides `hidden_size`.
    pub num_attention_heads: usize,
    /// Width of the feed-forward inner layer.
    pub intermediate_size: usize,
    /// Rows of the absolute position-embedding table (longest input).
    pub max_position_embeddings: usize,
    /// Rows of the token-type (segment) embedding table.
    pub type_vocab_size: usize,
    /// Epsilon of every LayerNorm.
    pub layer_norm_eps: f64,
    /// Activation of the feed-forward layer and of the MLM transform.
    pub hidden_act: HiddenAct,
}

/// Activations BERT checkpoints use that this implementation computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum HiddenAct {
    /// Exact GELU, `x * Φ(x)` with the erf-based normal CDF (Hugging Face `"gelu"`).
    #[serde(rename = "gelu")]
    Gelu,
}

/// Position schemes; only the original absolute table is implemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
enum PositionEmbeddingType {
    #[serde(rename = "absolute")]
    Absolute,
}

/// `config.json` as written, before the cross-field checks.
#[derive(Deserialize)]
struct RawBertConfig {
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    max_position_embeddings: usize,
    type_vocab_size: usize,
    /// Hugging Face's default.
    #[serde(default = "default_layer_norm_eps")]
    layer_norm_eps: f64,
    /// Hugging Face's default.
    #[serde(default = "default_hidden_act")]
    hidden_act: HiddenAct,
    /// Read only to reject relative position schemes.
    #[serde(default = "default_position_embedding_type")]
    position_embedding_type: PositionEmbeddingType,
    /// Read only to reject an untied decoder (Hugging Face's default is tied).
    #[serde(default = "default_tie_word_embeddings")]
    tie_word_embeddings: bool,
}

fn default_layer_norm_eps() -> f64 {
    1e-12
}

fn default_hidden_act() -> HiddenAct {
    HiddenAct::Gelu
}

fn default_tie_word_embeddings() -> bool {
    true
}

fn default_position_embedding_type() -> PositionEmbeddingType {
    PositionEmbeddingType::Absolute
}

impl TryFrom<RawBertConfig> for BertConfig {
    type Error = String;

    fn try_from(raw: RawBertConfig) -> Result<Self, String> {
        let PositionEmbeddingType::Absolute = raw.position_embedding_type;
        if raw.num_attention_heads == 0 || !raw.hidden_size.is_multiple_of(raw.num_attention_heads)
        {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                raw.hidden_size, raw.num_attention_heads
            ));
        }
        if !raw.tie_word_embeddings {
            return Err(
                "tie_word_embeddings is false: only MLM decoders tied to the word embeddings \
                 are supported"
                    .into(),
            );
        }
        if raw.type_vocab_size == 0 {
            return Err("type_vocab_size is 0, but BERT adds the token-type-0 embedding".into());
        }
        Ok(Self {
            vocab_size: raw.vocab_size,
            hidden_size: raw.hidden_size,
            num_hidden_layers: raw.num_hidden_layers,
            num_attention_heads: raw.num_attention_heads,
            intermediate_size: raw.intermediate_size,
            max_position_embeddings: raw.max_position_embeddings,
            type_vocab_size: raw.type_vocab_size,
            layer_norm_eps: raw.layer_norm_eps,
            hidden_act: raw.hidden_act,
        })
    }
}

impl BertConfig {
    /// Reads the `config.json` of a Hugging Face model directory; errors name the file.
    pub fn from_hf_dir(dir: impl AsRef<Path>) -> Result<Self, LoadError> {
        HfDir::new(dir.as_ref()).config()
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = r#"{"vocab_size": 30522, "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 512,
        "type_vocab_size": 2, "model_type": "bert", "hidden_dropout_prob": 0.1}"#;

    #[test]
    fn reads_fields_and_applies_hugging_face_defaults() {
        let config: BertConfig = serde_json::from_str(TINY).unwrap();
        assert_eq!(config.hidden_size, 32);
        assert_eq!(config.head_dim(), 16);
        assert_eq!(config.layer_norm_eps, 1e-12);
        assert_eq!(config.hidden_act, HiddenAct::Gelu);
    }

    #[test]
    fn rejects_heads_that_do_not_divide_the_width() {
        let text = TINY.replace(r#""num_attention_heads": 2"#, r#""num_attention_heads": 3"#);
        let err = serde_json::from_str::<BertConfig>(&text).unwrap_err();
        assert!(
            err.to_string()
                .contains("hidden_size 32 is not a multiple of num_attention_heads 3"),
            "{err}"
        );
    }

    #[test]
    fn rejects_an_untied_decoder() {
        let text = TINY.replace('{', r#"{"tie_word_embeddings": false, "#);
        let err = serde_json::from_str::<BertConfig>(&text).unwrap_err();
        assert!(
            err.to_string().contains("tie_word_embeddings is false"),
            "{err}"
        );
    }

    #[test]
    fn rejects_unsupported_activation_and_positions() {
        let text = TINY.replace('{', r#"{"hidden_act": "relu", "#);
        let err = serde_json::from_str::<BertConfig>(&text).unwrap_err();
        assert!(err.to_string().contains("unknown variant `relu`"), "{err}");
        let text = TINY.replace('{', r#"{"position_embedding_type": "relative_key", "#);
        let err = serde_json::from_str::<BertConfig>(&text).unwrap_err();
        assert!(
            err.to_string().contains("unknown variant `relative_key`"),
            "{err}"
        );
    }
}
