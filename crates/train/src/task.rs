//! Turning the config's data section into encoded train and dev examples and the
//! verbalizer's token rows, for a loaded model's tokenizer and family.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn::tensor::Device;
use prompt_data::{
    Encoded, Encoder, EncoderConfig, Example, LoadedDataset, ReadOptions, Tokenizer, Truncation,
    Verbalizer, read_dataset, resolve_data_path,
};
use prompt_model::{Backbone, LoadedModel, ModelFamily, SoftPrompt};

use crate::config::ExperimentConfig;
use crate::error::TrainError;

/// Everything the loop needs from the data: encoded splits and the verbalizer's tokens.
#[derive(Debug, Clone)]
pub struct PreparedTask {
    /// Training examples.
    pub train: Vec<Encoded>,
    /// Dev examples (the configured subset).
    pub dev: Vec<Encoded>,
    /// The label words of each class, tokenized, and how they score.
    pub verbalizer: Verbalizer,
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
            &self.verbalizer.class_token_ids(),
            config.seed,
            device,
        )?)
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

/// Reads, encodes and subsets both splits for `model`'s tokenizer, with room for the prompt
/// within the backbone's positions.
pub fn prepare_task(
    config: &ExperimentConfig,
    model: &LoadedModel,
) -> Result<PreparedTask, TrainError> {
    let train = read_split(config, &config.data.train)?;
    let dev = read_split(config, &config.data.dev)?;
    let encoder = TaskEncoder::new(config, model, &train.label_names)?;
    let mut dev = encoder.encode(&dev)?;
    if config.data.dev_examples > 0 {
        dev.truncate(config.data.dev_examples);
    }
    Ok(PreparedTask {
        train: encoder.encode(&train)?,
        dev,
        verbalizer: encoder.verbalizer,
        pad_id: 0,
        family: model.family,
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
    /// The label words of each class, tokenized, and how they score.
    pub verbalizer: Verbalizer,
}

impl TaskEncoder {
    /// Builds the verbalizer for the classes `label_names` (as the data names them) and the
    /// encoder, leaving room for `config.prompt.length` prompt rows within `max_positions`.
    pub fn new(
        config: &ExperimentConfig,
        model: &LoadedModel,
        label_names: &[String],
    ) -> Result<Self, TrainError> {
        let verbalizer = Verbalizer::new(&config.verbalizer, label_names, &model.tokenizer)?;
        let (answer_slot, special) = model.encoding();
        let tokenizer = &model.tokenizer;
        let max_positions = model.backbone.max_positions();
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
        if let Some(ignored) = encoder.ignored_after_answer() {
            warn_once(format!(
                "warning: template {:?}: a causal model predicts the answer from the text before \
                 {{mask}}, so the text after it ({ignored:?}) is not fed to the model",
                config.template.source()
            ));
        }
        Ok(Self {
            encoder,
            verbalizer,
        })
    }

    /// Encodes one example, saying whether its text was shortened to fit and from how many
    /// tokens.
    pub fn encode_noting_truncation(
        &self,
        example: &Example,
    ) -> Result<(Encoded, Option<Truncation>), TrainError> {
        Ok(self.encoder.encode_noting_truncation(example)?)
    }

    /// Longest encoded input in tokens (special tokens included, prompt rows not); longer
    /// text is shortened.
    pub fn max_input_tokens(&self) -> usize {
        self.encoder.budget()
    }

    /// Encodes every example of `data`.
    pub fn encode(&self, data: &LoadedDataset) -> Result<Vec<Encoded>, TrainError> {
        Ok(self.encoder.encode_all(&data.examples)?)
    }
}

/// Prints `message` on stderr the first time this process sees it (a sweep encodes the same
/// task for every cell).
fn warn_once(message: String) {
    static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !seen.contains(&message) {
        eprintln!("{message}");
        seen.insert(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_data_file_lists_the_places_tried() {
        let e = resolve_split(Path::new("nope/train.tsv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope/train.tsv"), "{e}");
    }
}
