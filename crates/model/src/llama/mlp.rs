//! The SwiGLU feed-forward block: `down(silu(gate(x)) * up(x))`.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::activation::silu;

/// Gated feed-forward layer of a llama block.
#[derive(Module, Debug)]
pub struct Mlp {
    /// `[d, ffn]`.
    pub gate_proj: Linear,
    /// `[d, ffn]`.
    pub up_proj: Linear,
    /// `[ffn, d]`.
    pub down_proj: Linear,
}

impl Mlp {
    /// `[B, T, d] -> [B, T, d]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gate = silu(self.gate_proj.forward(x.clone()));
        self.down_proj.forward(gate * self.up_proj.forward(x))
    }
}
