//! The experiment config: one TOML file says everything a training run needs.
//!
//! Every table denies unknown keys, every default is written out in a `Default` impl or a
//! `default_*` function below, and [`ExperimentConfig::validate`] rejects values the training
//! loop could not use, naming the key.

mod load;

use std::path::{Path, PathBuf};

use prompt_data::{ColumnMapping, DataFormat, Template, VerbalizerSpec};
use prompt_model::SoftPromptInit;
use serde::{Deserialize, Serialize};

pub use load::Override;

use crate::error::ConfigError;

/// A whole experiment: data, template, verbalizer, model, prompt, optimizer, schedule, loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Seeds the prompt initialisation, the data order and the device.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Folder for `config.toml`, `metrics.jsonl`, `checkpoints/` and `best/` (relative paths
    /// are taken from the working directory).
    pub output: PathBuf,
    /// CPU threads for tensor work; 0 uses every core.
    #[serde(default)]
    pub threads: usize,
    /// Which kernels run training steps and evaluations.
    #[serde(default)]
    pub kernels: Kernels,
    /// How an example becomes text: `{field}` slots and one `{mask}` answer slot, e.g.
    /// `"{sentence} It was{mask}"` (a causal model reads the answer after the last token).
    pub template: Template,
    /// Where the examples come from.
    pub data: DataConfig,
    /// Label words per class, in class-index order.
    pub verbalizer: VerbalizerSpec,
    /// The frozen backbone.
    #[serde(default)]
    pub model: ModelConfig,
    /// The soft prompt.
    #[serde(default)]
    pub prompt: PromptConfig,
    /// The optimizer of the prompt.
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// Steps, batches, evaluation and checkpoint cadence.
    #[serde(default)]
    pub train: TrainConfig,
}

/// Which kernels run training steps and evaluations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kernels {
    /// The fused CPU kernels where the backbone has them (llama family, f32, on the CPU, the
    /// prompt shared by every row), burn's graph otherwise.
    #[default]
    Fused,
    /// burn's autodiff graph everywhere (the reference the fused kernels are tested against).
    Burn,
}

fn default_seed() -> u64 {
    0
}

/// Where the train and dev examples come from and how their columns are read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Training split: an absolute path, a path from the working directory, or a path inside
    /// the data folders (`$PROMPT_TUNING_DATA`, `data/`, the shared assets).
    pub train: PathBuf,
    /// Development split (evaluation during training, best-prompt selection), found the same way.
    pub dev: PathBuf,
    /// File format of both splits; unset means from the file extension.
    #[serde(default)]
    pub format: Option<DataFormat>,
    /// Skip (and count) rows that do not parse instead of failing.
    #[serde(default)]
    pub skip_bad_rows: bool,
    /// Which columns hold the text and the label, and the class names.
    #[serde(default = "ColumnMapping::sst2")]
    pub columns: ColumnMapping,
    /// Cap on the encoded length of an example in tokens, soft prompt not counted; longer
    /// inputs lose text from their fields, never from the template. Unset means the model's
    /// position limit.
    #[serde(default)]
    pub max_tokens: Option<usize>,
    /// Evaluate on the first this many dev examples; 0 means the whole split.
    #[serde(default)]
    pub dev_examples: usize,
}

/// The frozen backbone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// A GGUF file or a Hugging Face safetensors folder; wins over `name`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// A model `cargo xtask fetch` knows (`smollm2-135m-instruct`, `gemma-3-270m`), read from
    /// the model cache (and fetched there when missing). Unset with `path` unset means the
    /// default model (SmolLM2-135M-Instruct, Q4_1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ModelConfig {
    /// The configured path, else the named model's place in the model cache, else the default
    /// model's.
    pub fn resolved_path(&self) -> PathBuf {
        let cache = prompt_model::cache::known_model;
        match (&self.path, &self.name) {
            (Some(path), _) => path.clone(),
            (None, Some(name)) => {
                cache(name).map_or_else(|| PathBuf::from(name), |m| m.cached_path())
            }
            (None, None) => prompt_model::cache::SMOLLM2_135M_INSTRUCT.cached_path(),
        }
    }
}

/// The soft prompt: its length and initialisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptConfig {
    /// Number of prompt rows (virtual tokens).
    #[serde(default = "default_prompt_length")]
    pub length: usize,
    /// Initialisation, e.g. `{ kind = "class_label" }` or
    /// `{ kind = "random_uniform", range = 0.5 }`.
    #[serde(default = "default_prompt_init")]
    pub init: SoftPromptInit,
}

fn default_prompt_length() -> usize {
    20
}
fn default_prompt_init() -> SoftPromptInit {
    SoftPromptInit::ClassLabel {}
}

impl Default for PromptConfig {
    fn default() -> Self {
        Self {
            length: default_prompt_length(),
            init: default_prompt_init(),
        }
    }
}

/// Which optimizer updates the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// AdamW (decoupled weight decay).
    Adamw,
    /// Adafactor (factored second moments), the paper's optimizer.
    Adafactor,
}

/// The optimizer: kind, learning rate and each kind's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Which optimizer.
    #[serde(default = "default_optimizer_kind")]
    pub kind: OptimizerKind,
    /// Peak learning rate (the schedule scales it).
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// Clip the gradient's L2 norm to this; unset means no clipping.
    #[serde(default)]
    pub grad_clip_norm: Option<f32>,
    /// AdamW settings (used when `kind = "adamw"`).
    #[serde(default)]
    pub adamw: AdamWSettings,
    /// Adafactor settings (used when `kind = "adafactor"`).
    #[serde(default)]
    pub adafactor: AdafactorSettings,
}

// HF PEFT's prompt-tuning recipe (AdamW 0.03, weight decay 0.01): the paper's Adafactor 0.3
// moves a prompt value by up to 0.3 per step, twice the RMS of SmolLM2's embeddings, and whether
// such a run learns depends on last-bit differences between matmul kernels (configs/sst2.toml).
fn default_optimizer_kind() -> OptimizerKind {
    OptimizerKind::Adamw
}
fn default_lr() -> f64 {
    0.03
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            kind: default_optimizer_kind(),
            lr: default_lr(),
            grad_clip_norm: None,
            adamw: AdamWSettings::default(),
            adafactor: AdafactorSettings::default(),
        }
    }
}

/// AdamW settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamWSettings {
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Added to the denominator for stability.
    pub epsilon: f32,
    /// Decoupled weight decay.
    pub weight_decay: f32,
}

impl Default for AdamWSettings {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.01,
        }
    }
}

/// Adafactor settings; the defaults are the paper's (no relative step, no parameter scaling,
/// second-moment decay exponent -0.8, weight decay 1e-5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdafactorSettings {
    /// Exponent of the second-moment decay `beta2 = 1 - step^decay_rate` (negative).
    pub decay_rate: f64,
    /// Upper bound on the RMS of the normalised update.
    pub clip_threshold: f32,
    /// Cap the learning rate by `1/sqrt(step)`.
    pub relative_step: bool,
    /// Multiply the step by the parameter's RMS.
    pub scale_parameter: bool,
    /// Decoupled weight decay, multiplied by the learning rate.
    pub weight_decay: f32,
}

impl Default for AdafactorSettings {
    fn default() -> Self {
        Self {
            decay_rate: -0.8,
            clip_threshold: 1.0,
            relative_step: false,
            scale_parameter: false,
            weight_decay: 1e-5,
        }
    }
}

/// Shape of the learning-rate schedule over steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// `optimizer.lr` at every step (the paper's).
    Constant,
    /// Linear warm-up to `optimizer.lr`, held there, then linear decay to `final_lr` over the
    /// last `decay_steps` steps (every step after the warm-up when unset).
    Linear,
}

/// The learning-rate schedule; it counts optimizer steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// Shape.
    pub kind: ScheduleKind,
    /// Steps of linear warm-up (`linear` only).
    pub warmup_steps: usize,
    /// Learning rate reached at the last step (`linear` only).
    pub final_lr: f64,
    /// Steps of the decay at the end of the run (`linear` only); unset, the decay starts right
    /// after the warm-up. A run whose rate is held first can be extended with a decay later:
    /// its held steps are the same as a constant schedule's, so it resumes from their
    /// checkpoints.
    pub decay_steps: Option<usize>,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            kind: ScheduleKind::Constant,
            warmup_steps: 0,
            final_lr: 0.0,
            decay_steps: None,
        }
    }
}

/// The loop: steps, batches and the cadence of logging, evaluation and checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Optimizer steps in total.
    pub steps: usize,
    /// Training examples per step.
    pub batch_size: usize,
    /// Examples per batch during evaluation (no gradients, so it can be larger).
    pub eval_batch_size: usize,
    /// Evaluate on dev every this many steps (and after the last step).
    pub eval_every: usize,
    /// Write a checkpoint every this many steps (and after the last step).
    pub checkpoint_every: usize,
    /// How many recent checkpoints to keep (the best one is kept in `best/` as well).
    pub keep_checkpoints: usize,
    /// Append a training metrics line every this many steps.
    pub log_every: usize,
    /// Stop after this many evaluations without a better dev accuracy; 0 never stops early.
    pub patience: usize,
    /// Batches are drawn from pools of this many batches sorted by length, so a batch holds
    /// inputs of similar length (less padding); 1 turns bucketing off.
    pub bucket_batches: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: 1000,
            batch_size: 32,
            eval_batch_size: 64,
            eval_every: 100,
            checkpoint_every: 100,
            keep_checkpoints: 3,
            log_every: 10,
            patience: 0,
            bucket_batches: 8,
        }
    }
}

impl ExperimentConfig {
    /// Reads `path`, applies `overrides` in order and validates the result.
    pub fn load(path: &Path, overrides: &[Override]) -> Result<Self, ConfigError> {
        let text = load::read_text(path)?;
        Self::from_toml(&text, path, overrides)
    }

    /// Parses config text (`origin` names it in errors), applies `overrides` and validates.
    pub fn from_toml(
        text: &str,
        origin: &Path,
        overrides: &[Override],
    ) -> Result<Self, ConfigError> {
        let config: Self = load::parse_with_overrides(text, origin, overrides)?;
        config.validate()?;
        Ok(config)
    }

    /// The config as TOML, model path resolved, ready to be written next to the run's outputs.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        let mut resolved = self.clone();
        resolved.model.path = Some(self.model.resolved_path());
        toml::to_string_pretty(&resolved).map_err(|source| ConfigError::Serialize {
            path: self.output.join("config.toml"),
            source,
        })
    }

    /// Rejects values the training loop cannot use.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, reason: String| Err(ConfigError::Invalid { key, reason });
        let positive = [
            ("prompt.length", self.prompt.length),
            ("train.steps", self.train.steps),
            ("train.batch_size", self.train.batch_size),
            ("train.eval_batch_size", self.train.eval_batch_size),
            ("train.eval_every", self.train.eval_every),
            ("train.checkpoint_every", self.train.checkpoint_every),
            ("train.keep_checkpoints", self.train.keep_checkpoints),
            ("train.log_every", self.train.log_every),
            ("train.bucket_batches", self.train.bucket_batches),
            ("data.max_tokens", self.data.max_tokens.unwrap_or(1)),
        ];
        for (key, value) in positive {
            if value == 0 {
                return invalid(key, "must be at least 1".into());
            }
        }
        if let Some(name) = &self.model.name
            && prompt_model::cache::known_model(name).is_none()
        {
            let known: Vec<&str> = prompt_model::cache::KNOWN_MODELS
                .iter()
                .map(|m| m.name)
                .collect();
            return invalid(
                "model.name",
                format!(
                    "`{name}` is not a model `cargo xtask fetch` knows ({}); set model.path to \
                     use another file",
                    known.join(", ")
                ),
            );
        }
        let data_error = |key| {
            move |source| ConfigError::Data {
                key,
                source: Box::new(source),
            }
        };
        self.data
            .columns
            .validate()
            .map_err(data_error("data.columns"))?;
        self.template
            .check_fields(&self.data.columns.text_fields)
            .map_err(data_error("template"))?;
        let classes = self.data.columns.label_names.len();
        if self.verbalizer.label_words.len() != classes {
            return invalid(
                "verbalizer.label_words",
                format!(
                    "has {} classes but data.columns.label_names has {classes}",
                    self.verbalizer.label_words.len()
                ),
            );
        }
        if !(self.optimizer.lr.is_finite() && self.optimizer.lr > 0.0) {
            return invalid(
                "optimizer.lr",
                format!("must be positive, got {}", self.optimizer.lr),
            );
        }
        if self
            .optimizer
            .grad_clip_norm
            .is_some_and(|n| !(n.is_finite() && n > 0.0))
        {
            return invalid("optimizer.grad_clip_norm", "must be positive".into());
        }
        let a = &self.optimizer.adafactor;
        if !(a.decay_rate.is_finite() && a.decay_rate < 0.0) {
            return invalid("optimizer.adafactor.decay_rate", "must be negative".into());
        }
        if !(a.clip_threshold.is_finite() && a.clip_threshold > 0.0) {
            return invalid(
                "optimizer.adafactor.clip_threshold",
                "must be positive".into(),
            );
        }
        if !(a.weight_decay.is_finite() && a.weight_decay >= 0.0) {
            return invalid(
                "optimizer.adafactor.weight_decay",
                "must not be negative".into(),
            );
        }
        let w = &self.optimizer.adamw;
        for (key, beta) in [
            ("optimizer.adamw.beta1", w.beta1),
            ("optimizer.adamw.beta2", w.beta2),
        ] {
            if !(0.0..1.0).contains(&beta) {
                return invalid(key, format!("must be in [0, 1), got {beta}"));
            }
        }
        if !(w.epsilon.is_finite() && w.epsilon > 0.0) {
            return invalid("optimizer.adamw.epsilon", "must be positive".into());
        }
        if self.schedule.kind == ScheduleKind::Linear {
            if self.schedule.warmup_steps >= self.train.steps {
                return invalid(
                    "schedule.warmup_steps",
                    format!("must be less than train.steps ({})", self.train.steps),
                );
            }
            let after_warmup = self.train.steps - self.schedule.warmup_steps;
            if let Some(d) = self.schedule.decay_steps
                && !(1..=after_warmup).contains(&d)
            {
                return invalid(
                    "schedule.decay_steps",
                    format!(
                        "must be in [1, train.steps - schedule.warmup_steps = {after_warmup}], \
                         got {d}"
                    ),
                );
            }
            if !(0.0..=self.optimizer.lr).contains(&self.schedule.final_lr) {
                return invalid(
                    "schedule.final_lr",
                    format!("must be in [0, optimizer.lr = {}]", self.optimizer.lr),
                );
            }
        }
        match &self.prompt.init {
            SoftPromptInit::RandomUniform { range } if !(range.is_finite() && *range > 0.0) => {
                invalid(
                    "prompt.init.range",
                    format!("must be positive, got {range}"),
                )
            }
            SoftPromptInit::Text { text } if text.is_empty() => {
                invalid("prompt.init.text", "must not be empty".into())
            }
            _ => Ok(()),
        }
    }
}
