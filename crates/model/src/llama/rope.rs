//! Rotary position embedding in the HF transformers layout (`rotate_half`: the first and second
//! halves of each head are the two coordinates of each rotated pair).

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// Precomputed cosines and sines for every position up to the model's maximum.
#[derive(Module, Debug)]
pub struct Rope {
    /// `[max_positions, head_dim]`, each frequency repeated for both halves.
    cos: Tensor<2>,
    /// Same layout as `cos`.
    sin: Tensor<2>,
}

impl Rope {
    /// Tables for heads of width `head_dim` (even) with frequency base `theta`.
    pub fn new(head_dim: usize, max_positions: usize, theta: f64, device: &Device) -> Self {
        let half = head_dim / 2;
        // f32 frequencies and angles, as transformers computes them.
        let inv_freq: Vec<f32> = (0..half)
            .map(|i| (1.0 / theta.powf((2 * i) as f64 / head_dim as f64)) as f32)
            .collect();
        let mut cos = Vec::with_capacity(max_positions * head_dim);
        let mut sin = Vec::with_capacity(max_positions * head_dim);
        for pos in 0..max_positions {
            for _ in 0..2 {
                for f in &inv_freq {
                    let angle = pos as f32 * f;
                    cos.push(angle.cos());
                    sin.push(angle.sin());
                }
            }
        }
        let table = |v: Vec<f32>| {
            Tensor::<2>::from_data(TensorData::new(v, [max_positions, head_dim]), device)
        };
        Self {
            cos: table(cos),
            sin: table(sin),
        }
    }

    /// Longest sequence the tables cover.
    pub fn max_positions(&self) -> usize {
        self.cos.dims()[0]
    }

    /// The tables as one angle per rotated pair, `[max_positions, head_dim / 2]` each (cos,
    /// sin): the first half of each row (the second repeats it).
    pub(crate) fn tables(&self) -> (Vec<f32>, Vec<f32>) {
        let [positions, head_dim] = self.cos.dims();
        let half = |table: &Tensor<2>| -> Vec<f32> {
            table
                .clone()
                .narrow(1, 0, head_dim / 2)
                .into_data()
                .try_into_vec_as::<f32>()
                .expect("float tables convert to f32")
        };
        let (cos, sin) = (half(&self.cos), half(&self.sin));
        debug_assert_eq!(cos.len(), positions * head_dim / 2);
        (cos, sin)
    }

    /// The rotation of `t` positions `offset..offset + t`, the same for every row.
    pub fn at_offset(&self, offset: usize, t: usize) -> Rotation {
        Rotation {
            cos: self.cos.clone().narrow(0, offset, t).unsqueeze::<4>(),
            sin: self.sin.clone().narrow(0, offset, t).unsqueeze::<4>(),
        }
    }

    /// The rotation of each row's own positions `positions` `[B, T]` (rows behind prompts of
    /// different lengths start at different positions).
    pub fn at_positions(&self, positions: Tensor<2, Int>) -> Rotation {
        let [b, t] = positions.dims();
        let head_dim = self.cos.dims()[1];
        let rows = |table: &Tensor<2>| {
            table
                .clone()
                .select(0, positions.clone().reshape([b * t]))
                .reshape([b, 1, t, head_dim])
        };
        Rotation {
            cos: rows(&self.cos),
            sin: rows(&self.sin),
        }
    }
}

/// Cosines and sines for one input's positions, `[B or 1, 1, T, head_dim]`: computed once per
/// forward and applied to the queries and keys of every layer.
#[derive(Debug, Clone)]
pub struct Rotation {
    cos: Tensor<4>,
    sin: Tensor<4>,
}

impl Rotation {
    /// Rotates `x` `[B, H, T, head_dim]`.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let half = x.dims()[3] / 2;
        let x1 = x.clone().narrow(3, 0, half);
        let x2 = x.clone().narrow(3, half, half);
        let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
        x * self.cos.clone() + rotated * self.sin.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_zero_is_identity_and_rotation_keeps_norms() {
        let device = Device::flex();
        let rope = Rope::new(4, 8, 10_000.0, &device);
        let x = Tensor::<4>::from_data(
            TensorData::new(
                vec![1.0f32, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0],
                [1, 1, 2, 4],
            ),
            &device,
        );
        let y: Vec<f32> = rope
            .at_offset(0, 2)
            .apply(x)
            .into_data()
            .try_into_vec_as()
            .unwrap();
        assert_eq!(&y[..4], &[1.0, 2.0, 3.0, 4.0]);
        // Position 1, pair (x0, x2) rotated by angle 1, pair (x1, x3) by 1/100.
        let (c, s) = (1.0f32.cos(), 1.0f32.sin());
        assert!((y[4] - (1.0 * c - 3.0 * s)).abs() < 1e-6);
        assert!((y[6] - (3.0 * c + 1.0 * s)).abs() < 1e-6);
        let (c, s) = (0.01f32.cos(), 0.01f32.sin());
        assert!((y[5] - (2.0 * c - 4.0 * s)).abs() < 1e-6);
        assert!((y[7] - (4.0 * c + 2.0 * s)).abs() < 1e-6);
    }

    #[test]
    fn per_row_positions_equal_the_offset_rotation() {
        let device = Device::flex();
        let rope = Rope::new(4, 8, 10_000.0, &device);
        let x = Tensor::<4>::random([2, 1, 3, 4], burn::tensor::Distribution::Default, &device);
        let positions = Tensor::<2, Int>::from_data(
            TensorData::new(vec![0i64, 1, 2, 5, 6, 7], [2, 3]),
            &device,
        );
        let by_row = rope.at_positions(positions).apply(x.clone());
        for (row, offset) in [(0, 0), (1, 5)] {
            let expected = rope.at_offset(offset, 3).apply(x.clone().narrow(0, row, 1));
            by_row
                .clone()
                .narrow(0, row, 1)
                .into_data()
                .assert_eq(&expected.into_data(), true);
        }
    }
}
