//! One task the predictor serves: its template and verbalizer, its encoder for the shared
//! backbone, and its prompts (several: an ensemble), each prepared once when it is registered.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use prompt_data::{Encoded, Example, Truncation};
use prompt_model::{
    Backbone, ClassTokens, FusedLlama, FusedPrompt, LoadedModel, PrefixCache, SavedPrompt,
};
use prompt_train::{ExperimentConfig, Override, TaskEncoder};
use serde::Serialize;

use super::Input;
use super::vote::Vote;
use crate::error::EvalError;
use crate::score::{PromptChoice, artifact_experiment};

/// Where a task's prompts come from and how they are read.
#[derive(Debug, Clone, Default)]
pub struct TaskSpec {
    /// Prompt folders or run folders; several make an ensemble (same template, verbalizer
    /// and class names).
    pub artifacts: Vec<PathBuf>,
    /// The experiment config for prompt folders without `prompt_task.json` (PEFT's).
    pub config: Option<PathBuf>,
    /// Config overrides, applied last.
    pub overrides: Vec<Override>,
    /// How an ensemble's prompts decide.
    pub vote: Vote,
    /// An upper bound on an input's tokens (a server's limit): longer inputs are shortened as
    /// in training. A lower `data.max_tokens` of the task's config stays.
    pub max_input_tokens: Option<usize>,
}

/// What a client may know of a task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskInfo {
    /// The name requests use.
    pub name: String,
    /// The class names, in score order.
    pub labels: Vec<String>,
    /// The template.
    pub template: String,
    /// The text fields an input must give (the template's fields).
    pub fields: Vec<String>,
    /// Rows of each prompt.
    pub prompt_tokens: Vec<usize>,
    /// The folder of each prompt.
    pub prompts: Vec<PathBuf>,
    /// How an ensemble decides (one prompt: its own prediction).
    pub vote: Vote,
    /// The backbone's file.
    pub model: PathBuf,
    /// Longest input in tokens (longer inputs are shortened as in training).
    pub max_input_tokens: usize,
}

/// One prompt of a task, prepared for scoring: its keys and values for the backbone's fused
/// kernels where it has them, else what burn's backbone keeps of it.
// A few members per task, each holding tensor handles or its own buffers: the size difference
// between the variants costs nothing, and boxing would only add an indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Member {
    Burn(PrefixCache),
    Fused(FusedPrompt),
}

impl Member {
    /// The prompt prepared for the fused kernels, if it was.
    pub(crate) fn fused(&self) -> Option<&FusedPrompt> {
        match self {
            Self::Fused(prompt) => Some(prompt),
            Self::Burn(_) => None,
        }
    }

    /// What burn's backbone keeps of the prompt, if it was prepared for burn.
    pub(crate) fn burn(&self) -> Option<&PrefixCache> {
        match self {
            Self::Burn(cache) => Some(cache),
            Self::Fused(_) => None,
        }
    }
}

/// A registered task.
#[derive(Debug)]
pub struct Task {
    info: TaskInfo,
    encoder: TaskEncoder,
    pub(crate) classes: ClassTokens,
    pub(crate) members: Vec<Member>,
    /// The eval batch size of the task's config (the predictor's default batch).
    pub(crate) batch_size: usize,
}

impl Task {
    /// Reads the prompts `spec` names for `model` (loaded from `model_path`) and prepares them:
    /// a causal backbone computes each prompt's keys and values here, once (on `fused`, the
    /// backbone's fused kernels, when it has them).
    pub fn new(
        name: &str,
        spec: &TaskSpec,
        model: &LoadedModel,
        fused: Option<&FusedLlama>,
        model_path: &Path,
        device: &Device,
    ) -> Result<Self, EvalError> {
        let Some(first) = spec.artifacts.first() else {
            return Err(EvalError::NoPrompts {
                task: name.to_string(),
            });
        };
        let mut configs = Vec::with_capacity(spec.artifacts.len());
        let mut prompts = Vec::with_capacity(spec.artifacts.len());
        for artifact in &spec.artifacts {
            let (config, prompt) = artifact_experiment(
                artifact,
                spec.config.as_deref(),
                None,
                false,
                &spec.overrides,
            )?;
            let PromptChoice::Saved(dir) = prompt else {
                unreachable!("an artifact's prompt is a saved folder unless zero-shot is asked");
            };
            check_model(artifact, &config, model_path)?;
            if let Some(reference) = configs.first() {
                check_same_task(first, reference, artifact, &config)?;
            }
            prompts.push(SavedPrompt::load(&dir)?);
            configs.push(config);
        }
        let mut config = configs.swap_remove(0);
        let width = model.backbone.hidden_size();
        let members = prompts
            .iter()
            .map(|saved| {
                let values = saved.to_soft_prompt(width, device)?.values();
                Ok(match fused {
                    Some(fused) => Member::Fused(fused.cache_prompt(&saved.values)),
                    None => Member::Burn(model.backbone.cache_prefix(values)),
                })
            })
            .collect::<Result<Vec<_>, EvalError>>()?;
        let prompt_tokens: Vec<usize> = prompts.iter().map(SavedPrompt::num_tokens).collect();
        // Inputs are shortened to leave room for the longest prompt of the task.
        config.prompt.length = prompt_tokens.iter().copied().max().unwrap_or(0);
        if let Some(cap) = spec.max_input_tokens {
            config.data.max_tokens = Some(config.data.max_tokens.map_or(cap, |m| m.min(cap)));
        }
        let labels = config.data.columns.label_names.clone();
        let encoder = TaskEncoder::new(&config, model, &labels)?;
        let info = TaskInfo {
            name: name.to_string(),
            labels,
            template: config.template.source().to_string(),
            fields: config.template.fields().map(str::to_string).collect(),
            prompt_tokens,
            prompts: prompts.iter().map(|p| p.dir.clone()).collect(),
            vote: spec.vote,
            model: model_path.to_path_buf(),
            max_input_tokens: encoder.max_input_tokens(),
        };
        Ok(Self {
            classes: ClassTokens::new(&encoder.verbalizer, device),
            info,
            encoder,
            members,
            batch_size: config.train.eval_batch_size,
        })
    }

    /// What a client may know of the task.
    pub fn info(&self) -> &TaskInfo {
        &self.info
    }

    /// Encodes one input for the backbone, shortening its text as in training when it is too
    /// long (the [`Truncation`] says so).
    pub fn encode(&self, input: &Input) -> Result<(Encoded, Option<Truncation>), EvalError> {
        let fields = self.fields_of(input)?;
        if fields.values().all(|text| text.trim().is_empty()) {
            return Err(EvalError::EmptyInput {
                task: self.info.name.clone(),
            });
        }
        let example = Example { fields, label: 0 };
        Ok(self.encoder.encode_noting_truncation(&example)?)
    }

    /// The template's fields filled from `input`: a plain text fills a template's only field.
    fn fields_of(&self, input: &Input) -> Result<BTreeMap<String, String>, EvalError> {
        let wanted = &self.info.fields;
        match input {
            Input::Text(text) if wanted.len() == 1 => {
                Ok(BTreeMap::from([(wanted[0].clone(), text.clone())]))
            }
            Input::Text(_) => Err(EvalError::InputNeedsFields {
                task: self.info.name.clone(),
                fields: wanted.clone(),
            }),
            Input::Fields(given) => wanted
                .iter()
                .map(|field| match given.get(field) {
                    Some(text) => Ok((field.clone(), text.clone())),
                    None => Err(EvalError::InputMissingField {
                        task: self.info.name.clone(),
                        field: field.clone(),
                        fields: wanted.clone(),
                    }),
                })
                .collect(),
        }
    }
}

/// The artifact must have been trained on the backbone the predictor holds.
fn check_model(
    artifact: &Path,
    config: &ExperimentConfig,
    model_path: &Path,
) -> Result<(), EvalError> {
    let wanted = config.model.resolved_path();
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    if same(&wanted, model_path) {
        return Ok(());
    }
    Err(EvalError::OtherModel {
        artifact: artifact.to_path_buf(),
        wanted,
        loaded: model_path.to_path_buf(),
    })
}

/// An ensemble's prompts must phrase and name the task the same way.
fn check_same_task(
    first: &Path,
    reference: &ExperimentConfig,
    artifact: &Path,
    config: &ExperimentConfig,
) -> Result<(), EvalError> {
    let differs = if config.template != reference.template {
        Some("template")
    } else if config.verbalizer != reference.verbalizer {
        Some("verbalizer")
    } else if config.data.columns.label_names != reference.data.columns.label_names {
        Some("class names")
    } else {
        None
    };
    match differs {
        None => Ok(()),
        Some(what) => Err(EvalError::EnsembleMismatch {
            first: first.to_path_buf(),
            other: artifact.to_path_buf(),
            what,
        }),
    }
}
