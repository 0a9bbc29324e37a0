//! Which CPU matrix kernels this build runs: `gemm` picks AVX-512 or AVX2 at run time, and the
//! `x86-v4` feature decides whether the AVX-512 ones are compiled in at all. Floating-point
//! results differ in the last bits between the two, so runs report which one they used.

/// The f32 matmul kernel set `gemm` uses on this CPU with this build: `"avx512"`, `"avx2"`
/// (its FMA kernels) or `"portable"`. The same test as gemm's own dispatch (`init_gemm_fn` in
/// gemm-common): AVX-512F when compiled in, else FMA, else scalar code.
pub fn matmul_kernels() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if cfg!(feature = "x86-v4") && std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512";
        }
        if std::arch::is_x86_feature_detected!("fma") {
            return "avx2";
        }
    }
    "portable"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_one_of_the_known_kernel_sets() {
        assert!(["avx512", "avx2", "portable"].contains(&matmul_kernels()));
        #[cfg(not(feature = "x86-v4"))]
        assert_ne!(matmul_kernels(), "avx512");
    }
}
