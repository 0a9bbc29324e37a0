//! The machine's f32 matmul rate with the kernels the model uses, at the model's shapes: the
//! limit the benchmark's phases are measured against.

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use prompt_model::ActivationShape;

/// Rows of each timed product: a training batch of 16 inputs of 64 tokens.
const ROWS: usize = 1024;
/// Products per timed round.
const REPEATS: usize = 8;
/// Timed rounds per shape; the fastest counts (the machine's rate, not its noise).
const ROUNDS: usize = 3;

/// GFLOP/s of `[ROWS, d] x [d, ffn]`, `[ROWS, ffn] x [ffn, d]` and `[ROWS, d] x [d, d]` on
/// `device` (the fastest of a few rounds each), counting `2 m k n` floating-point operations
/// per `[m, k] x [k, n]` product.
pub fn matmul_gflops(shape: &ActivationShape, device: &Device) -> f64 {
    let (d, ffn) = (shape.hidden, shape.ffn);
    let mut flops = 0.0;
    let mut seconds = 0.0;
    for (k, n) in [(d, ffn), (ffn, d), (d, d)] {
        let a = Tensor::<2>::random([ROWS, k], Distribution::Default, device);
        let b = Tensor::<2>::random([k, n], Distribution::Default, device);
        // Reading one value back waits for the product without copying it out.
        let product = || {
            a.clone()
                .matmul(b.clone())
                .narrow(0, 0, 1)
                .narrow(1, 0, 1)
                .into_data()
        };
        // First use packs and allocates; it is not timed.
        product();
        let fastest = (0..ROUNDS)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..REPEATS {
                    product();
                }
                start.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        seconds += fastest;
        flops += (2 * ROWS * k * n * REPEATS) as f64;
    }
    flops / seconds.max(1e-9) / 1e9
}

/// Floating-point operations of the matmuls of one example of `tokens` tokens through
/// `weights` matmul weights: `2 · weights · tokens` forward, the same again for a backward
/// that computes activation gradients only (the weights are frozen).
pub fn example_flops(weights: usize, tokens: f64, backward: bool) -> f64 {
    let forward = 2.0 * weights as f64 * tokens;
    if backward { 2.0 * forward } else { forward }
}

#[cfg(test)]
mod tests {
    use prompt_model::BlockKind;

    use super::*;

    #[test]
    fn a_training_example_costs_twice_its_forward() {
        assert_eq!(example_flops(106_000_000, 10.0, false), 2.12e9);
        assert_eq!(example_flops(106_000_000, 10.0, true), 4.24e9);
    }

    #[test]
    fn the_rate_is_measured_and_positive() {
        let shape = ActivationShape {
            layers: 1,
            hidden: 64,
            ffn: 128,
            heads: 2,
            float_bytes: 4,
            shared_prefix: true,
            block: BlockKind::Plain,
        };
        let rate = matmul_gflops(&shape, &Device::flex());
        assert!(rate.is_finite() && rate > 0.1, "{rate}");
    }
}
