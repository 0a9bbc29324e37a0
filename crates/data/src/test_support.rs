//! Small in-memory tokenizers for unit tests: a BERT-style WordPiece and a GPT-2-style
//! byte-level BPE, built from JSON so no file is needed.

use serde_json::{Map, Value, json};
use tokenizers::Tokenizer;

fn added(id: usize, content: &str) -> Value {
    json!({"id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false,
           "normalized": false, "special": true})
}

/// WordPiece with `[PAD]`=0, `[UNK]`=1, `[CLS]`=2, `[SEP]`=3, `[MASK]`=4, lower-casing and
/// CJK splitting like bert-base-uncased, and a handful of words (`goodness` = good + ##ness).
pub(crate) fn toy_wordpiece() -> Tokenizer {
    let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    let words = [
        "it", "was", "a", "good", "bad", "##ness", "movie", "review", ":", ".", "!", "great",
        "terrible", "好", "差", "的", "总", "体", "评", "价", "是", "电", "影",
    ];
    let vocab: Map<String, Value> = specials
        .iter()
        .chain(words.iter())
        .enumerate()
        .map(|(i, t)| (t.to_string(), json!(i)))
        .collect();
    let json = json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": specials.iter().enumerate().map(|(i, t)| added(i, t)).collect::<Vec<_>>(),
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": null, "decoder": null,
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab}
    });
    Tokenizer::from_bytes(json.to_string()).expect("the toy WordPiece JSON is valid")
}

/// GPT-2's byte-to-character table used by byte-level BPE.
fn byte_chars() -> Vec<char> {
    let printable = |b: u32| {
        (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b)
    };
    let mut extra = 0;
    (0..256u32)
        .map(|b| {
            let c = if printable(b) {
                b
            } else {
                extra += 1;
                255 + extra
            };
            char::from_u32(c).expect("valid code point")
        })
        .collect()
}

/// Byte-level BPE (ids 0..256 are the bytes) whose merges build each of `words` (raw text,
/// e.g. `" good"`) left to right; in the vocabulary a leading space shows as `Ġ`, as in GPT-2
/// and SmolLM2.
pub(crate) fn toy_bpe(words: &[&str]) -> Tokenizer {
    let table = byte_chars();
    let mut vocab: Vec<String> = table.iter().map(char::to_string).collect();
    let mut merges: Vec<String> = Vec::new();
    for word in words {
        let symbols: Vec<String> = word
            .bytes()
            .map(|b| table[b as usize].to_string())
            .collect();
        let mut current = symbols[0].clone();
        for next in &symbols[1..] {
            let merged = format!("{current}{next}");
            if !vocab.contains(&merged) {
                merges.push(format!("{current} {next}"));
                vocab.push(merged.clone());
            }
            current = merged;
        }
    }
    let vocab: Map<String, Value> = vocab
        .into_iter()
        .enumerate()
        .map(|(i, t)| (t, json!(i)))
        .collect();
    let json = json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": merges}
    });
    Tokenizer::from_bytes(json.to_string()).expect("the toy BPE JSON is valid")
}
