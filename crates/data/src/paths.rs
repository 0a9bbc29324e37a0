//! Finding data files: `$PROMPT_TUNING_DATA`, then `data/`, then the shared assets
//! (`$PROMPT_TUNING_SHARED/assets`, default `../shared/assets`); relative folders are taken
//! from the working directory, so the library knows nothing of where it was built.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::DataError;

/// Environment variable naming a folder that holds the data (e.g. `sst2/train.tsv`).
pub const DATA_ENV: &str = "PROMPT_TUNING_DATA";

/// Environment variable naming the shared folder (default `../shared`); its `assets/`
/// subfolder is searched last.
pub const SHARED_ENV: &str = "PROMPT_TUNING_SHARED";

/// The folders searched for data, in order, from the environment; made absolute so an error
/// names the places tried in full.
pub fn data_search_dirs() -> Vec<PathBuf> {
    search_dirs(std::env::var_os(DATA_ENV), std::env::var_os(SHARED_ENV))
        .into_iter()
        .map(|dir| std::path::absolute(&dir).unwrap_or(dir))
        .collect()
}

/// The search order for given environment values: the data folder when set, `data`, then the
/// shared folder's `assets` (`../shared` when unset).
pub fn search_dirs(data_env: Option<OsString>, shared_env: Option<OsString>) -> Vec<PathBuf> {
    let shared = non_empty(shared_env).map_or_else(|| PathBuf::from("../shared"), PathBuf::from);
    non_empty(data_env)
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("data"), shared.join("assets")])
        .collect()
}

/// Finds `relative` (e.g. `sst2/train.tsv`) in the data folders; the error lists every
/// place tried and how to get SST-2.
pub fn resolve_data_path(relative: &Path) -> Result<PathBuf, DataError> {
    resolve_in(relative, &data_search_dirs())
}

/// Finds `relative` in the first of `dirs` that holds it. An absolute `relative` is the same
/// path in every folder, so each place tried is listed once; a folder where a file is expected
/// is its own error.
pub fn resolve_in(relative: &Path, dirs: &[PathBuf]) -> Result<PathBuf, DataError> {
    let mut tried: Vec<PathBuf> = Vec::new();
    for path in dirs.iter().map(|dir| dir.join(relative)) {
        if !tried.contains(&path) {
            tried.push(path);
        }
    }
    if let Some(path) = tried.iter().find(|path| path.is_file()) {
        return Ok(path.clone());
    }
    if let Some(path) = tried.iter().find(|path| path.is_dir()) {
        return Err(DataError::DataIsADirectory { path: path.clone() });
    }
    Err(DataError::DataNotFound {
        relative: relative.to_path_buf(),
        tried,
    })
}

fn non_empty(value: Option<OsString>) -> Option<OsString> {
    value.filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_order_is_env_then_data_then_shared() {
        assert_eq!(
            search_dirs(Some("/d".into()), None),
            vec![
                PathBuf::from("/d"),
                PathBuf::from("data"),
                PathBuf::from("../shared/assets")
            ]
        );
        assert_eq!(
            search_dirs(Some("".into()), Some("/s".into())),
            vec![PathBuf::from("data"), PathBuf::from("/s/assets")]
        );
    }

    #[test]
    fn an_absolute_path_is_listed_once_and_a_directory_is_named_as_such() {
        let dirs = vec![PathBuf::from("/a"), PathBuf::from("/b")];
        let missing = Path::new("/nonexistent/train.tsv");
        let message = resolve_in(missing, &dirs).unwrap_err().to_string();
        assert!(
            message.starts_with(
                "/nonexistent/train.tsv not found; looked in: /nonexistent/train.tsv. "
            ),
            "{message}"
        );
        let folder = tempfile::tempdir().unwrap();
        let message = resolve_in(folder.path(), &dirs).unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "{} is a directory, not a data file: name the TSV, CSV or JSONL file itself \
                 (e.g. sst2/train.tsv)",
                folder.path().display()
            )
        );
    }

    #[test]
    fn resolves_the_first_folder_holding_the_file() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(second.path().join("sst2")).unwrap();
        std::fs::write(second.path().join("sst2/dev.tsv"), "sentence\tlabel\n").unwrap();
        let dirs = vec![first.path().to_path_buf(), second.path().to_path_buf()];
        assert_eq!(
            resolve_in(Path::new("sst2/dev.tsv"), &dirs).unwrap(),
            second.path().join("sst2/dev.tsv")
        );
        let err = resolve_in(Path::new("sst2/train.tsv"), &dirs).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("sst2/train.tsv not found; looked in: "),
            "{message}"
        );
        assert!(
            message.contains(&first.path().join("sst2/train.tsv").display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&second.path().join("sst2/train.tsv").display().to_string()),
            "{message}"
        );
        assert!(
            message.contains("cargo xtask fetch sst2") && message.contains("PROMPT_TUNING_DATA"),
            "{message}"
        );
    }
}
