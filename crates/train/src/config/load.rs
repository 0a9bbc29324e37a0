//! Reading an experiment config: TOML text plus `key.path=value` overrides, with every error
//! naming the key and, where it comes from the file, its line and column.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};
use toml::{Spanned, Table, Value};

use crate::error::ConfigError;

/// One command-line override, `prompt.length=100`: a dotted key path and a TOML value.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The assignment as written (named in errors).
    pub assignment: String,
    /// The key path, outermost table first.
    pub key: Vec<String>,
    /// The value; text that is not a TOML value (`adamw`) is taken as a string.
    pub value: Value,
}

impl Override {
    /// Parses each of `assignments` (`key.path=value`), in order.
    pub fn parse_all<S: AsRef<str>>(
        assignments: impl IntoIterator<Item = S>,
    ) -> Result<Vec<Self>, ConfigError> {
        assignments
            .into_iter()
            .map(|a| Self::parse(a.as_ref()))
            .collect()
    }

    /// Parses `key.path=value`.
    pub fn parse(assignment: &str) -> Result<Self, ConfigError> {
        let bad = |reason: &'static str| ConfigError::BadOverride {
            assignment: assignment.to_string(),
            reason,
        };
        let (key, value) = assignment
            .split_once('=')
            .ok_or_else(|| bad("expected KEY.PATH=VALUE, e.g. prompt.length=100"))?;
        let key: Vec<String> = key.trim().split('.').map(str::to_string).collect();
        if key.iter().any(String::is_empty) {
            return Err(bad("the key path has an empty part"));
        }
        let value = value.trim();
        let value = toml::from_str::<Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut table| table.remove("v"))
            .unwrap_or_else(|| Value::String(value.to_string()));
        Ok(Self {
            assignment: assignment.to_string(),
            key,
            value,
        })
    }

    /// Writes the value into `table`, creating the tables on the way.
    fn apply(&self, table: &mut Table) -> Result<(), ConfigError> {
        let (last, parents) = self.key.split_last().expect("parse rejects empty keys");
        let mut current = table;
        for (depth, part) in parents.iter().enumerate() {
            let entry = current
                .entry(part.clone())
                .or_insert_with(|| Value::Table(Table::new()));
            current = match entry {
                Value::Table(inner) => inner,
                _ => {
                    return Err(ConfigError::OverrideNotTable {
                        assignment: self.assignment.clone(),
                        key: self.key[..=depth].join("."),
                    });
                }
            };
        }
        current.insert(last.clone(), self.value.clone());
        Ok(())
    }
}

/// Deserializes `text` (read from `origin`) after applying `overrides` in order.
pub fn parse_with_overrides<T: DeserializeOwned>(
    text: &str,
    origin: &Path,
    overrides: &[Override],
) -> Result<T, ConfigError> {
    if overrides.is_empty() {
        return toml::from_str(text).map_err(|error| locate(&error, text, origin, None));
    }
    let mut table: Table =
        toml::from_str(text).map_err(|error| locate(&error, text, origin, None))?;
    for item in overrides {
        item.apply(&mut table)?;
    }
    let merged = toml::to_string(&table).map_err(|source| ConfigError::Serialize {
        path: origin.to_path_buf(),
        source,
    })?;
    toml::from_str(&merged).map_err(|error| {
        let key = key_path_at(&merged, error.span().unwrap_or(0..0));
        let from_override = overrides.iter().rev().find(|item| {
            !key.is_empty() && (key.starts_with(&item.key) || item.key.starts_with(&key))
        });
        match from_override {
            Some(item) => ConfigError::Override {
                assignment: item.assignment.clone(),
                key: key.join("."),
                message: error.message().to_string(),
            },
            None => locate(&error, text, origin, Some(&key)),
        }
    })
}

/// Turns a TOML error into one naming the file, the key and the line/column in `text`.
/// `key` is the key path when the error was found in another rendering of the same document;
/// otherwise it is looked up from the error's span in `text`.
fn locate(
    error: &toml::de::Error,
    text: &str,
    origin: &Path,
    key: Option<&[String]>,
) -> ConfigError {
    let (key, span) = match key {
        Some(key) => (key.to_vec(), span_of_key(text, key)),
        None => {
            let span = error.span();
            (
                span.clone()
                    .map(|s| key_path_at(text, s))
                    .unwrap_or_default(),
                span,
            )
        }
    };
    let (line, column) = span.map(|s| line_column(text, s.start)).unwrap_or((0, 0));
    ConfigError::Toml {
        path: origin.to_path_buf(),
        line,
        column,
        key: key.join("."),
        message: error.message().trim().to_string(),
    }
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// The dotted key path of the innermost entry whose key or value covers `span.start`.
fn key_path_at(text: &str, span: Range<usize>) -> Vec<String> {
    let Ok(root) = DeTable::parse(text) else {
        return Vec::new();
    };
    let mut path = Vec::new();
    descend(root.get_ref(), span.start, &mut path);
    path
}

fn descend(table: &DeTable<'_>, at: usize, path: &mut Vec<String>) {
    for (key, value) in table {
        let covers = |r: Range<usize>| r.start <= at && at < r.end.max(r.start + 1);
        if covers(key.span()) || covers(value.span()) || contains_inside(value, at) {
            path.push(key.get_ref().to_string());
            if let DeValue::Table(inner) = value.get_ref() {
                descend(inner, at, path);
            }
            return;
        }
    }
}

/// Whether a table value (whose own span may only be its header) holds an entry covering `at`.
fn contains_inside(value: &Spanned<DeValue<'_>>, at: usize) -> bool {
    match value.get_ref() {
        DeValue::Table(inner) => inner.iter().any(|(k, v)| {
            let r = k.span().start.min(v.span().start)..k.span().end.max(v.span().end);
            (r.start <= at && at < r.end) || contains_inside(v, at)
        }),
        _ => false,
    }
}

/// Span of the entry at `key` in `text`, or of its deepest existing table.
fn span_of_key(text: &str, key: &[String]) -> Option<Range<usize>> {
    let root = DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut span = None;
    for part in key {
        let (k, value) = table.iter().find(|(k, _)| k.get_ref() == part)?;
        span = Some(k.span());
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => break,
        }
    }
    span
}

/// Reads a file to a string, naming the path on failure.
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: PathBuf::from(path),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_values_are_toml_or_plain_strings() {
        let o = Override::parse("prompt.length=100").unwrap();
        assert_eq!(o.key, ["prompt", "length"]);
        assert_eq!(o.value, Value::Integer(100));
        let o = Override::parse("optimizer.kind=adamw").unwrap();
        assert_eq!(o.value, Value::String("adamw".into()));
        let o = Override::parse("optimizer.lr = 0.3").unwrap();
        assert_eq!(o.value, Value::Float(0.3));
        let o = Override::parse("template.text=\"{sentence} It was\"").unwrap();
        assert_eq!(o.value, Value::String("{sentence} It was".into()));
    }

    #[test]
    fn malformed_overrides_are_rejected_with_the_assignment() {
        let e = Override::parse("prompt.length").unwrap_err().to_string();
        assert!(
            e.contains("`prompt.length`") && e.contains("KEY.PATH=VALUE"),
            "{e}"
        );
        let e = Override::parse("prompt..length=3").unwrap_err().to_string();
        assert!(e.contains("empty part"), "{e}");
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_column("a = 1\nbc = 2\n", 6), (2, 1));
        assert_eq!(line_column("a = 1\nbc = 2\n", 11), (2, 6));
    }

    #[test]
    fn key_path_is_found_from_a_span() {
        let text = "seed = 1\n[prompt]\nlength = 5\n[optimizer.adamw]\nbeta1 = 0.9\n";
        let at = text.find("5").unwrap();
        assert_eq!(key_path_at(text, at..at + 1), ["prompt", "length"]);
        let at = text.find("beta1").unwrap();
        assert_eq!(
            key_path_at(text, at..at + 5),
            ["optimizer", "adamw", "beta1"]
        );
    }
}
