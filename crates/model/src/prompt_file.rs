//! Trained prompts on disk in the HF PEFT prompt-tuning layout, so that a prompt trained here
//! loads in PEFT and back: a folder with `adapter_model.safetensors` (one F32 tensor
//! `prompt_embeddings` `[k, d]`), `adapter_config.json`, and our `prompt_task.json` (template
//! and verbalizer, so that the artifact explains itself).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};

use crate::safetensors_source::SafetensorsFile;
use crate::soft_prompt::{PromptError, SoftPrompt, SoftPromptInit};
use crate::weights::WeightSource;

/// The tensor file of a PEFT prompt folder.
pub const WEIGHTS_FILE: &str = "adapter_model.safetensors";
/// The PEFT config file.
pub const CONFIG_FILE: &str = "adapter_config.json";
/// Our task description (template and verbalizer).
pub const TASK_FILE: &str = "prompt_task.json";
/// The name PEFT gives the prompt tensor.
pub const PROMPT_TENSOR: &str = "prompt_embeddings";

/// PEFT's `PromptTuningConfig` as written to `adapter_config.json`. Files written by PEFT carry
/// fields of newer versions, so unknown fields are accepted when reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterConfig {
    /// Always `"PROMPT_TUNING"`.
    pub peft_type: String,
    /// PEFT's task type: `"CAUSAL_LM"` for llama backbones, `"SEQ_CLS"` for BERT.
    pub task_type: String,
    /// Prompt length `k`.
    pub num_virtual_tokens: usize,
    /// Embedding width `d`.
    pub token_dim: usize,
    /// 1 (decoder-only and encoder-only models).
    pub num_transformer_submodules: usize,
    /// The backbone the prompt was trained for.
    pub base_model_name_or_path: String,
    /// PEFT's init name: `"RANDOM"`, `"SAMPLE_VOCAB"` or `"TEXT"`.
    pub prompt_tuning_init: String,
    /// The init text (`"TEXT"` init).
    #[serde(default)]
    pub prompt_tuning_init_text: Option<String>,
    /// Tokenizer of the init text.
    #[serde(default)]
    pub tokenizer_name_or_path: Option<String>,
    /// Filled in by PEFT from the model when absent.
    #[serde(default)]
    pub num_attention_heads: Option<usize>,
    /// Filled in by PEFT from the model when absent.
    #[serde(default)]
    pub num_layers: Option<usize>,
    /// `true`: the prompt is loaded for inference by default.
    #[serde(default = "yes")]
    pub inference_mode: bool,
}

fn yes() -> bool {
    true
}

impl AdapterConfig {
    /// The config of a `k` x `d` prompt for `base_model` (the name HF users load it by, e.g.
    /// `HuggingFaceTB/SmolLM2-135M-Instruct`), recording how it was initialised in PEFT's
    /// terms. `class_words` are the verbalizer's words, the text a class-label init starts
    /// from. PEFT requires a tokenizer and a text with `"TEXT"`; it reads neither when it
    /// loads a prompt for inference, so the file loads offline.
    pub fn new(
        task_type: &str,
        base_model: &str,
        num_tokens: usize,
        width: usize,
        init: &SoftPromptInit,
        class_words: &str,
    ) -> Self {
        // PEFT knows three inits; class labels are words, i.e. a text init. The exact init
        // (ours has more kinds) is kept in `prompt_task.json`.
        let (peft_init, text) = match init {
            SoftPromptInit::RandomUniform { .. } | SoftPromptInit::File { .. } => ("RANDOM", None),
            SoftPromptInit::SampledVocab {} => ("SAMPLE_VOCAB", None),
            SoftPromptInit::ClassLabel {} => ("TEXT", Some(class_words.to_string())),
            SoftPromptInit::Text { text } => ("TEXT", Some(text.clone())),
        };
        let tokenizer = text.as_ref().map(|_| base_model.to_string());
        Self {
            peft_type: "PROMPT_TUNING".to_string(),
            task_type: task_type.to_string(),
            num_virtual_tokens: num_tokens,
            token_dim: width,
            num_transformer_submodules: 1,
            base_model_name_or_path: base_model.to_string(),
            prompt_tuning_init: peft_init.to_string(),
            prompt_tuning_init_text: text,
            tokenizer_name_or_path: tokenizer,
            num_attention_heads: None,
            num_layers: None,
            inference_mode: true,
        }
    }
}

/// What the prompt is for: the template it was trained with and the verbalizer, kept opaque
/// here (the data crate defines their structure), and what PEFT's config cannot say: the model
/// file and the exact init.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptTask {
    /// The template string.
    pub template: String,
    /// The verbalizer (label words per class).
    pub verbalizer: serde_json::Value,
    /// The class names, in the verbalizer's order (predictions are reported by these names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_names: Option<Vec<String>>,
    /// The file name of the backbone the prompt was trained on (e.g. the GGUF file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_file: Option<String>,
    /// The init, as the experiment config wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<SoftPromptInit>,
}

/// A prompt read from a folder, checked for shape and finite values.
#[derive(Debug, Clone)]
pub struct SavedPrompt {
    /// The folder.
    pub dir: PathBuf,
    /// `adapter_config.json`.
    pub config: AdapterConfig,
    /// `prompt_task.json`, when the folder has one (PEFT folders do not).
    pub task: Option<PromptTask>,
    /// Row-major `[k, d]` values.
    pub values: Vec<f32>,
}

/// Writes `prompt` into folder `dir` (created if needed) in the PEFT layout. A prompt with a
/// NaN or infinite value is refused, so a diverged run never overwrites a good artifact.
pub fn save_prompt(
    dir: &Path,
    prompt: &SoftPrompt,
    config: &AdapterConfig,
    task: &PromptTask,
) -> Result<(), PromptError> {
    let [k, d] = prompt.values().dims();
    let values: Vec<f32> = prompt
        .values()
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("float tensors convert to f32");
    check_finite(dir, &values, d)?;
    if (config.num_virtual_tokens, config.token_dim) != (k, d) {
        return Err(PromptError::ConfigMismatch {
            path: dir.join(WEIGHTS_FILE),
            found: vec![k, d],
            num_virtual_tokens: config.num_virtual_tokens,
            token_dim: config.token_dim,
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| PromptError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let weights = dir.join(WEIGHTS_FILE);
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::F32, vec![k, d], &bytes).map_err(|source| {
        PromptError::Safetensors {
            path: weights.clone(),
            source,
        }
    })?;
    // PEFT writes `format: pt`; transformers checks it when loading.
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize_to_file([(PROMPT_TENSOR, view)], Some(metadata), &weights).map_err(
        |source| PromptError::Safetensors {
            path: weights.clone(),
            source,
        },
    )?;
    write_json(&dir.join(CONFIG_FILE), config)?;
    write_json(&dir.join(TASK_FILE), task)
}

impl SavedPrompt {
    /// Reads a prompt folder written by [`save_prompt`] or by PEFT.
    pub fn load(dir: &Path) -> Result<Self, PromptError> {
        let config: AdapterConfig = read_json(&dir.join(CONFIG_FILE))?;
        let task_path = dir.join(TASK_FILE);
        let task = if task_path.exists() {
            Some(read_json(&task_path)?)
        } else {
            None
        };
        let weights = dir.join(WEIGHTS_FILE);
        let file = SafetensorsFile::open(&weights)?;
        let (shape, values) = file.read_f32(PROMPT_TENSOR).ok_or_else(|| {
            crate::error::LoadError::MissingTensor {
                path: weights.clone(),
                name: PROMPT_TENSOR.to_string(),
            }
        })??;
        let rows = config.num_virtual_tokens * config.num_transformer_submodules;
        if shape != [rows, config.token_dim] {
            return Err(PromptError::ConfigMismatch {
                path: weights,
                found: shape,
                num_virtual_tokens: config.num_virtual_tokens,
                token_dim: config.token_dim,
            });
        }
        check_finite(&weights, &values, config.token_dim)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            task,
            values,
        })
    }

    /// The tensor file (named in errors).
    pub fn weights_path(&self) -> PathBuf {
        self.dir.join(WEIGHTS_FILE)
    }

    /// Number of prompt tokens.
    pub fn num_tokens(&self) -> usize {
        self.values.len() / self.config.token_dim.max(1)
    }

    /// A trainable prompt for a model embedding tokens in `model_width` dimensions.
    pub fn to_soft_prompt(
        &self,
        model_width: usize,
        device: &Device,
    ) -> Result<SoftPrompt, PromptError> {
        if self.config.token_dim != model_width {
            return Err(PromptError::WidthMismatch {
                path: self.weights_path(),
                found: self.config.token_dim,
                expected: model_width,
            });
        }
        let data = TensorData::new(self.values.clone(), [self.num_tokens(), model_width]);
        Ok(SoftPrompt::from_tensor(Tensor::from_data(data, device)))
    }
}

fn check_finite(path: &Path, values: &[f32], width: usize) -> Result<(), PromptError> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(PromptError::NonFinite {
            path: path.to_path_buf(),
            row: i / width.max(1),
            col: i % width.max(1),
            value: values[i],
        }),
    }
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), PromptError> {
    let text = serde_json::to_string_pretty(value).map_err(|source| PromptError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    std::fs::write(path, text + "\n").map_err(|source| PromptError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, PromptError> {
    let text = std::fs::read_to_string(path).map_err(|source| PromptError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| PromptError::Json {
        path: path.to_path_buf(),
        source,
    })
}
