//! One labelled example and the result of reading a dataset file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::error::{DataError, error_chain};

/// One dataset row: its text fields by column name and its class index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// Text fields named by the column mapping, keyed by column name.
    pub fields: BTreeMap<String, String>,
    /// Class index into the column mapping's `label_names`.
    pub label: usize,
}

/// A bad row that was skipped because skipping was asked for.
#[derive(Debug)]
pub struct SkippedRow {
    /// Line number (1-based) where the row starts.
    pub line: usize,
    /// Why it was rejected.
    pub error: DataError,
}

impl fmt::Display for SkippedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&error_chain(&self.error))
    }
}

/// The examples read from one file, with the rows that were skipped.
#[derive(Debug)]
pub struct LoadedDataset {
    /// The file read.
    pub path: PathBuf,
    /// Class names; `Example::label` indexes them.
    pub label_names: Vec<String>,
    /// The good rows, in file order.
    pub examples: Vec<Example>,
    /// The line (1-based) where each of `examples` starts.
    pub lines: Vec<usize>,
    /// Rows skipped (empty unless `skip_bad_rows` was set).
    pub skipped: Vec<SkippedRow>,
}

impl LoadedDataset {
    /// How many examples have each label, indexed like `label_names`.
    pub fn label_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.label_names.len()];
        for example in &self.examples {
            if let Some(count) = counts.get_mut(example.label) {
                *count += 1;
            }
        }
        counts
    }

    /// One line per skipped row, `line N: reason`, for a report.
    pub fn skipped_summary(&self) -> String {
        self.skipped
            .iter()
            .map(|row| format!("line {}: {row}", row.line))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
