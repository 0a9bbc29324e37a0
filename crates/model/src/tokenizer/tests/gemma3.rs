//! The SentencePiece tokenizer built from Gemma-3-270M's GGUF metadata gives transformers' ids
//! (`gemma3_reference.json`) on every fixture text, Chinese included, adds `<bos>`, and makes
//! each label word of the fixture one token.

use crate::gguf::GgufFile;
use crate::test_support::{gemma3_gguf, gemma3_reference};
use crate::tokenizer::tokenizer_from_gguf;
use serde_json::Value;
use tokenizers::Tokenizer;

fn gemma3() -> Tokenizer {
    tokenizer_from_gguf(&GgufFile::open(gemma3_gguf()).unwrap()).unwrap()
}

fn ids_of(value: &Value) -> Vec<u32> {
    serde_json::from_value(value.clone()).unwrap()
}

fn encode(tokenizer: &Tokenizer, text: &str, special: bool) -> Vec<u32> {
    tokenizer.encode(text, special).unwrap().get_ids().to_vec()
}

#[test]
fn ids_match_transformers_on_every_fixture_text() {
    let tokenizer = gemma3();
    let reference = gemma3_reference();
    let examples = reference["tokenization_examples"].as_array().unwrap();
    let cases = reference["cases"].as_array().unwrap();
    assert_eq!((examples.len(), cases.len()), (4, 5));
    for item in examples.iter().chain(cases) {
        let text = item["text"].as_str().unwrap();
        let expected = ids_of(&item["ids"]);
        assert_eq!(encode(&tokenizer, text, true), expected, "{text:?}");
        // The ids start with <bos> (id 2), which the tokenizer adds only when asked to.
        assert_eq!(expected[0], 2);
        assert_eq!(encode(&tokenizer, text, false), expected[1..], "{text:?}");
        let pieces: Vec<String> = serde_json::from_value(item["pieces"].clone()).unwrap();
        let found: Vec<String> = expected
            .iter()
            .map(|&id| tokenizer.id_to_token(id).unwrap())
            .collect();
        assert_eq!(found, pieces, "{text:?}");
        assert_eq!(tokenizer.decode(&expected, true).unwrap(), text);
    }
}

#[test]
fn every_label_word_is_one_token() {
    let tokenizer = gemma3();
    let reference = gemma3_reference();
    for (lang, set) in reference["label_sets"].as_object().unwrap() {
        let words = set["words"].as_array().unwrap();
        let ids = ids_of(&set["ids"]);
        for (word, id) in words.iter().zip(ids) {
            let word = word.as_str().unwrap();
            assert_eq!(encode(&tokenizer, word, false), [id], "{lang}: {word:?}");
        }
    }
}

#[test]
fn spaces_bytes_and_control_tokens() {
    let tokenizer = gemma3();
    let pieces = |text: &str| -> Vec<String> {
        tokenizer.encode(text, false).unwrap().get_tokens().to_vec()
    };
    // A space is the ▁ that starts the next piece; there is no prefix space.
    assert_eq!(pieces("the cat"), ["the", "▁cat"]);
    // Control tokens are single special tokens, dropped when decoding without specials.
    let ids = encode(&tokenizer, "<start_of_turn>hi", false);
    assert_eq!(ids[0], 105);
    assert_eq!(tokenizer.decode(&ids, true).unwrap(), "hi");
    // A character outside the vocabulary falls back to its UTF-8 bytes, and decodes back.
    let rare = "\u{10FFFD}";
    let ids = encode(&tokenizer, rare, false);
    assert_eq!(ids.len(), 4);
    assert!(pieces(rare).iter().all(|p| p.starts_with("<0x")));
    assert_eq!(tokenizer.decode(&ids, false).unwrap(), rare);
}
