//! Opening a model: one call turns a GGUF file or a Hugging Face folder into the backbone of
//! its family, its tokenizer and the family's encoding conventions.
//!
//! A new family is its own folder (config, layers, loading, a [`Backbone`] impl) plus one
//! variant of [`AnyBackbone`], one arm in [`AnyBackbone`]'s dispatch and one row in [`load`].

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Bool, Device, Int, Tensor};
use prompt_data::{AnswerSlot, SpecialTokensSpec, Tokenizer};

use crate::activation_memory::ActivationShape;
use crate::backbone::Backbone;
use crate::error::{LoadError, ModelError};
use crate::family::ModelFamily;
use crate::gguf::GgufFile;
use crate::hf_dir::HfDir;
use crate::prefix::{PrefixCache, RowPrefixes};
use crate::tokenizer::{load_tokenizer_json, tokenizer_from_gguf};
use crate::{Bert, FusedLlama, Gemma3, Llama};

/// The backbone of whichever family a model file holds.
// One value per loaded model, and the variants hold tensor handles, not weights: the few
// hundred bytes between variants cost nothing, and boxing would only add an indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum AnyBackbone {
    /// A llama-family causal LM.
    Llama(Llama),
    /// A BERT masked LM.
    Bert(Bert),
    /// A Gemma 3 causal LM.
    Gemma3(Gemma3),
}

/// A loaded model: the frozen backbone, its tokenizer and how its inputs are framed.
#[derive(Debug)]
pub struct LoadedModel {
    /// The frozen backbone.
    pub backbone: AnyBackbone,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Its family (answer slot, special tokens, PEFT task type).
    pub family: ModelFamily,
}

impl LoadedModel {
    /// Where the family reads the answer and which special tokens frame the text.
    pub fn encoding(&self) -> (AnswerSlot, SpecialTokensSpec) {
        self.family.encoding()
    }
}

/// Opens the model at `path` on `device` (an autodiff device to train a prompt in front of
/// it): a `.gguf` file by its `general.architecture`, a folder by its `config.json`.
pub fn load(path: &Path, device: &Device) -> Result<LoadedModel, ModelError> {
    if !path.exists() {
        return Err(ModelError::Missing {
            path: PathBuf::from(path),
        });
    }
    let family = ModelFamily::detect(path)?;
    let (backbone, tokenizer) = match family {
        ModelFamily::Llama if path.is_dir() => (
            AnyBackbone::Llama(Llama::from_hf_dir(path, device)?),
            load_tokenizer_json(HfDir::new(path).tokenizer_path())?,
        ),
        ModelFamily::Llama => (
            AnyBackbone::Llama(Llama::from_gguf(path, device)?),
            tokenizer_from_gguf(&GgufFile::open(path)?)?,
        ),
        ModelFamily::Bert => (
            AnyBackbone::Bert(Bert::from_hf_dir(path, device)?),
            load_tokenizer_json(HfDir::new(path).tokenizer_path())?,
        ),
        ModelFamily::Gemma3 if path.is_dir() => {
            return Err(LoadError::UnsupportedVariant {
                path: PathBuf::from(path),
                family: "gemma3",
                what: "a Hugging Face folder (Gemma 3 is read from its GGUF file, e.g. \
                       `cargo xtask fetch gemma-3-270m`)"
                    .to_string(),
            }
            .into());
        }
        ModelFamily::Gemma3 => (
            AnyBackbone::Gemma3(Gemma3::from_gguf(path, device)?),
            tokenizer_from_gguf(&GgufFile::open(path)?)?,
        ),
    };
    Ok(LoadedModel {
        backbone,
        tokenizer,
        family,
    })
}

/// Runs `$body` on the backbone inside `$self`, whichever family it is.
macro_rules! each_family {
    ($self:expr, $model:ident => $body:expr) => {
        match $self {
            AnyBackbone::Llama($model) => $body,
            AnyBackbone::Bert($model) => $body,
            AnyBackbone::Gemma3($model) => $body,
        }
    };
}

impl Backbone for AnyBackbone {
    fn hidden_size(&self) -> usize {
        each_family!(self, m => m.hidden_size())
    }

    fn vocab_size(&self) -> usize {
        each_family!(self, m => m.vocab_size())
    }

    fn max_positions(&self) -> usize {
        each_family!(self, m => m.max_positions())
    }

    fn activation_shape(&self) -> ActivationShape {
        each_family!(self, m => m.activation_shape())
    }

    fn embed_tokens(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        each_family!(self, m => m.embed_tokens(ids))
    }

    fn encode(&self, embeds: Tensor<3>, attention_mask: Tensor<2, Bool>) -> Tensor<3> {
        each_family!(self, m => m.encode(embeds, attention_mask))
    }

    fn encode_with_prefix(
        &self,
        prefix: Tensor<2>,
        embeds: Tensor<3>,
        attention_mask: Tensor<2, Bool>,
    ) -> Tensor<3> {
        each_family!(self, m => m.encode_with_prefix(prefix, embeds, attention_mask))
    }

    fn cache_prefix(&self, prefix: Tensor<2>) -> PrefixCache {
        each_family!(self, m => m.cache_prefix(prefix))
    }

    fn encode_behind(
        &self,
        prefixes: &RowPrefixes,
        embeds: Tensor<3>,
        attention_mask: Tensor<2, Bool>,
    ) -> Tensor<3> {
        each_family!(self, m => m.encode_behind(prefixes, embeds, attention_mask))
    }

    fn vocab_logits(&self, hidden: Tensor<2>, token_ids: Tensor<1, Int>) -> Tensor<2> {
        each_family!(self, m => m.vocab_logits(hidden, token_ids))
    }

    fn full_logits(&self, hidden: Tensor<2>) -> Tensor<2> {
        each_family!(self, m => m.full_logits(hidden))
    }

    fn fused(&self) -> Option<FusedLlama> {
        each_family!(self, m => m.fused())
    }
}
