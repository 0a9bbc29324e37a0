//! Verbalizers: each class's label words, tokenized, and how the model turns the logits of
//! those tokens into one score per class.

use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;
use tokenizers::models::ModelWrapper;

use crate::encode::without_padding_or_truncation;
use crate::error::DataError;

/// Label words per class, as written in a config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerbalizerSpec {
    /// One list of label words per class, in class-index order, e.g.
    /// `[[" negative"], [" positive"]]` (GPT-2 BPE words carry their leading space).
    pub label_words: Vec<Vec<String>>,
    /// How a word of several tokens is scored; default `single_token` (such a word is an
    /// error).
    #[serde(default)]
    pub multi_token: MultiTokenPolicy,
}

/// How a label word that tokenizes to several tokens is scored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultiTokenPolicy {
    /// Every label word must be one token; a word the tokenizer splits is an error naming its
    /// pieces (the default: a split word silently scored by a piece is rarely what was meant).
    #[default]
    SingleToken,
    /// The logit of the word's first token.
    FirstToken,
    /// The mean of the logits of all the word's tokens.
    Mean,
}

/// A label word and its token ids (no special tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelWord {
    /// The word as written.
    pub text: String,
    /// All its token ids, in order.
    pub ids: Vec<u32>,
}

/// A tokenized verbalizer.
///
/// The model gathers the logits of [`scored_ids`](Self::scored_ids) at the answer position
/// (`N` of them) and turns them into `C` class scores with
/// [`score_weights`](Self::score_weights): a class's score is the mean of its words' scores,
/// a word's score its first token's logit or the mean of its tokens' logits.
#[derive(Debug, Clone, PartialEq)]
pub struct Verbalizer {
    class_names: Vec<String>,
    words: Vec<Vec<LabelWord>>,
    policy: MultiTokenPolicy,
    scored_ids: Vec<u32>,
    entries: Vec<Vec<usize>>,
    weights: Vec<f32>,
}

impl Verbalizer {
    /// Tokenizes the label words of `spec`; `class_names` are the dataset's label names.
    ///
    /// Errors when the class counts differ, a class has no word, a word has no token, or two
    /// classes have words starting with the same token.
    pub fn new(
        spec: &VerbalizerSpec,
        class_names: &[String],
        tokenizer: &Tokenizer,
    ) -> Result<Self, DataError> {
        if spec.label_words.len() != class_names.len() {
            return Err(DataError::ClassCount {
                expected: class_names.len(),
                found: spec.label_words.len(),
                label_names: class_names.to_vec(),
            });
        }
        let tokenizer = without_padding_or_truncation(tokenizer.clone())?;
        let unk = unknown_token(&tokenizer);
        let mut words = Vec::with_capacity(class_names.len());
        for (class, texts) in class_names.iter().zip(&spec.label_words) {
            let mut class_words = Vec::with_capacity(texts.len());
            for text in texts {
                let encoding = tokenizer.encode(text.as_str(), false).map_err(|source| {
                    DataError::Tokenizer {
                        input: text.clone(),
                        source,
                    }
                })?;
                if spec.multi_token == MultiTokenPolicy::SingleToken && encoding.get_ids().len() > 1
                {
                    // Decoded one by one, so byte-level BPE shows " ab" rather than "Ġab".
                    let pieces = encoding
                        .get_ids()
                        .iter()
                        .zip(encoding.get_tokens())
                        .map(|(&id, token)| tokenizer.decode(&[id], false).unwrap_or(token.clone()))
                        .collect();
                    return Err(DataError::LabelWordSplit {
                        class: class.clone(),
                        word: text.clone(),
                        pieces,
                    });
                }
                if let Some((unk_token, unk_id)) = &unk
                    && encoding.get_ids().contains(unk_id)
                {
                    return Err(DataError::LabelWordUnknown {
                        class: class.clone(),
                        word: text.clone(),
                        unk_token: unk_token.clone(),
                    });
                }
                class_words.push(LabelWord {
                    text: text.clone(),
                    ids: encoding.get_ids().to_vec(),
                });
            }
            words.push(class_words);
        }
        Self::from_words(class_names, words, spec.multi_token)
    }

    /// A verbalizer over words already tokenized, `words[c]` the words of class `c` (what
    /// [`Verbalizer::new`] builds after tokenizing). Errors when two classes have words starting
    /// with the same token.
    pub fn from_words(
        class_names: &[String],
        words: Vec<Vec<LabelWord>>,
        policy: MultiTokenPolicy,
    ) -> Result<Self, DataError> {
        if words.len() != class_names.len() {
            return Err(DataError::ClassCount {
                expected: class_names.len(),
                found: words.len(),
                label_names: class_names.to_vec(),
            });
        }
        for (class, class_words) in class_names.iter().zip(&words) {
            if class_words.is_empty() {
                return Err(DataError::NoLabelWords {
                    class: class.clone(),
                });
            }
            if let Some(word) = class_words.iter().find(|w| w.ids.is_empty()) {
                return Err(DataError::EmptyLabelWord {
                    class: class.clone(),
                    word: word.text.clone(),
                });
            }
        }
        check_first_tokens(class_names, &words)?;
        let (scored_ids, entries, weights) = score_layout(&words, policy);
        Ok(Self {
            class_names: class_names.to_vec(),
            words,
            policy,
            scored_ids,
            entries,
            weights,
        })
    }

    /// One word per class given by its token ids (`ids[c]`), classes and words named by their
    /// index and ids: for models and tests without a tokenizer.
    pub fn from_ids(ids: &[Vec<u32>], policy: MultiTokenPolicy) -> Result<Self, DataError> {
        let names: Vec<String> = (0..ids.len()).map(|c| c.to_string()).collect();
        let words = ids
            .iter()
            .map(|ids| {
                vec![LabelWord {
                    text: format!("{ids:?}"),
                    ids: ids.clone(),
                }]
            })
            .collect();
        Self::from_words(&names, words, policy)
    }

    /// Number of classes `C`.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The class names, in class-index order.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// A class's label words with their token ids (empty for an unknown class).
    pub fn words(&self, class: usize) -> &[LabelWord] {
        self.words.get(class).map_or(&[], Vec::as_slice)
    }

    /// The multi-token policy.
    pub fn policy(&self) -> MultiTokenPolicy {
        self.policy
    }

    /// Each class's token ids: every token of every one of its words, in order (the rows the
    /// `class_label` prompt init averages).
    pub fn class_token_ids(&self) -> Vec<Vec<u32>> {
        self.words
            .iter()
            .map(|words| words.iter().flat_map(|w| w.ids.iter().copied()).collect())
            .collect()
    }

    /// Each class's first token: of its first word (the target of a full-vocabulary loss).
    pub fn first_ids(&self) -> Vec<u32> {
        self.words.iter().map(|words| words[0].ids[0]).collect()
    }

    /// The vocabulary rows to score, `N` entries (an id may repeat across classes).
    pub fn scored_ids(&self) -> &[u32] {
        &self.scored_ids
    }

    /// Which entries of [`scored_ids`](Self::scored_ids) belong to `class` (empty for an
    /// unknown class).
    pub fn class_entries(&self, class: usize) -> &[usize] {
        self.entries.get(class).map_or(&[], Vec::as_slice)
    }

    /// Row-major `[C, N]` weights: score of class `c` = `Σ_j weights[c * N + j] * logit[scored_ids[j]]`.
    pub fn score_weights(&self) -> &[f32] {
        &self.weights
    }
}

/// The model's unknown token and its id, where the model has one.
fn unknown_token(tokenizer: &Tokenizer) -> Option<(String, u32)> {
    let token = match tokenizer.get_model() {
        ModelWrapper::WordPiece(model) => Some(model.unk_token.clone()),
        ModelWrapper::WordLevel(model) => Some(model.unk_token.clone()),
        ModelWrapper::BPE(model) => model.get_unk_token().clone(),
        // Unigram keeps its unknown id private; its vocabularies rarely need one.
        ModelWrapper::Unigram(_) => None,
    }?;
    let id = tokenizer.token_to_id(&token)?;
    Some((token, id))
}

fn check_first_tokens(class_names: &[String], words: &[Vec<LabelWord>]) -> Result<(), DataError> {
    let firsts: Vec<(usize, &LabelWord)> = words
        .iter()
        .enumerate()
        .flat_map(|(class, ws)| ws.iter().map(move |w| (class, w)))
        .collect();
    for (i, (class_a, word_a)) in firsts.iter().enumerate() {
        for (class_b, word_b) in &firsts[i + 1..] {
            if class_a != class_b && word_a.ids[0] == word_b.ids[0] {
                return Err(DataError::SharedFirstToken {
                    token: word_a.ids[0],
                    word_a: word_a.text.clone(),
                    class_a: class_names[*class_a].clone(),
                    word_b: word_b.text.clone(),
                    class_b: class_names[*class_b].clone(),
                });
            }
        }
    }
    Ok(())
}

/// The flat list of scored ids, each class's entries, and the `[C, N]` weight matrix.
fn score_layout(
    words: &[Vec<LabelWord>],
    policy: MultiTokenPolicy,
) -> (Vec<u32>, Vec<Vec<usize>>, Vec<f32>) {
    let mut scored = Vec::new();
    let mut entries = Vec::with_capacity(words.len());
    let mut entry_weights = Vec::new();
    for class_words in words {
        let mut class_entries = Vec::new();
        for word in class_words {
            let tokens = match policy {
                MultiTokenPolicy::SingleToken | MultiTokenPolicy::FirstToken => &word.ids[..1],
                MultiTokenPolicy::Mean => &word.ids[..],
            };
            for &id in tokens {
                class_entries.push(scored.len());
                scored.push(id);
                entry_weights.push(1.0 / (class_words.len() * tokens.len()) as f32);
            }
        }
        entries.push(class_entries);
    }
    let n = scored.len();
    let mut weights = vec![0.0; words.len() * n];
    for (class, class_entries) in entries.iter().enumerate() {
        for &j in class_entries {
            weights[class * n + j] = entry_weights[j];
        }
    }
    (scored, entries, weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::toy_wordpiece;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn spec(words: &[&[&str]], multi_token: MultiTokenPolicy) -> VerbalizerSpec {
        VerbalizerSpec {
            label_words: words.iter().map(|ws| names(ws)).collect(),
            multi_token,
        }
    }

    #[test]
    fn single_token_words_give_a_selection_matrix() {
        let tok = toy_wordpiece();
        let v = Verbalizer::new(
            &spec(&[&["bad"], &["good"]], MultiTokenPolicy::FirstToken),
            &names(&["neg", "pos"]),
            &tok,
        )
        .unwrap();
        let bad = tok.token_to_id("bad").unwrap();
        let good = tok.token_to_id("good").unwrap();
        assert_eq!(v.scored_ids(), &[bad, good]);
        assert_eq!(v.class_entries(1), &[1]);
        assert_eq!(v.score_weights(), &[1.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn multi_token_words_follow_the_policy() {
        let tok = toy_wordpiece();
        // "goodness" is good + ##ness in the toy vocabulary.
        let words: &[&[&str]] = &[&["bad"], &["goodness", "good"]];
        let first = Verbalizer::new(
            &spec(words, MultiTokenPolicy::FirstToken),
            &names(&["n", "p"]),
            &tok,
        )
        .unwrap();
        assert_eq!(first.words(1)[0].ids.len(), 2);
        assert_eq!(first.scored_ids().len(), 3);
        assert_eq!(first.class_entries(1), &[1, 2]);
        assert_eq!(first.score_weights(), &[1.0, 0.0, 0.0, 0.0, 0.5, 0.5]);
        let mean = Verbalizer::new(
            &spec(words, MultiTokenPolicy::Mean),
            &names(&["n", "p"]),
            &tok,
        )
        .unwrap();
        let ness = tok.token_to_id("##ness").unwrap();
        assert_eq!(
            mean.scored_ids()[1..3],
            [tok.token_to_id("good").unwrap(), ness]
        );
        assert_eq!(mean.class_entries(1), &[1, 2, 3]);
        assert_eq!(mean.score_weights()[4..], [0.0, 0.25, 0.25, 0.5]);
    }

    #[test]
    fn shared_first_tokens_and_bad_specs_are_errors() {
        let tok = toy_wordpiece();
        let err = Verbalizer::new(
            &spec(&[&["good"], &["goodness"]], MultiTokenPolicy::Mean),
            &names(&["n", "p"]),
            &tok,
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("label words \"good\" (class `n`) and \"goodness\" (class `p`) both start with token"),
            "{err}"
        );
        let err = Verbalizer::new(
            &spec(&[&["good"]], MultiTokenPolicy::FirstToken),
            &names(&["n", "p"]),
            &tok,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            DataError::ClassCount {
                expected: 2,
                found: 1,
                ..
            }
        ));
        let err = Verbalizer::new(
            &spec(&[&["good"], &[]], MultiTokenPolicy::FirstToken),
            &names(&["n", "p"]),
            &tok,
        )
        .unwrap_err();
        assert!(matches!(err, DataError::NoLabelWords { ref class } if class == "p"));
        let err = Verbalizer::new(
            &spec(&[&["good"], &[" "]], MultiTokenPolicy::FirstToken),
            &names(&["n", "p"]),
            &tok,
        )
        .unwrap_err();
        assert!(matches!(err, DataError::EmptyLabelWord { ref word, .. } if word == " "));
        let err = Verbalizer::new(
            &spec(&[&["good"], &["superb"]], MultiTokenPolicy::FirstToken),
            &names(&["n", "p"]),
            &tok,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "label word \"superb\" of class `p` is not in the tokenizer's vocabulary (it becomes [UNK]); choose a word the vocabulary has"
        );
    }

    #[test]
    fn a_split_word_is_an_error_by_default_naming_its_pieces() {
        let err = Verbalizer::new(
            &spec(&[&["bad"], &["goodness"]], MultiTokenPolicy::SingleToken),
            &names(&["n", "p"]),
            &toy_wordpiece(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "label word \"goodness\" of class `p` is 2 tokens (\"good\", \"##ness\"); choose a \
             word that is one token, or set verbalizer.multi_token = \"first_token\" or \"mean\" \
             to score its pieces"
        );
    }

    #[test]
    fn spec_deserializes_with_defaults() {
        let s: VerbalizerSpec =
            toml::from_str("label_words = [[\" negative\"], [\" positive\", \" great\"]]").unwrap();
        assert_eq!(s.multi_token, MultiTokenPolicy::SingleToken);
        assert_eq!(s.label_words[1], vec![" positive", " great"]);
        let s: VerbalizerSpec =
            toml::from_str("label_words = [[\"a\"]]\nmulti_token = \"mean\"").unwrap();
        assert_eq!(s.multi_token, MultiTokenPolicy::Mean);
        assert!(toml::from_str::<VerbalizerSpec>("label_words = []\nwords = 1").is_err());
    }
}
