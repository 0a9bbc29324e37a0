//! JSON Lines: one object per line; text fields are strings, the label a string or an integer.

use std::path::Path;

use serde_json::Value;

use super::{ColumnMapping, RowSink, line_utf8, numbered_lines, strip_bom};
use crate::error::DataError;
use crate::example::{Example, LoadedDataset};

/// Parses JSONL bytes; `path` names the source in errors. Blank lines are ignored.
pub(crate) fn parse_jsonl(
    bytes: &[u8],
    path: &Path,
    mapping: &ColumnMapping,
    skip_bad_rows: bool,
) -> Result<LoadedDataset, DataError> {
    let mut sink = RowSink::new(path, mapping, skip_bad_rows);
    for (line, bytes) in numbered_lines(strip_bom(bytes)) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        sink.push(line, parse_row(bytes, path, line, mapping))?;
    }
    sink.finish(None)
}

fn parse_row(
    bytes: &[u8],
    path: &Path,
    line: usize,
    mapping: &ColumnMapping,
) -> Result<Example, DataError> {
    let text = line_utf8(bytes, path, line)?;
    let value: Value = serde_json::from_str(text).map_err(|source| DataError::Json {
        path: path.to_path_buf(),
        line,
        source,
    })?;
    let Value::Object(object) = value else {
        return Err(DataError::JsonNotObject {
            path: path.to_path_buf(),
            line,
            found: type_name(&value),
        });
    };
    // Integer labels are turned into text so one label parser serves every format.
    let label_text = match object.get(&mapping.label_field) {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    };
    let mut values = Vec::new();
    for field in mapping.columns() {
        let is_label = field == mapping.label_field;
        let value = match object.get(field) {
            Some(Value::String(s)) => s.as_str(),
            Some(_) if is_label && label_text.is_some() => {
                label_text.as_deref().unwrap_or_default()
            }
            Some(other) => {
                return Err(DataError::JsonFieldType {
                    path: path.to_path_buf(),
                    line,
                    field: field.to_string(),
                    found: type_name(other),
                    expected: if is_label {
                        "a string or an integer"
                    } else {
                        "a string"
                    },
                });
            }
            None => {
                return Err(DataError::MissingColumn {
                    path: path.to_path_buf(),
                    line,
                    column: field.to_string(),
                    available: object.keys().cloned().collect(),
                });
            }
        };
        values.push(value);
    }
    mapping.example_from(path, line, &values)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::LabelFormat;

    fn mapping() -> ColumnMapping {
        ColumnMapping {
            text_fields: vec!["text".into()],
            label_field: "label".into(),
            label_names: vec!["差".into(), "好".into()],
            label_format: LabelFormat::Auto,
            unlabelled: false,
        }
    }

    fn parse(text: &str, skip: bool) -> Result<LoadedDataset, DataError> {
        parse_jsonl(text.as_bytes(), Path::new("z.jsonl"), &mapping(), skip)
    }

    #[test]
    fn reads_integer_and_name_labels_and_unicode() {
        let data = parse("{\"text\":\"这部电影很有趣。\",\"label\":1}\r\n\n{\"text\":\"无聊\",\"label\":\"差\"}\n", false).unwrap();
        assert_eq!(data.examples.len(), 2);
        assert_eq!(data.examples[0].fields["text"], "这部电影很有趣。");
        assert_eq!(data.examples[0].label, 1);
        assert_eq!(data.examples[1].label, 0);
    }

    #[test]
    fn errors_name_line_and_field() {
        let err = parse(
            "{\"text\":\"a\",\"label\":1}\n{\"txt\":\"b\",\"label\":0}\n",
            false,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "z.jsonl:2: no column `text` (available: label, txt); fix the column mapping or the file"
        );
        let err = parse("{\"text\":5,\"label\":1}\n", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "z.jsonl:1: field `text` is a number; expected a string"
        );
        let err = parse("{\"text\":\"a\",\"label\":1.5}\n", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "z.jsonl:1: field `label` is a number; expected a string or an integer"
        );
        assert!(matches!(
            parse("[1]\n", false),
            Err(DataError::JsonNotObject {
                line: 1,
                found: "an array",
                ..
            })
        ));
        assert!(matches!(
            parse("{\"text\":\n", false),
            Err(DataError::Json { line: 1, .. })
        ));
        assert!(matches!(
            parse("\n \n", false),
            Err(DataError::EmptyFile { .. })
        ));
    }

    #[test]
    fn skipping_reports_bad_lines() {
        let data = parse(
            "{\"text\":\"a\",\"label\":1}\nnot json\n{\"text\":\"b\",\"label\":7}\n",
            true,
        )
        .unwrap();
        assert_eq!(data.examples.len(), 1);
        assert_eq!(
            data.skipped.iter().map(|s| s.line).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert!(matches!(
            data.skipped[1].error,
            DataError::LabelOutOfRange { .. }
        ));
    }
}
