//! Where `predict` reads its inputs: the command's arguments, a TSV, CSV or JSONL file (the
//! columns the templates read; no label column needed), or standard input, one text per line.
//! Every input keeps its origin (`stdin:3`, `reviews.tsv:12`) for messages and output.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, Result, bail};
use prompt_data::{ColumnMapping, ReadOptions, read_dataset};
use prompt_eval::predict::Input;

/// One input and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbered {
    /// `argument 2`, `stdin:3`, `reviews.tsv:12`.
    pub origin: String,
    /// The text (or fields) to classify.
    pub input: Input,
}

impl Numbered {
    /// The input's text, its fields joined by ` | ` (for the table).
    pub fn text(&self) -> String {
        match &self.input {
            Input::Text(text) => text.clone(),
            Input::Fields(fields) => fields.values().cloned().collect::<Vec<_>>().join(" | "),
        }
    }
}

/// The positional texts.
pub fn from_arguments(texts: &[String]) -> Result<Vec<Numbered>> {
    let inputs = texts
        .iter()
        .enumerate()
        .map(|(i, text)| Numbered {
            origin: format!("argument {}", i + 1),
            input: Input::Text(text.clone()),
        })
        .collect();
    refuse_empty(inputs, "argument")
}

/// One text per line of `reader` (named `name` in messages); a trailing `\r` is dropped.
pub fn from_lines(reader: impl BufRead, name: &str) -> Result<Vec<Numbered>> {
    let mut inputs = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {name} at line {}", i + 1))?;
        inputs.push(Numbered {
            origin: format!("{name}:{}", i + 1),
            input: Input::Text(line.trim_end_matches('\r').to_string()),
        });
    }
    refuse_empty(inputs, "line")
}

/// The rows of a TSV, CSV or JSONL file (format from its extension), reading the columns
/// `fields`; the file may have others (a label column is ignored).
pub fn from_file(path: &Path, fields: &[String]) -> Result<Vec<Numbered>> {
    let mapping = ColumnMapping::unlabelled(fields.to_vec());
    let data = read_dataset(path, &mapping, &ReadOptions::default())?;
    let inputs = data
        .examples
        .into_iter()
        .zip(data.lines)
        .map(|(example, line)| Numbered {
            origin: format!("{}:{line}", path.display()),
            input: Input::Fields(example.fields),
        })
        .collect();
    refuse_empty(inputs, "row")
}

/// An input with no text is an error naming where it is (nothing is dropped silently).
fn refuse_empty(inputs: Vec<Numbered>, what: &str) -> Result<Vec<Numbered>> {
    let empty: Vec<&str> = inputs
        .iter()
        .filter(|n| is_blank(&n.input))
        .map(|n| n.origin.as_str())
        .collect();
    match empty.as_slice() {
        [] if inputs.is_empty() => {
            bail!("no input: give texts as arguments, --input FILE, or lines on stdin")
        }
        [] => Ok(inputs),
        [one] => bail!("{one}: the {what} is empty; remove it or give the text to classify"),
        many => bail!(
            "{} {what}s have no text ({}{}); remove them or give the texts to classify",
            many.len(),
            many[..many.len().min(5)].join(", "),
            if many.len() > 5 { ", …" } else { "" }
        ),
    }
}

fn is_blank(input: &Input) -> bool {
    let blank = |text: &String| text.trim().is_empty();
    match input {
        Input::Text(text) => blank(text),
        Input::Fields(fields) => fields.values().all(blank),
    }
}

/// The fields each task reads, merged: the columns a file must have.
pub fn fields_of_all(tasks: &[Vec<String>]) -> Vec<String> {
    let mut all: BTreeMap<&str, ()> = BTreeMap::new();
    for fields in tasks {
        for field in fields {
            all.insert(field, ());
        }
    }
    all.into_keys().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_their_numbers_and_an_empty_one_is_named() {
        let inputs = from_lines("good film\r\nbad film\n".as_bytes(), "stdin").unwrap();
        assert_eq!(inputs[1].origin, "stdin:2");
        assert_eq!(inputs[1].input, Input::Text("bad film".into()));
        let err = from_lines("good\n\nbad\n".as_bytes(), "stdin").unwrap_err();
        assert_eq!(
            err.to_string(),
            "stdin:2: the line is empty; remove it or give the text to classify"
        );
        let err = from_lines("a\n \n\nb\n".as_bytes(), "stdin").unwrap_err();
        assert_eq!(
            err.to_string(),
            "2 lines have no text (stdin:2, stdin:3); remove them or give the texts to classify"
        );
        let err = from_lines("".as_bytes(), "stdin").unwrap_err();
        assert!(err.to_string().starts_with("no input"), "{err}");
    }

    #[test]
    fn a_file_needs_the_template_columns_but_no_label() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.tsv");
        std::fs::write(&path, "id\tsentence\n1\ta fine film\n\n2\tdull\n").unwrap();
        let inputs = from_file(&path, &["sentence".into()]).unwrap();
        assert_eq!(inputs.len(), 2);
        assert_eq!(inputs[1].origin, format!("{}:4", path.display()));
        assert_eq!(inputs[1].text(), "dull");
        let err = from_file(&path, &["review".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:1: no column `review` (available: id, sentence); fix the column mapping or \
                 the file",
                path.display()
            )
        );
        let csv = dir.path().join("in.csv");
        std::fs::write(&csv, "sentence,label\nok,1\n   ,0\n").unwrap();
        let err = from_file(&csv, &["sentence".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:3: the row is empty; remove it or give the text to classify",
                csv.display()
            )
        );
    }

    #[test]
    fn fields_of_several_tasks_are_merged() {
        let tasks = [
            vec!["sentence".to_string()],
            vec!["a".into(), "sentence".into()],
        ];
        assert_eq!(fields_of_all(&tasks), ["a", "sentence"]);
    }
}
