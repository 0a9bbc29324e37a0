//! Reading labelled rows from GLUE-style TSV, CSV and JSONL files through a column mapping.

mod csv;
mod jsonl;
mod tsv;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, MappingProblem};
use crate::example::{Example, LoadedDataset, SkippedRow};

pub(crate) use tsv::parse_tsv;

/// Which columns hold the text and the label, and what the labels are called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    /// Columns (or JSON keys) whose text the template may use, e.g. `["sentence"]`.
    pub text_fields: Vec<String>,
    /// Column (or JSON key) holding the label.
    pub label_field: String,
    /// Class names in class-index order, e.g. `["negative", "positive"]`.
    pub label_names: Vec<String>,
    /// How label values are written; default `auto`.
    #[serde(default)]
    pub label_format: LabelFormat,
    /// Rows have no label column (text to classify); every example gets class 0.
    #[serde(skip)]
    unlabelled: bool,
}

/// How a label value names its class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelFormat {
    /// A label name if it equals one exactly, else an integer index (the default).
    #[default]
    Auto,
    /// An integer index into `label_names` (GLUE: `0`, `1`).
    Index,
    /// One of `label_names`, exactly.
    Name,
}

impl ColumnMapping {
    /// GLUE SST-2: column `sentence`, label column `label` with 0 = negative, 1 = positive.
    pub fn sst2() -> Self {
        Self {
            text_fields: vec!["sentence".into()],
            label_field: "label".into(),
            label_names: vec!["negative".into(), "positive".into()],
            label_format: LabelFormat::Index,
            unlabelled: false,
        }
    }

    /// Text columns only, for rows to classify: no label column is read and every example
    /// gets class 0.
    pub fn unlabelled(text_fields: Vec<String>) -> Self {
        Self {
            text_fields,
            label_field: String::new(),
            label_names: vec![String::new()],
            label_format: LabelFormat::Index,
            unlabelled: true,
        }
    }

    /// Checks that the mapping can be used at all.
    pub fn validate(&self) -> Result<(), DataError> {
        let problem = if self.text_fields.is_empty() {
            Some(MappingProblem::NoTextFields)
        } else if self.label_names.is_empty() {
            Some(MappingProblem::NoLabelNames)
        } else if self.text_fields.contains(&self.label_field) {
            Some(MappingProblem::LabelIsText(self.label_field.clone()))
        } else {
            self.label_names
                .iter()
                .enumerate()
                .find(|(i, name)| self.label_names[..*i].contains(name))
                .map(|(_, name)| MappingProblem::DuplicateLabelName(name.clone()))
        };
        match problem {
            Some(problem) => Err(DataError::InvalidMapping { problem }),
            None => Ok(()),
        }
    }

    /// Every column the mapping reads: the text fields, then the label field (if labelled).
    pub(crate) fn columns(&self) -> impl Iterator<Item = &str> {
        let label = (!self.unlabelled).then_some(self.label_field.as_str());
        self.text_fields.iter().map(String::as_str).chain(label)
    }

    /// Turns a label value into a class index (surrounding whitespace ignored).
    pub(crate) fn parse_label(
        &self,
        raw: &str,
        path: &Path,
        line: usize,
    ) -> Result<usize, DataError> {
        let value = raw.trim();
        let count = self.label_names.len();
        if self.label_format != LabelFormat::Index {
            if let Some(index) = self.label_names.iter().position(|name| name == value) {
                return Ok(index);
            }
            if self.label_format == LabelFormat::Name || value.parse::<i128>().is_err() {
                return Err(DataError::UnknownLabel {
                    path: path.to_path_buf(),
                    line,
                    column: self.label_field.clone(),
                    value: value.to_string(),
                    label_names: self.label_names.clone(),
                    index_allowed: self.label_format == LabelFormat::Auto,
                });
            }
        }
        let Ok(index) = value.parse::<i128>() else {
            return Err(DataError::LabelNotInteger {
                path: path.to_path_buf(),
                line,
                column: self.label_field.clone(),
                value: value.to_string(),
                count,
            });
        };
        usize::try_from(index)
            .ok()
            .filter(|&i| i < count)
            .ok_or_else(|| DataError::LabelOutOfRange {
                path: path.to_path_buf(),
                line,
                column: self.label_field.clone(),
                value: value.to_string(),
                count,
                label_names: self.label_names.clone(),
            })
    }

    /// Builds an example from the values of [`columns`](Self::columns), in that order.
    pub(crate) fn example_from(
        &self,
        path: &Path,
        line: usize,
        values: &[&str],
    ) -> Result<Example, DataError> {
        let fields = self
            .text_fields
            .iter()
            .zip(values)
            .map(|(name, value)| (name.clone(), value.to_string()))
            .collect();
        if self.unlabelled {
            return Ok(Example { fields, label: 0 });
        }
        let label = self.parse_label(
            values
                .get(self.text_fields.len())
                .copied()
                .unwrap_or_default(),
            path,
            line,
        )?;
        Ok(Example { fields, label })
    }

    /// Where each of [`columns`](Self::columns) is in a header; errors naming the first
    /// column the header lacks.
    pub(crate) fn column_indices(
        &self,
        path: &Path,
        line: usize,
        header: &[String],
    ) -> Result<Vec<usize>, DataError> {
        self.columns()
            .map(|column| {
                header
                    .iter()
                    .position(|h| h == column)
                    .ok_or_else(|| DataError::MissingColumn {
                        path: path.to_path_buf(),
                        line,
                        column: column.to_string(),
                        available: header.to_vec(),
                    })
            })
            .collect()
    }
}

/// A dataset file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// Tab-separated with a header row, no quoting (GLUE).
    Tsv,
    /// Comma-separated with a header row, RFC 4180 quoting.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl DataFormat {
    /// The format named by the file's extension (`.tsv`, `.csv`, `.jsonl` or `.json`).
    pub fn from_path(path: &Path) -> Result<Self, DataError> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("tsv") => Ok(Self::Tsv),
            Some("csv") => Ok(Self::Csv),
            Some("jsonl" | "json") => Ok(Self::Jsonl),
            _ => Err(DataError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// How to read a dataset file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadOptions {
    /// The file's format; default: from the file's extension.
    #[serde(default)]
    pub format: Option<DataFormat>,
    /// Skip rows that fail to parse and report them instead of failing; default `false`.
    #[serde(default)]
    pub skip_bad_rows: bool,
}

/// Reads a dataset file into examples.
///
/// Errors name the file and line; with `skip_bad_rows` a bad row is recorded in
/// [`LoadedDataset::skipped`] instead, but problems with the whole file (unreadable, empty,
/// header lacking a mapped column, no good row at all) are still errors.
pub fn read_dataset(
    path: &Path,
    mapping: &ColumnMapping,
    options: &ReadOptions,
) -> Result<LoadedDataset, DataError> {
    let format = match options.format {
        Some(format) => format,
        None => DataFormat::from_path(path)?,
    };
    let bytes = std::fs::read(path).map_err(|source| read_error(path, source))?;
    parse_dataset(&bytes, path, format, mapping, options.skip_bad_rows)
}

/// A failed read of `path`: a permission problem says how to fix it, others keep their cause.
fn read_error(path: &Path, source: std::io::Error) -> DataError {
    let path = path.to_path_buf();
    match source.kind() {
        std::io::ErrorKind::PermissionDenied => DataError::NotReadable { path },
        _ => DataError::Io { path, source },
    }
}

/// Parses the contents of a dataset file (`bytes`, named `path` in errors) in `format`; see
/// [`read_dataset`].
pub fn parse_dataset(
    bytes: &[u8],
    path: &Path,
    format: DataFormat,
    mapping: &ColumnMapping,
    skip_bad_rows: bool,
) -> Result<LoadedDataset, DataError> {
    mapping.validate()?;
    match format {
        DataFormat::Tsv => tsv::parse_tsv(bytes, path, mapping, skip_bad_rows),
        DataFormat::Csv => csv::parse_csv(bytes, path, mapping, skip_bad_rows),
        DataFormat::Jsonl => jsonl::parse_jsonl(bytes, path, mapping, skip_bad_rows),
    }
}

/// Collects rows, either failing on the first bad one or recording it as skipped.
pub(crate) struct RowSink<'m> {
    path: PathBuf,
    mapping: &'m ColumnMapping,
    skip_bad_rows: bool,
    examples: Vec<Example>,
    lines: Vec<usize>,
    skipped: Vec<SkippedRow>,
}

impl<'m> RowSink<'m> {
    pub(crate) fn new(path: &Path, mapping: &'m ColumnMapping, skip_bad_rows: bool) -> Self {
        Self {
            path: path.to_path_buf(),
            mapping,
            skip_bad_rows,
            examples: Vec::new(),
            lines: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Adds a row's outcome; returns the error unless bad rows are skipped.
    pub(crate) fn push(
        &mut self,
        line: usize,
        row: Result<Example, DataError>,
    ) -> Result<(), DataError> {
        match row {
            Ok(example) => {
                self.examples.push(example);
                self.lines.push(line);
            }
            Err(error) if self.skip_bad_rows => self.skipped.push(SkippedRow { line, error }),
            Err(error) => return Err(error),
        }
        Ok(())
    }

    /// The dataset, or an error when no row was seen (`header_line` names the header) or
    /// every row was skipped.
    pub(crate) fn finish(self, header_line: Option<usize>) -> Result<LoadedDataset, DataError> {
        if self.examples.is_empty() {
            return Err(if !self.skipped.is_empty() {
                DataError::NoValidRows {
                    path: self.path,
                    skipped: self.skipped.len(),
                }
            } else if let Some(line) = header_line {
                DataError::NoRows {
                    path: self.path,
                    line,
                }
            } else {
                DataError::EmptyFile { path: self.path }
            });
        }
        Ok(LoadedDataset {
            path: self.path,
            label_names: self.mapping.label_names.clone(),
            examples: self.examples,
            lines: self.lines,
            skipped: self.skipped,
        })
    }
}

/// Splits file bytes into lines numbered from 1, without `\n` or a trailing `\r`; drops the
/// empty piece after a final newline.
pub(crate) fn numbered_lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let pieces = if bytes.is_empty() {
        None
    } else {
        Some(bytes.split(|&b| b == b'\n'))
    };
    pieces
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, line)| (i + 1, line.strip_suffix(b"\r").unwrap_or(line)))
}

/// Decodes one line as UTF-8, naming the line and byte column on failure.
pub(crate) fn line_utf8<'a>(
    bytes: &'a [u8],
    path: &Path,
    line: usize,
) -> Result<&'a str, DataError> {
    std::str::from_utf8(bytes).map_err(|source| DataError::InvalidUtf8 {
        path: path.to_path_buf(),
        line,
        column: source.valid_up_to() + 1,
        source,
    })
}

/// Strips a UTF-8 byte-order mark, which some editors put at the start of a file.
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_file_this_user_may_not_read_says_how_to_fix_it() {
        let path = Path::new("/data/train.tsv");
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(
            read_error(path, denied).to_string(),
            "cannot read /data/train.tsv: permission denied; make it readable (`chmod a+r \
             /data/train.tsv`) or point to a readable copy"
        );
        let other = std::io::Error::from(std::io::ErrorKind::Interrupted);
        assert!(matches!(read_error(path, other), DataError::Io { .. }));
    }

    #[test]
    fn the_extension_picks_the_format_unless_one_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let mapping = ColumnMapping::sst2();
        let options = ReadOptions::default();
        let tsv = write(dir.path(), "a.tsv", "sentence\tlabel\nx , y\t1\n");
        assert_eq!(
            read_dataset(&tsv, &mapping, &options).unwrap().examples[0].fields["sentence"],
            "x , y"
        );
        let csv = write(dir.path(), "a.csv", "sentence,label\n\"x , y\",1\n");
        assert_eq!(
            read_dataset(&csv, &mapping, &options).unwrap().examples[0].fields["sentence"],
            "x , y"
        );
        let jsonl = write(
            dir.path(),
            "a.JSONL",
            "{\"sentence\": \"x , y\", \"label\": 0}\n",
        );
        assert_eq!(
            read_dataset(&jsonl, &mapping, &options).unwrap().examples[0].label,
            0
        );
        let txt = write(dir.path(), "a.txt", "sentence\tlabel\nz\t0\n");
        let err = read_dataset(&txt, &mapping, &options).unwrap_err();
        assert!(matches!(err, DataError::UnknownFormat { .. }), "{err:?}");
        let as_tsv = ReadOptions {
            format: Some(DataFormat::Tsv),
            skip_bad_rows: false,
        };
        assert_eq!(
            read_dataset(&txt, &mapping, &as_tsv)
                .unwrap()
                .examples
                .len(),
            1
        );
        let missing = dir.path().join("missing.tsv");
        let err = read_dataset(&missing, &mapping, &options).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot access {}", missing.display())
        );
    }

    #[test]
    fn mappings_come_from_toml_and_are_checked() {
        let mapping: ColumnMapping =
            toml::from_str("text_fields = [\"sentence\"]\nlabel_field = \"label\"\nlabel_names = [\"neg\", \"pos\"]").unwrap();
        assert_eq!(mapping.label_format, LabelFormat::Auto);
        assert!(
            toml::from_str::<ColumnMapping>(
                "text_fields = []\nlabel_field = \"l\"\nlabel_names = []\nlabels = 1"
            )
            .is_err()
        );
        let options: ReadOptions =
            toml::from_str("format = \"jsonl\"\nskip_bad_rows = true").unwrap();
        assert_eq!(
            options,
            ReadOptions {
                format: Some(DataFormat::Jsonl),
                skip_bad_rows: true
            }
        );
        let bad = |m: ColumnMapping| m.validate().unwrap_err().to_string();
        assert_eq!(
            bad(ColumnMapping {
                text_fields: vec![],
                ..mapping.clone()
            }),
            "invalid column mapping: `text_fields` is empty; name at least one text column"
        );
        assert_eq!(
            bad(ColumnMapping {
                label_names: vec!["a".into(), "a".into()],
                ..mapping.clone()
            }),
            "invalid column mapping: label name `a` appears twice in `label_names`"
        );
        assert_eq!(
            bad(ColumnMapping {
                label_field: "sentence".into(),
                ..mapping
            }),
            "invalid column mapping: `sentence` is both the label field and a text field"
        );
    }
}
