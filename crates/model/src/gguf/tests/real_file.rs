//! The real SmolLM2-135M-Instruct Q4_1 GGUF: metadata, tensor directory, and dequantized
//! values checked against values computed independently from the file's bytes.

use crate::gguf::{GgmlType, GgufFile, MetadataValue};
use crate::test_support;
use crate::weights::WeightSource;

fn open() -> GgufFile {
    GgufFile::open(test_support::smollm2_gguf()).unwrap()
}

#[test]
fn metadata_describes_smollm2() {
    let gguf = open();
    assert_eq!(gguf.version(), 3);
    assert_eq!(gguf.get_str("general.architecture").unwrap(), "llama");
    assert_eq!(gguf.get_u64("llama.block_count").unwrap(), 30);
    assert_eq!(gguf.get_u64("llama.embedding_length").unwrap(), 576);
    assert_eq!(gguf.get_u64("llama.feed_forward_length").unwrap(), 1536);
    assert_eq!(gguf.get_u64("llama.attention.head_count").unwrap(), 9);
    assert_eq!(gguf.get_u64("llama.attention.head_count_kv").unwrap(), 3);
    assert_eq!(gguf.get_u64("llama.vocab_size").unwrap(), 49152);
    assert_eq!(gguf.get_f32("llama.rope.freq_base").unwrap(), 100_000.0);
    assert_eq!(
        gguf.get_f32("llama.attention.layer_norm_rms_epsilon")
            .unwrap(),
        1e-5
    );
    assert_eq!(
        gguf.get_array("tokenizer.ggml.tokens").unwrap().len(),
        49152
    );
    assert_eq!(
        gguf.get_array("tokenizer.ggml.merges").unwrap().len(),
        48900
    );
    assert_eq!(
        gguf.metadata("tokenizer.ggml.add_bos_token"),
        Some(&MetadataValue::Bool(false))
    );
    assert_eq!(gguf.metadata_keys().count(), 33);
}

#[test]
fn tensor_directory_matches_the_model() {
    let gguf = open();
    assert_eq!(gguf.tensors().len(), 272);
    let total: usize = gguf.tensors().iter().map(|t| t.element_count()).sum();
    assert_eq!(total, 134_515_008);
    let embd = gguf.tensor_info("token_embd.weight").unwrap();
    assert_eq!(embd.shape(), [49152, 576]);
    assert_eq!(embd.ggml_type(), GgmlType::Q8_0);
    assert_eq!(
        gguf.tensor_shape("blk.0.ffn_down.weight").unwrap(),
        [576, 1536]
    );
    assert_eq!(
        gguf.tensor_shape("blk.0.attn_k.weight").unwrap(),
        [192, 576]
    );
    assert_eq!(
        gguf.tensor_info("blk.29.ffn_gate.weight")
            .unwrap()
            .ggml_type(),
        GgmlType::Q4_1
    );
    assert_eq!(
        gguf.tensor_info("output_norm.weight").unwrap().ggml_type(),
        GgmlType::F32
    );
    assert_eq!(
        gguf.tensor_names()[..2],
        ["token_embd.weight", "blk.0.attn_norm.weight"]
    );
    assert_eq!(gguf.tensor_shape("output.weight"), None);
}

/// Expected values were computed from the file's bytes with Python's `struct` (f16 scales,
/// `q * d` for Q8_0, `q * d + m` for Q4_1).
#[test]
fn dequantized_values_match_the_bytes() {
    let gguf = open();
    let (shape, embd) = gguf.tensor_f32("token_embd.weight").unwrap();
    assert_eq!(shape, [49152, 576]);
    assert_eq!(embd.len(), 49152 * 576);
    assert_eq!(
        embd[..4],
        [-0.106_544_495, 0.032_978_058, 0.048_198_7, -0.022_830_963]
    );
    assert_eq!(embd[16..18], [-0.007_610_321, 0.083_713_53]);

    let (_, q) = gguf.tensor_f32("blk.0.attn_q.weight").unwrap();
    assert_eq!(
        q[..4],
        [-0.096_313_48, 0.157_348_63, -0.096_313_48, -0.730_468_75]
    );
    assert_eq!(q[16..18], [-0.223_144_53, 0.284_179_7]);

    let (shape, norm) = gguf.tensor_f32("output_norm.weight").unwrap();
    assert_eq!(shape, [576]);
    assert_eq!(norm[..4], [1.757_812_5, 1.820_312_5, 1.781_25, 1.601_562_5]);
}

#[test]
fn every_tensor_dequantizes_to_plausible_values() {
    let gguf = open();
    let mut total = 0;
    for name in gguf.tensor_names() {
        let (shape, values) = gguf.read_f32(&name).unwrap().unwrap();
        assert_eq!(values.len(), shape.iter().product::<usize>(), "{name}");
        let max = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            values.iter().all(|v| v.is_finite()),
            "{name} has non-finite values"
        );
        assert!(max > 1e-3 && max < 100.0, "{name}: max |x| = {max}");
        total += values.len();
    }
    assert_eq!(total, 134_515_008);
    assert!(gguf.read_f32("no.such.tensor").is_none());
}
