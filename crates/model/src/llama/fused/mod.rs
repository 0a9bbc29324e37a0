//! The llama decoder on hand-written CPU kernels, for prompt tuning's two hot loops: a training
//! step (forward, then the backward of the activations only: the weights are frozen, so no
//! weight gradient is ever formed) and scoring behind a prompt whose keys and values are
//! computed once.
//!
//! Rows are packed without padding: the prompt's `k` rows first (while training), then each
//! example's tokens up to its answer slot (causal attention means later tokens cannot change
//! it). Every weight product covers all packed rows in one `gemm` call; attention runs per
//! example and reads the prompt's keys and values where they lie. The burn [`Llama`] stays the
//! reference: the tests hold this path to its loss, prompt gradient and scores.

mod attention;
mod kernels;
mod layer;
mod pool;

use prompt_data::{Encoded, Verbalizer};

use self::attention::{Heads, PrefixKv};
use self::kernels::{Rhs, RopeTables, matmul, rms_norm, rms_norm_backward};
use self::layer::{FusedLayer, Segment};
use self::pool::BufferPool;
use super::Llama;

/// A frozen llama-family decoder with its weights laid out for the fused kernels.
#[derive(Debug)]
pub struct FusedLlama {
    layers: Vec<FusedLayer>,
    /// Final norm's scale and epsilon.
    norm: Vec<f32>,
    eps: f32,
    /// Token embedding `[V, d]`.
    embed: Vec<f32>,
    /// Untied vocabulary head `[V, d]` (`None`: the embedding is the head).
    head: Option<Vec<f32>>,
    rope: RopeTables,
    heads: Heads,
    hidden: usize,
    ffn: usize,
    /// Activations and scratch buffers, reused from step to step.
    pool: BufferPool,
}

/// A verbalizer's vocabulary rows and class weights, for the fused path's scores.
#[derive(Debug, Clone)]
pub struct FusedClassHead {
    /// `[N, d]`: the head's rows of the scored tokens.
    rows: Vec<f32>,
    /// `[C, N]`: class `c` scores `Σ_n weights[c, n] · logit(n)`.
    weights: Vec<f32>,
    classes: usize,
}

/// A prompt prepared for scoring: each layer's keys and values of its rows.
#[derive(Debug, Clone)]
pub struct FusedPrompt {
    /// Per layer `[P, 2 · kv heads · head dim]`: each row's `[k heads | v heads]`.
    layers: Vec<Vec<f32>>,
    len: usize,
}

impl FusedPrompt {
    /// Prompt rows `P`.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the prompt has no rows (the template alone).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What a fused training step computed.
#[derive(Debug, Clone)]
pub struct FusedStep {
    /// Mean cross-entropy over the batch.
    pub loss: f32,
    /// Class scores `[B, C]`.
    pub scores: Vec<f32>,
    /// Gradient of the loss with respect to the prompt, `[k, d]`.
    pub prompt_grad: Vec<f32>,
}

impl FusedLlama {
    /// The fused layout of `llama`'s weights, or `None` when the model has parts these kernels
    /// do not cover (biases, query/key norms) or is not f32.
    pub fn new(llama: &Llama) -> Option<Self> {
        let first = llama.layers.first()?;
        let attn = &first.self_attn;
        let heads = Heads {
            q: attn.num_heads,
            kv: attn.num_kv_heads,
            dim: attn.head_dim,
        };
        let plain = llama.layers.iter().all(|layer| {
            let a = &layer.self_attn;
            let m = &layer.mlp;
            [
                &a.q_proj,
                &a.k_proj,
                &a.v_proj,
                &a.o_proj,
                &m.gate_proj,
                &m.up_proj,
                &m.down_proj,
            ]
            .iter()
            .all(|linear| linear.bias.is_none())
                && a.q_norm.is_none()
                && a.k_norm.is_none()
                && m.activation == super::GateActivation::Silu
        });
        let f32_weights = llama.embed_tokens.weight.val().dtype() == burn::tensor::DType::F32;
        if !plain || !f32_weights {
            return None;
        }
        let (cos, sin) = llama.rope.tables();
        Some(Self {
            layers: llama.layers.iter().map(FusedLayer::new).collect(),
            norm: values(llama.norm.gamma.val()),
            eps: llama.norm.epsilon as f32,
            embed: values(llama.embed_tokens.weight.val()),
            head: llama.lm_head.as_ref().map(|head| values(head.val())),
            rope: RopeTables {
                half: heads.dim / 2,
                cos,
                sin,
            },
            heads,
            hidden: llama.hidden_size,
            ffn: first.mlp.gate_proj.weight.dims()[1],
            pool: BufferPool::default(),
        })
    }

    /// The head rows and class weights of `verbalizer`.
    pub fn class_head(&self, verbalizer: &Verbalizer) -> FusedClassHead {
        let table = self.head.as_ref().unwrap_or(&self.embed);
        let d = self.hidden;
        let rows = verbalizer
            .scored_ids()
            .iter()
            .flat_map(|&id| {
                table[id as usize * d..(id as usize + 1) * d]
                    .iter()
                    .copied()
            })
            .collect();
        FusedClassHead {
            rows,
            weights: verbalizer.score_weights().to_vec(),
            classes: verbalizer.num_classes(),
        }
    }

    /// One training step's forward and backward: the loss of `batch` behind `prompt` (`[k, d]`
    /// row-major), its class scores and the loss's gradient with respect to the prompt.
    pub fn train_step(
        &self,
        prompt: &[f32],
        batch: &[Encoded],
        head: &FusedClassHead,
    ) -> FusedStep {
        let d = self.hidden;
        let k = prompt.len() / d;
        let plan = Plan::training(k, batch);
        let mut x = self.pool.take(plan.rows() * d);
        x[..prompt.len()].copy_from_slice(prompt);
        self.embed_rows(&mut x[prompt.len()..], batch);
        let mut saved = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let (out, activations) = layer.forward(x, &plan, None, self);
            saved.push(activations);
            x = out;
        }
        let answers = plan.answer_rows(batch);
        let (normed, final_in, inv_rms) = self.final_hidden(&x, &answers);
        let scores = head.forward(&normed, d);
        let (loss, d_scores) = cross_entropy(&scores, batch, head.classes);
        // Gradient of the final norm's output at the answer rows, then of the decoder's output.
        let d_normed = head.backward(&d_scores, d);
        let mut d_final = vec![0.0; answers.len() * d];
        rms_norm_backward(&mut d_final, &d_normed, &final_in, &inv_rms, &self.norm);
        let mut grad = self.pool.zeroed(x.len());
        for (b, &row) in answers.iter().enumerate() {
            grad[row * d..(row + 1) * d].copy_from_slice(&d_final[b * d..(b + 1) * d]);
        }
        for (layer, activations) in self.layers.iter().zip(saved).rev() {
            layer.backward(&mut grad, activations, &plan, self);
        }
        let prompt_grad = grad[..k * d].to_vec();
        self.pool.give([grad, x]);
        FusedStep {
            loss,
            scores,
            prompt_grad,
        }
    }

    /// Runs `prompt` (`[P, d]`) through the decoder once and keeps each layer's keys and values.
    pub fn cache_prompt(&self, prompt: &[f32]) -> FusedPrompt {
        let d = self.hidden;
        let len = prompt.len() / d;
        let plan = Plan::training(len, &[]);
        let mut x = self.pool.copy_of(prompt);
        let mut layers = Vec::with_capacity(self.layers.len());
        let kv_at = self.heads.context_width();
        let w = self.heads.qkv_width();
        for layer in &self.layers {
            let (out, activations) = layer.forward(x, &plan, None, self);
            layers.push(
                activations
                    .qkv
                    .chunks_exact(w)
                    .flat_map(|row| row[kv_at..].iter().copied())
                    .collect(),
            );
            activations.recycle(&self.pool);
            x = out;
        }
        self.pool.give([x]);
        FusedPrompt { layers, len }
    }

    /// Class scores `[B, C]` of `batch` behind a cached prompt.
    pub fn scores(
        &self,
        prompt: &FusedPrompt,
        batch: &[Encoded],
        head: &FusedClassHead,
    ) -> Vec<f32> {
        let hidden = self.answer_hidden(&[prompt], &vec![0; batch.len()], batch);
        head.forward(&hidden, self.hidden)
    }

    /// Final hidden states `[B, d]` (after the final norm) at each example's answer slot,
    /// example `r` behind `prompts[of_row[r]]`: rows of several tasks, or of several prompts of
    /// one task, in one pass (each starts at the position after its own prompt).
    ///
    /// # Panics
    /// If `of_row` does not name a prompt for each example.
    pub fn answer_hidden(
        &self,
        prompts: &[&FusedPrompt],
        of_row: &[usize],
        batch: &[Encoded],
    ) -> Vec<f32> {
        assert_eq!(of_row.len(), batch.len(), "one prompt index per example");
        let lengths: Vec<usize> = prompts.iter().map(|p| p.len).collect();
        let plan = Plan::behind(&lengths, of_row, batch);
        let mut x = self.pool.take(plan.rows() * self.hidden);
        self.embed_rows(&mut x, batch);
        for (i, layer) in self.layers.iter().enumerate() {
            let cached: Vec<PrefixKv> = prompts.iter().map(|p| self.cached_kv(p, i)).collect();
            let (out, activations) = layer.forward(x, &plan, Some(&cached), self);
            activations.recycle(&self.pool);
            x = out;
        }
        let hidden = self.final_hidden(&x, &plan.answer_rows(batch)).0;
        self.pool.give([x]);
        hidden
    }

    fn cached_kv<'a>(&self, prompt: &'a FusedPrompt, layer: usize) -> PrefixKv<'a> {
        PrefixKv {
            data: &prompt.layers[layer],
            stride: 2 * self.heads.kv * self.heads.dim,
            offset: self.heads.context_width(),
            len: prompt.len,
        }
    }

    /// Writes each example's token embeddings, up to its answer slot, into the rows of `x`.
    fn embed_rows(&self, x: &mut [f32], batch: &[Encoded]) {
        let d = self.hidden;
        let ids = batch.iter().flat_map(|e| &e.ids[..=e.answer_pos]);
        for (row, &id) in x.chunks_exact_mut(d).zip(ids) {
            row.copy_from_slice(&self.embed[id as usize * d..(id as usize + 1) * d]);
        }
    }

    /// The final norm at the packed rows `answers` `[B, d]`, with its input and reciprocal RMS
    /// at those rows (for the backward).
    fn final_hidden(&self, x: &[f32], answers: &[usize]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let d = self.hidden;
        let final_in: Vec<f32> = answers
            .iter()
            .flat_map(|&row| x[row * d..(row + 1) * d].iter().copied())
            .collect();
        let mut normed = vec![0.0; final_in.len()];
        let mut inv_rms = vec![0.0; answers.len()];
        rms_norm(&mut normed, &mut inv_rms, &final_in, &self.norm, self.eps);
        (normed, final_in, inv_rms)
    }
}

impl FusedClassHead {
    /// Classes `C`.
    pub fn num_classes(&self) -> usize {
        self.classes
    }

    /// Class scores `[B, C]` of normed hidden states `[B, d]`.
    fn forward(&self, normed: &[f32], d: usize) -> Vec<f32> {
        let n = self.rows.len() / d;
        let b = normed.len() / d;
        let mut logits = vec![0.0; b * n];
        matmul(
            &mut logits,
            normed,
            &self.rows,
            Rhs::Transposed,
            [b, d, n],
            false,
        );
        let mut scores = vec![0.0; b * self.classes];
        matmul(
            &mut scores,
            &logits,
            &self.weights,
            Rhs::Transposed,
            [b, n, self.classes],
            false,
        );
        scores
    }

    /// Gradient with respect to the normed hidden states `[B, d]`, given the scores' `[B, C]`.
    fn backward(&self, d_scores: &[f32], d: usize) -> Vec<f32> {
        let n = self.rows.len() / d;
        let b = d_scores.len() / self.classes;
        let mut d_logits = vec![0.0; b * n];
        matmul(
            &mut d_logits,
            d_scores,
            &self.weights,
            Rhs::Plain,
            [b, self.classes, n],
            false,
        );
        let mut d_normed = vec![0.0; b * d];
        matmul(
            &mut d_normed,
            &d_logits,
            &self.rows,
            Rhs::Plain,
            [b, n, d],
            false,
        );
        d_normed
    }
}

/// Mean cross-entropy of `scores` `[B, C]` against the batch's labels, and its gradient.
fn cross_entropy(scores: &[f32], batch: &[Encoded], classes: usize) -> (f32, Vec<f32>) {
    let b = batch.len() as f32;
    let mut grad = vec![0.0; scores.len()];
    let mut loss = 0.0;
    for ((row, d_row), example) in scores
        .chunks(classes)
        .zip(grad.chunks_mut(classes))
        .zip(batch)
    {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = row.iter().map(|s| (s - max).exp()).sum();
        let log_sum = max + sum.ln();
        loss += log_sum - row[example.label];
        for (c, (g, s)) in d_row.iter_mut().zip(row).enumerate() {
            let target = if c == example.label { 1.0 } else { 0.0 };
            *g = ((s - log_sum).exp() - target) / b;
        }
    }
    (loss / b, grad)
}

/// Where each packed row sits: the prompt's segment (training) and one segment per example,
/// each row's position, and which prompt each example sees.
#[derive(Debug)]
pub(super) struct Plan {
    segments: Vec<Segment>,
    positions: Vec<usize>,
    /// Prompt rows at the top of the packed input (0 when the prompts are cached).
    prompt_rows: usize,
}

impl Plan {
    /// `k` prompt rows packed in front (the prompt being trained, or computed for a cache),
    /// then `batch`'s examples behind them.
    fn training(k: usize, batch: &[Encoded]) -> Self {
        let prompt = (k > 0).then_some(Segment {
            start: 0,
            len: k,
            prompt: None,
        });
        Self::with_rows(
            prompt.into_iter().collect(),
            (0..k).collect(),
            k,
            &[k],
            &vec![0; batch.len()],
            batch,
        )
    }

    /// `batch`'s examples, example `r` behind the cached prompt `of_row[r]` of `lengths[..]`
    /// rows.
    fn behind(lengths: &[usize], of_row: &[usize], batch: &[Encoded]) -> Self {
        Self::with_rows(Vec::new(), Vec::new(), 0, lengths, of_row, batch)
    }

    /// Appends one segment per example (up to its answer slot), each starting at the position
    /// after its prompt.
    fn with_rows(
        mut segments: Vec<Segment>,
        mut positions: Vec<usize>,
        prompt_rows: usize,
        lengths: &[usize],
        of_row: &[usize],
        batch: &[Encoded],
    ) -> Self {
        for (example, &prompt) in batch.iter().zip(of_row) {
            let (len, start) = (example.answer_pos + 1, lengths[prompt]);
            segments.push(Segment {
                start: positions.len(),
                len,
                prompt: Some(prompt),
            });
            positions.extend(start..start + len);
        }
        Self {
            segments,
            positions,
            prompt_rows,
        }
    }

    fn rows(&self) -> usize {
        self.positions.len()
    }

    /// The packed row of each example's answer slot.
    fn answer_rows(&self, batch: &[Encoded]) -> Vec<usize> {
        let examples = &self.segments[self.segments.len() - batch.len()..];
        examples.iter().map(|s| s.start + s.len - 1).collect()
    }
}

/// A tensor's values, row-major.
fn values<const D: usize>(tensor: burn::tensor::Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("float tensors convert to f32")
}
