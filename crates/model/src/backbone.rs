//! The contract every frozen backbone (llama causal, BERT masked) fulfils for prompt tuning.

use burn::tensor::{Bool, Int, Tensor};

use crate::activation_memory::ActivationShape;
use crate::llama::FusedLlama;
use crate::prefix::{PrefixCache, RowPrefixes, encode_behind_in_every_row};

/// A frozen transformer that prompt tuning drives.
///
/// Sequences are right-padded; `attention_mask` is `true` for real positions (prompt rows
/// included) and `false` for padding. Positions are counted over the whole input, so the
/// soft prompt rows, which come first, take positions `0..k` (PEFT semantics).
pub trait Backbone {
    /// Width of a token embedding (`d`).
    fn hidden_size(&self) -> usize;
    /// Number of rows of the vocabulary.
    fn vocab_size(&self) -> usize;
    /// Longest input (prompt rows included) the position scheme supports.
    fn max_positions(&self) -> usize;
    /// The shapes that decide how much memory a forward and its backward need.
    fn activation_shape(&self) -> ActivationShape;
    /// Token embeddings `[B, L] -> [B, L, d]` (the word embeddings only).
    fn embed_tokens(&self, ids: Tensor<2, Int>) -> Tensor<3>;
    /// Runs the transformer over input embeddings `[B, T, d]` and returns the final hidden
    /// states `[B, T, d]`, ready for the vocabulary head.
    fn encode(&self, embeds: Tensor<3>, attention_mask: Tensor<2, Bool>) -> Tensor<3>;
    /// Runs the transformer over a prefix `[P, d]` shared by every row (the soft prompt)
    /// followed by each row's embeddings `[B, L, d]`, and returns the rows' final hidden
    /// states `[B, L, d]` (the prefix takes positions `0..P`; `attention_mask` `[B, L]` covers
    /// the rows). The default concatenates and calls [`Backbone::encode`]; a causal backbone
    /// can compute the prefix once per batch instead of once per row.
    fn encode_with_prefix(
        &self,
        prefix: Tensor<2>,
        embeds: Tensor<3>,
        attention_mask: Tensor<2, Bool>,
    ) -> Tensor<3> {
        encode_prefix_in_every_row(self, prefix, embeds, attention_mask)
    }
    /// What to keep of a prefix `[P, d]` (a trained prompt) to score any number of batches
    /// behind it without computing it again. The default keeps the rows, which are then encoded
    /// with every row; a causal backbone keeps each layer's keys and values.
    fn cache_prefix(&self, prefix: Tensor<2>) -> PrefixCache {
        PrefixCache::rows_only(prefix)
    }
    /// Runs the transformer over rows `[B, L, d]`, each behind its own cached prefix (rows of
    /// different tasks can share a batch), and returns the rows' final hidden states
    /// `[B, L, d]`; a row behind a prefix of `P` rows starts at position `P`. Gives what
    /// [`Backbone::encode_with_prefix`] gives for each row's prefix.
    fn encode_behind(
        &self,
        prefixes: &RowPrefixes,
        embeds: Tensor<3>,
        attention_mask: Tensor<2, Bool>,
    ) -> Tensor<3> {
        encode_behind_in_every_row(self, prefixes, embeds, attention_mask)
    }
    /// Scores hidden states `[N, d]` against the given vocabulary rows only: `[N, C]`.
    /// This is the head restricted to the verbalizer's tokens; it never touches the rest of
    /// the vocabulary.
    fn vocab_logits(&self, hidden: Tensor<2>, token_ids: Tensor<1, Int>) -> Tensor<2>;
    /// The same frozen model on the fused CPU kernels (a training step's forward and backward,
    /// scoring behind a cached prompt, without burn's graph), where the family, its parts and
    /// the device allow: llama-family f32 models on the CPU. `None` keeps the burn path.
    fn fused(&self) -> Option<FusedLlama> {
        None
    }
    /// Scores hidden states `[N, d]` against the whole vocabulary: `[N, V]` (parity checks,
    /// full-vocabulary loss).
    fn full_logits(&self, hidden: Tensor<2>) -> Tensor<2>;
}

/// [`Backbone::encode_with_prefix`] the plain way: the prefix copied in front of every row and
/// the whole `[B, P + L]` input encoded; the rows' hidden states `[B, L, d]` are returned.
pub fn encode_prefix_in_every_row<B: Backbone + ?Sized>(
    backbone: &B,
    prefix: Tensor<2>,
    embeds: Tensor<3>,
    attention_mask: Tensor<2, Bool>,
) -> Tensor<3> {
    let [b, l, d] = embeds.dims();
    let k = prefix.dims()[0];
    let device = embeds.device();
    let prefix = prefix.unsqueeze::<3>().expand([b, k, d]);
    let mask = Tensor::cat(
        vec![
            Tensor::<2, Bool>::full([b, k], true, &device),
            attention_mask,
        ],
        1,
    );
    backbone
        .encode(Tensor::cat(vec![prefix, embeds], 1), mask)
        .narrow(1, k, l)
}
