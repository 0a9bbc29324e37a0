//! Turning the config's data section into encoded train and dev examples and the
//! verbalizer's token rows, for a given tokenizer and backbone family.

use std::path::{Path, PathBuf};

use prompt_data::{
    AnswerSlot, Encoded, Encoder, EncoderConfig, LoadedDataset, MultiTokenPolicy, ReadOptions,
    SpecialTokensSpec, Tokenizer, Verbalizer, read_dataset, resolve_data_path,
};
use prompt_model::{LabelTokenPolicy, ModelFamily};

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
    let data = &config.data;
    let options = ReadOptions {
        format: data.format,
        skip_bad_rows: data.skip_bad_rows,
    };
    let read = |path: &Path| -> Result<LoadedDataset, TrainError> {
        let path = resolve_split(path)?;
        Ok(read_dataset(&path, &data.columns, &options)?)
    };
    let train = read(&data.train)?;
    let dev = read(&data.dev)?;

    let verbalizer = Verbalizer::new(&config.verbalizer, &train.label_names, tokenizer)?;
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
        MultiTokenPolicy::FirstToken => LabelTokenPolicy::FirstToken,
        MultiTokenPolicy::Mean => LabelTokenPolicy::MeanOfTokens,
    };

    let (answer_slot, special) = family_encoding(family);
    let special_tokens = special.resolve(tokenizer)?;
    let limit = data.max_tokens.map_or(max_positions, |m| {
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
    let mut dev = encoder.encode_all(&dev.examples)?;
    if data.dev_examples > 0 {
        dev.truncate(data.dev_examples);
    }
    Ok(PreparedTask {
        train: encoder.encode_all(&train.examples)?,
        dev,
        label_token_ids,
        policy,
        pad_id: 0,
        family,
    })
}
