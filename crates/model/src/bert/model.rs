//! `Bert`: the frozen encoder with its masked-LM head, driven through [`Backbone`].

use burn::module::Module;
use burn::tensor::{Bool, Int, Tensor};

use super::embeddings::BertEmbeddings;
use super::layer::BertLayer;
use super::mlm_head::MlmHead;
use crate::activation_memory::{ActivationShape, BlockKind};
use crate::backbone::Backbone;

/// A BERT masked language model (`BertForMaskedLM`) with every parameter frozen.
///
/// Built by [`Bert::from_hf_dir`]. The answer slot of a prompt is the `[MASK]` position; the
/// soft prompt goes before `[CLS]` and its rows get positions `0..k` like every other row.
#[derive(Module, Debug)]
pub struct Bert {
    pub(crate) embeddings: BertEmbeddings,
    pub(crate) layers: Vec<BertLayer>,
    pub(crate) head: MlmHead,
    pub(crate) num_heads: usize,
}

impl Backbone for Bert {
    fn hidden_size(&self) -> usize {
        self.embeddings.word.weight.dims()[1]
    }

    fn vocab_size(&self) -> usize {
        self.embeddings.word.weight.dims()[0]
    }

    fn max_positions(&self) -> usize {
        self.embeddings.position.dims()[0]
    }

    fn activation_shape(&self) -> ActivationShape {
        ActivationShape {
            layers: self.layers.len(),
            hidden: self.hidden_size(),
            ffn: self.layers[0].intermediate.weight.dims()[1],
            heads: self.num_heads,
            float_bytes: self.embeddings.word.weight.val().dtype().size(),
            shared_prefix: false,
            block: BlockKind::Plain,
        }
    }

    fn embed_tokens(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.embeddings.words(ids)
    }

    fn encode(&self, embeds: Tensor<3>, attention_mask: Tensor<2, Bool>) -> Tensor<3> {
        let [b, t, _] = embeds.dims();
        let masked =
            attention_mask
                .bool_not()
                .reshape([b, 1, 1, t])
                .expand([b, self.num_heads, t, t]);
        self.layers
            .iter()
            .fold(self.embeddings.finish(embeds), |x, layer| {
                layer.forward(x, masked.clone())
            })
    }

    fn vocab_logits(&self, hidden: Tensor<2>, token_ids: Tensor<1, Int>) -> Tensor<2> {
        self.head
            .rows(hidden, self.embeddings.word.weight.val(), token_ids)
    }

    fn full_logits(&self, hidden: Tensor<2>) -> Tensor<2> {
        self.head.full(hidden, self.embeddings.word.weight.val())
    }
}
