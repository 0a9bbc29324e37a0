//! One decoder block on the fused kernels: `x + attn(norm(x))`, then `+ mlp(norm(·))`, forward
//! with the activations its backward needs, and that backward (activation gradients only).

use rayon::prelude::*;

use super::attention::{Heads, PrefixKv, Probs, attend, attend_backward};
use super::kernels::{Rhs, matmul, rms_norm, rms_norm_backward, swiglu, swiglu_backward};
use super::pool::BufferPool;
use super::{FusedLlama, Plan, values};
use crate::llama::model::DecoderLayer;

/// A run of packed rows that attend to each other causally: the prompt, or one example.
#[derive(Debug, Clone, Copy)]
pub(super) struct Segment {
    /// First packed row.
    pub start: usize,
    /// Rows.
    pub len: usize,
    /// The prompt whose keys and values the rows see before their own (`None`: the prompt's
    /// own segment).
    pub prompt: Option<usize>,
}

/// One block's frozen weights, each projection group in one matrix.
#[derive(Debug)]
pub(super) struct FusedLayer {
    norm_in: Vec<f32>,
    /// `[d, q + k + v]`: the three projections side by side.
    qkv: Vec<f32>,
    /// `[q heads · head dim, d]`.
    o: Vec<f32>,
    norm_post: Vec<f32>,
    /// `[d, 2 · ffn]`: gate and up side by side.
    gate_up: Vec<f32>,
    /// `[ffn, d]`.
    down: Vec<f32>,
    eps: f32,
}

/// What a block's backward needs of its forward (the weights' inputs are not needed: no weight
/// gradients are formed).
#[derive(Debug)]
pub(super) struct Activations {
    input: Vec<f32>,
    inv_rms_in: Vec<f32>,
    /// Rotated `[q | k | v]` rows (the prompt's keys and values are read from here).
    pub qkv: Vec<f32>,
    probs: Vec<Probs>,
    mid: Vec<f32>,
    inv_rms_post: Vec<f32>,
    gate_up: Vec<f32>,
}

impl Activations {
    /// Hands the buffers back to `pool`.
    pub fn recycle(self, pool: &BufferPool) {
        pool.give([
            self.input,
            self.inv_rms_in,
            self.qkv,
            self.mid,
            self.inv_rms_post,
            self.gate_up,
        ]);
    }
}

impl FusedLayer {
    pub fn new(layer: &DecoderLayer) -> Self {
        let a = &layer.self_attn;
        let m = &layer.mlp;
        let side_by_side = |parts: &[&burn::nn::Linear]| -> Vec<f32> {
            let rows = parts[0].weight.dims()[0];
            let parts: Vec<(Vec<f32>, usize)> = parts
                .iter()
                .map(|p| (values(p.weight.val()), p.weight.dims()[1]))
                .collect();
            (0..rows)
                .flat_map(|r| {
                    parts
                        .iter()
                        .flat_map(move |(w, cols)| w[r * cols..(r + 1) * cols].iter().copied())
                })
                .collect()
        };
        Self {
            norm_in: values(layer.input_layernorm.gamma.val()),
            qkv: side_by_side(&[&a.q_proj, &a.k_proj, &a.v_proj]),
            o: values(a.o_proj.weight.val()),
            norm_post: values(layer.post_attention_layernorm.gamma.val()),
            gate_up: side_by_side(&[&m.gate_proj, &m.up_proj]),
            down: values(m.down_proj.weight.val()),
            eps: layer.input_layernorm.epsilon as f32,
        }
    }

    /// The block's output for packed rows `x` `[T, d]`, and what its backward needs. `cached`
    /// holds the cached prompts' keys and values (the segments' `prompt` indexes it) when the
    /// prompts are not among the rows.
    pub fn forward(
        &self,
        x: Vec<f32>,
        plan: &Plan,
        cached: Option<&[PrefixKv]>,
        model: &FusedLlama,
    ) -> (Vec<f32>, Activations) {
        let (heads, d, ffn) = (model.heads, model.hidden, model.ffn);
        let (t, w, cw) = (plan.rows(), heads.qkv_width(), heads.context_width());
        let pool = &model.pool;
        let mut normed = pool.take(t * d);
        let mut inv_rms_in = pool.take(t);
        rms_norm(&mut normed, &mut inv_rms_in, &x, &self.norm_in, self.eps);
        let mut qkv = pool.take(t * w);
        matmul(&mut qkv, &normed, &self.qkv, Rhs::Plain, [t, d, w], false);
        rotate(&mut qkv, plan, model, false);

        let mut context = pool.take(t * cw);
        let prompt = in_rows(&qkv, plan, w);
        let probs: Vec<Probs> = plan
            .segments
            .par_iter()
            .zip(by_segment(&mut context, cw, plan))
            .map(|(s, context)| {
                let rows = &qkv[s.start * w..(s.start + s.len) * w];
                let seen = match (s.prompt, cached) {
                    (Some(p), Some(cached)) => cached[p],
                    _ => sees(s, prompt),
                };
                attend(heads, rows, seen, context)
            })
            .collect();
        let mut mid = pool.copy_of(&x);
        matmul(&mut mid, &context, &self.o, Rhs::Plain, [t, cw, d], true);

        let mut inv_rms_post = pool.take(t);
        rms_norm(
            &mut normed,
            &mut inv_rms_post,
            &mid,
            &self.norm_post,
            self.eps,
        );
        let mut gate_up = pool.take(t * 2 * ffn);
        matmul(
            &mut gate_up,
            &normed,
            &self.gate_up,
            Rhs::Plain,
            [t, d, 2 * ffn],
            false,
        );
        let mut h = pool.take(t * ffn);
        swiglu(&mut h, &gate_up, ffn);
        let mut out = pool.copy_of(&mid);
        matmul(&mut out, &h, &self.down, Rhs::Plain, [t, ffn, d], true);
        pool.give([normed, context, h]);
        let activations = Activations {
            input: x,
            inv_rms_in,
            qkv,
            probs,
            mid,
            inv_rms_post,
            gate_up,
        };
        (out, activations)
    }

    /// Turns `grad`, the loss's gradient with respect to the block's output `[T, d]`, into its
    /// gradient with respect to the block's input (training plans only: the prompt is in the
    /// rows).
    pub fn backward(&self, grad: &mut [f32], a: Activations, plan: &Plan, model: &FusedLlama) {
        let (heads, d, ffn) = (model.heads, model.hidden, model.ffn);
        let (t, w, cw) = (plan.rows(), heads.qkv_width(), heads.context_width());
        // Feed-forward half: out = mid + down(swiglu(gate_up(norm(mid)))).
        let pool = &model.pool;
        let mut dh = pool.take(t * ffn);
        matmul(
            &mut dh,
            grad,
            &self.down,
            Rhs::Transposed,
            [t, d, ffn],
            false,
        );
        let mut d_gate_up = pool.take(t * 2 * ffn);
        swiglu_backward(&mut d_gate_up, &dh, &a.gate_up, ffn);
        let mut d_normed = pool.take(t * d);
        matmul(
            &mut d_normed,
            &d_gate_up,
            &self.gate_up,
            Rhs::Transposed,
            [t, 2 * ffn, d],
            false,
        );
        rms_norm_backward(grad, &d_normed, &a.mid, &a.inv_rms_post, &self.norm_post);

        // Attention half: mid = input + o(attend(rotate(qkv(norm(input))))).
        let mut d_context = pool.take(t * cw);
        matmul(
            &mut d_context,
            grad,
            &self.o,
            Rhs::Transposed,
            [t, d, cw],
            false,
        );
        let mut d_qkv = pool.take(t * w);
        let kvw = w - cw;
        let prompt = in_rows(&a.qkv, plan, w);
        let prompt_parts: Vec<Option<Vec<f32>>> = plan
            .segments
            .par_iter()
            .zip(by_segment(&mut d_qkv, w, plan))
            .zip(&a.probs)
            .map(|((s, d_rows), probs)| {
                let rows = &a.qkv[s.start * w..(s.start + s.len) * w];
                let d_context = &d_context[s.start * cw..(s.start + s.len) * cw];
                let seen = sees(s, prompt);
                let mut d_prompt = vec![0.0; seen.len * kvw];
                attend_backward(heads, rows, seen, probs, d_context, d_rows, &mut d_prompt);
                (seen.len > 0).then_some(d_prompt)
            })
            .collect();
        // The prompt's keys and values collect every example's share, in a fixed order.
        for part in prompt_parts.into_iter().flatten() {
            for (row, part) in d_qkv.chunks_exact_mut(w).zip(part.chunks_exact(kvw)) {
                for (g, p) in row[cw..].iter_mut().zip(part) {
                    *g += p;
                }
            }
        }
        rotate(&mut d_qkv, plan, model, true);
        matmul(
            &mut d_normed,
            &d_qkv,
            &self.qkv,
            Rhs::Transposed,
            [t, w, d],
            false,
        );
        rms_norm_backward(grad, &d_normed, &a.input, &a.inv_rms_in, &self.norm_in);
        pool.give([dh, d_gate_up, d_normed, d_context, d_qkv]);
        a.recycle(pool);
    }
}

/// Rotates the query and key heads of every packed row to its position (`inverse`: back, the
/// backward of the rotation).
fn rotate(qkv: &mut [f32], plan: &Plan, model: &FusedLlama, inverse: bool) {
    let heads: Heads = model.heads;
    qkv.par_chunks_mut(heads.qkv_width())
        .zip(plan.positions.par_iter())
        .with_min_len(8)
        .for_each(|(row, &pos)| {
            let (q, kv) = row.split_at_mut(heads.context_width());
            model.rope.rotate(q, heads.q, pos, inverse);
            model.rope.rotate(kv, heads.kv, pos, inverse);
        });
}

/// The prompt's keys and values as the rows at the top of `qkv` hold them.
fn in_rows<'a>(qkv: &'a [f32], plan: &Plan, w: usize) -> PrefixKv<'a> {
    PrefixKv {
        data: &qkv[..plan.prompt_rows * w],
        stride: w,
        offset: 0,
        len: plan.prompt_rows,
    }
}

/// What segment `s` sees before its own rows when the prompt is in the packed rows.
fn sees<'a>(s: &Segment, prompt: PrefixKv<'a>) -> PrefixKv<'a> {
    match s.prompt {
        Some(_) => prompt,
        None => PrefixKv::EMPTY,
    }
}

/// `buf` (`width` floats a packed row) cut into each segment's rows.
fn by_segment<'a>(buf: &'a mut [f32], width: usize, plan: &Plan) -> Vec<&'a mut [f32]> {
    let mut rest = buf;
    plan.segments
        .iter()
        .map(|s| {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(s.len * width);
            rest = tail;
            head
        })
        .collect()
}
