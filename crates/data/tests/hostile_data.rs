//! The hostile-file matrix for the TSV, CSV and JSONL readers: every case is either read
//! correctly or refused with a message naming the file, the line and what was expected.

use std::path::Path;

use prompt_data::{ColumnMapping, DataFormat, LoadedDataset, error_chain, parse_dataset};

const FILE: &str = "data/reviews.txt";

fn read(format: DataFormat, bytes: &[u8], skip_bad_rows: bool) -> Result<LoadedDataset, String> {
    parse_dataset(
        bytes,
        Path::new(FILE),
        format,
        &ColumnMapping::sst2(),
        skip_bad_rows,
    )
    .map_err(|e| error_chain(&e))
}

/// The same rows written in each format: `(sentence, label)` with the label as written.
fn file(format: DataFormat, header: &str, rows: &[(&str, &str)], newline: &str) -> Vec<u8> {
    let mut text = String::new();
    match format {
        DataFormat::Tsv | DataFormat::Csv => {
            let sep = if format == DataFormat::Tsv { "\t" } else { "," };
            text += &header.replace(' ', sep);
            text += newline;
            for (sentence, label) in rows {
                text += &format!("{sentence}{sep}{label}{newline}");
            }
        }
        DataFormat::Jsonl => {
            let key = header.split(' ').next().unwrap();
            for (sentence, label) in rows {
                let label = if label.parse::<i64>().is_ok() {
                    label.to_string()
                } else {
                    format!("\"{label}\"")
                };
                text += &format!("{{\"{key}\": \"{sentence}\", \"label\": {label}}}{newline}");
            }
        }
    }
    text.into_bytes()
}

const FORMATS: [DataFormat; 3] = [DataFormat::Tsv, DataFormat::Csv, DataFormat::Jsonl];

/// Line of the first data row: TSV and CSV have a header line, JSONL does not.
fn first_row_line(format: DataFormat) -> usize {
    if format == DataFormat::Jsonl { 1 } else { 2 }
}

#[test]
fn a_missing_column_names_it_and_the_columns_there_are() {
    for format in FORMATS {
        let bytes = file(format, "text label", &[("fine", "1")], "\n");
        let line = first_row_line(format) - usize::from(format != DataFormat::Jsonl);
        let columns = if format == DataFormat::Jsonl {
            "label, text"
        } else {
            "text, label"
        };
        assert_eq!(
            read(format, &bytes, false).unwrap_err(),
            format!(
                "{FILE}:{line}: no column `sentence` (available: {columns}); fix the column \
                 mapping or the file"
            ),
            "{format:?}"
        );
    }
}

#[test]
fn non_integer_and_unknown_labels_name_the_line_and_the_labels_expected() {
    for format in FORMATS {
        let line = first_row_line(format) + 1;
        let bytes = file(
            format,
            "sentence label",
            &[("fine", "1"), ("odd", "x")],
            "\n",
        );
        assert_eq!(
            read(format, &bytes, false).unwrap_err(),
            format!(
                "{FILE}:{line}: label `x` in column `label` is not an integer; expected an \
                 index 0..2"
            ),
            "{format:?}"
        );
        let bytes = file(
            format,
            "sentence label",
            &[("fine", "1"), ("odd", "7")],
            "\n",
        );
        assert_eq!(
            read(format, &bytes, false).unwrap_err(),
            format!(
                "{FILE}:{line}: label index 7 in column `label` is out of range; expected 0..2 \
                 (labels: negative, positive)"
            ),
            "{format:?}"
        );
    }
}

#[test]
fn invalid_utf8_names_line_and_byte_column() {
    for format in FORMATS {
        let mut bytes = file(
            format,
            "sentence label",
            &[("fine", "1"), ("bad", "0")],
            "\n",
        );
        let at = bytes.windows(3).position(|w| w == b"bad").unwrap();
        bytes[at + 1] = 0xFF;
        let line = first_row_line(format) + 1;
        let column = if format == DataFormat::Jsonl { 16 } else { 2 };
        let e = read(format, &bytes, false).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "{FILE}:{line}:{column}: invalid UTF-8 (byte column {column}); re-encode the \
                 file as UTF-8: invalid utf-8 sequence"
            )),
            "{format:?}: {e}"
        );
    }
}

#[test]
fn empty_and_header_only_files_say_what_a_file_needs() {
    let empty = format!(
        "{FILE} is empty: expected a header line (TSV, CSV) or one JSON object per line (JSONL)"
    );
    for format in FORMATS {
        assert_eq!(read(format, b"", false).unwrap_err(), empty, "{format:?}");
        assert_eq!(
            read(format, b"\r\n\n", false).unwrap_err(),
            empty,
            "{format:?}"
        );
    }
    for format in [DataFormat::Tsv, DataFormat::Csv] {
        let header_only = file(format, "sentence label", &[], "\n");
        assert_eq!(
            read(format, &header_only, false).unwrap_err(),
            format!("{FILE}:1: the header is the last line; the file has no data rows")
        );
    }
}

#[test]
fn crlf_line_endings_read_like_lf() {
    let rows = [("a fine film", "1"), ("dull", "0")];
    for format in FORMATS {
        let crlf = read(
            format,
            &file(format, "sentence label", &rows, "\r\n"),
            false,
        )
        .unwrap();
        let lf = read(format, &file(format, "sentence label", &rows, "\n"), false).unwrap();
        assert_eq!(crlf.examples, lf.examples, "{format:?}");
        assert_eq!(crlf.examples[0].fields["sentence"], "a fine film");
        assert_eq!(crlf.examples[1].label, 0);
    }
}

#[test]
fn a_row_of_100_000_characters_is_read_whole() {
    let long = "é".repeat(50_000) + &"a".repeat(50_000);
    for format in FORMATS {
        let bytes = file(
            format,
            "sentence label",
            &[(&long, "1"), ("short", "0")],
            "\n",
        );
        let data = read(format, &bytes, false).unwrap();
        assert_eq!(data.examples.len(), 2);
        assert_eq!(data.examples[0].fields["sentence"].chars().count(), 100_000);
        assert_eq!(data.examples[0].fields["sentence"], long);
    }
}

#[test]
fn skipping_bad_rows_keeps_the_good_ones_and_reports_which_were_skipped() {
    let rows = [("good", "1"), ("odd", "x"), ("far", "9"), ("fine", "0")];
    for format in FORMATS {
        let data = read(format, &file(format, "sentence label", &rows, "\n"), true).unwrap();
        let kept: Vec<&str> = data
            .examples
            .iter()
            .map(|e| e.fields["sentence"].as_str())
            .collect();
        assert_eq!(kept, ["good", "fine"], "{format:?}");
        let first = first_row_line(format);
        let lines: Vec<usize> = data.skipped.iter().map(|s| s.line).collect();
        assert_eq!(lines, [first + 1, first + 2], "{format:?}");
        let summary = data.skipped_summary();
        assert!(
            summary.starts_with(&format!(
                "line {}: {FILE}:{}: label `x`",
                first + 1,
                first + 1
            )),
            "{summary}"
        );
        // Nothing good left is still an error, counting what was skipped.
        let bad = read(
            format,
            &file(format, "sentence label", &rows[1..3], "\n"),
            true,
        );
        assert!(bad.unwrap_err().contains("2"), "{format:?}");
    }
}

#[test]
fn broken_records_name_the_line_and_the_parser_reason() {
    let e = read(DataFormat::Jsonl, b"{\"sentence\": \"hi\", \"lab", false).unwrap_err();
    assert!(
        e.starts_with(&format!("{FILE}:1: invalid JSON: EOF while parsing")),
        "{e}"
    );
    let e = read(DataFormat::Jsonl, b"[1, 2]\n", false).unwrap_err();
    assert_eq!(
        e,
        format!("{FILE}:1: expected a JSON object, found an array")
    );
    let e = read(
        DataFormat::Csv,
        b"sentence,label\nfine,1\n\"open quote,1\nmore,0\n",
        false,
    );
    assert!(
        e.unwrap_err()
            .starts_with(&format!("{FILE}:3: malformed CSV: "))
    );
}
