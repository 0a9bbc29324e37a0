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

use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::Device;

use super::config::BertConfig;
use super::embeddings::BertEmbeddings;
use super::layer::BertLayer;
use super::mlm_head::MlmHead;
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
    pub fn load(
        config: &BertConfig,
        source: &dyn WeightSource,
        device: &Device,
    ) -> Result<Self, LoadError> {
        let names = source.names();
        let prefix = if names.iter().any(|n| n.starts_with("bert.")) {
            "bert."
        } else {
            ""
        };
        let w = Weights {
            loader: WeightLoader::new(source, device),
            prefix,
            config,
            device,
        };
        let (d, v) = (config.hidden_size, config.vocab_size);
        let word_name = w.first_present(&[
            &w.encoder("embeddings.word_embeddings.weight"),
            DECODER_WEIGHT,
        ]);
        let embeddings = BertEmbeddings {
            word: Embedding {
                weight: w.loader.param(&word_name, [v, d])?,
            },
            position: w.loader.param(
                &w.encoder("embeddings.position_embeddings.weight"),
                [config.max_position_embeddings, d],
            )?,
            token_type: w.loader.param(
                &w.encoder("embeddings.token_type_embeddings.weight"),
                [config.type_vocab_size, d],
            )?,
            norm: w.layer_norm(&w.encoder("embeddings.LayerNorm"))?,
        };
        let layers = (0..config.num_hidden_layers)
            .map(|i| w.layer(i))
            .collect::<Result<Vec<_>, _>>()?;
        let bias_name = w.first_present(&["cls.predictions.bias", DECODER_BIAS]);
        let head = MlmHead {
            transform: w.linear("cls.predictions.transform.dense", d, d)?,
            norm: w.layer_norm("cls.predictions.transform.LayerNorm")?,
            bias: w.loader.param(&bias_name, [v])?,
        };
        let ignored = [
            w.encoder("embeddings.position_ids"),
            w.encoder("pooler.dense.weight"),
            w.encoder("pooler.dense.bias"),
            "cls.seq_relationship.weight".to_string(),
            "cls.seq_relationship.bias".to_string(),
            // Tied copies of tensors loaded under their own names.
            DECODER_WEIGHT.to_string(),
            DECODER_BIAS.to_string(),
        ];
        w.loader
            .finish(&ignored.iter().map(String::as_str).collect::<Vec<_>>())?;
        Ok(Bert {
            embeddings,
            layers,
            head,
            num_heads: config.num_attention_heads,
        })
    }
}

/// Loading context: the loader, the name prefix of encoder tensors, and the shapes.
struct Weights<'a> {
    loader: WeightLoader<'a>,
    prefix: &'static str,
    config: &'a BertConfig,
    device: &'a Device,
}

impl Weights<'_> {
    /// Full name of an encoder tensor (`cls.*` tensors never carry the prefix).
    fn encoder(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
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

    fn layer(&self, i: usize) -> Result<BertLayer, LoadError> {
        let (d, ff) = (self.config.hidden_size, self.config.intermediate_size);
        let name = |rest: &str| self.encoder(&format!("encoder.layer.{i}.{rest}"));
        Ok(BertLayer {
            query: self.linear(&name("attention.self.query"), d, d)?,
            key: self.linear(&name("attention.self.key"), d, d)?,
            value: self.linear(&name("attention.self.value"), d, d)?,
            attention_output: self.linear(&name("attention.output.dense"), d, d)?,
            attention_norm: self.layer_norm(&name("attention.output.LayerNorm"))?,
            intermediate: self.linear(&name("intermediate.dense"), d, ff)?,
            output: self.linear(&name("output.dense"), ff, d)?,
            output_norm: self.layer_norm(&name("output.LayerNorm"))?,
            num_heads: self.config.num_attention_heads,
        })
    }

    /// `{name}.weight` (`[d_out, d_in]`, transposed here) and `{name}.bias`.
    fn linear(&self, name: &str, d_in: usize, d_out: usize) -> Result<Linear, LoadError> {
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
    fn layer_norm(&self, name: &str) -> Result<LayerNorm, LoadError> {
        let d = self.config.hidden_size;
        let gamma = self.first_present(&[&format!("{name}.weight"), &format!("{name}.gamma")]);
        let beta = self.first_present(&[&format!("{name}.bias"), &format!("{name}.beta")]);
        let mut norm = LayerNormConfig::new(d)
            .with_epsilon(self.config.layer_norm_eps)
            .init(self.device);
        norm.gamma = self.loader.param(&gamma, [d])?;
        norm.beta = Some(self.loader.param(&beta, [d])?);
        Ok(norm)
    }
}
