//! Reads llama-family weights from a GGUF file or an HF safetensors directory.
//!
//! | burn field                                  | GGUF tensor                  | HF safetensors tensor                           |
//! |---------------------------------------------|------------------------------|-------------------------------------------------|
//! | `embed_tokens.weight`                       | `token_embd.weight`          | `model.embed_tokens.weight`                     |
//! | `norm.gamma`                                | `output_norm.weight`         | `model.norm.weight`                             |
//! | `lm_head` (absent: tied to the embedding)   | `output.weight`              | `lm_head.weight`                                |
//! | `layers.{i}.input_layernorm.gamma`          | `blk.{i}.attn_norm.weight`   | `model.layers.{i}.input_layernorm.weight`       |
//! | `layers.{i}.self_attn.q_proj.weight` (ᵀ, ᴾ) | `blk.{i}.attn_q.weight`      | `model.layers.{i}.self_attn.q_proj.weight`      |
//! | `layers.{i}.self_attn.k_proj.weight` (ᵀ, ᴾ) | `blk.{i}.attn_k.weight`      | `model.layers.{i}.self_attn.k_proj.weight`      |
//! | `layers.{i}.self_attn.v_proj.weight` (ᵀ)    | `blk.{i}.attn_v.weight`      | `model.layers.{i}.self_attn.v_proj.weight`      |
//! | `layers.{i}.self_attn.o_proj.weight` (ᵀ)    | `blk.{i}.attn_output.weight` | `model.layers.{i}.self_attn.o_proj.weight`      |
//! | `layers.{i}.post_attention_layernorm.gamma` | `blk.{i}.ffn_norm.weight`    | `model.layers.{i}.post_attention_layernorm.weight` |
//! | `layers.{i}.mlp.gate_proj.weight` (ᵀ)       | `blk.{i}.ffn_gate.weight`    | `model.layers.{i}.mlp.gate_proj.weight`         |
//! | `layers.{i}.mlp.up_proj.weight` (ᵀ)         | `blk.{i}.ffn_up.weight`      | `model.layers.{i}.mlp.up_proj.weight`           |
//! | `layers.{i}.mlp.down_proj.weight` (ᵀ)       | `blk.{i}.ffn_down.weight`    | `model.layers.{i}.mlp.down_proj.weight`         |
//!
//! ᵀ: files store linear weights `[out, in]`, burn's `Linear` holds `[in, out]`.
//! ᴾ: llama.cpp's converter permutes the rows of Q and K within each head for interleaved
//! rotary pairs; the GGUF loader undoes it (as transformers does) so that one rotary layout
//! (`rotate_half`) serves both sources.

use std::path::Path;

use burn::module::Param;
use burn::nn::{Linear, RmsNorm};
use burn::tensor::{Device, Tensor};

use super::build::ParamSource;
use super::config::LlamaConfig;
use super::error::LlamaError;
use super::model::Llama;
use crate::error::LoadError;
use crate::gguf::GgufFile;
use crate::hf_dir::HfDir;
use crate::safetensors_source::SafetensorsFile;
use crate::weights::{WeightLoader, WeightSource, transpose};

/// GGUF tensor name -> burn field (`{i}` is the block index).
pub const GGUF_NAMES: [(&str, &str); 12] = [
    ("token_embd.weight", "embed_tokens.weight"),
    ("output_norm.weight", "norm.gamma"),
    ("output.weight", "lm_head"),
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
        "blk.{i}.ffn_norm.weight",
        "layers.{i}.post_attention_layernorm.gamma",
    ),
    ("blk.{i}.ffn_gate.weight", "layers.{i}.mlp.gate_proj.weight"),
    ("blk.{i}.ffn_up.weight", "layers.{i}.mlp.up_proj.weight"),
    ("blk.{i}.ffn_down.weight", "layers.{i}.mlp.down_proj.weight"),
];

/// HF safetensors tensor name -> burn field (`{i}` is the block index).
pub const HF_NAMES: [(&str, &str); 12] = [
    ("model.embed_tokens.weight", "embed_tokens.weight"),
    ("model.norm.weight", "norm.gamma"),
    ("lm_head.weight", "lm_head"),
    (
        "model.layers.{i}.input_layernorm.weight",
        "layers.{i}.input_layernorm.gamma",
    ),
    (
        "model.layers.{i}.self_attn.q_proj.weight",
        "layers.{i}.self_attn.q_proj.weight",
    ),
    (
        "model.layers.{i}.self_attn.k_proj.weight",
        "layers.{i}.self_attn.k_proj.weight",
    ),
    (
        "model.layers.{i}.self_attn.v_proj.weight",
        "layers.{i}.self_attn.v_proj.weight",
    ),
    (
        "model.layers.{i}.self_attn.o_proj.weight",
        "layers.{i}.self_attn.o_proj.weight",
    ),
    (
        "model.layers.{i}.post_attention_layernorm.weight",
        "layers.{i}.post_attention_layernorm.gamma",
    ),
    (
        "model.layers.{i}.mlp.gate_proj.weight",
        "layers.{i}.mlp.gate_proj.weight",
    ),
    (
        "model.layers.{i}.mlp.up_proj.weight",
        "layers.{i}.mlp.up_proj.weight",
    ),
    (
        "model.layers.{i}.mlp.down_proj.weight",
        "layers.{i}.mlp.down_proj.weight",
    ),
];

/// The GGUF token embedding (its shape gives the vocabulary size).
pub(crate) const GGUF_EMBEDDING: &str = GGUF_NAMES[0].0;
/// The GGUF untied head.
pub(crate) const GGUF_HEAD: &str = GGUF_NAMES[2].0;

/// HF files of older transformers versions store the rotary frequencies, which are derived
/// from the config here.
const HF_IGNORED: &str = "model.layers.{i}.self_attn.rotary_emb.inv_freq";

/// How a file names and lays out the tensors.
pub(crate) struct Layout {
    /// File tensor name -> burn field (`{i}` is the block index).
    pub names: &'static [(&'static str, &'static str)],
    /// Q and K rows permuted for interleaved rotary pairs (llama.cpp's llama GGUF).
    pub interleaved_qk: bool,
}

impl Layout {
    /// The file's name for a burn field in block `layer`.
    fn file_name(&self, field: &str, layer: usize) -> String {
        let (file, _) = self
            .names
            .iter()
            .find(|(_, f)| *f == field)
            .expect("every burn field is in the name table");
        file.replace("{i}", &layer.to_string())
    }
}

impl Llama {
    /// Loads a llama-architecture GGUF file (quantized tensors are dequantized to f32).
    pub fn from_gguf(path: &Path, device: &Device) -> Result<Self, LlamaError> {
        let gguf = GgufFile::open(path)?;
        let config = LlamaConfig::from_gguf(&gguf)?;
        let layout = Layout {
            names: &GGUF_NAMES,
            interleaved_qk: true,
        };
        load(&config, &gguf, &layout, &[], device)
    }

    /// Loads an HF llama directory (`config.json` + `model.safetensors`).
    pub fn from_hf_dir(dir: &Path, device: &Device) -> Result<Self, LlamaError> {
        let dir = HfDir::new(dir);
        let config = LlamaConfig::from_hf_json(&dir.config_path())?;
        let weights = SafetensorsFile::open(dir.weights_path())?;
        let layout = Layout {
            names: &HF_NAMES,
            interleaved_qk: false,
        };
        let ignored: Vec<String> = (0..config.num_hidden_layers)
            .map(|i| HF_IGNORED.replace("{i}", &i.to_string()))
            .collect();
        let ignored: Vec<&str> = ignored.iter().map(String::as_str).collect();
        load(&config, &weights, &layout, &ignored, device)
    }
}

/// Builds the model from any weight source; every tensor is checked against `config`.
fn load(
    config: &LlamaConfig,
    source: &dyn WeightSource,
    layout: &Layout,
    ignored: &[&str],
    device: &Device,
) -> Result<Llama, LlamaError> {
    Ok(load_from_file(source, layout, ignored, device, |params| {
        config.assemble(params, device)
    })?)
}

/// Runs `assemble` on the parameters of `source` laid out as `layout` says, then checks that
/// every tensor of the file was used (except the `ignored` names).
pub(crate) fn load_from_file<M>(
    source: &dyn WeightSource,
    layout: &Layout,
    ignored: &[&str],
    device: &Device,
    assemble: impl FnOnce(&FileParams) -> Result<M, LoadError>,
) -> Result<M, LoadError> {
    let params = FileParams {
        loader: WeightLoader::new(source, device),
        layout,
    };
    let model = assemble(&params)?;
    params.loader.finish(ignored)?;
    Ok(model)
}

/// Parameters read from a weight file laid out as `layout` says.
pub(crate) struct FileParams<'a> {
    loader: WeightLoader<'a>,
    layout: &'a Layout,
}

impl ParamSource for FileParams<'_> {
    fn linear(
        &self,
        field: &str,
        layer: usize,
        [inp, out]: [usize; 2],
        rope_heads: Option<usize>,
    ) -> Result<Linear, LoadError> {
        let name = self.layout.file_name(field, layer);
        let mut values = self.loader.values(&name, &[out, inp])?;
        if let Some(heads) = rope_heads.filter(|_| self.layout.interleaved_qk) {
            values = unpermute_rotary_rows(&values, heads, out / heads, inp);
        }
        Ok(Linear {
            weight: self.loader.frozen(transpose(&values, out, inp), [inp, out]),
            bias: None,
        })
    }

    fn norm(
        &self,
        field: &str,
        layer: usize,
        d: usize,
        epsilon: f64,
    ) -> Result<RmsNorm, LoadError> {
        Ok(RmsNorm {
            gamma: self
                .loader
                .param(&self.layout.file_name(field, layer), [d])?,
            epsilon,
        })
    }

    fn table(&self, field: &str, shape: [usize; 2]) -> Result<Param<Tensor<2>>, LoadError> {
        self.loader.param(&self.layout.file_name(field, 0), shape)
    }

    /// An untied checkpoint must have a head; a tied one may still store a copy of it.
    fn has_head(&self, tied: bool) -> bool {
        self.loader.has(&self.layout.file_name("lm_head", 0)) || !tied
    }
}

/// Undoes llama.cpp's Q/K permutation: within each head of `head_dim` rows, GGUF row
/// `2 * p + j` holds HF row `j * head_dim / 2 + p` (pair `p`, coordinate `j`).
fn unpermute_rotary_rows(values: &[f32], heads: usize, head_dim: usize, cols: usize) -> Vec<f32> {
    let half = head_dim / 2;
    let mut out = vec![0.0; values.len()];
    for h in 0..heads {
        for p in 0..half {
            for j in 0..2 {
                let from = (h * head_dim + 2 * p + j) * cols;
                let to = (h * head_dim + j * half + p) * cols;
                out[to..to + cols].copy_from_slice(&values[from..from + cols]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpermute_inverts_llama_cpp_permutation() {
        // llama.cpp: w.reshape(heads, 2, hd/2, cols).swapaxes(1, 2): HF row (h, j, p) goes to
        // GGUF row (h, p, j). Two heads of width 4, one column: HF rows 0..8.
        let gguf = [0.0, 2.0, 1.0, 3.0, 4.0, 6.0, 5.0, 7.0];
        assert_eq!(
            unpermute_rotary_rows(&gguf, 2, 4, 1),
            vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
        );
    }

    #[test]
    fn name_tables_cover_the_same_fields() {
        let fields =
            |t: &[(&'static str, &'static str)]| t.iter().map(|(_, f)| *f).collect::<Vec<_>>();
        assert_eq!(fields(&GGUF_NAMES), fields(&HF_NAMES));
    }
}
