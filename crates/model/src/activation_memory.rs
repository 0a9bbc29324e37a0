//! How much memory a forward pass (and the backward of a training step) needs, from the
//! backbone's shapes and the batch's.
//!
//! The counts are per token and per layer, in floats of the backbone's type. They were fitted
//! to the peak resident memory of 14 training steps and 2 evaluations of SmolLM2-135M on the
//! CPU backend (batches 1–32, inputs 16–126 tokens, 20 prompt rows; with the resident model
//! added, 3–8 % above each measured peak) and are written as multiples of the widths so they
//! carry over to other sizes of a family:
//! - a training step keeps about `6.5 d + 4 ffn` floats per token and layer (the norms'
//!   inputs and outputs, queries, shared keys and values, the attention output, the four
//!   feed-forward tensors) and `3` per attention score (scores, mask-filled scores,
//!   probabilities);
//! - a forward without gradients frees each layer's tensors before the next, so about
//!   `2 d + 2 ffn` per token and `1` per score are live at once (10–30 % above the two measured
//!   peaks, scoring 256 inputs of 126 tokens and 872 of up to 66).

/// What a backbone's activation memory depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivationShape {
    /// Transformer blocks.
    pub layers: usize,
    /// Width of the residual stream `d`.
    pub hidden: usize,
    /// Width of the feed-forward block.
    pub ffn: usize,
    /// Attention (query) heads.
    pub heads: usize,
    /// Bytes per float of the backbone's type.
    pub float_bytes: usize,
    /// Whether the prompt rows are encoded once per batch and shared (causal backbones) rather
    /// than copied into every row.
    pub shared_prefix: bool,
}

/// Floats of one layer's activations, as multiples of the shapes.
struct Counts {
    /// Per token, times the width `d`.
    per_d: f64,
    /// Per token, times the feed-forward width.
    per_ffn: f64,
    /// Per attention score (query head × key).
    per_score: f64,
}

/// What a training step keeps per layer for its backward.
const TRAINING: Counts = Counts {
    per_d: 6.5,
    per_ffn: 4.0,
    per_score: 3.0,
};
/// What a forward without gradients holds at once (one layer at a time).
const INFERENCE: Counts = Counts {
    per_d: 2.0,
    per_ffn: 2.0,
    per_score: 1.0,
};

impl ActivationShape {
    /// Bytes a training step keeps for its backward: `batch` rows of `len` tokens behind
    /// `prompt` prompt rows.
    pub fn training_bytes(&self, batch: usize, len: usize, prompt: usize) -> u64 {
        self.bytes(batch, len, prompt, &TRAINING, self.layers)
    }

    /// Peak bytes of a forward without gradients over the same input.
    pub fn inference_bytes(&self, batch: usize, len: usize, prompt: usize) -> u64 {
        self.bytes(batch, len, prompt, &INFERENCE, 1)
    }

    /// Bytes of `layers` layers' `counts`: every row's tokens (the prompt copied into each row,
    /// or encoded once as a batch of one when it is shared) and their attention scores over
    /// all keys.
    fn bytes(
        &self,
        batch: usize,
        len: usize,
        prompt: usize,
        counts: &Counts,
        layers: usize,
    ) -> u64 {
        let (rows, prefix) = if self.shared_prefix {
            (batch * len, prompt)
        } else {
            (batch * (prompt + len), 0)
        };
        let per_token = counts.per_d * self.hidden as f64 + counts.per_ffn * self.ffn as f64;
        let scores = (rows * (prompt + len) + prefix * prompt) as f64;
        let floats =
            (rows + prefix) as f64 * per_token + scores * self.heads as f64 * counts.per_score;
        (floats * (layers * self.float_bytes) as f64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SmolLM2-135M's shapes.
    const SMOLLM2: ActivationShape = ActivationShape {
        layers: 30,
        hidden: 576,
        ffn: 1536,
        heads: 9,
        float_bytes: 4,
        shared_prefix: true,
    };

    #[test]
    fn a_training_step_keeps_what_was_measured_on_smollm2() {
        // Measured growth of the peak over the resident model, 20 prompt rows: batch 16 of
        // 126-token inputs 3.26 GB, batch 4 of 36 tokens 0.19 GB.
        let gb = |bytes: u64| bytes as f64 / 1e9;
        let long = gb(SMOLLM2.training_bytes(16, 126, 20));
        let short = gb(SMOLLM2.training_bytes(4, 36, 20));
        assert!((long - 3.26).abs() < 0.05 * 3.26, "{long}");
        assert!((short - 0.19).abs() < 0.05, "{short}");
    }

    #[test]
    fn memory_grows_with_the_batch_and_the_square_of_the_length() {
        let bytes = |batch, len| SMOLLM2.training_bytes(batch, len, 20);
        let per_row = bytes(2, 50) - bytes(1, 50);
        assert_eq!(bytes(8, 50) - bytes(1, 50), 7 * per_row);
        // Twice the length is more than twice the tokens' memory: each token has more keys.
        assert!(bytes(2, 100) - bytes(1, 100) > 2 * per_row);
    }

    #[test]
    fn a_copied_prompt_costs_more_than_a_shared_one() {
        let copied = ActivationShape {
            shared_prefix: false,
            ..SMOLLM2
        };
        assert!(copied.training_bytes(16, 50, 100) > SMOLLM2.training_bytes(16, 50, 100));
        assert!(SMOLLM2.inference_bytes(16, 50, 20) < SMOLLM2.training_bytes(16, 50, 20) / 10);
    }
}
