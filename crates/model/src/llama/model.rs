//! The llama-family decoder (token embedding, pre-norm blocks, final RMSNorm, vocabulary head)
//! and its [`Backbone`] implementation.

use burn::module::{Module, Param};
use burn::nn::{Embedding, RmsNorm};
use burn::tensor::{Bool, Device, Int, Tensor};

use super::FusedLlama;
use super::attention::Attention;
use super::mlp::Mlp;
use super::rope::{Rope, Rotation};
use crate::activation_memory::{ActivationShape, BlockKind};
use crate::backbone::Backbone;
use crate::prefix::{LayerKv, PrefixCache, RowPrefixes, encode_behind_in_every_row};

/// One pre-norm decoder block: `x + attn(norm(x))`, then `x + mlp(norm(x))`.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    /// Norm before attention.
    pub(crate) input_layernorm: RmsNorm,
    /// Grouped-query self-attention.
    pub(crate) self_attn: Attention,
    /// Norm before the feed-forward block.
    pub(crate) post_attention_layernorm: RmsNorm,
    /// SwiGLU feed-forward block.
    pub(crate) mlp: Mlp,
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
        (self.feed_forward(x + attended), kv)
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
        (self.feed_forward(p + ap), self.feed_forward(x + ax))
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
        self.feed_forward(x + attended)
    }

    /// The residual feed-forward half of the block.
    fn feed_forward(&self, x: Tensor<3>) -> Tensor<3> {
        let fed = self
            .mlp
            .forward(self.post_attention_layernorm.forward(x.clone()));
        x + fed
    }
}

/// A frozen llama-family causal language model.
#[derive(Module, Debug)]
pub struct Llama {
    /// Token embedding `[V, d]`; also the vocabulary head when `lm_head` is `None`.
    pub(crate) embed_tokens: Embedding,
    /// Decoder blocks.
    pub(crate) layers: Vec<DecoderLayer>,
    /// Final norm.
    pub(crate) norm: RmsNorm,
    /// Untied vocabulary head `[V, d]`, when the checkpoint has one.
    pub(crate) lm_head: Option<Param<Tensor<2>>>,
    /// Rotary tables.
    pub(crate) rope: Rope,
    /// Rows of the vocabulary.
    pub(crate) vocab_size: usize,
    /// Width `d`.
    pub(crate) hidden_size: usize,
}

impl Llama {
    /// The vocabulary head `[V, d]` (tied or not).
    fn head(&self) -> Tensor<2> {
        match &self.lm_head {
            Some(head) => head.val(),
            None => self.embed_tokens.weight.val(),
        }
    }
}

/// `true` where query `i` of row `b` may not see key `j`: keys after the query (causal) and
/// padding keys.
fn blocked_mask(attention_mask: Tensor<2, Bool>) -> Tensor<4, Bool> {
    let [b, t] = attention_mask.dims();
    let device = attention_mask.device();
    // `tril_mask` is `true` strictly above the diagonal: the future keys.
    let future = Tensor::<2, Bool>::tril_mask([t, t], 0, &device).unsqueeze::<4>();
    let padding = attention_mask.bool_not().reshape([b, 1, 1, t]);
    future
        .expand([b, 1, t, t])
        .bool_or(padding.expand([b, 1, t, t]))
}

impl Backbone for Llama {
    fn hidden_size(&self) -> usize {
        self.hidden_size
    }

    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn max_positions(&self) -> usize {
        self.rope.max_positions()
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
            block: BlockKind::Plain,
        }
    }

    fn embed_tokens(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.embed_tokens.forward(ids)
    }

    fn encode(&self, embeds: Tensor<3>, attention_mask: Tensor<2, Bool>) -> Tensor<3> {
        let rotation = self.rope.at_offset(0, embeds.dims()[1]);
        let blocked = blocked_mask(attention_mask);
        let x = self.layers.iter().fold(embeds, |x, layer| {
            layer.forward(x, &rotation, blocked.clone())
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
        let prefix_blocked = Tensor::<2, Bool>::tril_mask([k, k], 0, &device).unsqueeze::<4>();
        let rows_blocked = Tensor::cat(
            vec![
                Tensor::<4, Bool>::full([b, 1, l, k], false, &device),
                blocked_mask(attention_mask),
            ],
            3,
        );
        let rotations = [&self.rope.at_offset(0, k), &self.rope.at_offset(k, l)];
        let (_, x) = self
            .layers
            .iter()
            .fold((prefix.unsqueeze::<3>(), embeds), |(p, x), layer| {
                layer.forward_prefixed(
                    p,
                    x,
                    rotations,
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
        let rotation = self.rope.at_offset(0, k);
        let blocked = Tensor::<2, Bool>::tril_mask([k, k], 0, &prefix.device()).unsqueeze::<4>();
        let mut x = prefix.clone().unsqueeze::<3>();
        let mut layers = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let (next, kv) = layer.forward_keeping_kv(x, &rotation, blocked.clone());
            x = next;
            layers.push(kv);
        }
        PrefixCache::with_layers(prefix, layers)
    }

    /// Each row attends to its own prefix's cached keys and values (padded to the batch's
    /// longest prefix and masked) and starts at the position after it.
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
        let [b, l] = attention_mask.dims();
        let rotation = self.rope.at_positions(prefixes.row_positions(l));
        let blocked = Tensor::cat(
            vec![
                prefixes
                    .valid()
                    .bool_not()
                    .reshape([b, 1, 1, p])
                    .expand([b, 1, l, p]),
                blocked_mask(attention_mask),
            ],
            3,
        );
        let x = self
            .layers
            .iter()
            .enumerate()
            .fold(embeds, |x, (i, layer)| {
                layer.forward_behind(x, &rotation, prefixes.layer_kv(i), blocked.clone())
            });
        self.norm.forward(x)
    }

    fn vocab_logits(&self, hidden: Tensor<2>, token_ids: Tensor<1, Int>) -> Tensor<2> {
        let rows = self.head().select(0, token_ids);
        hidden.matmul(rows.transpose())
    }

    fn full_logits(&self, hidden: Tensor<2>) -> Tensor<2> {
        hidden.matmul(self.head().transpose())
    }

    fn fused(&self) -> Option<FusedLlama> {
        let on_cpu = self.embed_tokens.weight.val().device() == Device::flex();
        on_cpu.then(|| FusedLlama::new(self)).flatten()
    }
}
