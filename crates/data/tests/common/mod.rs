//! Shared helpers for the integration tests: locating the shared assets and fixtures.

use std::path::PathBuf;

use prompt_data::{SHARED_ENV, Tokenizer};

/// `$PROMPT_TUNING_SHARED`, or `../shared` beside the workspace.
pub fn shared_dir() -> PathBuf {
    std::env::var_os(SHARED_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
            PathBuf::from,
        )
}

/// A file under the shared folder; fails the test with directions when it is missing.
pub fn shared_file(relative: &str) -> PathBuf {
    let path = shared_dir().join(relative);
    assert!(
        path.is_file(),
        "{} is missing: set {SHARED_ENV} to the shared folder holding assets/sst2/{{train,dev}}.tsv (GLUE SST-2) \
         and fixtures/tiny-bert-mlm/tokenizer.json (bert-base-uncased's tokenizer.json)",
        path.display()
    );
    path
}

/// The bert-base-uncased WordPiece tokenizer of the tiny BERT fixture.
pub fn bert_tokenizer() -> Tokenizer {
    let path = shared_file("fixtures/tiny-bert-mlm/tokenizer.json");
    Tokenizer::from_file(&path).unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()))
}
