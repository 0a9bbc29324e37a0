//! The sweep's committed results folder: one small JSON file per finished cell, the zero-shot
//! score, each ensemble's score and the best prompts an ensemble needs. A sweep resumes from
//! it on a machine without the training runs, so nothing in it may look finished but not be:
//! every file is written atomically, and a prompt is in place before its cell's record.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::EvalError;
use crate::report::{CellResult, EnsembleResult, ZeroShot};

/// `<results>/`: `cells/<cell>.json`, `ensembles/<init>-k<k>.json`, `prompts/<cell>/`,
/// `zero_shot.json`, and the reports.
#[derive(Debug, Clone)]
pub struct ResultsDir {
    root: PathBuf,
}

impl ResultsDir {
    /// The folder at `root` (created on the first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The record of the cell named `name`, when it has finished.
    pub fn cell(&self, name: &str) -> Result<Option<CellResult>, EvalError> {
        read(&self.cell_path(name))
    }

    /// Records a finished cell.
    pub fn write_cell(&self, name: &str, result: &CellResult) -> Result<(), EvalError> {
        write(&self.cell_path(name), result)
    }

    /// The zero-shot score, when recorded.
    pub fn zero_shot(&self) -> Result<Option<ZeroShot>, EvalError> {
        read(&self.root.join("zero_shot.json"))
    }

    /// Records the zero-shot score.
    pub fn write_zero_shot(&self, zero: &ZeroShot) -> Result<(), EvalError> {
        write(&self.root.join("zero_shot.json"), zero)
    }

    /// The ensemble of `init`'s seeds at length `k`, when scored.
    pub fn ensemble(&self, init: &str, k: usize) -> Result<Option<EnsembleResult>, EvalError> {
        read(&self.ensemble_path(init, k))
    }

    /// Records an ensemble's score.
    pub fn write_ensemble(&self, result: &EnsembleResult) -> Result<(), EvalError> {
        write(&self.ensemble_path(&result.init, result.length), result)
    }

    /// Where the best prompt of the cell named `name` is kept (a prompt folder).
    pub fn prompt(&self, name: &str) -> PathBuf {
        self.root.join("prompts").join(name)
    }

    /// Copies the prompt folder `best` (a run's `best/`) to [`Self::prompt`]: into a temporary
    /// folder first, renamed into place, so a copy cut short is never taken for a prompt.
    pub fn save_prompt(&self, name: &str, best: &Path) -> Result<(), EvalError> {
        let target = self.prompt(name);
        let partial = target.with_extension("partial");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| EvalError::Io { path, source }
        };
        if partial.exists() {
            std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
        }
        std::fs::create_dir_all(&partial).map_err(io(&partial))?;
        for entry in std::fs::read_dir(best).map_err(io(best))? {
            let from = entry.map_err(io(best))?.path();
            let to = partial.join(from.file_name().expect("a directory entry has a name"));
            std::fs::copy(&from, &to).map_err(io(&from))?;
        }
        if target.exists() {
            std::fs::remove_dir_all(&target).map_err(io(&target))?;
        }
        std::fs::rename(&partial, &target).map_err(io(&target))
    }

    fn cell_path(&self, name: &str) -> PathBuf {
        self.root.join("cells").join(format!("{name}.json"))
    }

    fn ensemble_path(&self, init: &str, k: usize) -> PathBuf {
        self.root
            .join("ensembles")
            .join(format!("{init}-k{k}.json"))
    }
}

/// A record, `None` when its file does not exist; a file that does not parse is an error (it
/// was written atomically, so it has been edited or damaged since).
fn read<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, EvalError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(EvalError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| EvalError::Format {
            path: path.to_path_buf(),
            what: "sweep result (delete it to run that part of the sweep again)",
            reason: e.to_string(),
        })
}

fn write(path: &Path, value: &impl Serialize) -> Result<(), EvalError> {
    let text = serde_json::to_string_pretty(value).expect("plain data") + "\n";
    write_file(path, text.as_bytes())
}

/// Writes `bytes` to `path` atomically, creating its folder.
pub(super) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), EvalError> {
    let io = |source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(io)?;
    }
    prompt_train::write_atomic(path, bytes).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_cell;

    #[test]
    fn a_recorded_cell_reads_back_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let results = ResultsDir::new(dir.path());
        let cell = test_cell("class_label", 20, 1, &[0.8, 0.85, 0.86, 0.86]);
        assert_eq!(results.cell("class_label-k20-s1").unwrap(), None);
        results.write_cell("class_label-k20-s1", &cell).unwrap();
        assert_eq!(results.cell("class_label-k20-s1").unwrap(), Some(cell));
        assert!(dir.path().join("cells/class_label-k20-s1.json").is_file());
    }

    #[test]
    fn a_damaged_record_is_an_error_that_names_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let results = ResultsDir::new(dir.path());
        std::fs::create_dir_all(dir.path().join("cells")).unwrap();
        let path = dir.path().join("cells/class_label-k5-s0.json");
        std::fs::write(&path, "{\"init\": \"class_la").unwrap();
        let err = results.cell("class_label-k5-s0").unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "{} is not a valid sweep result (delete it to run that part of the sweep again)",
                path.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn a_saved_prompt_replaces_an_older_copy_and_leaves_no_partial_folder() {
        let dir = tempfile::tempdir().unwrap();
        let best = dir.path().join("best");
        std::fs::create_dir_all(&best).unwrap();
        std::fs::write(best.join("adapter_model.safetensors"), b"new").unwrap();
        let results = ResultsDir::new(dir.path().join("results"));
        let old = results.prompt("c");
        std::fs::create_dir_all(&old).unwrap();
        std::fs::write(old.join("stale"), b"old").unwrap();
        results.save_prompt("c", &best).unwrap();
        let files: Vec<_> = std::fs::read_dir(&old)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(files, ["adapter_model.safetensors"]);
        assert!(!old.with_extension("partial").exists());
    }
}
