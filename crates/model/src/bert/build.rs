//! The one place a BERT model is assembled from its config. Random initialisation and loading
//! differ only in where each parameter comes from, a [`ParamSource`]. Parameters are named by
//! their Hugging Face names without the optional `bert.` prefix.

use burn::module::{Module, Param};
use burn::nn::{
    Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig,
};
use burn::tensor::{Device, Tensor};

use super::config::BertConfig;
use super::embeddings::BertEmbeddings;
use super::layer::BertLayer;
use super::mlm_head::MlmHead;
use super::model::Bert;
use crate::error::LoadError;

/// Where the parameters of a BERT model come from.
pub(crate) trait ParamSource {
    /// The dense layer `{name}.weight`/`{name}.bias`, `[d_in, d_out]`.
    fn linear(&self, name: &str, d_in: usize, d_out: usize) -> Result<Linear, LoadError>;
    /// The LayerNorm `name` of width `d`.
    fn layer_norm(&self, name: &str, d: usize, epsilon: f64) -> Result<LayerNorm, LoadError>;
    /// A `[rows, d]` embedding table.
    fn table(&self, name: &str, shape: [usize; 2]) -> Result<Param<Tensor<2>>, LoadError>;
    /// A vector of `len` values.
    fn vector(&self, name: &str, len: usize) -> Result<Param<Tensor<1>>, LoadError>;
}

/// The word-embedding table (also the tied decoder).
pub(crate) const WORD_EMBEDDINGS: &str = "embeddings.word_embeddings.weight";
/// The decoder's per-token bias.
pub(crate) const HEAD_BIAS: &str = "cls.predictions.bias";

impl BertConfig {
    /// A model with random weights of this shape (tests without model files), every
    /// parameter frozen.
    pub fn init(&self, device: &Device) -> Bert {
        self.assemble(&RandomParams { device })
            .expect("random parameters always fit their shapes")
    }

    /// The model of this shape with its parameters from `params`, every one frozen.
    pub(crate) fn assemble(&self, params: &impl ParamSource) -> Result<Bert, LoadError> {
        let (d, v, ff) = (self.hidden_size, self.vocab_size, self.intermediate_size);
        let eps = self.layer_norm_eps;
        let embeddings = BertEmbeddings {
            word: Embedding {
                weight: params.table(WORD_EMBEDDINGS, [v, d])?,
            },
            position: params.table(
                "embeddings.position_embeddings.weight",
                [self.max_position_embeddings, d],
            )?,
            token_type: params.table(
                "embeddings.token_type_embeddings.weight",
                [self.type_vocab_size, d],
            )?,
            norm: params.layer_norm("embeddings.LayerNorm", d, eps)?,
        };
        let layers = (0..self.num_hidden_layers)
            .map(|i| {
                let name = |rest: &str| format!("encoder.layer.{i}.{rest}");
                Ok(BertLayer {
                    query: params.linear(&name("attention.self.query"), d, d)?,
                    key: params.linear(&name("attention.self.key"), d, d)?,
                    value: params.linear(&name("attention.self.value"), d, d)?,
                    attention_output: params.linear(&name("attention.output.dense"), d, d)?,
                    attention_norm: params.layer_norm(
                        &name("attention.output.LayerNorm"),
                        d,
                        eps,
                    )?,
                    intermediate: params.linear(&name("intermediate.dense"), d, ff)?,
                    output: params.linear(&name("output.dense"), ff, d)?,
                    output_norm: params.layer_norm(&name("output.LayerNorm"), d, eps)?,
                    num_heads: self.num_attention_heads,
                })
            })
            .collect::<Result<Vec<_>, LoadError>>()?;
        let head = MlmHead {
            transform: params.linear("cls.predictions.transform.dense", d, d)?,
            norm: params.layer_norm("cls.predictions.transform.LayerNorm", d, eps)?,
            bias: params.vector(HEAD_BIAS, v)?,
        };
        Ok(Bert {
            embeddings,
            layers,
            head,
            num_heads: self.num_attention_heads,
        }
        .no_grad())
    }
}

/// Random parameters, burn's default initialisers.
struct RandomParams<'a> {
    device: &'a Device,
}

impl ParamSource for RandomParams<'_> {
    fn linear(&self, _: &str, d_in: usize, d_out: usize) -> Result<Linear, LoadError> {
        Ok(LinearConfig::new(d_in, d_out).init(self.device))
    }

    fn layer_norm(&self, _: &str, d: usize, epsilon: f64) -> Result<LayerNorm, LoadError> {
        Ok(LayerNormConfig::new(d)
            .with_epsilon(epsilon)
            .init(self.device))
    }

    fn table(&self, _: &str, [rows, d]: [usize; 2]) -> Result<Param<Tensor<2>>, LoadError> {
        Ok(EmbeddingConfig::new(rows, d).init(self.device).weight)
    }

    fn vector(&self, _: &str, len: usize) -> Result<Param<Tensor<1>>, LoadError> {
        Ok(Initializer::Zeros.init([len], self.device))
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Bool, Int, TensorData};

    use super::*;
    use crate::backbone::Backbone;
    use crate::bert::HiddenAct;

    fn tiny() -> BertConfig {
        BertConfig {
            vocab_size: 30,
            hidden_size: 8,
            num_hidden_layers: 2,
            num_attention_heads: 2,
            intermediate_size: 12,
            max_position_embeddings: 16,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_act: HiddenAct::Gelu,
        }
    }

    #[test]
    fn a_random_bert_has_its_config_shapes_and_runs() {
        let device = Device::flex();
        let bert = tiny().init(&device);
        assert_eq!(
            (bert.hidden_size(), bert.vocab_size(), bert.max_positions()),
            (8, 30, 16)
        );
        let shape = bert.activation_shape();
        assert_eq!((shape.layers, shape.ffn, shape.heads), (2, 12, 2));
        assert!(!shape.shared_prefix);
        let ids =
            Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 5, 7, 2], [1, 4]), &device);
        let mask = Tensor::<2, Bool>::full([1, 4], true, &device);
        let hidden = bert.encode(bert.embed_tokens(ids), mask);
        assert_eq!(hidden.dims(), [1, 4, 8]);
        let rows = Tensor::<1, Int>::from_data(TensorData::new(vec![3i64, 4], [2]), &device);
        let logits = bert.vocab_logits(hidden.narrow(1, 0, 1).reshape([1, 8]), rows);
        assert_eq!(logits.dims(), [1, 2]);
        let word = bert.embeddings.word.weight.val();
        assert!(!word.is_require_grad(), "every parameter is frozen");
    }
}
