//! BERT input embeddings: word rows (looked up by the caller), then absolute positions and
//! token type 0 added to every row, then LayerNorm.

use burn::module::{Module, Param};
use burn::nn::{Embedding, LayerNorm};
use burn::tensor::{Int, Tensor};

/// The embedding tables and their LayerNorm.
#[derive(Module, Debug)]
pub(crate) struct BertEmbeddings {
    /// `[V, d]`, also the tied MLM decoder.
    pub(crate) word: Embedding,
    /// `[max_positions, d]`.
    pub(crate) position: Param<Tensor<2>>,
    /// `[type_vocab_size, d]`; only row 0 is used (single-segment inputs).
    pub(crate) token_type: Param<Tensor<2>>,
    pub(crate) norm: LayerNorm,
}

impl BertEmbeddings {
    /// Word embeddings `[B, L] -> [B, L, d]`.
    pub fn words(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.word.forward(ids)
    }

    /// Adds positions `0..T` and the token-type-0 row to `[B, T, d]` input rows (soft-prompt
    /// rows included, as PEFT does) and normalises.
    pub fn finish(&self, rows: Tensor<3>) -> Tensor<3> {
        let [_, t, _] = rows.dims();
        let positions = self.position.val().narrow(0, 0, t).unsqueeze::<3>();
        let token_type = self.token_type.val().narrow(0, 0, 1).unsqueeze::<3>();
        self.norm.forward(rows + positions + token_type)
    }
}
