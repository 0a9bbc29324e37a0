//! Rendering and tokenizing examples into model input ids, with the answer position and
//! truncation that only ever shortens text fields.
//!
//! The whole rendered string is tokenized at once, so the ids equal what the reference
//! tokenizer gives for the same string (BPE merges across field boundaries included); token
//! offsets tell which tokens came from which field.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use tokenizers::{Encoding, Tokenizer};

use crate::error::DataError;
use crate::example::Example;
use crate::template::{Part, Rendered, Template};

/// Where the model reads its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AnswerSlot {
    /// Causal LM: the label word is the next token after the text before `{mask}`, and the
    /// answer is read at that text's last token. Text after `{mask}` cannot change that
    /// prediction (the model sees only what comes before), so it is not fed to the model; a
    /// field after `{mask}` is an error.
    NextToken,
    /// Masked LM: `{mask}` renders as `token` (e.g. `[MASK]`), and the answer is read there.
    MaskToken {
        /// The mask token's text.
        token: String,
    },
}

/// Special tokens around the text, by name, as written in a config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialTokensSpec {
    /// Tokens before the text (BERT: `["[CLS]"]`; a causal LM: its BOS or nothing); default none.
    #[serde(default)]
    pub prefix: Vec<String>,
    /// Tokens after the text (BERT: `["[SEP]"]`); default none.
    #[serde(default)]
    pub suffix: Vec<String>,
}

impl SpecialTokensSpec {
    /// BERT's `[CLS] … [SEP]`.
    pub fn bert() -> Self {
        Self {
            prefix: vec!["[CLS]".into()],
            suffix: vec!["[SEP]".into()],
        }
    }

    /// Looks the tokens up in the tokenizer's vocabulary.
    pub fn resolve(&self, tokenizer: &Tokenizer) -> Result<SpecialTokens, DataError> {
        let ids = |tokens: &[String]| {
            tokens
                .iter()
                .map(|token| {
                    tokenizer
                        .token_to_id(token)
                        .ok_or_else(|| DataError::UnknownToken {
                            token: token.clone(),
                        })
                })
                .collect::<Result<Vec<u32>, _>>()
        };
        Ok(SpecialTokens {
            prefix: ids(&self.prefix)?,
            suffix: ids(&self.suffix)?,
        })
    }
}

/// Special token ids put around the tokenized text (the soft prompt goes before `prefix`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    /// Ids before the text.
    pub prefix: Vec<u32>,
    /// Ids after the text.
    pub suffix: Vec<u32>,
}

/// How examples become model inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncoderConfig {
    /// Where the answer is read.
    pub answer_slot: AnswerSlot,
    /// Special tokens around the text.
    pub special_tokens: SpecialTokens,
    /// Soft-prompt length k: the model puts k rows before the ids.
    pub prompt_len: usize,
    /// The model's position limit; ids may use `max_positions - prompt_len` of them.
    pub max_positions: usize,
}

/// One example ready for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Token ids, special tokens included, soft prompt not.
    pub ids: Vec<u32>,
    /// Index into `ids` whose output predicts the label word (the model adds k).
    pub answer_pos: usize,
    /// Class index.
    pub label: usize,
}

/// How much encoding shortened an example's text to fit the model's positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Truncation {
    /// Tokens the whole example takes (special tokens included, prompt not).
    pub tokens: usize,
    /// Tokens kept.
    pub kept: usize,
}

/// Renders and tokenizes examples for one template and model.
#[derive(Debug, Clone)]
pub struct Encoder {
    tokenizer: Tokenizer,
    template: Template,
    config: EncoderConfig,
    mask_id: Option<u32>,
    ignored_after_answer: Option<String>,
}

impl Encoder {
    /// Checks the template against the answer slot and the position budget.
    ///
    /// The tokenizer's own truncation and padding settings are switched off: the encoder
    /// does its own truncation and the batcher pads.
    pub fn new(
        tokenizer: Tokenizer,
        template: Template,
        config: EncoderConfig,
    ) -> Result<Self, DataError> {
        let tokenizer = without_padding_or_truncation(tokenizer)?;
        let mut ignored_after_answer = None;
        let mask_id = match &config.answer_slot {
            AnswerSlot::NextToken => {
                let after = template.after_mask();
                if let Some(field) = after.iter().find_map(|part| match part {
                    Part::Field(field) => Some(field),
                    _ => None,
                }) {
                    return Err(DataError::FieldAfterMask {
                        template: template.source().to_string(),
                        field: field.clone(),
                    });
                }
                let literal: String = after
                    .iter()
                    .filter_map(|part| match part {
                        Part::Literal(text) => Some(text.as_str()),
                        _ => None,
                    })
                    .collect();
                ignored_after_answer = Some(literal).filter(|l| !l.is_empty());
                None
            }
            AnswerSlot::MaskToken { token } => Some(tokenizer.token_to_id(token).ok_or_else(
                || DataError::UnknownToken {
                    token: token.clone(),
                },
            )?),
        };
        let encoder = Self {
            tokenizer,
            template,
            config,
            mask_id,
            ignored_after_answer,
        };
        let empty: BTreeMap<String, String> = encoder
            .template
            .fields()
            .map(|f| (f.to_string(), String::new()))
            .collect();
        let (rendered, encoding) = encoder.tokenize(&empty)?;
        if encoder.total_len(&encoding) > encoder.budget() {
            return Err(encoder.too_long(&encoding));
        }
        if encoder.mask_id.is_some() {
            // The mask token must come out as one token; checked once here rather than per row.
            encoder.answer_pos(&rendered, &encoding)?;
        }
        Ok(encoder)
    }

    /// The template.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The tokenizer (truncation and padding off).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The configuration.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// The template's text after `{mask}` that a causal LM is not fed (it cannot change the
    /// prediction at the slot), when there is any.
    pub fn ignored_after_answer(&self) -> Option<&str> {
        self.ignored_after_answer.as_deref()
    }

    /// How many ids an example may have: `max_positions - prompt_len` (0 if the prompt alone
    /// fills the positions).
    pub fn budget(&self) -> usize {
        self.config
            .max_positions
            .saturating_sub(self.config.prompt_len)
    }

    /// Renders and tokenizes one example, shortening its text fields (longest first, at token
    /// boundaries) until it fits the budget.
    pub fn encode(&self, example: &Example) -> Result<Encoded, DataError> {
        self.encode_noting_truncation(example)
            .map(|(encoded, _)| encoded)
    }

    /// [`Encoder::encode`], also saying whether the text was shortened to fit and from how many
    /// tokens.
    pub fn encode_noting_truncation(
        &self,
        example: &Example,
    ) -> Result<(Encoded, Option<Truncation>), DataError> {
        let mut fields = BTreeMap::new();
        for name in self.template.fields() {
            let value = example
                .fields
                .get(name)
                .ok_or_else(|| DataError::ExampleMissingField {
                    field: name.to_string(),
                    available: example.fields.keys().cloned().collect(),
                })?;
            fields.insert(name.to_string(), value.clone());
        }
        let mut full_len = None;
        loop {
            let (rendered, encoding) = self.tokenize(&fields)?;
            let total = self.total_len(&encoding);
            let tokens = *full_len.get_or_insert(total);
            if total <= self.budget() {
                let answer_pos = self.answer_pos(&rendered, &encoding)?;
                let special = &self.config.special_tokens;
                let mut ids = Vec::with_capacity(total);
                ids.extend_from_slice(&special.prefix);
                ids.extend_from_slice(encoding.get_ids());
                ids.extend_from_slice(&special.suffix);
                let truncation = (tokens > total).then_some(Truncation {
                    tokens,
                    kept: total,
                });
                let encoded = Encoded {
                    ids,
                    answer_pos,
                    label: example.label,
                };
                return Ok((encoded, truncation));
            }
            let (name, text) = shorten_longest_field(&rendered, &encoding, total - self.budget())
                .ok_or_else(|| self.too_long(&encoding))?;
            fields.insert(name, text);
        }
    }

    /// Encodes every example, stopping at the first error.
    pub fn encode_all(&self, examples: &[Example]) -> Result<Vec<Encoded>, DataError> {
        examples
            .iter()
            .map(|example| self.encode(example))
            .collect()
    }

    fn tokenize(
        &self,
        fields: &BTreeMap<String, String>,
    ) -> Result<(Rendered, Encoding), DataError> {
        let mask_text = match &self.config.answer_slot {
            AnswerSlot::NextToken => "",
            AnswerSlot::MaskToken { token } => token.as_str(),
        };
        let mut rendered = self.template.render(fields, mask_text)?;
        if self.config.answer_slot == AnswerSlot::NextToken {
            // Only literal text follows the slot (checked in `new`): the fields keep their spans.
            rendered.text.truncate(rendered.mask_span.end);
        }
        let encoding = self
            .tokenizer
            .encode(rendered.text.as_str(), false)
            .map_err(|source| DataError::Tokenizer {
                input: rendered.text.clone(),
                source,
            })?;
        Ok((rendered, encoding))
    }

    fn total_len(&self, encoding: &Encoding) -> usize {
        let special = &self.config.special_tokens;
        special.prefix.len() + encoding.len() + special.suffix.len()
    }

    fn answer_pos(&self, rendered: &Rendered, encoding: &Encoding) -> Result<usize, DataError> {
        let prefix = self.config.special_tokens.prefix.len();
        match (&self.config.answer_slot, self.mask_id) {
            (AnswerSlot::MaskToken { token }, Some(mask_id)) => encoding
                .get_ids()
                .iter()
                .zip(encoding.get_offsets())
                .position(|(&id, &(start, _))| id == mask_id && start == rendered.mask_span.start)
                .map(|i| prefix + i)
                .ok_or_else(|| DataError::MaskNotSingleToken {
                    template: self.template.source().to_string(),
                    token: token.clone(),
                }),
            _ => (prefix + encoding.len()).checked_sub(1).ok_or_else(|| {
                DataError::NothingToPredictFrom {
                    template: self.template.source().to_string(),
                }
            }),
        }
    }

    /// The error for an input that cannot fit; counts the tokens left with empty fields.
    fn too_long(&self, encoding: &Encoding) -> DataError {
        let empty: BTreeMap<String, String> = self
            .template
            .fields()
            .map(|f| (f.to_string(), String::new()))
            .collect();
        let fixed_tokens = self.tokenize(&empty).map_or_else(
            |_| self.total_len(encoding),
            |(_, empty)| self.total_len(&empty),
        );
        DataError::TooLong {
            prompt_len: self.config.prompt_len,
            fixed_tokens,
            max_positions: self.config.max_positions,
        }
    }
}

/// The tokenizer with its own padding and truncation switched off (a `tokenizer.json` may
/// set both, e.g. bert-base-uncased's pads every encoding to 128 tokens).
pub(crate) fn without_padding_or_truncation(
    mut tokenizer: Tokenizer,
) -> Result<Tokenizer, DataError> {
    tokenizer
        .with_truncation(None)
        .map_err(|source| DataError::Tokenizer {
            input: String::new(),
            source,
        })?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

/// Shortens the text field with the most tokens by `excess` tokens (spread over its
/// occurrences) and returns its name and new text; `None` when no field has a token left.
fn shorten_longest_field(
    rendered: &Rendered,
    encoding: &Encoding,
    excess: usize,
) -> Option<(String, String)> {
    // Tokens overlapping a span; an empty span has none, even inside a token that merged
    // the text on both sides of it.
    let tokens_in = |span: &Range<usize>| -> Vec<(usize, usize)> {
        let overlaps =
            |&(start, end): &(usize, usize)| start < end && start < span.end && end > span.start;
        if span.is_empty() {
            Vec::new()
        } else {
            encoding
                .get_offsets()
                .iter()
                .copied()
                .filter(overlaps)
                .collect()
        }
    };
    struct FieldTokens<'a> {
        name: &'a str,
        first_span: &'a Range<usize>,
        count: usize,
        occurrences: usize,
    }
    let mut fields: Vec<FieldTokens> = Vec::new();
    for (name, span) in &rendered.field_spans {
        let count = tokens_in(span).len();
        match fields.iter_mut().find(|f| f.name == name) {
            Some(field) => {
                field.count += count;
                field.occurrences += 1;
            }
            None => fields.push(FieldTokens {
                name,
                first_span: span,
                count,
                occurrences: 1,
            }),
        }
    }
    let max = fields.iter().map(|f| f.count).max().filter(|&m| m > 0)?;
    // Ties go to the field used first in the template.
    let field = fields.iter().find(|f| f.count == max)?;
    let span = field.first_span;
    let text = &rendered.text[span.clone()];
    let tokens = tokens_in(span);
    let keep = tokens
        .len()
        .saturating_sub(excess.div_ceil(field.occurrences));
    let mut cut = match keep {
        0 => 0,
        n => tokens[n - 1].1.min(span.end) - span.start,
    };
    if cut >= text.len() {
        // The kept tokens reach the field's end (a token merged across it): drop a character.
        cut = text.len().saturating_sub(1);
    }
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Some((field.name.to_string(), text[..cut].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{toy_bpe, toy_wordpiece};

    fn example(text: &str, label: usize) -> Example {
        Example {
            fields: [("sentence".to_string(), text.to_string())].into(),
            label,
        }
    }

    fn bert_config(prompt_len: usize, max_positions: usize) -> EncoderConfig {
        EncoderConfig {
            answer_slot: AnswerSlot::MaskToken {
                token: "[MASK]".into(),
            },
            special_tokens: SpecialTokens {
                prefix: vec![2],
                suffix: vec![3],
            },
            prompt_len,
            max_positions,
        }
    }

    fn causal_config(prompt_len: usize, max_positions: usize) -> EncoderConfig {
        EncoderConfig {
            answer_slot: AnswerSlot::NextToken,
            special_tokens: SpecialTokens::default(),
            prompt_len,
            max_positions,
        }
    }

    #[test]
    fn masked_lm_encoding_finds_the_mask() {
        let tok = toy_wordpiece();
        let id = |t: &str| tok.token_to_id(t).unwrap();
        let template = Template::parse("{sentence} it was {mask} .").unwrap();
        let encoder = Encoder::new(tok.clone(), template, bert_config(5, 64)).unwrap();
        let encoded = encoder.encode(&example("A good movie", 1)).unwrap();
        assert_eq!(
            encoded.ids,
            vec![
                2,
                id("a"),
                id("good"),
                id("movie"),
                id("it"),
                id("was"),
                4,
                id("."),
                3
            ]
        );
        assert_eq!(encoded.answer_pos, 6);
        assert_eq!(encoded.label, 1);
    }

    #[test]
    fn chinese_template_with_a_cjk_verbalizer() {
        use crate::verbalizer::{MultiTokenPolicy, Verbalizer, VerbalizerSpec};
        let tok = toy_wordpiece();
        let id = |t: &str| tok.token_to_id(t).unwrap();
        let template = Template::parse("{text}总体评价是{mask}的").unwrap();
        let encoder = Encoder::new(tok.clone(), template, bert_config(20, 64)).unwrap();
        // A masked LM reads the whole sentence, 的 included (id("的") below).
        assert_eq!(encoder.ignored_after_answer(), None);
        let ex = Example {
            fields: [("text".to_string(), "电影好".to_string())].into(),
            label: 1,
        };
        let encoded = encoder.encode(&ex).unwrap();
        let expected = [
            2,
            id("电"),
            id("影"),
            id("好"),
            id("总"),
            id("体"),
            id("评"),
            id("价"),
            id("是"),
            4,
            id("的"),
            3,
        ];
        assert_eq!(encoded.ids, expected);
        assert_eq!(encoded.answer_pos, 9);
        let spec = VerbalizerSpec {
            label_words: vec![vec!["差".into()], vec!["好".into()]],
            multi_token: MultiTokenPolicy::FirstToken,
        };
        let verbalizer = Verbalizer::new(&spec, &["负面".into(), "正面".into()], &tok).unwrap();
        assert_eq!(verbalizer.scored_ids(), &[id("差"), id("好")]);
        assert!(verbalizer.words(1)[0].ids.len() == 1 && verbalizer.words(0)[0].ids.len() == 1);
    }

    #[test]
    fn truncation_cuts_only_the_field() {
        let tok = toy_wordpiece();
        let template = Template::parse("review: {sentence} it was {mask} .").unwrap();
        let encoder = Encoder::new(tok.clone(), template, bert_config(3, 15)).unwrap();
        let long = "good bad ".repeat(20);
        let encoded = encoder.encode(&example(&long, 0)).unwrap();
        assert_eq!(encoded.ids.len(), 12);
        let id = |t: &str| tok.token_to_id(t).unwrap();
        let tail = [id("it"), id("was"), 4, id("."), 3];
        assert_eq!(encoded.ids[..3], [2, id("review"), id(":")]);
        assert_eq!(encoded.ids[7..], tail);
        assert_eq!(
            encoded.ids[3..7],
            [id("good"), id("bad"), id("good"), id("bad")]
        );
        assert_eq!(encoded.answer_pos, 9);
        // [CLS] review : (good bad) x 20 it was [MASK] . [SEP]
        let (_, truncation) = encoder
            .encode_noting_truncation(&example(&long, 0))
            .unwrap();
        assert_eq!(
            truncation,
            Some(Truncation {
                tokens: 48,
                kept: 12
            })
        );
        let (_, truncation) = encoder
            .encode_noting_truncation(&example("good", 0))
            .unwrap();
        assert_eq!(truncation, None);
    }

    #[test]
    fn the_longest_field_is_cut_first() {
        let tok = toy_wordpiece();
        let template = Template::parse("{a} : {b} {mask}").unwrap();
        let config = EncoderConfig {
            special_tokens: SpecialTokens::default(),
            ..bert_config(0, 8)
        };
        let encoder = Encoder::new(tok.clone(), template, config).unwrap();
        let ex = Example {
            fields: [
                ("a".into(), "good bad".into()),
                ("b".into(), "good ".repeat(8)),
            ]
            .into(),
            label: 0,
        };
        let encoded = encoder.encode(&ex).unwrap();
        let id = |t: &str| tok.token_to_id(t).unwrap();
        assert_eq!(
            encoded.ids,
            vec![
                id("good"),
                id("bad"),
                id(":"),
                id("good"),
                id("good"),
                id("good"),
                id("good"),
                4
            ]
        );
    }

    #[test]
    fn too_long_even_when_empty_is_an_error() {
        let tok = toy_wordpiece();
        let template = Template::parse("review : {sentence} it was a good movie {mask} .").unwrap();
        let err = Encoder::new(tok, template, bert_config(5, 12)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "prompt length 5 + 11 template and special tokens exceed the model's 12 positions even with empty text fields; shorten the prompt or the template"
        );
    }

    #[test]
    fn causal_templates_drop_the_text_after_the_mask_and_refuse_fields_there() {
        let tok = toy_bpe(&[" good", " was", ":"]);
        let template = Template::parse("{sentence} was:{mask} . Really").unwrap();
        let encoder = Encoder::new(tok.clone(), template, causal_config(0, 64)).unwrap();
        assert_eq!(encoder.ignored_after_answer(), Some(" . Really"));
        let encoded = encoder.encode(&example(" good", 1)).unwrap();
        let before = tok.encode(" good was:", false).unwrap();
        assert_eq!(encoded.ids, before.get_ids());
        assert_eq!(encoded.answer_pos, before.get_ids().len() - 1);
        // Without text after the slot there is nothing to report.
        let plain = Template::parse("{sentence} was:{mask}").unwrap();
        let encoder = Encoder::new(tok.clone(), plain, causal_config(0, 64)).unwrap();
        assert_eq!(encoder.ignored_after_answer(), None);
        assert_eq!(encoder.encode(&example(" good", 1)).unwrap(), encoded);
        let template = Template::parse("Answer:{mask} Review: {sentence}").unwrap();
        let err = Encoder::new(tok, template, causal_config(0, 64)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "template \"Answer:{mask} Review: {sentence}\": a causal LM predicts the label word \
             from the text before `{mask}`, so the field `{sentence}` after it would never reach \
             the model; move it before `{mask}`"
        );
        let encoder = Encoder::new(
            toy_bpe(&[]),
            Template::parse("{sentence}{mask}").unwrap(),
            causal_config(0, 64),
        )
        .unwrap();
        assert_eq!(encoder.encode(&example("ab", 0)).unwrap().answer_pos, 1);
        let err = encoder.encode(&example("", 0)).unwrap_err();
        assert!(
            matches!(err, DataError::NothingToPredictFrom { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn causal_encoding_tokenizes_the_whole_string_and_reads_the_last_token() {
        // The template starts inside the field's last word: tokenized apart, "movie" + "s"
        // would give two tokens where the whole string gives one.
        let tok = toy_bpe(&[" good", " movie", " movies", " was", ":"]);
        let template = Template::parse("{sentence}s was:{mask}").unwrap();
        let encoder = Encoder::new(tok.clone(), template, causal_config(2, 64)).unwrap();
        let encoded = encoder.encode(&example("a good movie", 1)).unwrap();
        let whole = tok.encode("a good movies was:", false).unwrap();
        assert_eq!(encoded.ids, whole.get_ids());
        assert_eq!(encoded.answer_pos, 4);
        let id = |t: &str| tok.token_to_id(t).unwrap();
        assert_eq!(
            encoded.ids[1..],
            [id("Ġgood"), id("Ġmovies"), id("Ġwas"), id(":")]
        );
    }

    #[test]
    fn causal_truncation_keeps_template_tokens() {
        let tok = toy_bpe(&[" good", " bad", " was", ":"]);
        let template = Template::parse("{sentence} was:{mask}").unwrap();
        let encoder = Encoder::new(tok.clone(), template, causal_config(4, 10)).unwrap();
        let encoded = encoder
            .encode(&example(&" good bad".repeat(30), 0))
            .unwrap();
        let id = |t: &str| tok.token_to_id(t).unwrap();
        assert_eq!(
            encoded.ids,
            vec![
                id("Ġgood"),
                id("Ġbad"),
                id("Ġgood"),
                id("Ġbad"),
                id("Ġwas"),
                id(":")
            ]
        );
        assert_eq!(encoded.answer_pos, 5);
    }

    #[test]
    fn special_tokens_resolve_by_name() {
        let tok = toy_wordpiece();
        assert_eq!(
            SpecialTokensSpec::bert().resolve(&tok).unwrap(),
            SpecialTokens {
                prefix: vec![2],
                suffix: vec![3]
            }
        );
        let err = SpecialTokensSpec {
            prefix: vec!["<s>".into()],
            suffix: vec![],
        }
        .resolve(&tok)
        .unwrap_err();
        assert!(matches!(err, DataError::UnknownToken { ref token } if token == "<s>"));
        let slot: AnswerSlot = toml::from_str("kind = \"mask_token\"\ntoken = \"[MASK]\"").unwrap();
        assert_eq!(
            slot,
            AnswerSlot::MaskToken {
                token: "[MASK]".into()
            }
        );
        let spec: SpecialTokensSpec = toml::from_str("prefix = [\"[CLS]\"]").unwrap();
        assert!(spec.suffix.is_empty());
    }
}
