//! Builds a frozen [`Bert`] from Hugging Face `BertForMaskedLM` weights.
//!
//! | Hugging Face name (the `bert.` prefix is optional)        | field                          |
//! |-----------------------------------------------------------|--------------------------------|
//! | `embeddings.word_embeddings.weight`                       | `embeddings.word` (and the tied decoder) |
//! | `embeddings.position_embeddings.weight`                   | `embeddings.position`          |
//! | `embeddings.token_type_embeddings.weight`                 | `embeddings.token_type`        |
//! | `embeddings.LayerNorm.*`                                  | `embeddings.norm`              |
//! | `encoder.layer.{i}.attention.self.{query,key,value}.*`    | `layers[i].{query,key,value}`  |
//! | `encoder.layer.{i}.attention.output.dense.*`              | `layers[i].attention_output`   |
//! | `encoder.layer.{i}.attention.output.LayerNorm.*`          | `layers[i].attention_norm`     |
//! | `encoder.layer.{i}.intermediate.dense.*`                  | `layers[i].intermediate`       |
//! | `encoder.layer.{i}.output.dense.*`                        | `layers[i].output`             |
//! | `encoder.layer.{i}.output.LayerNorm.*`                    | `layers[i].output_norm`        |
//! | `cls.predictions.transform.dense.*`                       | `head.transform`               |
//! | `cls.predictions.transform.LayerNorm.*`                   | `head.norm`                    |
//! | `cls.predictions.bias`                                    | `head.bias`                    |
//!
//! Dense weights are stored `[out, in]` and transposed to burn's `[in, out]`. LayerNorms are
//! `weight`/`bias`, or `gamma`/`beta` in checkpoints converted from the original release
//! (bert-base-uncased). The decoder is tied, so `cls.predictions.decoder.weight` (and its
//! bias, a copy of `cls.predictions.bias`) stands in only when the tied original is absent.
//! Ignored by name: `embeddings.position_ids`, the pooler and the next-sentence head.

use std::path::Path;

use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Device, Tensor};

use super::build::{HEAD_BIAS, ParamSource, WORD_EMBEDDINGS};
use super::config::BertConfig;
use super::model::Bert;
use crate::error::LoadError;
use crate::hf_dir::HfDir;
use crate::weights::{WeightLoader, WeightSource, transpose};

const DECODER_WEIGHT: &str = "cls.predictions.decoder.weight";
const DECODER_BIAS: &str = "cls.predictions.decoder.bias";

impl Bert {
    /// Loads `config.json` and `model.safetensors` from a Hugging Face directory (such as
    /// bert-base-uncased) onto `device`, every parameter frozen.
    pub fn from_hf_dir(dir: impl AsRef<Path>, device: &Device) -> Result<Self, LoadError> {
        let dir = HfDir::new(dir.as_ref());
        let config: BertConfig = dir.config()?;
        Self::load(&config, &dir.weights()?, device)
    }

    /// Builds the model from any [`WeightSource`] holding Hugging Face BERT names. Missing
    /// tensors, wrong shapes and unknown extra tensors are errors naming the tensor.
    pub(crate) fn load(
        config: &BertConfig,
        source: &dyn WeightSource,
        device: &Device,
    ) -> Result<Self, LoadError> {
        let prefix = if source.names().iter().any(|n| n.starts_with("bert.")) {
            "bert."
        } else {
            ""
        };
        let file = FileParams {
            loader: WeightLoader::new(source, device),
            prefix,
            device,
        };
        let model = config.assemble(&file)?;
        let ignored = [
            file.full_name("embeddings.position_ids"),
            file.full_name("pooler.dense.weight"),
            file.full_name("pooler.dense.bias"),
            "cls.seq_relationship.weight".to_string(),
            "cls.seq_relationship.bias".to_string(),
            // Tied copies of tensors loaded under their own names.
            DECODER_WEIGHT.to_string(),
            DECODER_BIAS.to_string(),
        ];
        file.loader
            .finish(&ignored.iter().map(String::as_str).collect::<Vec<_>>())?;
        Ok(model)
    }
}

/// Parameters read from a Hugging Face weight file, whose encoder tensors may carry `prefix`.
struct FileParams<'a> {
    loader: WeightLoader<'a>,
    prefix: &'static str,
    device: &'a Device,
}

impl FileParams<'_> {
    /// The file's name of `name` (`cls.*` tensors never carry the prefix).
    fn full_name(&self, name: &str) -> String {
        if name.starts_with("cls.") {
            name.to_string()
        } else {
            format!("{}{name}", self.prefix)
        }
    }

    /// The first of `names` the file holds, else the first (so that a missing tensor is
    /// reported under its usual name).
    fn first_present(&self, names: &[&str]) -> String {
        names
            .iter()
            .find(|n| self.loader.has(n))
            .unwrap_or(&names[0])
            .to_string()
    }
}

impl ParamSource for FileParams<'_> {
    /// `{name}.weight` (`[d_out, d_in]`, transposed here) and `{name}.bias`.
    fn linear(&self, name: &str, d_in: usize, d_out: usize) -> Result<Linear, LoadError> {
        let name = self.full_name(name);
        let values = self
            .loader
            .values(&format!("{name}.weight"), &[d_out, d_in])?;
        Ok(Linear {
            weight: self
                .loader
                .frozen(transpose(&values, d_out, d_in), [d_in, d_out]),
            bias: Some(self.loader.param(&format!("{name}.bias"), [d_out])?),
        })
    }

    /// `{name}.weight`/`{name}.bias`, or the original release's `{name}.gamma`/`{name}.beta`.
    fn layer_norm(&self, name: &str, d: usize, epsilon: f64) -> Result<LayerNorm, LoadError> {
        let name = self.full_name(name);
        let gamma = self.first_present(&[&format!("{name}.weight"), &format!("{name}.gamma")]);
        let beta = self.first_present(&[&format!("{name}.bias"), &format!("{name}.beta")]);
        let mut norm = LayerNormConfig::new(d)
            .with_epsilon(epsilon)
            .init(self.device);
        norm.gamma = self.loader.param(&gamma, [d])?;
        norm.beta = Some(self.loader.param(&beta, [d])?);
        Ok(norm)
    }

    /// The word embeddings fall back to the tied decoder's copy.
    fn table(&self, name: &str, shape: [usize; 2]) -> Result<Param<Tensor<2>>, LoadError> {
        let full = self.full_name(name);
        let found = if name == WORD_EMBEDDINGS {
            self.first_present(&[&full, DECODER_WEIGHT])
        } else {
            full
        };
        self.loader.param(&found, shape)
    }

    /// The head bias falls back to the decoder's copy.
    fn vector(&self, name: &str, len: usize) -> Result<Param<Tensor<1>>, LoadError> {
        let found = if name == HEAD_BIAS {
            self.first_present(&[name, DECODER_BIAS])
        } else {
            self.full_name(name)
        };
        self.loader.param(&found, [len])
    }
}
