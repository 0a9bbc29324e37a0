//! The trainable soft prompt (k vectors of the backbone's embedding width) and the ways it
//! starts: random, sampled vocabulary, class labels, a text, or a saved prompt.

use std::collections::HashSet;
use std::path::PathBuf;

use burn::module::{Module, Param};
use burn::tensor::{DType, Device, FloatDType, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::backbone::Backbone;
use crate::error::LoadError;
use crate::prompt_file::SavedPrompt;

/// How many frequent tokens `sampled_vocab` draws from (Lester et al. 2021).
pub const SAMPLED_VOCAB_SIZE: usize = 5_000;

/// Why a soft prompt could not be built, saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// A prompt file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A JSON file of a saved prompt is malformed.
    #[error("{path} is not a valid prompt file: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What serde said.
        source: serde_json::Error,
    },
    /// The prompt tensor could not be written.
    #[error("cannot write {path}: {source}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// What the safetensors writer said.
        source: safetensors::SafeTensorError,
    },
    /// The prompt tensor could not be read (missing, wrong type, truncated file).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The saved prompt is not a `[num_virtual_tokens, token_dim]` matrix as its config says.
    #[error(
        "{path}: `prompt_embeddings` has shape {found:?} but adapter_config.json says \
         [{num_virtual_tokens}, {token_dim}]; the folder mixes files of different prompts"
    )]
    ConfigMismatch {
        /// The tensor file.
        path: PathBuf,
        /// The tensor's shape.
        found: Vec<usize>,
        /// `num_virtual_tokens` of the config.
        num_virtual_tokens: usize,
        /// `token_dim` of the config.
        token_dim: usize,
    },
    /// The prompt's width is not the model's embedding width.
    #[error(
        "{path}: the prompt is {found} wide but the model embeds tokens in {expected} \
         dimensions; it was trained for another model"
    )]
    WidthMismatch {
        /// The prompt file.
        path: PathBuf,
        /// The prompt's width.
        found: usize,
        /// The model's embedding width.
        expected: usize,
    },
    /// A prompt put in front of a model of another width.
    #[error(
        "the prompt is {found} wide but the model embeds tokens in {expected} dimensions; \
         build the prompt for this model"
    )]
    ModelWidth {
        /// The prompt's width.
        found: usize,
        /// The model's embedding width.
        expected: usize,
    },
    /// The prompt has another number of rows than asked for.
    #[error("{path}: the prompt has {found} tokens but {expected} were asked for")]
    LengthMismatch {
        /// The prompt file.
        path: PathBuf,
        /// Rows in the file.
        found: usize,
        /// Rows asked for.
        expected: usize,
    },
    /// A prompt value is NaN or infinite (a diverged training run).
    #[error(
        "{path}: prompt value at token {row}, dimension {col} is {value}; the training that \
         produced it diverged (lower the learning rate) — use an earlier checkpoint"
    )]
    NonFinite {
        /// The prompt file (or the folder being written).
        path: PathBuf,
        /// Prompt token.
        row: usize,
        /// Embedding dimension.
        col: usize,
        /// The value.
        value: f32,
    },
    /// A prompt needs at least one token.
    #[error("a soft prompt needs at least one token (num_tokens is 0)")]
    Empty,
    /// An init has nothing to build rows from.
    #[error("{init} init: {reason}")]
    Init {
        /// The init (`sampled_vocab`, `class_label`, `text`).
        init: &'static str,
        /// What is missing.
        reason: String,
    },
    /// A token id outside the model's vocabulary.
    #[error("{init} init: token id {id} is outside the vocabulary of {vocab_size} tokens")]
    TokenOutOfRange {
        /// The init.
        init: &'static str,
        /// The id.
        id: u32,
        /// The model's vocabulary size.
        vocab_size: usize,
    },
    /// The init text could not be tokenized.
    #[error("cannot tokenize the init text {text:?}: {source}")]
    Tokenize {
        /// The text.
        text: String,
        /// What the tokenizer said.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// How the prompt rows start (Lester et al. 2021, Sec. 2.2 and Fig. 3b).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// Variants without settings are written `{}` so that unknown fields are refused for them too.
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SoftPromptInit {
    /// Independent uniform values in `[-range, range]` (the paper's: 0.5).
    RandomUniform {
        /// Half-width of the interval.
        range: f64,
    },
    /// Embeddings of tokens drawn (without replacement) from the
    /// [`SAMPLED_VOCAB_SIZE`] most frequent tokens; see [`frequent_token_ids`].
    SampledVocab {},
    /// Row `c` is the embedding of class `c`'s label word (the mean over its tokens); rows after
    /// the classes are sampled vocabulary; with fewer rows than classes, the first classes.
    ClassLabel {},
    /// Embeddings of the tokens of a text, cycled or cut to the prompt length.
    Text {
        /// The text.
        text: String,
    },
    /// A prompt saved with [`crate::prompt_file::save_prompt`] (a PEFT prompt folder).
    File {
        /// The folder.
        path: PathBuf,
    },
}

impl Default for SoftPromptInit {
    fn default() -> Self {
        Self::RandomUniform { range: 0.5 }
    }
}

impl SoftPromptInit {
    /// The snake-case name used in configs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::RandomUniform { .. } => "random_uniform",
            Self::SampledVocab {} => "sampled_vocab",
            Self::ClassLabel {} => "class_label",
            Self::Text { .. } => "text",
            Self::File { .. } => "file",
        }
    }
}

/// What an init needs from the tokenizer.
pub trait PromptVocab {
    /// Up to `n` of the most frequent ordinary tokens, most frequent first.
    fn frequent_ids(&self, n: usize) -> Vec<u32>;
    /// The token ids of `text`, without special tokens.
    fn encode_text(&self, text: &str) -> Result<Vec<u32>, PromptError>;
}

impl PromptVocab for tokenizers::Tokenizer {
    fn frequent_ids(&self, n: usize) -> Vec<u32> {
        let added: HashSet<u32> = self.get_added_tokens_decoder().keys().copied().collect();
        let vocab = self.get_vocab(false);
        frequent_token_ids(
            vocab.iter().map(|(token, id)| (*id, token.as_str())),
            &added,
            n,
        )
    }

    fn encode_text(&self, text: &str) -> Result<Vec<u32>, PromptError> {
        let encoding = self
            .encode(text, false)
            .map_err(|source| PromptError::Tokenize {
                text: text.to_string(),
                source,
            })?;
        Ok(encoding.get_ids().to_vec())
    }
}

/// The `n` most frequent ordinary tokens, estimated from the ids, most frequent first.
///
/// Both BPE and WordPiece vocabularies are built frequency first: a BPE token's id is its merge
/// rank (earlier merges join more frequent pairs), and BERT's WordPiece list is ordered by
/// frequency after its placeholder block, and a SentencePiece vocabulary (Gemma) is ordered by
/// score. So the estimate is the lowest ids after skipping `special` ids (added/control
/// tokens), placeholders written `[...]` (`[unused3]`, `[CLS]`), SentencePiece's byte-fallback
/// tokens written `<0x41>`, and single characters (the 256 byte tokens of a byte-level BPE, the
/// character alphabet of a WordPiece vocabulary, `##`-prefixed single characters).
pub fn frequent_token_ids<'a>(
    vocab: impl IntoIterator<Item = (u32, &'a str)>,
    special: &HashSet<u32>,
    n: usize,
) -> Vec<u32> {
    let mut ids: Vec<u32> = vocab
        .into_iter()
        .filter(|(id, token)| {
            let placeholder = token.len() > 2 && token.starts_with('[') && token.ends_with(']');
            let byte = token.len() == 6 && token.starts_with("<0x") && token.ends_with('>');
            let chars = token.strip_prefix("##").unwrap_or(token).chars().count();
            !special.contains(id) && !placeholder && !byte && chars > 1
        })
        .map(|(id, _)| id)
        .collect();
    ids.sort_unstable();
    ids.truncate(n);
    ids
}

/// The trainable prompt: `k` rows of the backbone's embedding width, placed before the input.
#[derive(Module, Debug)]
pub struct SoftPrompt {
    /// `[k, d]`.
    pub embeddings: Param<Tensor<2>>,
}

impl SoftPrompt {
    /// A trainable prompt holding `values` `[k, d]`.
    pub fn from_tensor(values: Tensor<2>) -> Self {
        Self {
            embeddings: Param::from_tensor(at_least_f32(values)),
        }
    }

    /// Number of prompt tokens `k`.
    pub fn num_tokens(&self) -> usize {
        self.embeddings.dims()[0]
    }

    /// Width `d`.
    pub fn width(&self) -> usize {
        self.embeddings.dims()[1]
    }

    /// The current values `[k, d]`.
    pub fn values(&self) -> Tensor<2> {
        self.embeddings.val()
    }

    /// Builds a `num_tokens`-row prompt for `backbone` as `init` says. `classes` holds each
    /// class's label-word token ids (only `class_label` uses them). The same `seed` gives the
    /// same prompt.
    pub fn init<B: Backbone>(
        init: &SoftPromptInit,
        num_tokens: usize,
        backbone: &B,
        vocab: &dyn PromptVocab,
        classes: &[Vec<u32>],
        seed: u64,
        device: &Device,
    ) -> Result<Self, PromptError> {
        if num_tokens == 0 {
            return Err(PromptError::Empty);
        }
        let width = backbone.hidden_size();
        let mut rng = SplitMix64(seed);
        let values = match init {
            SoftPromptInit::RandomUniform { range } => {
                let values: Vec<f32> = (0..num_tokens * width)
                    .map(|_| ((rng.next_unit() * 2.0 - 1.0) * range) as f32)
                    .collect();
                Tensor::from_data(TensorData::new(values, [num_tokens, width]), device)
            }
            SoftPromptInit::SampledVocab {} => {
                let ids = sample_frequent(vocab, num_tokens, &mut rng, init.name())?;
                embed_rows(backbone, &ids, init.name(), device)?
            }
            SoftPromptInit::ClassLabel {} => {
                if let Some(c) = classes.iter().position(Vec::is_empty) {
                    return Err(PromptError::Init {
                        init: init.name(),
                        reason: format!("class {c} has no label tokens"),
                    });
                }
                if classes.is_empty() {
                    return Err(PromptError::Init {
                        init: init.name(),
                        reason: "no classes given".to_string(),
                    });
                }
                let mut rows: Vec<Tensor<2>> = classes
                    .iter()
                    .take(num_tokens)
                    .map(|ids| {
                        embed_rows(backbone, ids, init.name(), device).map(|e| e.mean_dim(0))
                    })
                    .collect::<Result<_, _>>()?;
                let rest = num_tokens - rows.len();
                if rest > 0 {
                    let ids = sample_frequent(vocab, rest, &mut rng, init.name())?;
                    rows.push(embed_rows(backbone, &ids, init.name(), device)?);
                }
                Tensor::cat(rows, 0)
            }
            SoftPromptInit::Text { text } => {
                let ids = vocab.encode_text(text)?;
                if ids.is_empty() {
                    return Err(PromptError::Init {
                        init: init.name(),
                        reason: format!("the text {text:?} has no tokens"),
                    });
                }
                let ids: Vec<u32> = ids.iter().copied().cycle().take(num_tokens).collect();
                embed_rows(backbone, &ids, init.name(), device)?
            }
            SoftPromptInit::File { path } => {
                let saved = SavedPrompt::load(path)?;
                if saved.num_tokens() != num_tokens {
                    return Err(PromptError::LengthMismatch {
                        path: saved.weights_path(),
                        found: saved.num_tokens(),
                        expected: num_tokens,
                    });
                }
                return saved.to_soft_prompt(width, device);
            }
        };
        Ok(Self::from_tensor(values))
    }
}

/// `n` distinct frequent tokens in a seeded random order.
fn sample_frequent(
    vocab: &dyn PromptVocab,
    n: usize,
    rng: &mut SplitMix64,
    init: &'static str,
) -> Result<Vec<u32>, PromptError> {
    let mut pool = vocab.frequent_ids(SAMPLED_VOCAB_SIZE);
    if pool.len() < n {
        return Err(PromptError::Init {
            init,
            reason: format!(
                "{n} rows to sample but the vocabulary has only {} ordinary tokens",
                pool.len()
            ),
        });
    }
    // Partial Fisher-Yates shuffle: the first `n` entries are a uniform sample.
    for i in 0..n {
        let j = i + (rng.next_u64() % (pool.len() - i) as u64) as usize;
        pool.swap(i, j);
    }
    pool.truncate(n);
    Ok(pool)
}

/// The backbone's (frozen, detached) embeddings of `ids`: `[ids.len(), d]`.
fn embed_rows<B: Backbone>(
    backbone: &B,
    ids: &[u32],
    init: &'static str,
    device: &Device,
) -> Result<Tensor<2>, PromptError> {
    let vocab_size = backbone.vocab_size();
    if let Some(&id) = ids.iter().find(|&&id| id as usize >= vocab_size) {
        return Err(PromptError::TokenOutOfRange {
            init,
            id,
            vocab_size,
        });
    }
    let ids: Vec<i64> = ids.iter().map(|&id| id as i64).collect();
    let n = ids.len();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, n]), device);
    Ok(backbone
        .embed_tokens(ids)
        .reshape([n, backbone.hidden_size()])
        .detach())
}

/// `values` in f32 when they are half precision (bf16, f16), unchanged otherwise: the prompt,
/// the class scores and the loss are never kept in less than f32, whatever the backbone's
/// precision.
pub fn at_least_f32<const D: usize>(values: Tensor<D>) -> Tensor<D> {
    match values.dtype() {
        DType::BF16 | DType::F16 => values.cast(FloatDType::F32),
        _ => values,
    }
}

/// A tiny seeded generator (SplitMix64): the same seed gives the same prompt on every machine
/// and backend, independent of any global random state.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 bits.
    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequent_tokens_skip_special_placeholders_and_single_characters() {
        let vocab = [
            (0, "<|endoftext|>"),
            (1, "!"),
            (2, "Ġ"),
            (3, "[unused0]"),
            (4, "Ġt"),
            (5, "##s"),
            (6, "##ing"),
            (7, "he"),
            (8, "the"),
            (9, "<0x41>"),
        ];
        let special = HashSet::from([0]);
        assert_eq!(frequent_token_ids(vocab, &special, 10), vec![4, 6, 7, 8]);
        assert_eq!(frequent_token_ids(vocab, &special, 2), vec![4, 6]);
    }

    #[test]
    fn init_parses_from_config_and_rejects_unknown_fields() {
        let init: SoftPromptInit =
            serde_json::from_str(r#"{"kind":"random_uniform","range":0.5}"#).unwrap();
        assert_eq!(init, SoftPromptInit::default());
        let text: SoftPromptInit =
            serde_json::from_str(r#"{"kind":"text","text":"great"}"#).unwrap();
        assert_eq!(
            text,
            SoftPromptInit::Text {
                text: "great".to_string()
            }
        );
        assert!(
            serde_json::from_str::<SoftPromptInit>(r#"{"kind":"sampled_vocab","size":3}"#).is_err()
        );
    }

    #[test]
    fn splitmix_is_deterministic_and_in_range() {
        let draw = |seed| {
            let mut rng = SplitMix64(seed);
            (0..100).map(|_| rng.next_unit()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        assert!(draw(7).iter().all(|u| (0.0..1.0).contains(u)));
    }
}
