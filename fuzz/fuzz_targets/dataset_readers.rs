//! Any bytes, read as TSV, CSV or JSONL with the SST-2 column mapping, with and without
//! skipping bad rows, give examples or an error, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use prompt_data::{ColumnMapping, DataFormat, parse_dataset};

fuzz_target!(|bytes: &[u8]| {
    let mapping = ColumnMapping::sst2();
    for format in [DataFormat::Tsv, DataFormat::Csv, DataFormat::Jsonl] {
        for skip_bad_rows in [false, true] {
            if let Ok(data) =
                parse_dataset(bytes, Path::new("fuzz"), format, &mapping, skip_bad_rows)
            {
                assert!(
                    data.examples
                        .iter()
                        .all(|e| e.label < data.label_names.len())
                );
            }
        }
    }
});
