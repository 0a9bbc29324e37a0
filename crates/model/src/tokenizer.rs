//! Tokenizers for the backbones: built from a GGUF file's `tokenizer.ggml.*` metadata or
//! loaded from a Hugging Face `tokenizer.json`.
//!
//! GGUF key -> tokenizer part:
//! | key | becomes |
//! |---|---|
//! | `tokenizer.ggml.model` = `gpt2` | byte-level BPE |
//! | `tokenizer.ggml.tokens` | the vocabulary (id = position) |
//! | `tokenizer.ggml.merges` | the merges, `"left right"` in rank order |
//! | `tokenizer.ggml.token_type` | control (3) tokens become special added tokens, user-defined (4) tokens plain added tokens |
//! | `tokenizer.ggml.pre` | the pre-tokenizer (see [`PRE_TOKENIZERS`]) |
//! | `tokenizer.ggml.add_bos_token` / `add_eos_token` | a post-processor that adds them (off when absent) |
//! | `tokenizer.ggml.{bos,eos,unknown,padding}_token_id` | [`SpecialTokenIds`] |

use std::path::{Path, PathBuf};

use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::processors::sequence::Sequence as PostSequence;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

use crate::gguf::{GgufError, GgufFile, MetadataValue};

/// The `tokenizer.ggml.pre` values understood here and the Hugging Face pre-tokenizer each
/// stands for (missing means `default`).
pub const PRE_TOKENIZERS: [(&str, &str); 3] = [
    (
        "default",
        "ByteLevel(add_prefix_space=false, use_regex=true)",
    ),
    ("gpt2", "ByteLevel(add_prefix_space=false, use_regex=true)"),
    (
        "smollm",
        "Sequence[Digits(individual_digits=true), ByteLevel(add_prefix_space=false, use_regex=true)]",
    ),
];

/// ggml's token type for control tokens (`<|im_start|>`), which become special tokens.
const TOKEN_TYPE_CONTROL: i64 = 3;
/// ggml's token type for user-defined tokens, which are matched in text like control tokens.
const TOKEN_TYPE_USER_DEFINED: i64 = 4;

/// Failures while building or loading a tokenizer; each names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A metadata key is missing or has the wrong type.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// A tokenizer family other than byte-level BPE.
    #[error(
        "{path}: `tokenizer.ggml.model` is `{found}`; only `gpt2` (byte-level BPE) is supported \
         here: use the model's Hugging Face tokenizer.json instead"
    )]
    UnsupportedModel {
        /// The GGUF file.
        path: PathBuf,
        /// The value found.
        found: String,
    },
    /// A pre-tokenizer this module cannot reproduce.
    #[error(
        "{path}: `tokenizer.ggml.pre` is `{found}`; supported: {}; use the model's Hugging Face \
         tokenizer.json instead",
        PRE_TOKENIZERS.map(|(name, _)| name).join(", ")
    )]
    UnsupportedPreTokenizer {
        /// The GGUF file.
        path: PathBuf,
        /// The value found.
        found: String,
    },
    /// An array element of the wrong type.
    #[error("{path}: element {index} of `{key}` is a {found}, expected {expected}")]
    BadElement {
        /// The GGUF file.
        path: PathBuf,
        /// The metadata key.
        key: &'static str,
        /// The element's position.
        index: usize,
        /// What it should be.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// A merge that is not two tokens separated by one space.
    #[error(
        "{path}: merge {index} of `tokenizer.ggml.merges` is {merge:?}, expected \"left right\""
    )]
    BadMerge {
        /// The GGUF file.
        path: PathBuf,
        /// The merge's rank.
        index: usize,
        /// The merge as stored.
        merge: String,
    },
    /// The token lists disagree on their length.
    #[error("{path}: `{key}` has {found} entries but `tokenizer.ggml.tokens` has {expected}")]
    LengthMismatch {
        /// The GGUF file.
        path: PathBuf,
        /// The metadata key.
        key: &'static str,
        /// The vocabulary size.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A special token id outside the vocabulary.
    #[error("{path}: `{key}` is {id} but the vocabulary has {vocab_size} tokens")]
    BadTokenId {
        /// The GGUF file.
        path: PathBuf,
        /// The metadata key.
        key: &'static str,
        /// The id found.
        id: u64,
        /// The vocabulary size.
        vocab_size: usize,
    },
    /// The `tokenizers` library refused the vocabulary, merges or tokens.
    #[error("{path}: cannot build a tokenizer from `tokenizer.ggml.*`: {source}")]
    Build {
        /// The GGUF file.
        path: PathBuf,
        /// What `tokenizers` said.
        source: tokenizers::Error,
    },
    /// A `tokenizer.json` could not be read or parsed.
    #[error("cannot load tokenizer {path}: {source}")]
    Json {
        /// The tokenizer.json file.
        path: PathBuf,
        /// What `tokenizers` said.
        source: tokenizers::Error,
    },
}

/// The ids of a GGUF tokenizer's special tokens (`None` when the key is absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialTokenIds {
    /// `tokenizer.ggml.bos_token_id`.
    pub bos: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos: Option<u32>,
    /// `tokenizer.ggml.unknown_token_id`.
    pub unk: Option<u32>,
    /// `tokenizer.ggml.padding_token_id`.
    pub pad: Option<u32>,
}

/// Loads a Hugging Face `tokenizer.json`.
pub fn load_tokenizer_json(path: impl AsRef<Path>) -> Result<Tokenizer, TokenizerError> {
    let path = path.as_ref();
    Tokenizer::from_file(path).map_err(|source| TokenizerError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Builds the tokenizer a GGUF file describes (byte-level BPE only, the table above says how).
///
/// Control tokens such as `<|im_start|>` are special added tokens: they are recognised in the
/// input text as single tokens and dropped by `decode(.., skip_special_tokens = true)`.
pub fn tokenizer_from_gguf(gguf: &GgufFile) -> Result<Tokenizer, TokenizerError> {
    let path = gguf.path();
    let model = gguf.get_str("tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(TokenizerError::UnsupportedModel {
            path: path.to_path_buf(),
            found: model.to_string(),
        });
    }
    let pre_tokenizer = pre_tokenizer(gguf)?;
    let tokens = strings(gguf, "tokenizer.ggml.tokens")?;
    let merges = strings(gguf, "tokenizer.ggml.merges")?
        .into_iter()
        .enumerate()
        .map(|(index, merge)| {
            merge
                .split_once(' ')
                .map(|(l, r)| (l.to_string(), r.to_string()))
                .ok_or_else(|| TokenizerError::BadMerge {
                    path: path.to_path_buf(),
                    index,
                    merge: merge.to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let types = token_types(gguf, tokens.len())?;
    let ids = special_token_ids(gguf)?;
    let build = |source| TokenizerError::Build {
        path: path.to_path_buf(),
        source,
    };

    let vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, &token)| (token.to_string(), id as u32))
        .collect::<Vocab>();
    let mut bpe = BPE::builder().vocab_and_merges(vocab, merges);
    if let Some(unk) = ids.unk {
        bpe = bpe.unk_token(tokens[unk as usize].to_string());
    }
    let mut tokenizer = Tokenizer::new(bpe.build().map_err(build)?);
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    tokenizer.with_decoder(Some(ByteLevel::default()));
    tokenizer.with_post_processor(Some(post_processor(gguf, &tokens, ids)?));

    let added = |wanted: i64| {
        tokens
            .iter()
            .zip(&types)
            .filter(move |(_, t)| **t == wanted)
            .map(|(&token, _)| AddedToken::from(token, true).normalized(false))
    };
    tokenizer
        .add_special_tokens(added(TOKEN_TYPE_CONTROL))
        .map_err(build)?;
    tokenizer
        .add_tokens(added(TOKEN_TYPE_USER_DEFINED).map(|t| t.special(false)))
        .map_err(build)?;
    Ok(tokenizer)
}

/// The special token ids a GGUF file declares, checked against the vocabulary size.
pub fn special_token_ids(gguf: &GgufFile) -> Result<SpecialTokenIds, TokenizerError> {
    let vocab_size = gguf.get_array("tokenizer.ggml.tokens")?.len();
    let id = |key: &'static str| -> Result<Option<u32>, TokenizerError> {
        if gguf.metadata(key).is_none() {
            return Ok(None);
        }
        let id = gguf.get_u64(key)?;
        match u32::try_from(id) {
            Ok(small) if (small as usize) < vocab_size => Ok(Some(small)),
            _ => Err(TokenizerError::BadTokenId {
                path: gguf.path().to_path_buf(),
                key,
                id,
                vocab_size,
            }),
        }
    };
    Ok(SpecialTokenIds {
        bos: id("tokenizer.ggml.bos_token_id")?,
        eos: id("tokenizer.ggml.eos_token_id")?,
        unk: id("tokenizer.ggml.unknown_token_id")?,
        pad: id("tokenizer.ggml.padding_token_id")?,
    })
}

/// The elements of string array `key`.
fn strings<'a>(gguf: &'a GgufFile, key: &'static str) -> Result<Vec<&'a str>, TokenizerError> {
    gguf.get_array(key)?
        .iter()
        .enumerate()
        .map(|(index, value)| {
            value.as_str().ok_or_else(|| TokenizerError::BadElement {
                path: gguf.path().to_path_buf(),
                key,
                index,
                expected: "string",
                found: value.type_name(),
            })
        })
        .collect()
}

/// `tokenizer.ggml.token_type`, one integer per token (all normal when absent).
fn token_types(gguf: &GgufFile, vocab_size: usize) -> Result<Vec<i64>, TokenizerError> {
    const KEY: &str = "tokenizer.ggml.token_type";
    if gguf.metadata(KEY).is_none() {
        return Ok(vec![1; vocab_size]);
    }
    let types = gguf
        .get_array(KEY)?
        .iter()
        .enumerate()
        .map(|(index, value)| {
            value.as_i64().ok_or_else(|| TokenizerError::BadElement {
                path: gguf.path().to_path_buf(),
                key: KEY,
                index,
                expected: "integer",
                found: value.type_name(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if types.len() != vocab_size {
        return Err(TokenizerError::LengthMismatch {
            path: gguf.path().to_path_buf(),
            key: KEY,
            expected: vocab_size,
            found: types.len(),
        });
    }
    Ok(types)
}

/// The pre-tokenizer `tokenizer.ggml.pre` names.
fn pre_tokenizer(gguf: &GgufFile) -> Result<PreTokenizerWrapper, TokenizerError> {
    const KEY: &str = "tokenizer.ggml.pre";
    let name = match gguf.metadata(KEY) {
        None => "default",
        Some(_) => gguf.get_str(KEY)?,
    };
    let byte_level = || ByteLevel::new(false, true, true).into();
    match name {
        "default" | "gpt2" => Ok(byte_level()),
        "smollm" => Ok(Sequence::new(vec![Digits::new(true).into(), byte_level()]).into()),
        other => Err(TokenizerError::UnsupportedPreTokenizer {
            path: gguf.path().to_path_buf(),
            found: other.to_string(),
        }),
    }
}

/// ByteLevel offsets, plus BOS / EOS when `tokenizer.ggml.add_{bos,eos}_token` ask for them.
fn post_processor(
    gguf: &GgufFile,
    tokens: &[&str],
    ids: SpecialTokenIds,
) -> Result<PostProcessorWrapper, TokenizerError> {
    let byte_level = PostProcessorWrapper::from(ByteLevel::new(false, true, true));
    let flag = |key| gguf.metadata(key).and_then(MetadataValue::as_bool) == Some(true);
    let bos = ids.bos.filter(|_| flag("tokenizer.ggml.add_bos_token"));
    let eos = ids.eos.filter(|_| flag("tokenizer.ggml.add_eos_token"));
    if bos.is_none() && eos.is_none() {
        return Ok(byte_level);
    }
    let piece = |id: Option<u32>| id.map(|id| (tokens[id as usize].to_string(), id));
    let (bos, eos) = (piece(bos), piece(eos));
    let around = |body: &str| {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(bos.iter().map(|(t, _)| t.clone()));
        parts.push(body.to_string());
        parts.extend(eos.iter().map(|(t, _)| t.clone()));
        parts.join(" ")
    };
    let template = TemplateProcessing::builder()
        .try_single(around("$A"))
        .and_then(|b| b.try_pair(format!("{} {}", around("$A"), around("$B:1"))))
        .map_err(|e| TokenizerError::Build {
            path: gguf.path().to_path_buf(),
            source: e.into(),
        })?
        .special_tokens(bos.into_iter().chain(eos).collect::<Vec<_>>())
        .build()
        .map_err(|e| TokenizerError::Build {
            path: gguf.path().to_path_buf(),
            source: e.into(),
        })?;
    Ok(PostSequence::new(vec![byte_level, template.into()]).into())
}
