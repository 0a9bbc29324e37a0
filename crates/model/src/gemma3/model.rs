//! The Gemma 3 decoder (scaled token embedding, blocks normed before and after attention and
//! feed-forward, local and global attention layers, final RMSNorm, tied vocabulary head) and
//! its [`Backbone`] implementation.

use burn::module::Module;
use burn::nn::{Embedding, RmsNorm};
use burn::tensor::{Bool, Int, Tensor};

use super::mask::{behind_prefix, blocked, position_mask};
use crate::activation_memory::{ActivationShape, BlockKind};
use crate::backbone::Backbone;
use crate::llama::{Attention, Mlp, Rope, Rotation};
use crate::prefix::{LayerKv, PrefixCache, RowPrefixes, encode_behind_in_every_row};

/// One block: `x + post_attn_norm(attn(norm(x)))`, then `x + post_ffw_norm(mlp(norm(x)))`.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    /// Norm before attention.
    pub(crate) input_layernorm: RmsNorm,
    /// Grouped-query self-attention with RMSNorm on queries and keys.
    pub(crate) self_attn: Attention,
    /// Norm of the attention output, before the residual sum.
    pub(crate) post_attention_layernorm: RmsNorm,
    /// Norm before the feed-forward block.
    pub(crate) pre_feedforward_layernorm: RmsNorm,
    /// GeGLU feed-forward block.
    pub(crate) mlp: Mlp,
    /// Norm of the feed-forward output, before the residual sum.
    pub(crate) post_feedforward_layernorm: RmsNorm,
    /// Whether the layer attends globally (else within the sliding window, with the local
    /// rotary base).
    #[module(skip)]
    pub(crate) global: bool,
}

impl DecoderLayer {
    fn forward(&self, x: Tensor<3>, rotation: &Rotation, blocked: Tensor<4, Bool>) -> Tensor<3> {
        self.forward_keeping_kv(x, rotation, blocked).0
    }

    /// [`DecoderLayer::forward`] that also returns the layer's keys and values.
    fn forward_keeping_kv(
        &self,
        x: Tensor<3>,
        rotation: &Rotation,
        blocked: Tensor<4, Bool>,
    ) -> (Tensor<3>, LayerKv) {
        let (attended, kv) = self.self_attn.forward_keeping_kv(
            self.input_layernorm.forward(x.clone()),
            rotation,
            blocked,
        );
        (self.after_attention(x, attended), kv)
    }

    /// A shared prefix `[1, P, d]` and the rows `[B, L, d]` after it (see
    /// [`Attention::forward_prefixed`]).
    fn forward_prefixed(
        &self,
        p: Tensor<3>,
        x: Tensor<3>,
        rotations: [&Rotation; 2],
        prefix_blocked: Tensor<4, Bool>,
        rows_blocked: Tensor<4, Bool>,
    ) -> (Tensor<3>, Tensor<3>) {
        let (ap, ax) = self.self_attn.forward_prefixed(
            self.input_layernorm.forward(p.clone()),
            self.input_layernorm.forward(x.clone()),
            rotations,
            prefix_blocked,
            rows_blocked,
        );
        (self.after_attention(p, ap), self.after_attention(x, ax))
    }

    /// Rows `[B, L, d]` behind cached prefix keys and values `[B, Hkv, P, hd]`.
    fn forward_behind(
        &self,
        x: Tensor<3>,
        rotation: &Rotation,
        (keys, values): (Tensor<4>, Tensor<4>),
        blocked: Tensor<4, Bool>,
    ) -> Tensor<3> {
        let attended = self.self_attn.behind(
            self.input_layernorm.forward(x.clone()),
            rotation,
            keys,
            values,
            blocked,
        );
        self.after_attention(x, attended)
    }

    /// The normed residual sum of the attention output, then the feed-forward half.
    fn after_attention(&self, x: Tensor<3>, attended: Tensor<3>) -> Tensor<3> {
        self.feed_forward(x + self.post_attention_layernorm.forward(attended))
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
    pub(crate) embed_tokens: Embedding,
    /// Decoder blocks.
    pub(crate) layers: Vec<DecoderLayer>,
    /// Final norm.
    pub(crate) norm: RmsNorm,
    /// Rotary tables of the local layers.
    pub(crate) rope_local: Rope,
    /// Rotary tables of the global layers.
    pub(crate) rope_global: Rope,
    /// Token embeddings are multiplied by this: `sqrt(d)` rounded to f32, as transformers
    /// stores it.
    #[module(skip)]
    pub(crate) embed_scale: f32,
    /// How many previous positions (itself included) a query of a local layer sees.
    pub(crate) sliding_window: usize,
    /// Rows of the vocabulary.
    pub(crate) vocab_size: usize,
    /// Width `d`.
    pub(crate) hidden_size: usize,
}

/// What the local layers use and what the global layers use (rotations, masks).
struct PerKind<T> {
    local: T,
    global: T,
}

impl<T> PerKind<T> {
    fn of(&self, layer: &DecoderLayer) -> &T {
        if layer.global {
            &self.global
        } else {
            &self.local
        }
    }
}

impl Gemma3 {
    /// `make(window, rope)` for the local layers (their sliding window and rotary tables) and
    /// for the global layers (no window).
    fn per_kind<T>(&self, make: impl Fn(Option<usize>, &Rope) -> T) -> PerKind<T> {
        PerKind {
            local: make(Some(self.sliding_window), &self.rope_local),
            global: make(None, &self.rope_global),
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
        let plan = self.per_kind(|window, rope| {
            (rope.at_offset(0, t), blocked(0, t, padding.clone(), window))
        });
        let x = self.layers.iter().fold(embeds, |x, layer| {
            let (rotation, blocked) = plan.of(layer);
            layer.forward(x, rotation, blocked.clone())
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
        let padding = Tensor::cat(
            vec![
                Tensor::<2, Bool>::full([b, k], false, &device),
                attention_mask.bool_not(),
            ],
            1,
        );
        let plan = self.per_kind(|window, rope| {
            (
                [rope.at_offset(0, k), rope.at_offset(k, l)],
                position_mask(0, k, k, window, &device),
                blocked(k, l, padding.clone(), window),
            )
        });
        let (_, x) = self
            .layers
            .iter()
            .fold((prefix.unsqueeze::<3>(), embeds), |(p, x), layer| {
                let ([prefix_rotation, rows_rotation], prefix_blocked, rows_blocked) =
                    plan.of(layer);
                layer.forward_prefixed(
                    p,
                    x,
                    [prefix_rotation, rows_rotation],
                    prefix_blocked.clone(),
                    rows_blocked.clone(),
                )
            });
        self.norm.forward(x)
    }

    /// The prefix runs alone (causal attention lets it ignore what follows) and each layer's
    /// keys and values are kept.
    fn cache_prefix(&self, prefix: Tensor<2>) -> PrefixCache {
        let k = prefix.dims()[0];
        let prefix = prefix.cast(self.embed_tokens.weight.val().dtype());
        if k == 0 {
            return PrefixCache::rows_only(prefix);
        }
        let device = prefix.device();
        let plan = self.per_kind(|window, rope| {
            (
                rope.at_offset(0, k),
                position_mask(0, k, k, window, &device),
            )
        });
        let mut x = prefix.clone().unsqueeze::<3>();
        let mut layers = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let (rotation, blocked) = plan.of(layer);
            let (next, kv) = layer.forward_keeping_kv(x, rotation, blocked.clone());
            x = next;
            layers.push(kv);
        }
        PrefixCache::with_layers(prefix, layers)
    }

    /// Each row attends to its own prefix's cached keys and values (padded to the batch's
    /// longest prefix and masked, and within the window in the local layers) and starts at the
    /// position after it.
    fn encode_behind(
        &self,
        prefixes: &RowPrefixes,
        embeds: Tensor<3>,
        attention_mask: Tensor<2, Bool>,
    ) -> Tensor<3> {
        if !prefixes.all_cached() {
            return encode_behind_in_every_row(self, prefixes, embeds, attention_mask);
        }
        let p = prefixes.max_len();
        if p == 0 {
            return self.encode(embeds, attention_mask);
        }
        let l = attention_mask.dims()[1];
        let device = embeds.device();
        let positions = prefixes.row_positions(l);
        let padding = attention_mask.bool_not();
        let plan = self.per_kind(|window, rope| {
            let behind = behind_prefix(&prefixes.lengths(), p, l, window, &device);
            (
                rope.at_positions(positions.clone()),
                Tensor::cat(vec![behind, blocked(0, l, padding.clone(), window)], 3),
            )
        });
        let x = self
            .layers
            .iter()
            .enumerate()
            .fold(embeds, |x, (i, layer)| {
                let (rotation, blocked) = plan.of(layer);
                layer.forward_behind(x, rotation, prefixes.layer_kv(i), blocked.clone())
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
