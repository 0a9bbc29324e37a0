//! One post-norm BERT encoder layer: self-attention, add & LayerNorm, GELU feed-forward,
//! add & LayerNorm (inference semantics: no dropout).

use burn::module::Module;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::activation::gelu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Tensor};

/// Weights of one encoder layer.
#[derive(Module, Debug)]
pub(crate) struct BertLayer {
    pub(crate) query: Linear,
    pub(crate) key: Linear,
    pub(crate) value: Linear,
    /// Projection of the concatenated heads.
    pub(crate) attention_output: Linear,
    pub(crate) attention_norm: LayerNorm,
    pub(crate) intermediate: Linear,
    pub(crate) output: Linear,
    pub(crate) output_norm: LayerNorm,
    pub(crate) num_heads: usize,
}

impl BertLayer {
    /// `[B, T, d] -> [B, T, d]`; `masked` is `[B, H, T, T]`, `true` where a key is padding.
    pub fn forward(&self, x: Tensor<3>, masked: Tensor<4, Bool>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let heads = |y: Tensor<3>| {
            y.reshape([b, t, self.num_heads, d / self.num_heads])
                .swap_dims(1, 2)
        };
        let context = attention(
            heads(self.query.forward(x.clone())),
            heads(self.key.forward(x.clone())),
            heads(self.value.forward(x.clone())),
            Some(masked),
            None,
            AttentionModuleOptions::default(),
        )
        .swap_dims(1, 2)
        .reshape([b, t, d]);
        let x = self
            .attention_norm
            .forward(self.attention_output.forward(context) + x);
        let inner = gelu(self.intermediate.forward(x.clone()));
        self.output_norm.forward(self.output.forward(inner) + x)
    }
}
