//! The Gemma 3 decoder (scaled token embedding, blocks normed before and after attention and
//! feed-forward, local and global attention layers, final RMSNorm, tied vocabulary head) and
//! its [`Backbone`] implementation.

use burn::module::Module;
use burn::nn::{Embedding, RmsNorm};
use burn::tensor::{Bool, Int, Tensor};

use super::mask::{blocked, position_mask};
use crate::activation_memory::{ActivationShape, BlockKind};
use crate::backbone::Backbone;
use crate::llama::{Attention, Mlp, Rope};

/// One block: `x + post_attn_norm(attn(norm(x)))`, then `x + post_ffw_norm(mlp(norm(x)))`.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    /// Norm before attention.
    pub input_layernorm: RmsNorm,
    /// Grouped-query self-attention with RMSNorm on queries and keys.
    pub self_attn: Attention,
    /// Norm of the attention output, before the residual sum.
    pub post_attention_layernorm: RmsNorm,
    /// Norm before the feed-forward block.
    pub pre_feedforward_layernorm: RmsNorm,
    /// GeGLU feed-forward block.
    pub mlp: Mlp,
    /// Norm of the feed-forward output, before the residual sum.
    pub post_feedforward_layernorm: RmsNorm,
    /// Whether the layer attends globally (else within the sliding window, with the local
    /// rotary base).
    #[module(skip)]
    pub global: bool,
}

impl DecoderLayer {
    fn forward(&self, x: Tensor<3>, rope: &Rope, blocked: Tensor<4, Bool>) -> Tensor<3> {
        let attended =
            self.self_attn
                .forward(self.input_layernorm.forward(x.clone()), rope, blocked);
        self.feed_forward(x + self.post_attention_layernorm.forward(attended))
    }

    /// A shared prefix `[1, P, d]` and the rows `[B, L, d]` after it (see
    /// [`Attention::forward_prefixed`]).
    fn forward_prefixed(
        &self,
        p: Tensor<3>,
        x: Tensor<3>,
        rope: &Rope,
        prefix_blocked: Tensor<4, Bool>,
        rows_blocked: Tensor<4, Bool>,
    ) -> (Tensor<3>, Tensor<3>) {
        let (ap, ax) = self.self_attn.forward_prefixed(
            self.input_layernorm.forward(p.clone()),
            self.input_layernorm.forward(x.clone()),
            rope,
            prefix_blocked,
            rows_blocked,
        );
        let post = |a| self.post_attention_layernorm.forward(a);
        (
            self.feed_forward(p + post(ap)),
            self.feed_forward(x + post(ax)),
        )
    }

    /// The residual feed-forward half of the block.
    fn feed_forward(&self, x: Tensor<3>) -> Tensor<3> {
        let fed = self
            .mlp
            .forward(self.pre_feedforward_layernorm.forward(x.clone()));
        x + self.post_feedforward_layernorm.forward(fed)
    }
}

/// A frozen Gemma 3 causal language model (text only).
#[derive(Module, Debug)]
pub struct Gemma3 {
    /// Token embedding `[V, d]`, unscaled; also the vocabulary head.
    pub embed_tokens: Embedding,
    /// Decoder blocks.
    pub layers: Vec<DecoderLayer>,
    /// Final norm.
    pub norm: RmsNorm,
    /// Rotary tables of the local layers.
    pub rope_local: Rope,
    /// Rotary tables of the global layers.
    pub rope_global: Rope,
    /// Token embeddings are multiplied by this: `sqrt(d)` rounded to f32, as transformers
    /// stores it.
    #[module(skip)]
    pub embed_scale: f32,
    /// How many previous positions (itself included) a query of a local layer sees.
    pub sliding_window: usize,
    /// Rows of the vocabulary.
    pub vocab_size: usize,
    /// Width `d`.
    pub hidden_size: usize,
}

/// The blocked-pair masks of one input, for the local and the global layers.
struct Masks {
    local: Tensor<4, Bool>,
    global: Tensor<4, Bool>,
}

impl Gemma3 {
    fn rope(&self, layer: &DecoderLayer) -> &Rope {
        if layer.global {
            &self.rope_global
        } else {
            &self.rope_local
        }
    }

    /// Both masks of `make(window)`.
    fn masks(&self, make: impl Fn(Option<usize>) -> Tensor<4, Bool>) -> Masks {
        Masks {
            local: make(Some(self.sliding_window)),
            global: make(None),
        }
    }

    fn mask(masks: &Masks, layer: &DecoderLayer) -> Tensor<4, Bool> {
        if layer.global {
            masks.global.clone()
        } else {
            masks.local.clone()
        }
    }
}

impl Backbone for Gemma3 {
    fn hidden_size(&self) -> usize {
        self.hidden_size
    }

    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn max_positions(&self) -> usize {
        self.rope_global.max_positions()
    }

    fn activation_shape(&self) -> ActivationShape {
        let first = &self.layers[0];
        ActivationShape {
            layers: self.layers.len(),
            hidden: self.hidden_size,
            ffn: first.mlp.gate_proj.weight.dims()[1],
            heads: first.self_attn.num_heads,
            float_bytes: self.embed_tokens.weight.val().dtype().size(),
            shared_prefix: true,
            block: BlockKind::Gemma3,
        }
    }

    /// The looked-up rows times `sqrt(d)` (transformers' `Gemma3TextScaledWordEmbedding`).
    fn embed_tokens(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.embed_tokens.forward(ids) * f64::from(self.embed_scale)
    }

    fn encode(&self, embeds: Tensor<3>, attention_mask: Tensor<2, Bool>) -> Tensor<3> {
        let t = attention_mask.dims()[1];
        let padding = attention_mask.bool_not();
        let masks = self.masks(|window| blocked(0, t, padding.clone(), window));
        let x = self.layers.iter().fold(embeds, |x, layer| {
            layer.forward(x, self.rope(layer), Self::mask(&masks, layer))
        });
        self.norm.forward(x)
    }

    /// Causal attention lets the prefix ignore the rows, so it runs once (as a batch of one)
    /// and every row attends to its keys and values.
    fn encode_with_prefix(
        &self,
        prefix: Tensor<2>,
        embeds: Tensor<3>,
        attention_mask: Tensor<2, Bool>,
    ) -> Tensor<3> {
        let [b, l] = attention_mask.dims();
        let k = prefix.dims()[0];
        let device = prefix.device();
        let prefix_masks = self.masks(|window| position_mask(0, k, k, window, &device));
        let padding = Tensor::cat(
            vec![
                Tensor::<2, Bool>::full([b, k], false, &device),
                attention_mask.bool_not(),
            ],
            1,
        );
        let row_masks = self.masks(|window| blocked(k, l, padding.clone(), window));
        let (_, x) = self
            .layers
            .iter()
            .fold((prefix.unsqueeze::<3>(), embeds), |(p, x), layer| {
                layer.forward_prefixed(
                    p,
                    x,
                    self.rope(layer),
                    Self::mask(&prefix_masks, layer),
                    Self::mask(&row_masks, layer),
                )
            });
        self.norm.forward(x)
    }

    fn vocab_logits(&self, hidden: Tensor<2>, token_ids: Tensor<1, Int>) -> Tensor<2> {
        let rows = self.embed_tokens.weight.val().select(0, token_ids);
        hidden.matmul(rows.transpose())
    }

    fn full_logits(&self, hidden: Tensor<2>) -> Tensor<2> {
        hidden.matmul(self.embed_tokens.weight.val().transpose())
    }
}
