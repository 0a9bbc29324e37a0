//! SmolLM2-135M-Instruct (the real GGUF) against HF transformers: token ids, last-position
//! logits, and a prompt-tuned forward/backward, within 1e-3 absolute or 1e-4 relative (one
//! ill-conditioned quantity excepted, below).
//!
//! Two references at the same bounds: `../shared/fixtures/smollm2_reference.json` (transformers
//! in float64, the fixed prompt built in float64 and rounded to float32), and
//! `tests/fixtures/smollm2_hf.json`, the same inputs recomputed by `tools/hf_reference.py`
//! (transformers 5, torch 2.11, f32, CPU).
//!
//! One quantity is ill-conditioned: `prompt1.grad_norm`, the prompt-gradient norm of the
//! one-row prompt, whose worst case is case 0.
//! f32 implementations scatter around the float64 value there, by the matmul kernels' summation
//! order: transformers' f32 run is 8.3e-5 (relative) away from it, this crate 1.3e-4 with the
//! AVX-512 kernels and 2.2e-4 with the AVX2 ones (on a Xeon), while the k = 5 gradient norms
//! are within 1e-5. That quantity gets 5e-4 relative, twice the largest scatter measured; every
//! other quantity is held to the default bounds.

mod common;

use burn::module::Module;
use burn::tensor::Device;
use common::{
    causal_quantities, reported_quantities, requires_grad_flags, shared_file, smollm2_gguf,
};
use prompt_model::reference::{Tolerances, check_reference};
use prompt_model::{Backbone, Llama};

/// Relative bound of the ill-conditioned `prompt1.grad_norm` (see the module docs).
const ILL_CONDITIONED_REL: f64 = 5e-4;

/// Checks the real model against `reference` at the default bounds, the ill-conditioned
/// quantity at its own, and asserts every quantity is there.
fn assert_matches(reference: &std::path::Path) {
    let report = check_reference(
        reference,
        &smollm2_gguf(),
        &Device::flex(),
        Tolerances::default(),
    )
    .unwrap();
    println!("{report}");
    for check in &report.checks {
        if check.name == "prompt1.grad_norm" {
            assert!(check.max_rel <= ILL_CONDITIONED_REL, "{report}");
        } else {
            assert!(check.passed, "{}: {report}", check.name);
        }
    }
    assert_eq!(
        reported_quantities(&report),
        causal_quantities(5 + 17 + 15 + 21, 4, &["prompt1", "prompt5"])
    );
}

#[test]
fn smollm2_matches_transformers_recomputed_in_f32() {
    let reference =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smollm2_hf.json");
    assert_matches(&reference);
}

#[test]
fn smollm2_meets_the_shared_float64_transformers_reference() {
    assert_matches(&shared_file("fixtures/smollm2_reference.json"));
}

#[test]
fn smollm2_gguf_has_the_documented_shape_and_loads_frozen() {
    let path = smollm2_gguf();
    let model = Llama::from_gguf(&path, &Device::flex().autodiff()).unwrap();
    assert_eq!(model.num_params(), 134_515_008);
    assert_eq!((model.hidden_size(), model.vocab_size()), (576, 49152));
    let frozen = requires_grad_flags(&model);
    assert_eq!(frozen.len(), 2 + 30 * 9);
    assert!(frozen.iter().all(|requires_grad| !requires_grad));
}
