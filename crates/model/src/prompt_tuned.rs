//! A frozen backbone with a soft prompt in front: class scores at each example's answer slot.

use burn::module::Module;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use prompt_data::Verbalizer;
use serde::{Deserialize, Serialize};

use crate::backbone::{Backbone, encode_prefix_in_every_row};
use crate::prefix::{PrefixCache, RowPrefixes};
use crate::soft_prompt::{PromptError, SoftPrompt, at_least_f32};

/// A verbalizer's vocabulary rows as tensors: class `c` scores
/// `sum_j weights[j, c] * logit(ids[j])` (the layout [`Verbalizer`] defines).
#[derive(Debug, Clone)]
pub struct ClassTokens {
    /// `[N]`: the scored vocabulary rows.
    ids: Tensor<1, Int>,
    /// `[N, C]`.
    weights: Tensor<2>,
    /// `[C]`: each class's first token (the target of the full-vocabulary loss).
    first: Tensor<1, Int>,
    num_classes: usize,
}

impl ClassTokens {
    /// The scored rows and weights of `verbalizer`, on `device`.
    pub fn new(verbalizer: &Verbalizer, device: &Device) -> Self {
        let ids: Vec<i64> = verbalizer
            .scored_ids()
            .iter()
            .map(|&i| i64::from(i))
            .collect();
        let (n, num_classes) = (ids.len(), verbalizer.num_classes());
        let first: Vec<i64> = verbalizer
            .first_ids()
            .iter()
            .map(|&i| i64::from(i))
            .collect();
        let weights = TensorData::new(verbalizer.score_weights().to_vec(), [num_classes, n]);
        Self {
            ids: Tensor::from_data(TensorData::new(ids, [n]), device),
            weights: Tensor::<2>::from_data(weights, device).transpose(),
            first: Tensor::from_data(TensorData::new(first, [num_classes]), device),
            num_classes,
        }
    }

    /// Number of classes `C`.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Class scores `[N, C]` of hidden states `[N, d]` at the answer slots: the verbalizer's
    /// vocabulary rows only (the rest of the vocabulary is never computed).
    pub fn scores<B: Backbone>(&self, backbone: &B, hidden: Tensor<2>) -> Tensor<2> {
        let logits = backbone.vocab_logits(hidden, self.ids.clone());
        let weights = self.weights.clone().cast(logits.dtype());
        at_least_f32(logits.matmul(weights))
    }

    /// The vocabulary id each class label maps to for the full-vocabulary loss (the first
    /// token of its word): `labels` `[B]` class indices -> `[B]` token ids.
    pub fn vocab_targets(&self, labels: Tensor<1, Int>) -> Tensor<1, Int> {
        self.first.clone().select(0, labels)
    }
}

/// How the prompt rows go through the backbone; both give the same results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptPlacement {
    /// Through [`Backbone::encode_with_prefix`]: a causal backbone computes the prompt's keys
    /// and values once per batch and every row attends to them (the default).
    #[default]
    SharedPrefix,
    /// The prompt copied in front of every row and encoded with it (what PEFT does; kept to
    /// measure and test the shared path against).
    EveryRow,
}

/// A frozen backbone `B` with a trainable [`SoftPrompt`] prepended to its token embeddings.
#[derive(Module, Debug)]
pub struct PromptTuned<B> {
    /// The frozen model.
    pub backbone: B,
    /// The trainable prompt.
    pub prompt: SoftPrompt,
    /// How the prompt rows are computed.
    #[module(skip)]
    pub placement: PromptPlacement,
}

impl<B: Backbone + Module> PromptTuned<B> {
    /// Puts `prompt` in front of `backbone`; their widths must agree.
    pub fn new(backbone: B, prompt: SoftPrompt) -> Result<Self, PromptError> {
        if prompt.width() != backbone.hidden_size() {
            return Err(PromptError::ModelWidth {
                found: prompt.width(),
                expected: backbone.hidden_size(),
            });
        }
        Ok(Self {
            backbone,
            prompt,
            placement: PromptPlacement::default(),
        })
    }

    /// The same model computing its prompt rows the `placement` way.
    pub fn with_placement(self, placement: PromptPlacement) -> Self {
        Self { placement, ..self }
    }

    /// Longest token input (prompt excluded) the backbone's positions allow.
    pub fn max_input_len(&self) -> usize {
        self.backbone
            .max_positions()
            .saturating_sub(self.prompt.num_tokens())
    }

    /// Final hidden states at each row's answer slot: `ids` `[B, L]`, `mask` `[B, L]` (`true` on
    /// real tokens), `answer_pos` `[B]` (index into `ids` whose hidden state scores the answer)
    /// -> `[B, d]`. The prompt rows come first and take positions `0..k`.
    pub fn answer_hidden(
        &self,
        ids: Tensor<2, Int>,
        mask: Tensor<2, Bool>,
        answer_pos: Tensor<1, Int>,
    ) -> Tensor<2> {
        let embeds = self.backbone.embed_tokens(ids);
        // An empty prompt is the template alone (the paper's "prompt design" baseline).
        // The prompt enters the backbone in the backbone's float type (bf16, f32 or f64).
        let prompt = self.prompt.values().cast(embeds.dtype());
        let hidden = match self.placement {
            _ if self.prompt.num_tokens() == 0 => self.backbone.encode(embeds, mask),
            PromptPlacement::SharedPrefix => self.backbone.encode_with_prefix(prompt, embeds, mask),
            PromptPlacement::EveryRow => {
                encode_prefix_in_every_row(&self.backbone, prompt, embeds, mask)
            }
        };
        at_answer(hidden, answer_pos)
    }

    /// The prompt prepared to score any number of batches without gradients: with
    /// [`PromptPlacement::SharedPrefix`] a causal backbone computes its keys and values once;
    /// with [`PromptPlacement::EveryRow`] its rows are encoded with every row.
    pub fn cached_prompt(&self) -> PrefixCache {
        let prompt = self.prompt.values();
        match self.placement {
            PromptPlacement::SharedPrefix => self.backbone.cache_prefix(prompt),
            PromptPlacement::EveryRow => PrefixCache::rows_only(prompt),
        }
    }

    /// Class scores `[B, C]`: the verbalizer's vocabulary rows at each answer slot (the rest of
    /// the vocabulary is never computed).
    pub fn forward(
        &self,
        ids: Tensor<2, Int>,
        mask: Tensor<2, Bool>,
        answer_pos: Tensor<1, Int>,
        classes: &ClassTokens,
    ) -> Tensor<2> {
        classes.scores(&self.backbone, self.answer_hidden(ids, mask, answer_pos))
    }

    /// Logits over the whole vocabulary at each answer slot `[B, V]` (the full-vocabulary loss
    /// option; targets from [`ClassTokens::vocab_targets`]).
    pub fn forward_vocab(
        &self,
        ids: Tensor<2, Int>,
        mask: Tensor<2, Bool>,
        answer_pos: Tensor<1, Int>,
    ) -> Tensor<2> {
        let hidden = self.answer_hidden(ids, mask, answer_pos);
        at_least_f32(self.backbone.full_logits(hidden))
    }

    /// Mean cross-entropy of `scores` `[B, C]` against `targets` `[B]` (column indices).
    pub fn loss(scores: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
        let [batch, _] = scores.dims();
        log_softmax(scores, 1)
            .gather(1, targets.reshape([batch, 1]))
            .mean()
            .neg()
    }
}

/// Final hidden states at each row's answer slot `[B, d]`, each row of `ids` `[B, L]` behind its
/// own cached prefix (rows of several tasks, or several prompts of one task, in one batch).
pub fn answer_hidden_behind<B: Backbone>(
    backbone: &B,
    prefixes: &RowPrefixes,
    ids: Tensor<2, Int>,
    mask: Tensor<2, Bool>,
    answer_pos: Tensor<1, Int>,
) -> Tensor<2> {
    let hidden = backbone.encode_behind(prefixes, backbone.embed_tokens(ids), mask);
    at_answer(hidden, answer_pos)
}

/// The hidden state `[B, d]` at each row's answer position `[B]` of `hidden` `[B, L, d]`.
fn at_answer(hidden: Tensor<3>, answer_pos: Tensor<1, Int>) -> Tensor<2> {
    let [batch, _, d] = hidden.dims();
    let slot = answer_pos.reshape([batch, 1, 1]).expand([batch, 1, d]);
    hidden.gather(1, slot).reshape([batch, d])
}
