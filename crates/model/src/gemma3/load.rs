//! Reads Gemma 3 weights from a GGUF file (llama.cpp's `gemma3` architecture).
//!
//! | burn field                                    | GGUF tensor                          |
//! |-----------------------------------------------|--------------------------------------|
//! | `embed_tokens.weight` (also the head)         | `token_embd.weight`                  |
//! | `norm.gamma`                                  | `output_norm.weight`                 |
//! | `layers.{i}.input_layernorm.gamma`            | `blk.{i}.attn_norm.weight`           |
//! | `layers.{i}.self_attn.q_proj.weight` (ᵀ)      | `blk.{i}.attn_q.weight`              |
//! | `layers.{i}.self_attn.k_proj.weight` (ᵀ)      | `blk.{i}.attn_k.weight`              |
//! | `layers.{i}.self_attn.v_proj.weight` (ᵀ)      | `blk.{i}.attn_v.weight`              |
//! | `layers.{i}.self_attn.o_proj.weight` (ᵀ)      | `blk.{i}.attn_output.weight`         |
//! | `layers.{i}.self_attn.q_norm.gamma`           | `blk.{i}.attn_q_norm.weight`         |
//! | `layers.{i}.self_attn.k_norm.gamma`           | `blk.{i}.attn_k_norm.weight`         |
//! | `layers.{i}.post_attention_layernorm.gamma`   | `blk.{i}.post_attention_norm.weight` |
//! | `layers.{i}.pre_feedforward_layernorm.gamma`  | `blk.{i}.ffn_norm.weight`            |
//! | `layers.{i}.mlp.gate_proj.weight` (ᵀ)         | `blk.{i}.ffn_gate.weight`            |
//! | `layers.{i}.mlp.up_proj.weight` (ᵀ)           | `blk.{i}.ffn_up.weight`              |
//! | `layers.{i}.mlp.down_proj.weight` (ᵀ)         | `blk.{i}.ffn_down.weight`            |
//! | `layers.{i}.post_feedforward_layernorm.gamma` | `blk.{i}.post_ffw_norm.weight`       |
//!
//! ᵀ: the file stores linear weights `[out, in]`, burn's `Linear` holds `[in, out]`.
//! Norm weights: Gemma multiplies by `1 + w`, and llama.cpp's converter stores `1 + w`, so the
//! stored values are the multipliers as they are. Unlike llama, Q and K rows are not permuted.

use std::path::Path;

use burn::tensor::Device;

use super::config::Gemma3Config;
use super::model::Gemma3;
use crate::error::LoadError;
use crate::gguf::GgufFile;
use crate::llama::{Layout, load_from_file};

/// GGUF tensor name -> burn field (`{i}` is the block index).
pub const GGUF_NAMES: [(&str, &str); 15] = [
    ("token_embd.weight", "embed_tokens.weight"),
    ("output_norm.weight", "norm.gamma"),
    (
        "blk.{i}.attn_norm.weight",
        "layers.{i}.input_layernorm.gamma",
    ),
    (
        "blk.{i}.attn_q.weight",
        "layers.{i}.self_attn.q_proj.weight",
    ),
    (
        "blk.{i}.attn_k.weight",
        "layers.{i}.self_attn.k_proj.weight",
    ),
    (
        "blk.{i}.attn_v.weight",
        "layers.{i}.self_attn.v_proj.weight",
    ),
    (
        "blk.{i}.attn_output.weight",
        "layers.{i}.self_attn.o_proj.weight",
    ),
    (
        "blk.{i}.attn_q_norm.weight",
        "layers.{i}.self_attn.q_norm.gamma",
    ),
    (
        "blk.{i}.attn_k_norm.weight",
        "layers.{i}.self_attn.k_norm.gamma",
    ),
    (
        "blk.{i}.post_attention_norm.weight",
        "layers.{i}.post_attention_layernorm.gamma",
    ),
    (
        "blk.{i}.ffn_norm.weight",
        "layers.{i}.pre_feedforward_layernorm.gamma",
    ),
    ("blk.{i}.ffn_gate.weight", "layers.{i}.mlp.gate_proj.weight"),
    ("blk.{i}.ffn_up.weight", "layers.{i}.mlp.up_proj.weight"),
    ("blk.{i}.ffn_down.weight", "layers.{i}.mlp.down_proj.weight"),
    (
        "blk.{i}.post_ffw_norm.weight",
        "layers.{i}.post_feedforward_layernorm.gamma",
    ),
];

/// The GGUF token embedding (its shape gives the vocabulary size).
pub(crate) const GGUF_EMBEDDING: &str = GGUF_NAMES[0].0;

impl Gemma3 {
    /// Loads a `gemma3` GGUF file (quantized tensors are dequantized to f32).
    pub fn from_gguf(path: &Path, device: &Device) -> Result<Self, LoadError> {
        let gguf = GgufFile::open(path)?;
        let config = Gemma3Config::from_gguf(&gguf)?;
        let layout = Layout {
            names: &GGUF_NAMES,
            interleaved_qk: false,
        };
        load_from_file(&gguf, &layout, &[], device, |params| {
            config.assemble(params, device)
        })
    }
}
