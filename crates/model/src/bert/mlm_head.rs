//! The masked-LM head: transform (dense, GELU, LayerNorm), then a decoder tied to the word
//! embeddings plus a per-token bias, evaluated only on the rows asked for.

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, Linear};
use burn::tensor::activation::gelu;
use burn::tensor::{Int, Tensor};

/// The head's own weights (the decoder matrix is the word-embedding table).
#[derive(Module, Debug)]
pub(crate) struct MlmHead {
    pub(crate) transform: Linear,
    pub(crate) norm: LayerNorm,
    /// `[V]`, `cls.predictions.bias`.
    pub(crate) bias: Param<Tensor<1>>,
}

impl MlmHead {
    /// `[N, d] -> [N, d]`, the hidden state the decoder reads.
    fn transformed(&self, hidden: Tensor<2>) -> Tensor<2> {
        self.norm.forward(gelu(self.transform.forward(hidden)))
    }

    /// Logits of the vocabulary rows `token_ids` only: `[N, C]`.
    pub fn rows(
        &self,
        hidden: Tensor<2>,
        words: Tensor<2>,
        token_ids: Tensor<1, Int>,
    ) -> Tensor<2> {
        let decoder = words.select(0, token_ids.clone());
        let bias = self.bias.val().select(0, token_ids);
        self.transformed(hidden).matmul(decoder.transpose()) + bias.unsqueeze::<2>()
    }

    /// Logits of the whole vocabulary: `[N, V]`.
    pub fn full(&self, hidden: Tensor<2>, words: Tensor<2>) -> Tensor<2> {
        self.transformed(hidden).matmul(words.transpose()) + self.bias.val().unsqueeze::<2>()
    }
}
