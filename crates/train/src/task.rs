//! Turning the config's data section into encoded train and dev examples and the
//! verbalizer's token rows, for a given tokenizer and backbone family.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use prompt_data::{
    AnswerSlot, Encoded, Encoder, EncoderConfig, LoadedDataset, MultiTokenPolicy, ReadOptions,
    SpecialTokensSpec, Tokenizer, Verbalizer, read_dataset, resolve_data_path,
};
use prompt_model::{Backbone, LabelTokenPolicy, ModelFamily, SoftPrompt};

use crate::config::ExperimentConfig;
use crate::error::{ConfigError, TrainError};

/// Everything the loop needs from the data: encoded splits and the verbalizer's tokens.
#[derive(Debug, Clone)]
pub struct PreparedTask {
    /// Training examples.
    pub train: Vec<Encoded>,
    /// Dev examples (the configured subset).
    pub dev: Vec<Encoded>,
    /// Per class, the token ids of its label word.
    pub label_token_ids: Vec<Vec<u32>>,
    /// How a multi-token label word is scored.
    pub policy: LabelTokenPolicy,
    /// Padding id for batches (masked out, so its value does not matter).
    pub pad_id: u32,
    /// The backbone family (answer slot, PEFT task type).
    pub family: ModelFamily,
}

impl PreparedTask {
    /// The config's starting prompt for `backbone` (its init, length and seed), on `device`
    /// (an autodiff device to train it).
    pub fn initial_prompt<B: Backbone>(
        &self,
        config: &ExperimentConfig,
        backbone: &B,
        tokenizer: &Tokenizer,
        device: &Device,
    ) -> Result<SoftPrompt, TrainError> {
        Ok(SoftPrompt::init(
            &config.prompt.init,
            config.prompt.length,
            backbone,
            tokenizer,
            &self.label_token_ids,
            config.seed,
            device,
        )?)
    }
}

/// Where the model reads the answer and which special tokens frame the text, by family: a
/// causal LM continues the template with no BOS (PEFT semantics), BERT fills `[MASK]` inside
/// `[CLS] … [SEP]`.
pub fn family_encoding(family: ModelFamily) -> (AnswerSlot, SpecialTokensSpec) {
    match family {
        ModelFamily::Llama => (AnswerSlot::NextToken, SpecialTokensSpec::default()),
        ModelFamily::Bert => (
            AnswerSlot::MaskToken {
                token: "[MASK]".to_string(),
            },
            SpecialTokensSpec::bert(),
        ),
    }
}

/// Finds a data file: as given when it exists (absolute or from the working directory),
/// otherwise inside the data folders.
pub fn resolve_split(path: &Path) -> Result<PathBuf, TrainError> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    Ok(resolve_data_path(path)?)
}

/// Reads, encodes and subsets both splits for `tokenizer`, with room for the prompt within
/// `max_positions` (the backbone's limit).
pub fn prepare_task(
    config: &ExperimentConfig,
    tokenizer: &Tokenizer,
    family: ModelFamily,
    max_positions: usize,
) -> Result<PreparedTask, TrainError> {
    let train = read_split(config, &config.data.train)?;
    let dev = read_split(config, &config.data.dev)?;
    let encoder = TaskEncoder::new(config, tokenizer, family, max_positions, &train.label_names)?;
    let mut dev = encoder.encode(&dev)?;
    if config.data.dev_examples > 0 {
        dev.truncate(config.data.dev_examples);
    }
    Ok(PreparedTask {
        train: encoder.encode(&train)?,
        dev,
        label_token_ids: encoder.label_token_ids,
        policy: encoder.policy,
        pad_id: 0,
        family,
    })
}

/// Reads one data file with the config's columns and options.
pub fn read_split(config: &ExperimentConfig, path: &Path) -> Result<LoadedDataset, TrainError> {
    let options = ReadOptions {
        format: config.data.format,
        skip_bad_rows: config.data.skip_bad_rows,
    };
    let path = resolve_split(path)?;
    Ok(read_dataset(&path, &config.data.columns, &options)?)
}

/// The config's template, verbalizer and limits applied to one tokenizer and family: turns
/// read examples into encoded ones and knows each class's label tokens.
#[derive(Debug, Clone)]
pub struct TaskEncoder {
    encoder: Encoder,
    /// Per class, the token ids of its label word.
    pub label_token_ids: Vec<Vec<u32>>,
    /// How a multi-token label word is scored.
    pub policy: LabelTokenPolicy,
}

impl TaskEncoder {
    /// Builds the verbalizer for the classes `label_names` (as the data names them) and the
    /// encoder, leaving room for `config.prompt.length` prompt rows within `max_positions`.
    pub fn new(
        config: &ExperimentConfig,
        tokenizer: &Tokenizer,
        family: ModelFamily,
        max_positions: usize,
        label_names: &[String],
    ) -> Result<Self, TrainError> {
        let verbalizer = Verbalizer::new(&config.verbalizer, label_names, tokenizer)?;
        let label_token_ids = (0..verbalizer.num_classes())
            .map(|class| match verbalizer.words(class) {
                [word] => Ok(word.ids.clone()),
                words => Err(ConfigError::Invalid {
                    key: "verbalizer.label_words",
                    reason: format!(
                        "class `{}` has {} label words; training scores one word per class",
                        verbalizer.class_names()[class],
                        words.len()
                    ),
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let policy = match verbalizer.policy() {
            MultiTokenPolicy::SingleToken | MultiTokenPolicy::FirstToken => {
                LabelTokenPolicy::FirstToken
            }
            MultiTokenPolicy::Mean => LabelTokenPolicy::MeanOfTokens,
        };

        let (answer_slot, special) = family_encoding(family);
        let special_tokens = special.resolve(tokenizer)?;
        let limit = config.data.max_tokens.map_or(max_positions, |m| {
            max_positions.min(m + config.prompt.length)
        });
        let encoder = Encoder::new(
            tokenizer.clone(),
            config.template.clone(),
            EncoderConfig {
                answer_slot,
                special_tokens,
                prompt_len: config.prompt.length,
                max_positions: limit,
            },
        )?;
        Ok(Self {
            encoder,
            label_token_ids,
            policy,
        })
    }

    /// Encodes every example of `data`.
    pub fn encode(&self, data: &LoadedDataset) -> Result<Vec<Encoded>, TrainError> {
        Ok(self.encoder.encode_all(&data.examples)?)
    }
}
