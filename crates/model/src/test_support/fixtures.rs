//! Tiny model shapes, where the shared fixtures and cached models live, and float helpers. The
//! crate's unit tests (`src/test_support`) and its integration tests (`tests/common`) both
//! compile this one file; each parent module brings the crate's `cache`, `LlamaConfig` and
//! `Gemma3Config` into scope for it as `super::…`.

use std::path::PathBuf;

/// The shared read-only inputs: `$PROMPT_TUNING_SHARED`, else `<workspace root>/../shared`.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("PROMPT_TUNING_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// A file under [`shared_dir`]; fails saying how to fix it when the file is missing.
pub fn shared_file(relative: &str) -> PathBuf {
    let path = shared_dir().join(relative);
    assert!(
        path.is_file(),
        "{} is missing: set PROMPT_TUNING_SHARED to the folder holding assets/ and fixtures/",
        path.display()
    );
    path
}

/// The tiny random `BertForMaskedLM` fixture directory; fails saying how to get it.
pub fn tiny_bert_dir() -> PathBuf {
    let dir = shared_dir().join("fixtures/tiny-bert-mlm");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} is missing: set PROMPT_TUNING_SHARED to the folder holding fixtures/tiny-bert-mlm",
        dir.display()
    );
    dir
}

/// The Gemma 3 reference outputs of HF transformers (`gemma3_reference.json`), parsed.
pub fn gemma3_reference() -> serde_json::Value {
    let path = shared_file("fixtures/gemma3_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A known model's file in the model cache; fails saying how to get it.
fn cached(model: super::cache::KnownModel) -> PathBuf {
    let path = model.cached_path();
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask fetch {}`",
        path.display(),
        model.name
    );
    path
}

/// The SmolLM2-135M-Instruct Q4_1 GGUF in the model cache; fails saying how to get it.
pub fn smollm2_gguf() -> PathBuf {
    cached(super::cache::SMOLLM2_135M_INSTRUCT)
}

/// The Gemma-3-270M Q4_K_M GGUF in the model cache; fails saying how to get it.
pub fn gemma3_gguf() -> PathBuf {
    cached(super::cache::GEMMA_3_270M)
}

/// Values of a float tensor as `f32`.
pub fn floats<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_into_vec_as::<f32>()
        .expect("float tensor")
}

/// Largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A llama shape small enough for fast tests, with grouped-query attention (4 query heads
/// sharing 2 key/value heads) like SmolLM2.
pub fn tiny_llama_config() -> super::LlamaConfig {
    super::LlamaConfig {
        vocab_size: 64,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 4,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        max_position_embeddings: 64,
        tie_word_embeddings: true,
    }
}

/// A Gemma 3 shape small enough for fast tests: 3 layers (the last global), windows of 3
/// positions, 2 query heads sharing 1 key/value head of the 256 values Gemma's query scale
/// assumes.
pub fn tiny_gemma3_config() -> super::Gemma3Config {
    super::Gemma3Config {
        vocab_size: 64,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 3,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        head_dim: 256,
        rms_norm_eps: 1e-6,
        rope_theta: 1e6,
        rope_local_base_freq: 1e4,
        sliding_window: 3,
        sliding_window_pattern: 3,
        max_position_embeddings: 64,
    }
}
