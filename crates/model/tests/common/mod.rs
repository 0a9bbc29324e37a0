//! Helpers shared by the integration tests: where the shared fixtures live.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

pub mod gguf_writer;

/// The shared read-only inputs: `$PROMPT_TUNING_SHARED`, else `<workspace root>/../shared`.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("PROMPT_TUNING_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
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

/// A llama shape small enough for fast tests, with grouped-query attention (4 query heads
/// sharing 2 key/value heads) like SmolLM2.
pub fn tiny_llama_config() -> prompt_model::LlamaConfig {
    prompt_model::LlamaConfig {
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
pub fn tiny_gemma3_config() -> prompt_model::Gemma3Config {
    prompt_model::Gemma3Config {
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

/// Right-padded token ids `[B, L]` and their mask (`true` on real tokens).
pub fn padded_ids(
    rows: &[&[i64]],
    device: &burn::tensor::Device,
) -> (
    burn::tensor::Tensor<2, burn::tensor::Int>,
    burn::tensor::Tensor<2, burn::tensor::Bool>,
) {
    use burn::tensor::{Tensor, TensorData};
    let len = rows.iter().map(|r| r.len()).max().unwrap();
    let mut data = Vec::new();
    let mut mask = Vec::new();
    for row in rows {
        for j in 0..len {
            data.push(row.get(j).copied().unwrap_or(0));
            mask.push(j < row.len());
        }
    }
    (
        Tensor::from_data(TensorData::new(data, [rows.len(), len]), device),
        Tensor::from_data(TensorData::new(mask, [rows.len(), len]), device),
    )
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

/// A known model's file in the model cache; fails saying how to get it.
fn cached(model: prompt_model::cache::KnownModel) -> PathBuf {
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
    cached(prompt_model::cache::SMOLLM2_135M_INSTRUCT)
}

/// The Gemma-3-270M Q4_K_M GGUF in the model cache; fails saying how to get it.
pub fn gemma3_gguf() -> PathBuf {
    cached(prompt_model::cache::GEMMA_3_270M)
}

/// The Gemma 3 reference outputs of HF transformers (`gemma3_reference.json`), parsed.
pub fn gemma3_reference() -> serde_json::Value {
    let path = shared_file("fixtures/gemma3_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Right-padded batch: ids, mask, answer positions (each row's last real token).
pub fn batch(
    rows: &[&[i64]],
    device: &Device,
) -> (Tensor<2, Int>, Tensor<2, Bool>, Tensor<1, Int>) {
    let len = rows.iter().map(|r| r.len()).max().unwrap();
    let mut ids = Vec::new();
    let mut mask = Vec::new();
    for row in rows {
        for j in 0..len {
            ids.push(row.get(j).copied().unwrap_or(0));
            mask.push(j < row.len());
        }
    }
    let answer: Vec<i64> = rows.iter().map(|r| r.len() as i64 - 1).collect();
    let n = rows.len();
    (
        Tensor::from_data(TensorData::new(ids, [n, len]), device),
        Tensor::from_data(TensorData::new(mask, [n, len]), device),
        Tensor::from_data(TensorData::new(answer, [n]), device),
    )
}

/// The quantities a causal-LM reference check reports, with how many values each compares:
/// `ids` ids in all, `cases` cases, and the `prompt{k}` entries `prompts` of every case.
pub fn causal_quantities(ids: usize, cases: usize, prompts: &[&str]) -> Vec<(String, usize)> {
    let mut expected = vec![
        ("ids".to_string(), ids),
        ("last_logits_first16".to_string(), cases * 16),
        ("top10_ids".to_string(), cases * 10),
        ("top10_logits".to_string(), cases * 10),
        ("label_logits".to_string(), cases * 2),
    ];
    for k in prompts {
        expected.push((format!("{k}.label_logits"), cases * 2));
        expected.push((format!("{k}.loss"), cases));
        expected.push((format!("{k}.grad_norm"), cases));
        expected.push((format!("{k}.grad_row0_first8"), cases * 8));
    }
    expected
}

/// The quantity names and value counts of a reference report.
pub fn reported_quantities(
    report: &prompt_model::reference::ReferenceReport,
) -> Vec<(String, usize)> {
    report
        .checks
        .iter()
        .map(|c| (c.name.clone(), c.count))
        .collect()
}

/// Whether each float parameter of `module` requires a gradient, in visiting order.
pub fn requires_grad_flags(module: &impl burn::module::Module) -> Vec<bool> {
    struct Flags(Vec<bool>);
    impl burn::module::ModuleVisitor for Flags {
        fn visit_float<const D: usize>(
            &mut self,
            param: &burn::module::Param<burn::tensor::Tensor<D>>,
        ) {
            self.0.push(param.val().is_require_grad());
        }
    }
    let mut flags = Flags(Vec::new());
    module.visit(&mut flags);
    flags.0
}
