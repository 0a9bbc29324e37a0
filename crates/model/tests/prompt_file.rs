//! Prompt folders in the PEFT layout: round trip, the files PEFT expects, and clear errors for
//! a prompt of another width and for non-finite values.

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
    }
}

fn config(k: usize, d: usize) -> AdapterConfig {
    AdapterConfig::new(
        "CAUSAL_LM",
        "SmolLM2-135M-Instruct",
        k,
        d,
        &SoftPromptInit::SampledVocab {},
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
    assert_eq!(json["base_model_name_or_path"], "SmolLM2-135M-Instruct");
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
