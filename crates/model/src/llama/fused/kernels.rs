//! The fused path's CPU kernels: matrix products through `gemm` (the kernels burn-flex uses) with
//! free transposes and accumulation into the output, and row-wise RMSNorm, rotary and SwiGLU
//! passes with their hand-derived backwards (activation gradients only: the weights are frozen).

use rayon::prelude::*;

/// Products smaller than this many multiply-adds run on one thread (burn-flex's threshold).
const PARALLEL_MACS: usize = 192 * 192 * 192;
/// Rows per task of the row-wise passes: enough work to be worth a rayon task.
const ROWS_PER_TASK: usize = 8;

/// Defines `fn $name` to run its body compiled for AVX2 with FMA where the CPU has them (the
/// inlined [`dot`] and [`axpy`] then take 8 floats per fused multiply-add) and as baseline
/// x86-64 code elsewhere: the matmuls choose their kernels at run time, and so do these passes.
macro_rules! with_avx2 {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? $body
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has the features `avx2` is compiled for.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body
        }
    };
}
pub(super) use with_avx2;

/// How the right-hand matrix of [`matmul`] is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rhs {
    /// `[k, n]` row-major: `a · b`.
    Plain,
    /// `[n, k]` row-major, used as its transpose: `a · bᵀ`.
    Transposed,
}

/// `c [m, n] (+)= a [m, k] · b`: `accumulate` adds the product to what `c` holds (a residual or
/// a gradient sum) instead of overwriting it.
pub fn matmul(
    c: &mut [f32],
    a: &[f32],
    b: &[f32],
    rhs: Rhs,
    [m, k, n]: [usize; 3],
    accumulate: bool,
) {
    assert!(
        c.len() >= m * n && a.len() >= m * k && b.len() >= k * n,
        "matmul shapes"
    );
    if m == 0 || n == 0 {
        return;
    }
    let (b_rs, b_cs) = match rhs {
        Rhs::Plain => (n as isize, 1),
        Rhs::Transposed => (1, k as isize),
    };
    let parallelism = if m * n * k >= PARALLEL_MACS {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above keep every index gemm forms from these shapes and strides
    // inside the three slices, and `c` does not alias `a` or `b` (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// `Σ a[i] b[i]` with eight running sums, so the compiler can keep them in one vector register
/// (inlined into callers compiled for AVX2 and FMA, it becomes one fused multiply-add a step).
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            sums[i] = x[i].mul_add(y[i], sums[i]);
        }
    }
    sums.iter().sum::<f32>() + tail
}

/// `y += alpha · x`.
#[inline(always)]
pub fn axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = alpha.mul_add(*x, *y);
    }
}

/// RMSNorm of each `d`-wide row of `x` into `out` (`x / rms(x) · gamma`); each row's reciprocal
/// RMS goes to `inv_rms` for the backward.
pub fn rms_norm(out: &mut [f32], inv_rms: &mut [f32], x: &[f32], gamma: &[f32], eps: f32) {
    let d = gamma.len();
    out.par_chunks_mut(d)
        .zip(inv_rms.par_iter_mut())
        .zip(x.par_chunks(d))
        .with_min_len(ROWS_PER_TASK)
        .for_each(|((out, inv), x)| *inv = rms_norm_row(out, x, gamma, eps));
}

with_avx2! {
/// One row of [`rms_norm`]; returns its reciprocal RMS.
fn rms_norm_row(out: &mut [f32], x: &[f32], gamma: &[f32], eps: f32) -> f32 {
    let inv = 1.0 / (dot(x, x) / x.len() as f32 + eps).sqrt();
    for ((o, x), g) in out.iter_mut().zip(x).zip(gamma) {
        *o = x * inv * g;
    }
    inv
}
}

/// Adds to `dx` the gradient of [`rms_norm`] given the output gradient `dy`:
/// `r · (g⊙dy) − r³/d · x · Σ(g⊙dy⊙x)` per row, `r` the row's reciprocal RMS.
pub fn rms_norm_backward(dx: &mut [f32], dy: &[f32], x: &[f32], inv_rms: &[f32], gamma: &[f32]) {
    let d = gamma.len();
    dx.par_chunks_mut(d)
        .zip(dy.par_chunks(d))
        .zip(x.par_chunks(d))
        .zip(inv_rms.par_iter())
        .with_min_len(ROWS_PER_TASK)
        .for_each(|(((dx, dy), x), &r)| rms_norm_backward_row(dx, dy, x, r, gamma));
}

with_avx2! {
/// One row of [`rms_norm_backward`].
fn rms_norm_backward_row(dx: &mut [f32], dy: &[f32], x: &[f32], r: f32, gamma: &[f32]) {
    let mut projection = 0.0f32;
    for ((dy, x), g) in dy.iter().zip(x).zip(gamma) {
        projection = (dy * g).mul_add(*x, projection);
    }
    let coefficient = r * r * r * projection / x.len() as f32;
    for (((dx, dy), x), g) in dx.iter_mut().zip(dy).zip(x).zip(gamma) {
        *dx += r * g * dy - coefficient * x;
    }
}
}

/// Rotary tables: `cos` and `sin` `[positions, head_dim / 2]` (one angle per rotated pair).
#[derive(Debug, Clone)]
pub struct RopeTables {
    pub cos: Vec<f32>,
    pub sin: Vec<f32>,
    pub half: usize,
}

impl RopeTables {
    /// Rotates the `heads` heads at the start of `row` (transformers' `rotate_half` layout: the
    /// pair of coordinate `i` is `i + half`) to position `pos`; `inverse` rotates back (the
    /// backward of a rotation is its inverse).
    pub fn rotate(&self, row: &mut [f32], heads: usize, pos: usize, inverse: bool) {
        let half = self.half;
        let cos = &self.cos[pos * half..(pos + 1) * half];
        let sin = &self.sin[pos * half..(pos + 1) * half];
        let sign = if inverse { -1.0 } else { 1.0 };
        for head in row[..heads * 2 * half].chunks_exact_mut(2 * half) {
            let (x1, x2) = head.split_at_mut(half);
            for i in 0..half {
                let (a, b) = (x1[i], x2[i]);
                let s = sign * sin[i];
                x1[i] = a * cos[i] - b * s;
                x2[i] = b * cos[i] + a * s;
            }
        }
    }
}

/// SwiGLU: `h = silu(gate) · up` per row of `gate_up` (`[gate | up]`, each `ffn` wide).
pub fn swiglu(h: &mut [f32], gate_up: &[f32], ffn: usize) {
    h.par_chunks_mut(ffn)
        .zip(gate_up.par_chunks(2 * ffn))
        .with_min_len(ROWS_PER_TASK)
        .for_each(|(h, gu)| {
            let (gate, up) = gu.split_at(ffn);
            for ((h, g), u) in h.iter_mut().zip(gate).zip(up) {
                *h = g / (1.0 + (-g).exp()) * u;
            }
        });
}

/// The gradient of [`swiglu`] with respect to `[gate | up]`, given `dh`: `d up = dh · silu(g)`,
/// `d gate = dh · u · σ(g) (1 + g (1 − σ(g)))`.
pub fn swiglu_backward(d_gate_up: &mut [f32], dh: &[f32], gate_up: &[f32], ffn: usize) {
    d_gate_up
        .par_chunks_mut(2 * ffn)
        .zip(dh.par_chunks(ffn))
        .zip(gate_up.par_chunks(2 * ffn))
        .with_min_len(ROWS_PER_TASK)
        .for_each(|((dgu, dh), gu)| {
            let (gate, up) = gu.split_at(ffn);
            let (d_gate, d_up) = dgu.split_at_mut(ffn);
            for i in 0..ffn {
                let (g, u) = (gate[i], up[i]);
                let sigmoid = 1.0 / (1.0 + (-g).exp());
                d_up[i] = dh[i] * g * sigmoid;
                d_gate[i] = dh[i] * u * sigmoid * (1.0 + g * (1.0 - sigmoid));
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32, tol: f32) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    #[test]
    fn matmul_plain_transposed_and_accumulated() {
        // a [2, 3], b [3, 2]
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let mut c = [0.0; 4];
        matmul(&mut c, &a, &b, Rhs::Plain, [2, 3, 2], false);
        assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
        // bᵀ stored as [2, 3]
        let bt = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0];
        matmul(&mut c, &a, &bt, Rhs::Transposed, [2, 3, 2], true);
        assert_eq!(c, [8.0, 10.0, 20.0, 22.0]);
    }

    #[test]
    fn dot_covers_the_tail() {
        let a: Vec<f32> = (0..11).map(|i| i as f32).collect();
        assert_eq!(dot(&a, &a), (0..11).map(|i| (i * i) as f32).sum::<f32>());
    }

    /// Central differences of `f` at `x` along every coordinate.
    fn numeric_grad(x: &[f32], f: impl Fn(&[f32]) -> f32) -> Vec<f32> {
        (0..x.len())
            .map(|i| {
                let h = 1e-2;
                let (mut up, mut down) = (x.to_vec(), x.to_vec());
                up[i] += h;
                down[i] -= h;
                (f(&up) - f(&down)) / (2.0 * h)
            })
            .collect()
    }

    #[test]
    fn rms_norm_backward_matches_finite_differences() {
        let x = [0.3, -1.2, 0.8, 2.0, -0.5, 0.1, 0.7, -0.9];
        let gamma = [1.0, 0.5, -2.0, 1.5];
        let dy = [0.2, -0.4, 1.0, 0.3, -0.7, 0.5, 0.1, 0.9];
        let loss = |x: &[f32]| {
            let (mut y, mut r) = (vec![0.0; 8], vec![0.0; 2]);
            rms_norm(&mut y, &mut r, x, &gamma, 1e-5);
            dot(&y, &dy)
        };
        let (mut y, mut r) = (vec![0.0; 8], vec![0.0; 2]);
        rms_norm(&mut y, &mut r, &x, &gamma, 1e-5);
        let mut dx = vec![0.0; 8];
        rms_norm_backward(&mut dx, &dy, &x, &r, &gamma);
        for (a, b) in dx.iter().zip(numeric_grad(&x, loss)) {
            assert!(close(*a, b, 2e-3), "{dx:?}");
        }
    }

    #[test]
    fn swiglu_backward_matches_finite_differences() {
        let gu = [0.5, -1.5, 2.0, 0.3, 1.1, -0.4];
        let dh = [0.7, -0.2, 1.3];
        let loss = |gu: &[f32]| {
            let mut h = vec![0.0; 3];
            swiglu(&mut h, gu, 3);
            dot(&h, &dh)
        };
        let mut d = vec![0.0; 6];
        swiglu_backward(&mut d, &dh, &gu, 3);
        for (a, b) in d.iter().zip(numeric_grad(&gu, loss)) {
            assert!(close(*a, b, 2e-3), "{d:?}");
        }
    }

    #[test]
    fn rotation_and_its_inverse() {
        let tables = RopeTables {
            cos: vec![1.0, 1.0, 0.6, 0.8],
            sin: vec![0.0, 0.0, 0.8, 0.6],
            half: 2,
        };
        let x = [1.0, 2.0, 3.0, 4.0];
        let mut y = x;
        tables.rotate(&mut y, 1, 1, false);
        // pair (1, 3) by (cos 0.6, sin 0.8); pair (2, 4) by (0.8, 0.6)
        assert!(close(y[0], 1.0 * 0.6 - 3.0 * 0.8, 1e-6));
        assert!(close(y[2], 3.0 * 0.6 + 1.0 * 0.8, 1e-6));
        assert!(close(y[1], 2.0 * 0.8 - 4.0 * 0.6, 1e-6));
        tables.rotate(&mut y, 1, 1, true);
        for (a, b) in y.iter().zip(x) {
            assert!(close(*a, b, 1e-6));
        }
    }
}
