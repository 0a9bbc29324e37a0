//! The tokenizer built from GGUF metadata reproduces Hugging Face's SmolLM2 token ids, handles
//! special tokens, survives a tokenizer.json round trip, and reports bad metadata by key.

use crate::gguf::{GgufFile, MetadataValue};
use crate::test_support;
use crate::test_support::gguf_writer::{GgufWriter, s, strings};
use crate::tokenizer::{
    SpecialTokenIds, TokenizerError, load_tokenizer_json, special_token_ids, tokenizer_from_gguf,
};
use serde_json::Value;
use tempfile::TempDir;
use tokenizers::Tokenizer;

fn smollm2() -> Tokenizer {
    tokenizer_from_gguf(&GgufFile::open(test_support::smollm2_gguf()).unwrap()).unwrap()
}

fn reference() -> Value {
    let path = test_support::shared_file("fixtures/smollm2_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ids_of(value: &Value) -> Vec<u32> {
    serde_json::from_value(value.clone()).unwrap()
}

fn encode(tokenizer: &Tokenizer, text: &str) -> Vec<u32> {
    tokenizer.encode(text, true).unwrap().get_ids().to_vec()
}

#[test]
fn ids_match_hugging_face_and_decode_back() {
    let tokenizer = smollm2();
    let reference = reference();
    let cases = reference["cases"].as_array().unwrap();
    assert!(cases.len() >= 4);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let expected = ids_of(&case["ids"]);
        assert_eq!(encode(&tokenizer, text), expected, "{text:?}");
        // No BOS or EOS is added, with or without special tokens.
        assert_eq!(
            tokenizer.encode(text, false).unwrap().get_ids(),
            expected,
            "{text:?}"
        );
        assert_eq!(tokenizer.decode(&expected, false).unwrap(), text);
    }
    let words = reference["label_words"].as_array().unwrap();
    let label_ids = ids_of(&reference["label_ids"]);
    for (word, id) in words.iter().zip(label_ids) {
        assert_eq!(encode(&tokenizer, word.as_str().unwrap()), [id]);
    }
}

#[test]
fn digits_are_split_one_by_one() {
    let tokenizer = smollm2();
    let ids = encode(&tokenizer, "2024");
    assert_eq!(ids.len(), 4);
    assert_eq!(tokenizer.decode(&ids, false).unwrap(), "2024");
}

#[test]
fn control_tokens_are_special() {
    let tokenizer = smollm2();
    let text = "<|im_start|>user\nhi<|im_end|>";
    let ids = encode(&tokenizer, text);
    assert_eq!(ids.first(), Some(&1));
    assert_eq!(ids.last(), Some(&2));
    assert_eq!(ids[1..ids.len() - 1], encode(&tokenizer, "user\nhi"));
    assert_eq!(tokenizer.decode(&ids, false).unwrap(), text);
    assert_eq!(tokenizer.decode(&ids, true).unwrap(), "user\nhi");
    assert_eq!(tokenizer.token_to_id("<empty_output>"), Some(16));
    assert_eq!(tokenizer.get_vocab_size(true), 49152);
}

#[test]
fn special_ids_come_from_metadata() {
    let gguf = GgufFile::open(test_support::smollm2_gguf()).unwrap();
    assert_eq!(
        special_token_ids(&gguf).unwrap(),
        SpecialTokenIds {
            bos: Some(1),
            eos: Some(2),
            unk: Some(0),
            pad: Some(2),
        }
    );
}

#[test]
fn saved_as_tokenizer_json_it_loads_back_identically() {
    let tokenizer = smollm2();
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("tokenizer.json");
    tokenizer.save(&path, false).unwrap();
    let loaded = load_tokenizer_json(&path).unwrap();
    for case in reference()["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        assert_eq!(encode(&loaded, text), ids_of(&case["ids"]), "{text:?}");
    }
}

#[test]
fn hugging_face_tokenizer_json_loads() {
    let path = test_support::tiny_bert_dir().join("tokenizer.json");
    let tokenizer = load_tokenizer_json(&path).unwrap();
    let encoding = tokenizer.encode("hello world", true).unwrap();
    // This tokenizer.json pads to a fixed length.
    assert_eq!(
        encoding.get_tokens()[..4],
        ["[CLS]", "hello", "world", "[SEP]"]
    );
}

#[test]
fn unreadable_tokenizer_json_names_the_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("tokenizer.json");
    let err = load_tokenizer_json(&path).unwrap_err();
    assert!(matches!(err, TokenizerError::Json { .. }));
    assert!(
        err.to_string()
            .starts_with(&format!("cannot load tokenizer {}", path.display()))
    );
    std::fs::write(&path, "{ not json").unwrap();
    let message = load_tokenizer_json(&path).unwrap_err().to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
}

/// A tiny byte-level BPE vocabulary: "a", "b", "ab" and one control token.
fn tiny(model: &str, pre: &str) -> GgufWriter {
    GgufWriter::new(3)
        .kv("tokenizer.ggml.model", s(model))
        .kv("tokenizer.ggml.pre", s(pre))
        .kv(
            "tokenizer.ggml.tokens",
            strings(&["<s>", "a", "b", "ab", "Ġ"]),
        )
        .kv("tokenizer.ggml.merges", strings(&["a b"]))
        .kv(
            "tokenizer.ggml.token_type",
            MetadataValue::Array([3, 1, 1, 1, 1].map(MetadataValue::I32).to_vec()),
        )
        .kv("tokenizer.ggml.bos_token_id", MetadataValue::U32(0))
}

/// Builds the tokenizer of `writer`'s file; on failure returns the message, checked to name
/// the file.
fn build(writer: GgufWriter) -> Result<Tokenizer, String> {
    let dir = TempDir::new().unwrap();
    let path = writer.write(dir.path(), "tok.gguf");
    let gguf = GgufFile::open(&path).unwrap();
    tokenizer_from_gguf(&gguf).map_err(|err| {
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        message
    })
}

#[test]
fn tiny_vocabulary_merges_and_adds_bos_when_asked() {
    let tokenizer = build(tiny("gpt2", "default")).unwrap();
    assert_eq!(encode(&tokenizer, "ab a<s>"), [3, 4, 1, 0]);
    let with_bos =
        tiny("gpt2", "gpt2").kv("tokenizer.ggml.add_bos_token", MetadataValue::Bool(true));
    let tokenizer = build(with_bos).unwrap();
    assert_eq!(encode(&tokenizer, "ab"), [0, 3]);
    assert_eq!(tokenizer.encode("ab", false).unwrap().get_ids(), [3]);
}

/// A tiny SentencePiece vocabulary (ranked by `scores`), as the `architecture` stores it, with
/// `add_space_prefix` false.
fn tiny_spm(architecture: &str, scores: &[f32]) -> GgufWriter {
    tiny_spm_without_prefix_flag(architecture, scores).kv(
        "tokenizer.ggml.add_space_prefix",
        MetadataValue::Bool(false),
    )
}

fn tiny_spm_without_prefix_flag(architecture: &str, scores: &[f32]) -> GgufWriter {
    GgufWriter::new(3)
        .kv("general.architecture", s(architecture))
        .kv("tokenizer.ggml.model", s("llama"))
        .kv(
            "tokenizer.ggml.tokens",
            strings(&[
                "<unk>", "<s>", "<0xC3>", "<0xA9>", "▁", "a", "b", "ab", "▁a", "  ", "<ctl>",
            ]),
        )
        .kv(
            "tokenizer.ggml.scores",
            MetadataValue::Array(scores.iter().map(|&v| MetadataValue::F32(v)).collect()),
        )
        .kv(
            "tokenizer.ggml.token_type",
            MetadataValue::Array(
                [2, 3, 6, 6, 1, 1, 1, 1, 1, 4, 3]
                    .map(MetadataValue::I32)
                    .to_vec(),
            ),
        )
        .kv("tokenizer.ggml.unknown_token_id", MetadataValue::U32(0))
        .kv("tokenizer.ggml.bos_token_id", MetadataValue::U32(1))
}

#[test]
fn sentencepiece_vocabulary_from_metadata() {
    // "▁a" scores above "ab": "▁ab" becomes "▁a" + "b".
    let scores = [0.0, 0.0, 0.0, 0.0, -1.0, -1.0, -1.0, -3.0, -2.0, -4.0, 0.0];
    let tokenizer = build(tiny_spm("llama", &scores)).unwrap();
    let ids = |text: &str| tokenizer.encode(text, false).unwrap().get_ids().to_vec();
    assert_eq!(ids(" ab"), [8, 6]);
    // Spaces are ▁ (two of them the respelled "  " token), with no prefix space.
    assert_eq!(ids("a  b"), [5, 9, 6]);
    // é is not a token: its UTF-8 bytes are; a control token is matched whole.
    assert_eq!(ids("é<ctl>"), [2, 3, 10]);
    assert_eq!(tokenizer.decode(&[5, 9, 6, 2, 3], false).unwrap(), "a  bé");
    // Without `add_bos_token`, SentencePiece files get BOS (llama.cpp's default).
    assert_eq!(encode(&tokenizer, "a"), [1, 5]);
    let no_bos =
        tiny_spm("llama", &scores).kv("tokenizer.ggml.add_bos_token", MetadataValue::Bool(false));
    assert_eq!(encode(&build(no_bos).unwrap(), "a"), [5]);
    // Gemma ranks merges by position, not score: "ab" (id 7) before "▁a" (id 8).
    let tokenizer = build(tiny_spm("gemma3", &scores)).unwrap();
    assert_eq!(tokenizer.encode(" ab", false).unwrap().get_ids(), [4, 7]);
}

#[test]
fn sentencepiece_with_a_prefix_space_is_refused() {
    let scores = [0.0; 11];
    for prefix in [None, Some(true)] {
        let mut writer = tiny_spm_without_prefix_flag("llama", &scores);
        if let Some(prefix) = prefix {
            writer = writer.kv(
                "tokenizer.ggml.add_space_prefix",
                MetadataValue::Bool(prefix),
            );
        }
        let message = build(writer).unwrap_err();
        assert!(
            message.contains("`tokenizer.ggml.add_space_prefix` is not false"),
            "{message}"
        );
    }
    let message = build(tiny_spm("llama", &[0.0; 3])).unwrap_err();
    assert!(
        message
            .contains("`tokenizer.ggml.scores` has 3 entries but `tokenizer.ggml.tokens` has 11"),
        "{message}"
    );
}

#[test]
fn unsupported_model_and_pre_tokenizer() {
    let message = build(tiny("t5", "default")).unwrap_err();
    assert!(
        message
            .contains("`tokenizer.ggml.model` is `t5`; only `gpt2` (byte-level BPE) and `llama`"),
        "{message}"
    );
    let message = build(tiny("gpt2", "qwen2")).unwrap_err();
    assert!(
        message.contains("`tokenizer.ggml.pre` is `qwen2`"),
        "{message}"
    );
    assert!(
        message.contains("supported: default, gpt2, smollm"),
        "{message}"
    );
}

#[test]
fn bad_metadata_names_the_key() {
    let message = build(GgufWriter::new(3).kv("tokenizer.ggml.model", s("gpt2"))).unwrap_err();
    assert!(
        message.contains("no metadata key `tokenizer.ggml.tokens`"),
        "{message}"
    );

    let writer = tiny("gpt2", "default").kv("tokenizer.ggml.eos_token_id", MetadataValue::U32(9));
    let message = build(writer).unwrap_err();
    assert!(
        message.contains("`tokenizer.ggml.eos_token_id` is 9 but the vocabulary has 5 tokens"),
        "{message}"
    );

    let writer = tiny("gpt2", "default").kv("tokenizer.ggml.unknown_token_id", s("zero"));
    let message = build(writer).unwrap_err();
    assert!(
        message.contains("`tokenizer.ggml.unknown_token_id` holds a string"),
        "{message}"
    );
}

#[test]
fn bad_arrays_name_the_element() {
    let bad_merge = GgufWriter::new(3)
        .kv("tokenizer.ggml.model", s("gpt2"))
        .kv("tokenizer.ggml.tokens", strings(&["a", "b", "ab"]))
        .kv("tokenizer.ggml.merges", strings(&["a b", "ab"]));
    let message = build(bad_merge).unwrap_err();
    assert!(
        message.contains("merge 1 of `tokenizer.ggml.merges` is \"ab\""),
        "{message}"
    );

    let bad_token = GgufWriter::new(3)
        .kv("tokenizer.ggml.model", s("gpt2"))
        .kv(
            "tokenizer.ggml.tokens",
            MetadataValue::Array(vec![MetadataValue::U8(1); 2]),
        )
        .kv("tokenizer.ggml.merges", strings(&[]));
    let message = build(bad_token).unwrap_err();
    assert!(
        message.contains("element 0 of `tokenizer.ggml.tokens` is a u8, expected string"),
        "{message}"
    );

    let short_types = GgufWriter::new(3)
        .kv("tokenizer.ggml.model", s("gpt2"))
        .kv("tokenizer.ggml.tokens", strings(&["a", "b"]))
        .kv("tokenizer.ggml.merges", strings(&[]))
        .kv(
            "tokenizer.ggml.token_type",
            MetadataValue::Array(vec![MetadataValue::I32(1)]),
        );
    let message = build(short_types).unwrap_err();
    assert!(
        message.contains(
            "`tokenizer.ggml.token_type` has 1 entries but `tokenizer.ggml.tokens` has 2"
        ),
        "{message}"
    );

    let unknown_merge_token = GgufWriter::new(3)
        .kv("tokenizer.ggml.model", s("gpt2"))
        .kv("tokenizer.ggml.tokens", strings(&["a", "b"]))
        .kv("tokenizer.ggml.merges", strings(&["a c"]));
    let message = build(unknown_merge_token).unwrap_err();
    assert!(
        message.contains("cannot build a tokenizer from `tokenizer.ggml.*`"),
        "{message}"
    );
}
