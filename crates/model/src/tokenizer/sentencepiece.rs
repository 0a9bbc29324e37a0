//! SentencePiece vocabularies in GGUF (`tokenizer.ggml.model = llama`: Gemma, Llama 2) as a
//! `tokenizers` BPE, built the way transformers builds it from the same file:
//!
//! - the normalizer turns every space into `▁` (U+2581) and adds no prefix space
//!   (`tokenizer.ggml.add_space_prefix` false; a file that does not say so is refused);
//! - the whole text is one word: no pre-tokenizer;
//! - the file has no merges, so they are derived from the vocabulary: every way to cut a token
//!   into two tokens is a merge, ranked by the merged token's score (`tokenizer.ggml.scores`,
//!   highest first), or, for Gemma, by its position in the vocabulary (Gemma's scores do not
//!   follow its merge order; transformers ranks by position there). Between cuts of the same
//!   token, the longer left piece comes first;
//! - characters outside the vocabulary become their UTF-8 bytes (`<0x41>` tokens: byte fallback);
//! - a token of spaces only is spelled with `▁`, as the normalized text spells it;
//! - BOS is added when `tokenizer.ggml.add_bos_token` says so or is absent (llama.cpp's default
//!   for SentencePiece).
//!
//! Merging the best-ranked adjacent pair first over characters is llama.cpp's SPM algorithm;
//! on every text of the Gemma fixture both give the same ids.

use std::cmp::Ordering;
use std::collections::HashMap;

use tokenizers::Tokenizer;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::normalizers::replace::Replace;

use super::{SpecialTokenIds, TokenizerError, build_error, per_token, post_processor};
use crate::gguf::{GgufFile, MetadataValue};

/// The word-boundary marker SentencePiece writes for a space.
const SPACE: &str = "\u{2581}";

/// Builds the tokenizer (added tokens and special ids are the caller's).
pub(super) fn tokenizer(
    gguf: &GgufFile,
    tokens: &[&str],
    ids: SpecialTokenIds,
) -> Result<Tokenizer, TokenizerError> {
    const PREFIX_KEY: &str = "tokenizer.ggml.add_space_prefix";
    if gguf.metadata(PREFIX_KEY).and_then(MetadataValue::as_bool) != Some(false) {
        return Err(TokenizerError::SpacePrefix {
            path: gguf.path().to_path_buf(),
        });
    }
    let spelled: Vec<String> = tokens.iter().map(|t| respell_spaces(t)).collect();
    let rank = merge_rank(gguf, tokens.len())?;
    let merges = derive_merges(&spelled, &rank);
    let vocab = spelled
        .iter()
        .enumerate()
        .map(|(id, token)| (token.clone(), id as u32))
        .collect::<Vocab>();
    let mut bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .byte_fallback(true)
        .fuse_unk(true);
    if let Some(unk) = ids.unk {
        bpe = bpe.unk_token(spelled[unk as usize].clone());
    }
    let bpe = bpe.build().map_err(|source| build_error(gguf, source))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let replace = |from, to| Replace::new(from, to).expect("a plain string pattern is valid");
    tokenizer
        .with_normalizer(Some(replace(" ", SPACE)))
        .map_err(|source| build_error(gguf, source))?;
    tokenizer.with_decoder(Some(DecoderSequence::new(vec![
        DecoderWrapper::Replace(replace(SPACE, " ")),
        ByteFallback::new().into(),
        Fuse::new().into(),
    ])));
    tokenizer.with_post_processor(post_processor(gguf, tokens, ids, None, true)?);
    Ok(tokenizer)
}

/// A token of spaces only (possibly with other whitespace) spelled as that many `▁`, the way
/// the normalized text spells it (Gemma stores `"  "`; transformers respells it too).
fn respell_spaces(token: &str) -> String {
    if token.contains(' ') && token.trim().is_empty() {
        SPACE.repeat(token.chars().count())
    } else {
        token.to_string()
    }
}

/// The rank key of each token as a merge result, larger first: the score, or for Gemma minus
/// the position.
fn merge_rank(gguf: &GgufFile, vocab_size: usize) -> Result<Vec<f64>, TokenizerError> {
    let gemma = gguf
        .get_str("general.architecture")
        .is_ok_and(|a| a.starts_with("gemma"));
    if gemma {
        return Ok((0..vocab_size).map(|i| -(i as f64)).collect());
    }
    let scores = per_token(gguf, "tokenizer.ggml.scores", vocab_size, "float", |v| {
        v.as_f32().map(f64::from)
    })?;
    Ok(scores.unwrap_or_else(|| (0..vocab_size).map(|i| -(i as f64)).collect()))
}

/// Every split of a token into two tokens, best rank first (see the module docs).
fn derive_merges(tokens: &[String], rank: &[f64]) -> Vec<(String, String)> {
    // As a dict from token to id: a repeated spelling keeps its last id.
    let id: HashMap<&str, usize> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    struct Cut<'a> {
        left: &'a str,
        right: &'a str,
        rank: f64,
        /// Characters of the left and right piece.
        chars: (usize, usize),
    }
    let mut cuts: Vec<Cut> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if id[token.as_str()] != i {
            continue;
        }
        let start = cuts.len();
        for (at_char, (at, _)) in token.char_indices().enumerate().skip(1) {
            let (left, right) = token.split_at(at);
            if id.contains_key(left) && id.contains_key(right) {
                cuts.push(Cut {
                    left,
                    right,
                    rank: rank[i],
                    chars: (at_char, token.chars().count() - at_char),
                });
            }
        }
        cuts[start..].sort_by_key(|c| (id[c.left], id[c.right]));
    }
    // Stable: cuts of equal keys keep the order above.
    cuts.sort_by(|a, b| {
        b.rank
            .partial_cmp(&a.rank)
            .unwrap_or(Ordering::Equal)
            .then_with(|| b.chars.cmp(&a.chars))
    });
    cuts.into_iter()
        .map(|c| (c.left.to_string(), c.right.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use tokenizers::Model;

    use super::*;

    fn owned(tokens: &[&str]) -> Vec<String> {
        tokens.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn merges_come_from_every_cut_best_rank_first_longer_left_first() {
        let tokens = owned(&["a", "b", "c", "ab", "bc", "abc", "x"]);
        // Ranks: abc best, then ab, then bc.
        let rank = [0.0, 0.0, 0.0, -2.0, -3.0, -1.0, 0.0];
        let merges = derive_merges(&tokens, &rank);
        let pairs: Vec<(&str, &str)> = merges
            .iter()
            .map(|(l, r)| (l.as_str(), r.as_str()))
            .collect();
        assert_eq!(pairs, [("ab", "c"), ("a", "bc"), ("a", "b"), ("b", "c")]);
    }

    #[test]
    fn runs_of_spaces_are_spelled_as_the_normalizer_writes_them() {
        assert_eq!(respell_spaces("  "), "\u{2581}\u{2581}");
        assert_eq!(respell_spaces(" \n"), "\u{2581}\u{2581}");
        assert_eq!(respell_spaces("\n\n"), "\n\n");
        assert_eq!(respell_spaces(" a"), " a");
    }

    #[test]
    fn the_built_model_merges_by_rank_and_falls_back_to_bytes() {
        // "▁ab": ranks make ("▁a", "b") lose to ("a", "b"): "▁" + "ab".
        let tokens = owned(&["<unk>", "<0xC3>", "<0xA9>", "▁", "a", "b", "ab", "▁a"]);
        let rank = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, -2.0];
        let vocab = tokens
            .iter()
            .enumerate()
            .map(|(id, t)| (t.clone(), id as u32))
            .collect::<Vocab>();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, derive_merges(&tokens, &rank))
            .byte_fallback(true)
            .unk_token("<unk>".into())
            .build()
            .unwrap();
        let ids = |word: &str| -> Vec<u32> {
            bpe.tokenize(word)
                .unwrap()
                .into_iter()
                .map(|t| t.id)
                .collect()
        };
        assert_eq!(ids("▁ab"), [3, 6]);
        assert_eq!(ids("▁a"), [7]);
        // "é" (U+00E9) is not a token: its two UTF-8 bytes are.
        assert_eq!(ids("é"), [1, 2]);
    }
}
