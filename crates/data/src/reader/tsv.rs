//! GLUE-style TSV: a header row, fields split on tabs, no quoting (SST-2 sentences hold bare
//! `"` and `'` characters that a CSV reader would misread).

use std::path::Path;

use super::{ColumnMapping, RowSink, line_utf8, numbered_lines, strip_bom};
use crate::error::DataError;
use crate::example::{Example, LoadedDataset};

/// Parses TSV bytes; `path` names the source in errors. Blank lines are ignored.
pub(crate) fn parse_tsv(
    bytes: &[u8],
    path: &Path,
    mapping: &ColumnMapping,
    skip_bad_rows: bool,
) -> Result<LoadedDataset, DataError> {
    let mut lines = numbered_lines(strip_bom(bytes)).filter(|(_, line)| !line.is_empty());
    let mut sink = RowSink::new(path, mapping, skip_bad_rows);
    let Some((header_line, header)) = lines.next() else {
        return sink.finish(None);
    };
    let header: Vec<String> = line_utf8(header, path, header_line)?
        .split('\t')
        .map(str::to_string)
        .collect();
    let indices = mapping.column_indices(path, header_line, &header)?;
    for (line, bytes) in lines {
        sink.push(
            line,
            parse_row(bytes, path, line, header.len(), &indices, mapping),
        )?;
    }
    sink.finish(Some(header_line))
}

fn parse_row(
    bytes: &[u8],
    path: &Path,
    line: usize,
    header_len: usize,
    indices: &[usize],
    mapping: &ColumnMapping,
) -> Result<Example, DataError> {
    let text = line_utf8(bytes, path, line)?;
    let values: Vec<&str> = text.split('\t').collect();
    if values.len() != header_len {
        return Err(DataError::FieldCount {
            path: path.to_path_buf(),
            line,
            expected: header_len,
            found: values.len(),
        });
    }
    let mapped: Vec<&str> = indices.iter().map(|&i| values[i]).collect();
    mapping.example_from(path, line, &mapped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::LabelFormat;

    fn mapping() -> ColumnMapping {
        ColumnMapping::sst2()
    }

    fn parse(text: &[u8], skip: bool) -> Result<LoadedDataset, DataError> {
        parse_tsv(text, Path::new("x.tsv"), &mapping(), skip)
    }

    #[test]
    fn reads_quotes_literally_and_handles_crlf() {
        let data = parse(
            b"sentence\tlabel\r\nit 's \" great \" \t1\r\n'' bad ''\t0\r\n",
            false,
        )
        .unwrap();
        assert_eq!(data.examples.len(), 2);
        assert_eq!(data.examples[0].fields["sentence"], "it 's \" great \" ");
        assert_eq!(data.examples[0].label, 1);
        assert_eq!(data.examples[1].fields["sentence"], "'' bad ''");
        assert_eq!(data.examples[1].label, 0);
    }

    #[test]
    fn columns_are_found_by_header_name_and_bom_is_ignored() {
        let data = parse(b"\xEF\xBB\xBFlabel\tsentence\n1\tfine\n", false).unwrap();
        assert_eq!(data.examples[0].fields["sentence"], "fine");
        assert_eq!(data.examples[0].label, 1);
    }

    #[test]
    fn empty_and_header_only_files_are_errors() {
        assert!(matches!(
            parse(b"", false),
            Err(DataError::EmptyFile { .. })
        ));
        assert!(matches!(
            parse(b"\n\r\n", false),
            Err(DataError::EmptyFile { .. })
        ));
        let err = parse(b"sentence\tlabel\n", false).unwrap_err();
        assert!(matches!(err, DataError::NoRows { line: 1, .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "x.tsv:1: the header is the last line; the file has no data rows"
        );
    }

    #[test]
    fn missing_column_names_file_line_and_available_columns() {
        let err = parse(b"text\tlabel\nhello\t1\n", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.tsv:1: no column `sentence` (available: text, label); fix the column mapping or the file"
        );
    }

    #[test]
    fn bad_rows_name_line_and_problem() {
        let err = parse(b"sentence\tlabel\nok\t1\nbad\tx\n", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.tsv:3: label `x` in column `label` is not an integer; expected an index 0..2"
        );
        let err = parse(b"sentence\tlabel\nok\t2\n", false).unwrap_err();
        assert!(
            matches!(err, DataError::LabelOutOfRange { line: 2, .. }),
            "{err:?}"
        );
        let err = parse(b"sentence\tlabel\nno tab here\n", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.tsv:2: 1 tab-separated fields, but the header has 2"
        );
        let err = parse(b"sentence\tlabel\nok\t1\nbad \xFF byte\t0\n", false).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::InvalidUtf8 {
                    line: 3,
                    column: 5,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn skipping_reports_lines_and_reasons() {
        let data = parse(b"sentence\tlabel\nok\t1\nbad\tx\n\xFF\t0\nfine\t0\n", true).unwrap();
        assert_eq!(data.examples.len(), 2);
        let lines: Vec<usize> = data.skipped.iter().map(|s| s.line).collect();
        assert_eq!(lines, vec![3, 4]);
        assert!(matches!(
            data.skipped[0].error,
            DataError::LabelNotInteger { .. }
        ));
        assert!(matches!(
            data.skipped[1].error,
            DataError::InvalidUtf8 { .. }
        ));
        assert!(
            data.skipped_summary()
                .starts_with("line 3: x.tsv:3: label `x`"),
            "{}",
            data.skipped_summary()
        );
        let err = parse(b"sentence\tlabel\nbad\tx\n", true).unwrap_err();
        assert!(
            matches!(err, DataError::NoValidRows { skipped: 1, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn label_names_are_accepted_with_auto_format() {
        let mut mapping = mapping();
        mapping.label_format = LabelFormat::Auto;
        let data = parse_tsv(
            b"sentence\tlabel\na\tpositive\nb\t0\n",
            Path::new("x.tsv"),
            &mapping,
            false,
        )
        .unwrap();
        assert_eq!(
            data.examples.iter().map(|e| e.label).collect::<Vec<_>>(),
            vec![1, 0]
        );
        let err = parse_tsv(
            b"sentence\tlabel\na\tmeh\n",
            Path::new("x.tsv"),
            &mapping,
            false,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.tsv:2: unknown label `meh` in column `label`; expected one of: negative, positive (or their index)"
        );
    }
}
