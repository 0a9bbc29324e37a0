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
//!
//! A Gemma 3 block keeps more per token: queries and the attention output are `heads *
//! head_dim` = 1.6 d wide (and the queries are normed too), two more norms (after attention and
//! after the feed-forward block) keep their inputs and outputs, and GeGLU's tanh-approximated
//! GELU keeps about one more `ffn`-wide tensor than SiLU. Counted, that is `13.5 d + 5 ffn`
//! (18,880 floats for Gemma-3-270M); the two measured training peaks of Gemma-3-270M (batches
//! 4 x 64 and 16 x 128 tokens behind 20 prompt rows) give 18,760.

/// The kind of transformer block, for what it keeps per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// One norm before attention and one before the feed-forward block, queries `d` wide
    /// (llama; BERT's post-norm block keeps about as much).
    Plain,
    /// Gemma 3: norms before and after both halves, normed queries and keys, GeGLU.
    Gemma3,
}

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
    /// What each block keeps per token.
    pub block: BlockKind,
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
/// What a Gemma 3 training step keeps per layer (see the module docs).
const GEMMA3_TRAINING: Counts = Counts {
    per_d: 13.5,
    per_ffn: 5.0,
    per_score: 3.0,
};
/// What a Gemma 3 forward without gradients holds at once: the wider queries and attention
/// output, and GeGLU's extra temporary.
const GEMMA3_INFERENCE: Counts = Counts {
    per_d: 3.0,
    per_ffn: 3.0,
    per_score: 1.0,
};

impl ActivationShape {
    /// Bytes a training step keeps for its backward: `batch` rows of `len` tokens behind
    /// `prompt` prompt rows.
    pub fn training_bytes(&self, batch: usize, len: usize, prompt: usize) -> u64 {
        let counts = match self.block {
            BlockKind::Plain => &TRAINING,
            BlockKind::Gemma3 => &GEMMA3_TRAINING,
        };
        self.bytes(batch, len, prompt, counts, self.layers)
    }

    /// Peak bytes of a forward without gradients over the same input.
    pub fn inference_bytes(&self, batch: usize, len: usize, prompt: usize) -> u64 {
        let counts = match self.block {
            BlockKind::Plain => &INFERENCE,
            BlockKind::Gemma3 => &GEMMA3_INFERENCE,
        };
        self.bytes(batch, len, prompt, counts, 1)
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
        block: BlockKind::Plain,
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
    fn a_training_step_keeps_what_was_measured_on_gemma3() {
        // Gemma-3-270M, 20 prompt rows: the peak grew by 2.66 GB from batch 4 of 64 tokens
        // (1.58 GB) to batch 16 of 128 (4.24 GB).
        let gemma = ActivationShape {
            layers: 18,
            hidden: 640,
            ffn: 2048,
            heads: 4,
            float_bytes: 4,
            shared_prefix: true,
            block: BlockKind::Gemma3,
        };
        let growth = gemma.training_bytes(16, 128, 20) - gemma.training_bytes(4, 64, 20);
        let gb = growth as f64 / 1e9;
        assert!((gb - 2.66).abs() < 0.03 * 2.66, "{gb}");
        let plain = ActivationShape {
            block: BlockKind::Plain,
            ..gemma
        };
        assert!(plain.training_bytes(16, 128, 20) < gemma.training_bytes(16, 128, 20));
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
