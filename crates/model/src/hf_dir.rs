//! A Hugging Face model directory (`config.json`, `model.safetensors`, `tokenizer.json`): its
//! paths, its parsed config, and the `model_type` that tells the family.

use std::path::PathBuf;

use serde::de::DeserializeOwned;

use crate::error::LoadError;
use crate::safetensors_source::SafetensorsFile;

/// The files of a Hugging Face model directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfDir {
    root: PathBuf,
}

/// The one field of `config.json` read before the family is known.
#[derive(serde::Deserialize)]
struct ModelType {
    model_type: String,
}

impl HfDir {
    /// The directory at `root` (nothing is read until a file is asked for).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.json")
    }

    /// `model.safetensors`.
    pub fn weights_path(&self) -> PathBuf {
        self.root.join("model.safetensors")
    }

    /// `tokenizer.json`.
    pub fn tokenizer_path(&self) -> PathBuf {
        self.root.join("tokenizer.json")
    }

    /// `config.json` parsed as `C`; errors name the file.
    pub fn config<C: DeserializeOwned>(&self) -> Result<C, LoadError> {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| LoadError::Config { path, source })
    }

    /// The `model_type` field of `config.json` (`bert`, `llama`, …).
    pub fn model_type(&self) -> Result<String, LoadError> {
        Ok(self.config::<ModelType>()?.model_type)
    }

    /// `model.safetensors`, memory-mapped.
    pub fn weights(&self) -> Result<SafetensorsFile, LoadError> {
        SafetensorsFile::open(self.weights_path())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn paths_are_inside_the_directory() {
        let dir = HfDir::new("/models/bert");
        assert_eq!(dir.config_path(), Path::new("/models/bert/config.json"));
        assert_eq!(
            dir.weights_path(),
            Path::new("/models/bert/model.safetensors")
        );
        assert_eq!(
            dir.tokenizer_path(),
            Path::new("/models/bert/tokenizer.json")
        );
    }
}
