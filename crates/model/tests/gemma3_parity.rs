//! Gemma-3-270M (the real Q4_K_M GGUF) against HF transformers in float64
//! (`../shared/fixtures/gemma3_reference.json`, whose `notes` give every convention): token
//! ids exactly; last-position logits, label logits, and a prompt-tuned forward/backward (a
//! fixed prompt before `<bos>`) within 1e-4 absolute or 1e-4 relative.
//!
//! The bound follows the fixture's `f32_scatter`, the largest difference between stock float32
//! transformers and its float64 values over 10 strings: up to 2.6e-5 absolute on logits,
//! 4.5e-3 absolute (4.2e-5 relative) on the k = 5 gradient norm, 1.9e-5 absolute (2e-3
//! relative, entries near zero) on k = 1 gradient entries. This crate's float32 differences are
//! of the same size (README, "Parity with HF transformers"); 1e-4 is four times the largest
//! absolute one measured and three times the largest relative one past the absolute bound.

mod common;

use burn::module::Module;
use burn::tensor::Device;
use common::{
    causal_quantities, gemma3_gguf, reported_quantities, requires_grad_flags, shared_file,
};
use prompt_model::reference::{Tolerance, Tolerances, check_reference};
use prompt_model::{Backbone, Gemma3};

#[test]
fn gemma3_meets_the_float64_transformers_reference() {
    let bound = Tolerance {
        abs: 1e-4,
        rel: 1e-4,
    };
    let report = check_reference(
        &shared_file("fixtures/gemma3_reference.json"),
        &gemma3_gguf(),
        &Device::flex(),
        Tolerances::uniform(bound),
    )
    .unwrap();
    println!("{report}");
    assert!(report.passed(), "{report}");
    // 4 tokenization examples and 5 cases (14 + 15 + 20 + 9 + 12 ids).
    let ids = 9 + 6 + 4 + 14 + (14 + 15 + 20 + 9 + 12);
    assert_eq!(
        reported_quantities(&report),
        causal_quantities(ids, 5, &["prompt1", "prompt5"])
    );
}

#[test]
fn gemma3_gguf_loads_frozen_with_every_parameter() {
    let model = Gemma3::from_gguf(&gemma3_gguf(), &Device::flex().autodiff()).unwrap();
    // 262,144 x 640 embedding, 18 blocks, final norm.
    assert_eq!(model.num_params(), 268_098_176);
    assert_eq!((model.hidden_size(), model.vocab_size()), (640, 262_144));
    assert_eq!(model.max_positions(), 8192);
    let frozen = requires_grad_flags(&model);
    assert_eq!(frozen.len(), 2 + 18 * 13);
    assert!(frozen.iter().all(|requires_grad| !requires_grad));
}
