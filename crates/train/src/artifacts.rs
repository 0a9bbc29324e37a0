//! The output folder of a run:
//!
//! ```text
//! <output>/
//!   .lock                held by the run writing the folder (its pid inside; see `lock`)
//!   config.toml          the resolved config (after --set overrides, model path filled in)
//!   metrics.jsonl        one JSON object per train window / dev evaluation
//!   checkpoints/         step-00000100.ckpt …: prompt + optimizer + scheduler + data position
//!   best/                the best prompt on dev, PEFT layout:
//!     adapter_model.safetensors   `prompt_embeddings` [k, d] f32
//!     adapter_config.json         PEFT PromptTuningConfig
//!     prompt_task.json            template, verbalizer, model file and init
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use prompt_model::cache::hf_model_name;
use prompt_model::{AdapterConfig, ModelFamily, PromptTask, SoftPrompt, save_prompt};

use crate::config::ExperimentConfig;
use crate::durable::{recover_folder, remove_temporaries, replace_folder, write_atomic};
use crate::error::TrainError;

/// Paths inside a run's output folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The layout under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The output folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `config.toml`.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// `metrics.jsonl`.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    /// `checkpoints/`.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// `best/`.
    pub fn best(&self) -> PathBuf {
        self.root.join("best")
    }

    /// Creates the folder and writes the resolved config.
    pub fn write_config(&self, config: &ExperimentConfig) -> Result<(), TrainError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TrainError::Io { path, source }
        };
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let text = config.to_toml()?;
        write_atomic(&self.config(), text.as_bytes()).map_err(io(&self.config()))
    }

    /// Tidies what a killed run left half-done: restores `best/` if it was moved aside
    /// mid-replacement, deletes a half-staged `best.partial/` and temporary files. Returns the
    /// paths it restored or deleted.
    pub fn recover(&self) -> Result<Vec<PathBuf>, TrainError> {
        let io = |path: PathBuf| move |source| TrainError::Io { path, source };
        let mut touched = recover_folder(&self.best()).map_err(io(self.best()))?;
        let partial = self.staged_best();
        if partial.exists() {
            fs::remove_dir_all(&partial).map_err(io(partial.clone()))?;
            touched.push(partial);
        }
        touched.extend(remove_temporaries(&self.checkpoints()).map_err(io(self.checkpoints()))?);
        Ok(touched)
    }

    fn staged_best(&self) -> PathBuf {
        self.root.join("best.partial")
    }

    /// Replaces `best/` with `prompt`: written to `best.partial/` first, then swapped in with
    /// [`replace_folder`], so `best/` never holds a half-written prompt.
    pub fn save_best(
        &self,
        prompt: &SoftPrompt,
        config: &ExperimentConfig,
        family: ModelFamily,
    ) -> Result<(), TrainError> {
        let partial = self.staged_best();
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TrainError::Io { path, source }
        };
        if partial.exists() {
            fs::remove_dir_all(&partial).map_err(io(&partial))?;
        }
        let model_path = config.model.resolved_path();
        let adapter = AdapterConfig::new(
            family.peft_task_type(),
            &hf_model_name(&model_path),
            prompt.num_tokens(),
            prompt.width(),
            &config.prompt.init,
            &config.verbalizer.label_words.concat().concat(),
        );
        let task = PromptTask {
            template: config.template.source().to_string(),
            verbalizer: serde_json::to_value(&config.verbalizer)
                .expect("the verbalizer spec is plain data"),
            label_names: Some(config.data.columns.label_names.clone()),
            model_file: model_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned()),
            init: Some(config.prompt.init.clone()),
        };
        save_prompt(&partial, prompt, &adapter, &task)?;
        replace_folder(&partial, &self.best()).map_err(io(&self.best()))
    }
}
