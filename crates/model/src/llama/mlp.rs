//! The gated feed-forward block: `down(act(gate(x)) * up(x))`, SiLU for llama (SwiGLU),
//! tanh-approximated GELU for Gemma 3 (GeGLU).

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::activation::{gelu_approximate, silu};

/// The activation on the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateActivation {
    /// `x * sigmoid(x)` (llama).
    Silu,
    /// `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, transformers' `gelu_pytorch_tanh`
    /// (Gemma 3).
    GeluTanh,
}

/// Gated feed-forward layer of a llama-family block.
#[derive(Module, Debug)]
pub struct Mlp {
    /// `[d, ffn]`.
    pub(crate) gate_proj: Linear,
    /// `[d, ffn]`.
    pub(crate) up_proj: Linear,
    /// `[ffn, d]`.
    pub(crate) down_proj: Linear,
    /// The gate's activation.
    #[module(skip)]
    pub(crate) activation: GateActivation,
}

impl Mlp {
    /// `[B, T, d] -> [B, T, d]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gate = self.gate_proj.forward(x.clone());
        let gate = match self.activation {
            GateActivation::Silu => silu(gate),
            GateActivation::GeluTanh => gelu_approximate(gate),
        };
        self.down_proj.forward(gate * self.up_proj.forward(x))
    }
}
