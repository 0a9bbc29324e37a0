//! CSV with a header row and RFC 4180 quoting, read with the `csv` crate.

use std::path::Path;

use csv::{ByteRecord, ReaderBuilder};

use super::{ColumnMapping, RowSink, strip_bom};
use crate::error::DataError;
use crate::example::{Example, LoadedDataset};

/// Parses CSV bytes; `path` names the source in errors.
pub(crate) fn parse_csv(
    bytes: &[u8],
    path: &Path,
    mapping: &ColumnMapping,
    skip_bad_rows: bool,
) -> Result<LoadedDataset, DataError> {
    let bytes = strip_bom(bytes);
    let mut reader = ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let mut sink = RowSink::new(path, mapping, skip_bad_rows);
    let header_record = reader
        .byte_headers()
        .map_err(|e| csv_error(path, 1, e))?
        .clone();
    if header_record.is_empty() {
        return sink.finish(None);
    }
    let header_line = header_record.position().map_or(1, |p| p.line() as usize);
    let header = header_record
        .iter()
        .map(|field| utf8(bytes, 0, field, path).map(str::to_string))
        .collect::<Result<Vec<_>, _>>()?;
    let indices = mapping.column_indices(path, header_line, &header)?;
    let mut record = ByteRecord::new();
    let mut line = header_line;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let position = record.position();
                line = position.map_or(line + 1, |p| p.line() as usize);
                let start = position.map_or(0, |p| p.byte() as usize);
                let row = row_example(bytes, start, &record, &indices, mapping, path, line);
                sink.push(line, row)?;
            }
            Err(error) => {
                line = error.position().map_or(line + 1, |p| p.line() as usize);
                // A malformed record (e.g. wrong field count) is a bad row; the reader resumes
                // at the next record.
                sink.push(line, Err(csv_error(path, line, error)))?;
            }
        }
    }
    sink.finish(Some(header_line))
}

fn row_example(
    source: &[u8],
    start: usize,
    record: &ByteRecord,
    indices: &[usize],
    mapping: &ColumnMapping,
    path: &Path,
    line: usize,
) -> Result<Example, DataError> {
    let mut values = Vec::with_capacity(indices.len());
    for &index in indices {
        values.push(utf8(
            source,
            start,
            record.get(index).unwrap_or_default(),
            path,
        )?);
    }
    mapping.example_from(path, line, &values)
}

/// Decodes a field; on failure locates the first invalid byte in the source from `start` on,
/// so the error gives the real line and byte column.
fn utf8<'a>(
    source: &[u8],
    start: usize,
    field: &'a [u8],
    path: &Path,
) -> Result<&'a str, DataError> {
    std::str::from_utf8(field).map_err(|field_error| {
        let rest = source.get(start..).unwrap_or_default();
        let source_error = std::str::from_utf8(rest).err().unwrap_or(field_error);
        let offset = start + source_error.valid_up_to();
        let before = &source[..offset.min(source.len())];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        DataError::InvalidUtf8 {
            path: path.to_path_buf(),
            line,
            column: offset - line_start + 1,
            source: source_error,
        }
    })
}

fn csv_error(path: &Path, line: usize, source: csv::Error) -> DataError {
    DataError::Csv {
        path: path.to_path_buf(),
        line,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::error_chain;

    fn mapping() -> ColumnMapping {
        ColumnMapping {
            text_fields: vec!["premise".into(), "hypothesis".into()],
            label_field: "gold".into(),
            label_names: vec!["entailment".into(), "contradiction".into()],
            label_format: crate::reader::LabelFormat::Name,
            unlabelled: false,
        }
    }

    fn parse(text: &[u8], skip: bool) -> Result<LoadedDataset, DataError> {
        parse_csv(text, Path::new("d.csv"), &mapping(), skip)
    }

    #[test]
    fn reads_quoted_fields_crlf_and_label_names() {
        let text = b"id,premise,hypothesis,gold\r\n1,\"A, b\",\"say \"\"hi\"\"\",contradiction\r\n2,x,y,entailment\r\n";
        let data = parse(text, false).unwrap();
        assert_eq!(data.examples.len(), 2);
        assert_eq!(data.examples[0].fields["premise"], "A, b");
        assert_eq!(data.examples[0].fields["hypothesis"], "say \"hi\"");
        assert_eq!(data.examples[0].label, 1);
        assert_eq!(data.examples[1].label, 0);
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = parse(b"premise,gold\na,entailment\n", false).unwrap_err();
        assert!(
            matches!(&err, DataError::MissingColumn { line: 1, column, .. } if column == "hypothesis"),
            "{err:?}"
        );
        let err = parse(
            b"premise,hypothesis,gold\na,b,entailment\nc,d,neutral\n",
            false,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                DataError::UnknownLabel {
                    line: 3,
                    index_allowed: false,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = parse(
            b"premise,hypothesis,gold\na,b,entailment\nc,\xC3(,entailment\n",
            false,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                DataError::InvalidUtf8 {
                    line: 3,
                    column: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = parse(b"premise,hypothesis,gold\na,b\n", false).unwrap_err();
        assert!(
            matches!(err, DataError::Csv { line: 2, .. }),
            "{}",
            error_chain(&err)
        );
        assert!(matches!(
            parse(b"premise,hypothesis,gold\r\n", false),
            Err(DataError::NoRows { line: 1, .. })
        ));
        assert!(matches!(
            parse(b"", false),
            Err(DataError::EmptyFile { .. })
        ));
    }

    #[test]
    fn skipping_continues_after_malformed_records() {
        let data = parse(
            b"premise,hypothesis,gold\na,b\nc,d,entailment\ne,f,maybe\n",
            true,
        )
        .unwrap();
        assert_eq!(data.examples.len(), 1);
        assert_eq!(
            data.skipped.iter().map(|s| s.line).collect::<Vec<_>>(),
            vec![2, 4]
        );
    }
}
