//! Causal grouped-query attention over packed rows, forward and backward, without padding,
//! transposes or a concatenated key/value copy: each row (a segment of the packed input) attends
//! to the prompt's keys and values where they lie (in the batch's own rows while training, in
//! the prompt's cache when scoring) and then causally to its own.

use super::kernels::{axpy, dot, with_avx2};

/// Query and key/value heads of one layer; a row of `qkv` is `[q heads | k heads | v heads]`.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    /// Query heads.
    pub q: usize,
    /// Key/value heads (each serves `q / kv` query heads, as in transformers).
    pub kv: usize,
    /// Width of one head.
    pub dim: usize,
}

impl Heads {
    /// Width of a `[q | k | v]` row.
    pub fn qkv_width(&self) -> usize {
        (self.q + 2 * self.kv) * self.dim
    }
    /// Width of the attention output (`q · dim`).
    pub fn context_width(&self) -> usize {
        self.q * self.dim
    }
    /// Column where key head `g` starts in a `[q | k | v]` row.
    fn key_at(&self, g: usize) -> usize {
        (self.q + g) * self.dim
    }
    /// Column where value head `g` starts.
    fn value_at(&self, g: usize) -> usize {
        (self.q + self.kv + g) * self.dim
    }
    /// The key/value head query head `h` reads.
    fn group_of(&self, h: usize) -> usize {
        h / (self.q / self.kv)
    }
}

/// Keys and values of the prompt rows a segment attends to before its own: rows of
/// `[.. | k heads | v heads]` laid out like a `qkv` row, `stride` floats apart.
#[derive(Debug, Clone, Copy)]
pub struct PrefixKv<'a> {
    /// Row `j` starts at `data[j * stride]`, its key head `g` at column `key_at(g) - offset`.
    pub data: &'a [f32],
    /// Floats between rows.
    pub stride: usize,
    /// Columns of a `qkv` row missing at the start of each row here (the query heads, when the
    /// cache keeps only keys and values).
    pub offset: usize,
    /// Prompt rows.
    pub len: usize,
}

impl<'a> PrefixKv<'a> {
    /// No prompt rows.
    pub const EMPTY: PrefixKv<'static> = PrefixKv {
        data: &[],
        stride: 0,
        offset: 0,
        len: 0,
    };

    #[inline(always)]
    fn at(&self, j: usize, column: usize, dim: usize) -> &'a [f32] {
        let start = j * self.stride + column - self.offset;
        &self.data[start..start + dim]
    }
}

/// Attention probabilities of one segment: `[q heads, len, prefix + len]` (entries a query may
/// not see are zero).
pub type Probs = Vec<f32>;

with_avx2! {
/// Forward attention of one segment: its `len` rows of rotated `qkv` see `prefix` and then
/// themselves causally; writes `context` `[len, q · dim]` and returns the probabilities.
pub fn attend(heads: Heads, qkv: &[f32], prefix: PrefixKv, context: &mut [f32]) -> Probs {
    let (w, cw, dim) = (heads.qkv_width(), heads.context_width(), heads.dim);
    let len = qkv.len() / w;
    let p = prefix.len;
    let keys = p + len;
    let scale = 1.0 / (dim as f32).sqrt();
    let mut probs = vec![0.0f32; heads.q * len * keys];
    for h in 0..heads.q {
        let g = heads.group_of(h);
        let (k_at, v_at) = (heads.key_at(g), heads.value_at(g));
        for i in 0..len {
            let q = &qkv[i * w + h * dim..][..dim];
            let row = &mut probs[(h * len + i) * keys..][..p + i + 1];
            for (j, s) in row[..p].iter_mut().enumerate() {
                *s = dot(q, prefix.at(j, k_at, dim)) * scale;
            }
            for (j, s) in row[p..].iter_mut().enumerate() {
                *s = dot(q, &qkv[j * w + k_at..][..dim]) * scale;
            }
            softmax_in_place(row);
            let out = &mut context[i * cw + h * dim..][..dim];
            out.fill(0.0);
            for (j, &pr) in row[..p].iter().enumerate() {
                axpy(out, pr, prefix.at(j, v_at, dim));
            }
            for (j, &pr) in row[p..].iter().enumerate() {
                axpy(out, pr, &qkv[j * w + v_at..][..dim]);
            }
        }
    }
    probs
}
}

with_avx2! {
/// Backward of [`attend`]: given `d_context` `[len, q · dim]`, writes the segment's own query,
/// key and value gradients into `d_qkv` `[len, qkv width]` (overwritten) and adds the prompt
/// rows' key and value gradients to `d_prefix` (`[prefix, 2 · kv · dim]`: each row's
/// `[k heads | v heads]`).
pub fn attend_backward(
    heads: Heads,
    qkv: &[f32],
    prefix: PrefixKv,
    probs: &[f32],
    d_context: &[f32],
    d_qkv: &mut [f32],
    d_prefix: &mut [f32],
) {
    let (w, cw, dim) = (heads.qkv_width(), heads.context_width(), heads.dim);
    let kvw = 2 * heads.kv * dim;
    let len = qkv.len() / w;
    let p = prefix.len;
    let keys = p + len;
    let scale = 1.0 / (dim as f32).sqrt();
    d_qkv.fill(0.0);
    // One head's score gradients `[len, keys]`, and the key and value gradients of one key.
    let mut d_scores = vec![0.0f32; len * keys];
    let (mut dk, mut dv) = (vec![0.0f32; dim], vec![0.0f32; dim]);
    for h in 0..heads.q {
        let g = heads.group_of(h);
        let (k_at, v_at) = (heads.key_at(g), heads.value_at(g));
        // Query by query: d probability = dc · v, d score = p (d probability − Σ p · d
        // probability), and the query's gradient Σ d score · k.
        for i in 0..len {
            let seen = p + i + 1;
            let pr = &probs[(h * len + i) * keys..][..seen];
            let dc = &d_context[i * cw + h * dim..][..dim];
            let ds = &mut d_scores[i * keys..][..seen];
            for (j, s) in ds[..p].iter_mut().enumerate() {
                *s = dot(dc, prefix.at(j, v_at, dim));
            }
            for (j, s) in ds[p..].iter_mut().enumerate() {
                *s = dot(dc, &qkv[j * w + v_at..][..dim]);
            }
            let mean = dot(pr, ds);
            for (s, &pr) in ds.iter_mut().zip(pr) {
                *s = pr * (*s - mean) * scale;
            }
            let dq = &mut d_qkv[i * w + h * dim..][..dim];
            for (j, &s) in ds[..p].iter().enumerate() {
                axpy(dq, s, prefix.at(j, k_at, dim));
            }
            for (j, &s) in ds[p..].iter().enumerate() {
                axpy(dq, s, &qkv[j * w + k_at..][..dim]);
            }
        }
        // Key by key (each key's sums stay in cache): Σ_i d score · q_i and Σ_i p · dc_i over
        // the queries that see it.
        for j in 0..keys {
            dk.fill(0.0);
            dv.fill(0.0);
            for i in j.saturating_sub(p)..len {
                let ds = d_scores[i * keys + j];
                let pr = probs[(h * len + i) * keys + j];
                axpy(&mut dk, ds, &qkv[i * w + h * dim..][..dim]);
                axpy(&mut dv, pr, &d_context[i * cw + h * dim..][..dim]);
            }
            let (row, k_col, v_col) = match j.checked_sub(p) {
                None => (&mut d_prefix[j * kvw..][..kvw], g * dim, (heads.kv + g) * dim),
                Some(own) => (&mut d_qkv[own * w..][..w], k_at, v_at),
            };
            for (a, b) in row[k_col..k_col + dim].iter_mut().zip(&dk) {
                *a += b;
            }
            for (a, b) in row[v_col..v_col + dim].iter_mut().zip(&dv) {
                *a += b;
            }
        }
    }
}
}

#[inline(always)]
fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in row.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    for x in row.iter_mut() {
        *x /= sum;
    }
}
