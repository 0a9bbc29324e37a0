//! The tokenizer built from GGUF metadata reproduces Hugging Face's SmolLM2 token ids, handles
//! special tokens, survives a tokenizer.json round trip, and reports bad metadata by key.

mod common;

use common::gguf_writer::{GgufWriter, s, strings};
use prompt_model::gguf::{GgufFile, MetadataValue};
use prompt_model::tokenizer::{
    SpecialTokenIds, TokenizerError, load_tokenizer_json, special_token_ids, tokenizer_from_gguf,
};
use serde_json::Value;
use tempfile::TempDir;
use tokenizers::Tokenizer;

fn smollm2() -> Tokenizer {
    tokenizer_from_gguf(&GgufFile::open(common::smollm2_gguf()).unwrap()).unwrap()
}

fn reference() -> Value {
    let path = common::shared_file("fixtures/smollm2_reference.json");
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
    let gguf = GgufFile::open(common::smollm2_gguf()).unwrap();
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
    let path = common::tiny_bert_dir().join("tokenizer.json");
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

#[test]
fn unsupported_model_and_pre_tokenizer() {
    let message = build(tiny("llama", "default")).unwrap_err();
    assert!(
        message.contains("`tokenizer.ggml.model` is `llama`"),
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
