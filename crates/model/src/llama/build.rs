//! The one place a llama model is assembled from its config. Random initialisation and loading
//! differ only in where each parameter comes from, a [`ParamSource`].

use burn::module::{Module, Param};
use burn::nn::Embedding;
use burn::nn::{EmbeddingConfig, Linear, LinearConfig, RmsNorm, RmsNormConfig};
use burn::tensor::{Device, Tensor};

use super::attention::Attention;
use super::config::LlamaConfig;
use super::mlp::{GateActivation, Mlp};
use super::model::{DecoderLayer, Llama};
use super::rope::Rope;
use crate::error::LoadError;

/// Where the parameters of a llama-family model (llama, Gemma 3) come from. Fields are burn
/// field paths with `{i}` for the block (`layers.{i}.self_attn.q_proj.weight`).
pub(crate) trait ParamSource {
    /// A bias-free linear layer of `shape` `[inp, out]`; `rope_heads` is the number of rotary
    /// heads its output rows hold (queries and keys), for sources that store them permuted.
    fn linear(
        &self,
        field: &str,
        layer: usize,
        shape: [usize; 2],
        rope_heads: Option<usize>,
    ) -> Result<Linear, LoadError>;
    /// An RMSNorm of width `d`.
    fn norm(&self, field: &str, layer: usize, d: usize, epsilon: f64)
    -> Result<RmsNorm, LoadError>;
    /// A `[rows, d]` table (the token embedding, the untied head).
    fn table(&self, field: &str, shape: [usize; 2]) -> Result<Param<Tensor<2>>, LoadError>;
    /// Whether the model has an untied vocabulary head (`tied`: what its config says).
    fn has_head(&self, tied: bool) -> bool;
}

impl LlamaConfig {
    /// The model of this shape with its parameters from `params`, every one frozen.
    pub(crate) fn assemble(
        &self,
        params: &impl ParamSource,
        device: &Device,
    ) -> Result<Llama, LoadError> {
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
                let linear = |field, shape, rope| params.linear(field, i, shape, rope);
                Ok(DecoderLayer {
                    input_layernorm: params.norm("layers.{i}.input_layernorm.gamma", i, d, eps)?,
                    self_attn: Attention {
                        q_proj: linear(
                            "layers.{i}.self_attn.q_proj.weight",
                            [d, heads * hd],
                            Some(heads),
                        )?,
                        k_proj: linear(
                            "layers.{i}.self_attn.k_proj.weight",
                            [d, kv_heads * hd],
                            Some(kv_heads),
                        )?,
                        v_proj: linear(
                            "layers.{i}.self_attn.v_proj.weight",
                            [d, kv_heads * hd],
                            None,
                        )?,
                        o_proj: linear(
                            "layers.{i}.self_attn.o_proj.weight",
                            [heads * hd, d],
                            None,
                        )?,
                        q_norm: None,
                        k_norm: None,
                        num_heads: heads,
                        num_kv_heads: kv_heads,
                        head_dim: hd,
                    },
                    post_attention_layernorm: params.norm(
                        "layers.{i}.post_attention_layernorm.gamma",
                        i,
                        d,
                        eps,
                    )?,
                    mlp: Mlp {
                        gate_proj: linear("layers.{i}.mlp.gate_proj.weight", [d, ffn], None)?,
                        up_proj: linear("layers.{i}.mlp.up_proj.weight", [d, ffn], None)?,
                        down_proj: linear("layers.{i}.mlp.down_proj.weight", [ffn, d], None)?,
                        activation: GateActivation::Silu,
                    },
                })
            })
            .collect::<Result<Vec<_>, LoadError>>()?;
        let vocab = [self.vocab_size, d];
        let lm_head = if params.has_head(self.tie_word_embeddings) {
            Some(params.table("lm_head", vocab)?)
        } else {
            None
        };
        Ok(Llama {
            embed_tokens: Embedding {
                weight: params.table("embed_tokens.weight", vocab)?,
            },
            layers,
            norm: params.norm("norm.gamma", 0, d, eps)?,
            lm_head,
            rope: Rope::new(hd, self.max_position_embeddings, self.rope_theta, device),
            vocab_size: self.vocab_size,
            hidden_size: d,
        }
        .no_grad())
    }
}

/// Random parameters, burn's default initialisers (tests, speed measurements).
pub(crate) struct RandomParams<'a> {
    pub device: &'a Device,
}

impl ParamSource for RandomParams<'_> {
    fn linear(
        &self,
        _: &str,
        _: usize,
        [inp, out]: [usize; 2],
        _: Option<usize>,
    ) -> Result<Linear, LoadError> {
        Ok(LinearConfig::new(inp, out)
            .with_bias(false)
            .init(self.device))
    }

    fn norm(&self, _: &str, _: usize, d: usize, epsilon: f64) -> Result<RmsNorm, LoadError> {
        Ok(RmsNormConfig::new(d)
            .with_epsilon(epsilon)
            .init(self.device))
    }

    fn table(&self, _: &str, [rows, d]: [usize; 2]) -> Result<Param<Tensor<2>>, LoadError> {
        Ok(EmbeddingConfig::new(rows, d).init(self.device).weight)
    }

    fn has_head(&self, tied: bool) -> bool {
        !tied
    }
}
