//! The real Gemma-3-270M Q4_K_M GGUF: its config, its tensor types, and its tensors of every
//! type (Q8_0, Q5_0, Q4_K, Q6_K, F32) dequantized exactly as gguf-py does (the values
//! transformers loads), per `gemma3_reference.json`'s `dequant_checks`.

use std::collections::BTreeMap;

use crate::gguf::GgufFile;
use crate::test_support::{gemma3_gguf, gemma3_reference};
use crate::{Gemma3Config, ModelFamily};
use serde_json::Value;

#[test]
fn config_is_read_from_the_metadata() {
    assert_eq!(
        ModelFamily::detect(gemma3_gguf()).unwrap(),
        ModelFamily::Gemma3
    );
    let gguf = GgufFile::open(gemma3_gguf()).unwrap();
    let config = Gemma3Config::from_gguf(&gguf).unwrap();
    assert_eq!(
        config,
        Gemma3Config {
            vocab_size: 262_144,
            hidden_size: 640,
            intermediate_size: 2048,
            num_hidden_layers: 18,
            num_attention_heads: 4,
            num_key_value_heads: 1,
            head_dim: 256,
            rms_norm_eps: f64::from(1e-6f32),
            rope_theta: 1e6,
            rope_local_base_freq: 1e4,
            sliding_window: 512,
            sliding_window_pattern: 6,
            max_position_embeddings: 8192,
        }
    );
    // The fixture's layer types: layers 5, 11 and 17 are global.
    let reference = gemma3_reference();
    let types = reference["config"]["layer_types"].as_array().unwrap();
    for (i, kind) in types.iter().enumerate() {
        assert_eq!(config.is_global(i), kind == "full_attention", "layer {i}");
    }
    assert_eq!(
        config.rms_norm_eps,
        reference["config"]["rms_norm_eps"].as_f64().unwrap()
    );
}

#[test]
fn tensor_types_are_those_of_the_fixture() {
    let gguf = GgufFile::open(gemma3_gguf()).unwrap();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for tensor in gguf.tensors() {
        *counts.entry(tensor.ggml_type().to_string()).or_default() += 1;
    }
    let expected: BTreeMap<String, u64> =
        serde_json::from_value(gemma3_reference()["gguf_tensor_types"].clone()).unwrap();
    assert_eq!(counts, expected);
}

/// Each checked tensor: the first 8 values of its row 0 (or of row `row`) equal gguf-py's
/// bit for bit, and the f64 sum of all its values equals gguf-py's to rounding of the sum.
/// Norm weights are stored as `1 + w` and the fixture holds transformers' `w` (see the
/// fixture's notes), so those are compared less 1.
#[test]
fn every_tensor_type_dequantizes_as_gguf_py_does() {
    let gguf = GgufFile::open(gemma3_gguf()).unwrap();
    let reference = gemma3_reference();
    let checks = reference["dequant_checks"].as_array().unwrap();
    let floats = |v: &Value| -> Vec<f32> { serde_json::from_value(v.clone()).unwrap() };
    let mut types = Vec::new();
    for check in checks {
        let name = check["gguf"].as_str().unwrap();
        let info = gguf.tensor_info(name).unwrap();
        assert_eq!(
            info.ggml_type().to_string(),
            check["type"].as_str().unwrap()
        );
        types.push(check["type"].as_str().unwrap().to_string());
        let (shape, mut values) = gguf.tensor_f32(name).unwrap();
        if name.ends_with("norm.weight") {
            values.iter_mut().for_each(|v| *v -= 1.0);
        }
        let cols = *shape.last().unwrap();
        let (row, first8) = match check.get("row") {
            Some(row) => (row.as_u64().unwrap() as usize, floats(&check["row_first8"])),
            None => (0, floats(&check["row0_first8"])),
        };
        assert_eq!(values[row * cols..row * cols + 8], first8[..], "{name}");
        if let Some(sum) = check.get("sum_f64") {
            let expected: Vec<usize> = serde_json::from_value(check["shape"].clone()).unwrap();
            assert_eq!(shape, expected, "{name}");
            let found: f64 = values.iter().map(|&v| f64::from(v)).sum();
            let sum = sum.as_f64().unwrap();
            assert!(
                (found - sum).abs() <= 1e-9 * sum.abs().max(1.0),
                "{name}: sum {found} vs {sum}"
            );
        }
    }
    types.sort();
    types.dedup();
    assert_eq!(types, ["F32", "Q4_K", "Q5_0", "Q6_K", "Q8_0"]);
}
