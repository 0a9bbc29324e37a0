//! Prompt folders in the PEFT layout: round trip, the checks PEFT applies when it reads
//! `adapter_config.json`, and clear errors for a prompt of another width and for non-finite
//! values.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::floats;
use prompt_model::prompt_file::{CONFIG_FILE, PROMPT_TENSOR, TASK_FILE, WEIGHTS_FILE};
use prompt_model::{
    AdapterConfig, PromptError, PromptTask, SavedPrompt, SoftPrompt, SoftPromptInit, save_prompt,
};
use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView};
use tempfile::TempDir;

fn prompt(values: Vec<f32>, k: usize, d: usize) -> SoftPrompt {
    let device = Device::flex();
    SoftPrompt::from_tensor(Tensor::from_data(TensorData::new(values, [k, d]), &device))
}

fn task() -> PromptTask {
    PromptTask {
        template: "Review: {sentence}\nSentiment:".to_string(),
        verbalizer: serde_json::json!({"0": [" negative"], "1": [" positive"]}),
        label_names: None,
        model_file: Some("SmolLM2-135M-Instruct.Q4_1.gguf".to_string()),
        init: Some(SoftPromptInit::SampledVocab {}),
    }
}

fn config(k: usize, d: usize) -> AdapterConfig {
    AdapterConfig::new(
        "CAUSAL_LM",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        k,
        d,
        &SoftPromptInit::SampledVocab {},
        " negative positive",
    )
}

#[test]
fn saved_prompt_loads_back_bit_identical_in_the_peft_layout() {
    let dir = TempDir::new().unwrap();
    let values: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin()).collect();
    save_prompt(
        dir.path(),
        &prompt(values.clone(), 3, 4),
        &config(3, 4),
        &task(),
    )
    .unwrap();

    let bytes = std::fs::read(dir.path().join(WEIGHTS_FILE)).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.names(), vec![PROMPT_TENSOR]);
    let t = st.tensor(PROMPT_TENSOR).unwrap();
    assert_eq!((t.dtype(), t.shape()), (Dtype::F32, &[3usize, 4][..]));

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(CONFIG_FILE)).unwrap())
            .unwrap();
    assert_eq!(json["peft_type"], "PROMPT_TUNING");
    assert_eq!(json["task_type"], "CAUSAL_LM");
    assert_eq!(json["num_virtual_tokens"], 3);
    assert_eq!(json["token_dim"], 4);
    assert_eq!(json["num_transformer_submodules"], 1);
    assert_eq!(
        json["base_model_name_or_path"],
        "HuggingFaceTB/SmolLM2-135M-Instruct"
    );
    assert_eq!(json["prompt_tuning_init"], "SAMPLE_VOCAB");
    assert_eq!(json["inference_mode"], true);
    assert!(dir.path().join(TASK_FILE).is_file());

    let saved = SavedPrompt::load(dir.path()).unwrap();
    assert_eq!(saved.task, Some(task()));
    assert_eq!(saved.config, config(3, 4));
    let loaded = floats(saved.to_soft_prompt(4, &Device::flex()).unwrap().values());
    assert!(
        loaded
            .iter()
            .zip(&values)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
}

#[test]
fn a_prompt_of_another_width_is_refused_naming_the_file_and_both_widths() {
    let dir = TempDir::new().unwrap();
    save_prompt(
        dir.path(),
        &prompt(vec![0.1; 8], 2, 4),
        &config(2, 4),
        &task(),
    )
    .unwrap();
    let err = SavedPrompt::load(dir.path())
        .unwrap()
        .to_soft_prompt(576, &Device::flex())
        .unwrap_err();
    assert!(matches!(
        err,
        PromptError::WidthMismatch {
            found: 4,
            expected: 576,
            ..
        }
    ));
    let message = err.to_string();
    assert!(
        message.contains(WEIGHTS_FILE) && message.contains("4") && message.contains("576"),
        "{message}"
    );
}

#[test]
fn non_finite_prompts_are_neither_saved_nor_loaded() {
    let dir = TempDir::new().unwrap();
    let mut values = vec![0.1f32; 8];
    values[5] = f32::NAN;
    let err = save_prompt(
        dir.path(),
        &prompt(values.clone(), 2, 4),
        &config(2, 4),
        &task(),
    )
    .unwrap_err();
    assert!(
        matches!(err, PromptError::NonFinite { row: 1, col: 1, .. }),
        "{err}"
    );
    assert!(!dir.path().join(WEIGHTS_FILE).exists());

    // A folder written elsewhere with an infinite value.
    save_prompt(
        dir.path(),
        &prompt(vec![0.1; 8], 2, 4),
        &config(2, 4),
        &task(),
    )
    .unwrap();
    values[5] = f32::INFINITY;
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::F32, vec![2, 4], &bytes).unwrap();
    let weights = dir.path().join(WEIGHTS_FILE);
    safetensors::serialize_to_file([(PROMPT_TENSOR, view)], None, &weights).unwrap();
    let err = SavedPrompt::load(dir.path()).unwrap_err();
    assert!(
        matches!(err, PromptError::NonFinite { row: 1, col: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains(WEIGHTS_FILE), "{err}");
}

#[test]
fn a_tensor_that_disagrees_with_the_config_is_refused() {
    let dir = TempDir::new().unwrap();
    save_prompt(
        dir.path(),
        &prompt(vec![0.1; 8], 2, 4),
        &config(2, 4),
        &task(),
    )
    .unwrap();
    let mut other = config(2, 4);
    other.num_virtual_tokens = 3;
    std::fs::write(
        dir.path().join(CONFIG_FILE),
        serde_json::to_string(&other).unwrap(),
    )
    .unwrap();
    let err = SavedPrompt::load(dir.path()).unwrap_err();
    assert!(matches!(err, PromptError::ConfigMismatch { .. }), "{err}");
}

/// The fields of PEFT 0.21's `PromptTuningConfig` (its own, `PromptLearningConfig`'s and
/// `PeftConfig`'s). PEFT drops any other key with a warning.
const PEFT_FIELDS: &[&str] = &[
    "task_type",
    "peft_type",
    "auto_mapping",
    "peft_version",
    "base_model_name_or_path",
    "revision",
    "inference_mode",
    "num_virtual_tokens",
    "token_dim",
    "num_transformer_submodules",
    "num_attention_heads",
    "num_layers",
    "modules_to_save",
    "prompt_tuning_init",
    "prompt_tuning_init_text",
    "tokenizer_name_or_path",
    "tokenizer_kwargs",
];

/// What `PeftConfig.from_pretrained` checks when it reads a prompt-tuning config: the
/// `peft_type` it maps to a config class, the known fields, the task type
/// (`PeftConfig.__post_init__`), and the init rules of `PromptTuningConfig.__post_init__`.
fn peft_reads(json: &serde_json::Value) -> Result<(), String> {
    let object = json.as_object().ok_or("not a JSON object")?;
    if object.get("peft_type") != Some(&serde_json::json!("PROMPT_TUNING")) {
        return Err(format!("peft_type {:?}", object.get("peft_type")));
    }
    if let Some(key) = object.keys().find(|k| !PEFT_FIELDS.contains(&k.as_str())) {
        return Err(format!("unexpected keyword argument {key}"));
    }
    let task_types = [
        "SEQ_CLS",
        "SEQ_2_SEQ_LM",
        "CAUSAL_LM",
        "TOKEN_CLS",
        "QUESTION_ANS",
        "FEATURE_EXTRACTION",
    ];
    let task_type = object["task_type"].as_str().unwrap_or_default();
    if !task_types.contains(&task_type) {
        return Err(format!("Invalid task type: {task_type}"));
    }
    let init = object["prompt_tuning_init"].as_str().unwrap_or_default();
    if !["RANDOM", "SAMPLE_VOCAB", "TEXT"].contains(&init) {
        return Err(format!("{init} is not a valid PromptTuningInit"));
    }
    let truthy = |key: &str| match object.get(key) {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::String(s)) => !s.is_empty(),
        Some(serde_json::Value::Object(o)) => !o.is_empty(),
        Some(_) => true,
    };
    if init == "TEXT" && !truthy("tokenizer_name_or_path") {
        return Err("When prompt_tuning_init='TEXT', tokenizer_name_or_path can't be None".into());
    }
    if init == "TEXT"
        && object
            .get("prompt_tuning_init_text")
            .is_none_or(|v| v.is_null())
    {
        return Err("When prompt_tuning_init='TEXT', prompt_tuning_init_text can't be None".into());
    }
    if init != "TEXT" && truthy("tokenizer_kwargs") {
        return Err("tokenizer_kwargs only valid when using prompt_tuning_init='TEXT'".into());
    }
    for key in [
        "num_virtual_tokens",
        "token_dim",
        "num_transformer_submodules",
    ] {
        if object[key].as_u64().unwrap_or(0) == 0 {
            return Err(format!("{key} must be a positive integer"));
        }
    }
    Ok(())
}

#[test]
fn peft_accepts_the_config_whatever_init_trained_the_prompt() {
    let inits = [
        SoftPromptInit::RandomUniform { range: 0.5 },
        SoftPromptInit::SampledVocab {},
        SoftPromptInit::ClassLabel {},
        SoftPromptInit::Text {
            text: "Classify the sentiment".to_string(),
        },
        SoftPromptInit::File {
            path: "runs/old/best".into(),
        },
    ];
    for init in inits {
        let dir = TempDir::new().unwrap();
        let config = AdapterConfig::new(
            "CAUSAL_LM",
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            2,
            4,
            &init,
            " negative positive",
        );
        save_prompt(dir.path(), &prompt(vec![0.1; 8], 2, 4), &config, &task()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(CONFIG_FILE)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(peft_reads(&json), Ok(()), "{} init: {text}", init.name());
        let expected_text = match init.name() {
            "class_label" => serde_json::json!(" negative positive"),
            "text" => serde_json::json!("Classify the sentiment"),
            _ => serde_json::Value::Null,
        };
        assert_eq!(json["prompt_tuning_init_text"], expected_text, "{text}");
    }
}

#[test]
fn the_peft_rules_refuse_what_peft_refuses() {
    let good = serde_json::to_value(config(2, 4)).unwrap();
    assert_eq!(peft_reads(&good), Ok(()));
    let with = |key: &str, value: serde_json::Value| {
        let mut json = good.clone();
        json[key] = value;
        peft_reads(&json)
    };
    // The file this project wrote before: a TEXT init without a tokenizer.
    let mut old = good.clone();
    old["prompt_tuning_init"] = serde_json::json!("TEXT");
    old["prompt_tuning_init_text"] = serde_json::json!(" negative positive");
    assert!(
        peft_reads(&old)
            .unwrap_err()
            .contains("tokenizer_name_or_path")
    );
    assert!(with("task_type", serde_json::json!("CLASSIFY")).is_err());
    assert!(with("gguf_file", serde_json::json!("x.gguf")).is_err());
    assert!(with("tokenizer_kwargs", serde_json::json!({"use_fast": true})).is_err());
}
