//! Unpacking a GLUE-layout SST-2 zip built in the test.

use std::io::Write;
use std::path::Path;

use prompt_data::{DataError, SplitCounts, unpack_sst2_archive};
use zip::write::SimpleFileOptions;

fn build_zip(path: &Path, entries: &[(&str, &str)]) {
    let mut writer = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(text.as_bytes()).unwrap();
    }
    writer.finish().unwrap();
}

const TRAIN: &str = "sentence\tlabel\nhide new secretions \t0\nit 's \" fun \" \t1\nok\t1\n";
const DEV: &str = "sentence\tlabel\r\nit 's a charming journey . \t1\r\n";

fn glue_layout(dir: &Path) -> std::path::PathBuf {
    let zip = dir.join("SST-2.zip");
    build_zip(
        &zip,
        &[
            ("SST-2/dev.tsv", DEV),
            ("SST-2/original/README.txt", "treebank"),
            ("SST-2/test.tsv", "index\tsentence\n0\tx\n"),
            ("SST-2/train.tsv", TRAIN),
        ],
    );
    zip
}

#[test]
fn unpacks_train_and_dev_and_counts_rows() {
    let dir = tempfile::tempdir().unwrap();
    let zip = glue_layout(dir.path());
    let dest = dir.path().join("data");
    let counts = unpack_sst2_archive(&zip, &dest, SplitCounts { train: 3, dev: 1 }).unwrap();
    assert_eq!(counts, SplitCounts { train: 3, dev: 1 });
    assert_eq!(
        std::fs::read_to_string(dest.join("sst2/train.tsv")).unwrap(),
        TRAIN
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("sst2/dev.tsv")).unwrap(),
        DEV
    );
    assert!(!dest.join("sst2/test.tsv").exists());
    assert_eq!(
        std::fs::read_dir(dest.join("sst2")).unwrap().count(),
        2,
        "no partial files left"
    );
}

#[test]
fn a_count_mismatch_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let zip = glue_layout(dir.path());
    let dest = dir.path().join("data");
    let err = unpack_sst2_archive(&zip, &dest, SplitCounts::GLUE_SST2).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::RowCountMismatch {
                expected: 67_349,
                found: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().ends_with("SST-2.zip:SST-2/train.tsv: 3 data rows, expected 67349; the download is incomplete or not the GLUE release"), "{err}");
    assert!(!dest.exists());
}

#[test]
fn a_missing_entry_lists_what_the_archive_holds() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("other.zip");
    build_zip(&zip, &[("train.tsv", TRAIN)]);
    let err = unpack_sst2_archive(&zip, dir.path(), SplitCounts { train: 3, dev: 1 }).unwrap_err();
    assert!(
        matches!(&err, DataError::ArchiveEntryMissing { entry, found, .. } if entry == "SST-2/train.tsv" && found == &["train.tsv"]),
        "{err:?}"
    );
    let not_zip = dir.path().join("SST-2.zip");
    std::fs::write(&not_zip, "<html>not found</html>").unwrap();
    assert!(matches!(
        unpack_sst2_archive(&not_zip, dir.path(), SplitCounts::GLUE_SST2),
        Err(DataError::Zip { .. })
    ));
}
