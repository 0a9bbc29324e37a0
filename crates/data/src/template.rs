//! Prompt templates: literal text with `{field}` slots and exactly one `{mask}` answer slot.
//!
//! `{{` and `}}` stand for literal braces. The soft prompt is not part of the template: the
//! model always puts it before everything (PEFT placement).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::error::DataError;

/// The name of the answer slot.
pub const MASK_SLOT: &str = "mask";

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text copied as is.
    Literal(String),
    /// A dataset text field.
    Field(String),
    /// The answer slot.
    Mask,
}

/// A parsed template, e.g. `"{sentence} It was {mask} ."`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// A template rendered for one example, with where each piece landed (byte ranges).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The full text.
    pub text: String,
    /// Each field occurrence: its name and byte range in `text`.
    pub field_spans: Vec<(String, Range<usize>)>,
    /// Byte range of the answer slot's text.
    pub mask_span: Range<usize>,
}

impl Template {
    /// Parses a template string, checking braces and that there is exactly one `{mask}`.
    pub fn parse(source: &str) -> Result<Self, DataError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = source.chars().enumerate().peekable();
        let unmatched = |position, brace| DataError::UnmatchedBrace {
            template: source.to_string(),
            position,
            brace,
        };
        while let Some((position, c)) = chars.next() {
            match c {
                '{' if chars.next_if(|&(_, next)| next == '{').is_some() => literal.push('{'),
                '}' if chars.next_if(|&(_, next)| next == '}').is_some() => literal.push('}'),
                '}' => return Err(unmatched(position, '}')),
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, '{')) | None => return Err(unmatched(position, '{')),
                            Some((_, c)) => name.push(c),
                        }
                    }
                    let name = name.trim();
                    if name.is_empty() {
                        return Err(DataError::EmptySlot {
                            template: source.to_string(),
                            position,
                        });
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(if name == MASK_SLOT {
                        Part::Mask
                    } else {
                        Part::Field(name.to_string())
                    });
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        let masks = parts.iter().filter(|p| **p == Part::Mask).count();
        if masks != 1 {
            return Err(DataError::MaskCount {
                template: source.to_string(),
                found: masks,
            });
        }
        Ok(Self {
            source: source.to_string(),
            parts,
        })
    }

    /// Parses a template and checks its field slots against the dataset's text fields.
    pub fn parse_for_fields(source: &str, available: &[String]) -> Result<Self, DataError> {
        let template = Self::parse(source)?;
        template.check_fields(available)?;
        Ok(template)
    }

    /// Checks that every field slot names one of `available`.
    pub fn check_fields(&self, available: &[String]) -> Result<(), DataError> {
        match self
            .fields()
            .find(|field| !available.iter().any(|a| a == field))
        {
            Some(slot) => Err(DataError::UnknownSlot {
                template: self.source.clone(),
                slot: slot.to_string(),
                available: available.to_vec(),
            }),
            None => Ok(()),
        }
    }

    /// The template string as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The parsed pieces in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The distinct field names used, in order of first use.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        let mut seen: Vec<&str> = Vec::new();
        self.parts.iter().filter_map(move |part| match part {
            Part::Field(name) if !seen.contains(&name.as_str()) => {
                seen.push(name);
                Some(name.as_str())
            }
            _ => None,
        })
    }

    /// Whether the answer slot is the last piece.
    pub fn ends_with_mask(&self) -> bool {
        self.parts.last() == Some(&Part::Mask)
    }

    /// The pieces after the answer slot (what a causal LM never sees).
    pub fn after_mask(&self) -> &[Part] {
        let slot = self
            .parts
            .iter()
            .position(|p| *p == Part::Mask)
            .expect("a parsed template has one answer slot");
        &self.parts[slot + 1..]
    }

    /// Renders the template with `fields` and `mask` as the answer slot's text.
    pub fn render(
        &self,
        fields: &BTreeMap<String, String>,
        mask: &str,
    ) -> Result<Rendered, DataError> {
        let mut text = String::new();
        let mut field_spans = Vec::new();
        let mut mask_span = 0..0;
        for part in &self.parts {
            let start = text.len();
            match part {
                Part::Literal(literal) => text.push_str(literal),
                Part::Mask => {
                    text.push_str(mask);
                    mask_span = start..text.len();
                }
                Part::Field(name) => {
                    let value = fields
                        .get(name)
                        .ok_or_else(|| DataError::ExampleMissingField {
                            field: name.clone(),
                            available: fields.keys().cloned().collect(),
                        })?;
                    text.push_str(value);
                    field_spans.push((name.clone(), start..text.len()));
                }
            }
        }
        Ok(Rendered {
            text,
            field_spans,
            mask_span,
        })
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl TryFrom<String> for Template {
    type Error = DataError;

    fn try_from(source: String) -> Result<Self, DataError> {
        Self::parse(&source)
    }
}

impl From<Template> for String {
    fn from(template: Template) -> Self {
        template.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_the_usual_templates() {
        let t = Template::parse("Review: {sentence}\nSentiment:{mask}").unwrap();
        assert_eq!(
            t.parts(),
            &[
                Part::Literal("Review: ".into()),
                Part::Field("sentence".into()),
                Part::Literal("\nSentiment:".into()),
                Part::Mask
            ]
        );
        assert!(t.ends_with_mask());
        let t = Template::parse("{sentence} It was {mask} .").unwrap();
        assert!(!t.ends_with_mask());
        let t = Template::parse("{text}总体评价是{mask}的").unwrap();
        assert_eq!(t.parts()[1], Part::Literal("总体评价是".into()));
        assert_eq!(t.fields().collect::<Vec<_>>(), vec!["text"]);
        assert_eq!(t.after_mask(), [Part::Literal("的".into())]);
        assert!(
            Template::parse("{a}{mask}")
                .unwrap()
                .after_mask()
                .is_empty()
        );
    }

    #[test]
    fn renders_with_spans_and_escapes() {
        let t = Template::parse("{{{a}}} vs {b}: {mask}!").unwrap();
        let r = t
            .render(&fields(&[("a", "x"), ("b", "总")]), "[MASK]")
            .unwrap();
        assert_eq!(r.text, "{x} vs 总: [MASK]!");
        assert_eq!(
            r.field_spans,
            vec![("a".to_string(), 1..2), ("b".to_string(), 7..10)]
        );
        assert_eq!(&r.text[r.mask_span.clone()], "[MASK]");
        let err = t.render(&fields(&[("a", "x")]), "").unwrap_err();
        assert!(
            matches!(err, DataError::ExampleMissingField { ref field, .. } if field == "b"),
            "{err:?}"
        );
    }

    #[test]
    fn reports_malformed_templates() {
        let err = Template::parse("{sentence It was {mask}").unwrap_err();
        assert!(
            matches!(
                err,
                DataError::UnmatchedBrace {
                    position: 0,
                    brace: '{',
                    ..
                }
            ),
            "{err:?}"
        );
        let err = Template::parse("{sentence} }{mask}").unwrap_err();
        assert!(
            matches!(
                err,
                DataError::UnmatchedBrace {
                    position: 11,
                    brace: '}',
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(matches!(
            Template::parse("{mask} {sentence"),
            Err(DataError::UnmatchedBrace { position: 7, .. })
        ));
        let err = Template::parse("{} {mask}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "template \"{} {mask}\": empty slot `{}` at character 0; name a field, e.g. `{sentence}`, or `{mask}`"
        );
        let err = Template::parse("{sentence}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "template \"{sentence}\" has 0 `{mask}` slots; it needs exactly one answer slot"
        );
        assert!(matches!(
            Template::parse("{mask}{mask}"),
            Err(DataError::MaskCount { found: 2, .. })
        ));
        assert!(matches!(
            Template::parse("{{mask}}"),
            Err(DataError::MaskCount { found: 0, .. })
        ));
    }

    #[test]
    fn unknown_slots_name_the_slot_and_the_fields() {
        let err = Template::parse_for_fields("{sentnce} {mask}", &["sentence".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "template \"{sentnce} {mask}\": slot `{sentnce}` is not a dataset field (available: sentence)"
        );
        assert!(Template::parse_for_fields("{sentence}{mask}", &["sentence".into()]).is_ok());
    }

    #[test]
    fn deserializes_from_a_string() {
        #[derive(Deserialize)]
        struct Config {
            template: Template,
        }
        let config: Config = toml::from_str("template = \"{sentence} It was {mask} .\"").unwrap();
        assert_eq!(config.template.source(), "{sentence} It was {mask} .");
        let err = toml::from_str::<Config>("template = \"{sentence}\"")
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("needs exactly one answer slot"),
            "{err}"
        );
    }
}
