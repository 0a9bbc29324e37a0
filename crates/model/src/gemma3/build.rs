//! The one place a Gemma 3 model is assembled from its config. Random initialisation and
//! loading differ only in where each parameter comes from, a [`ParamSource`].

use burn::module::Module;
use burn::nn::Embedding;
use burn::tensor::Device;

use super::config::Gemma3Config;
use super::model::{DecoderLayer, Gemma3};
use crate::error::LoadError;
use crate::llama::{Attention, GateActivation, Mlp, ParamSource, Rope};

impl Gemma3Config {
    /// The model of this shape with its parameters from `params`, every one frozen.
    pub(crate) fn assemble(
        &self,
        params: &impl ParamSource,
        device: &Device,
    ) -> Result<Gemma3, LoadError> {
        let d = self.hidden_size;
        let (heads, kv_heads, hd) = (
            self.num_attention_heads,
            self.num_key_value_heads,
            self.head_dim,
        );
        let ffn = self.intermediate_size;
        let eps = self.rms_norm_eps;
        let layers = (0..self.num_hidden_layers)
            .map(|i| {
                let linear = |field, shape| params.linear(field, i, shape, None);
                let norm = |field, width| params.norm(field, i, width, eps);
                Ok(DecoderLayer {
                    input_layernorm: norm("layers.{i}.input_layernorm.gamma", d)?,
                    self_attn: Attention {
                        q_proj: linear("layers.{i}.self_attn.q_proj.weight", [d, heads * hd])?,
                        k_proj: linear("layers.{i}.self_attn.k_proj.weight", [d, kv_heads * hd])?,
                        v_proj: linear("layers.{i}.self_attn.v_proj.weight", [d, kv_heads * hd])?,
                        o_proj: linear("layers.{i}.self_attn.o_proj.weight", [heads * hd, d])?,
                        q_norm: Some(norm("layers.{i}.self_attn.q_norm.gamma", hd)?),
                        k_norm: Some(norm("layers.{i}.self_attn.k_norm.gamma", hd)?),
                        num_heads: heads,
                        num_kv_heads: kv_heads,
                        head_dim: hd,
                    },
                    post_attention_layernorm: norm("layers.{i}.post_attention_layernorm.gamma", d)?,
                    pre_feedforward_layernorm: norm(
                        "layers.{i}.pre_feedforward_layernorm.gamma",
                        d,
                    )?,
                    mlp: Mlp {
                        gate_proj: linear("layers.{i}.mlp.gate_proj.weight", [d, ffn])?,
                        up_proj: linear("layers.{i}.mlp.up_proj.weight", [d, ffn])?,
                        down_proj: linear("layers.{i}.mlp.down_proj.weight", [ffn, d])?,
                        activation: GateActivation::GeluTanh,
                    },
                    post_feedforward_layernorm: norm(
                        "layers.{i}.post_feedforward_layernorm.gamma",
                        d,
                    )?,
                    global: self.is_global(i),
                })
            })
            .collect::<Result<Vec<_>, LoadError>>()?;
        let rope = |theta| Rope::new(hd, self.max_position_embeddings, theta, device);
        Ok(Gemma3 {
            embed_tokens: Embedding {
                weight: params.table("embed_tokens.weight", [self.vocab_size, d])?,
            },
            layers,
            norm: params.norm("norm.gamma", 0, d, eps)?,
            rope_local: rope(self.rope_local_base_freq),
            rope_global: rope(self.rope_theta),
            embed_scale: (d as f64).sqrt() as f32,
            sliding_window: self.sliding_window,
            vocab_size: self.vocab_size,
            hidden_size: d,
        }
        .no_grad())
    }
}
