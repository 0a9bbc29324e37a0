//! Tokenizers for the backbones: built from a GGUF file's `tokenizer.ggml.*` metadata or
//! loaded from a Hugging Face `tokenizer.json`.
//!
//! GGUF key -> tokenizer part:
//! | key | becomes |
//! |---|---|
//! | `tokenizer.ggml.model` = `gpt2` | byte-level BPE |
//! | `tokenizer.ggml.model` = `llama` | SentencePiece BPE with byte fallback (module `sentencepiece`) |
//! | `tokenizer.ggml.tokens` | the vocabulary (id = position) |
//! | `tokenizer.ggml.merges` | `gpt2`: the merges, `"left right"` in rank order |
//! | `tokenizer.ggml.scores` | `llama`: the merge order (Gemma: the token order instead) |
//! | `tokenizer.ggml.token_type` | control (3) tokens become special added tokens, user-defined (4) tokens plain added tokens |
//! | `tokenizer.ggml.pre` | `gpt2`: the pre-tokenizer (see [`PRE_TOKENIZERS`]) |
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

mod sentencepiece;
#[cfg(test)]
mod tests;

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
    /// A tokenizer family other than byte-level BPE and SentencePiece.
    #[error(
        "{path}: `tokenizer.ggml.model` is `{found}`; only `gpt2` (byte-level BPE) and `llama` \
         (SentencePiece) are supported here: use the model's Hugging Face tokenizer.json instead"
    )]
    UnsupportedModel {
        /// The GGUF file.
        path: PathBuf,
        /// The value found.
        found: String,
    },
    /// A SentencePiece vocabulary that wants a space before the text.
    #[error(
        "{path}: `tokenizer.ggml.add_space_prefix` is not false; SentencePiece vocabularies are \
         supported without a prefix space only (as Gemma's): use the model's Hugging Face \
         tokenizer.json instead"
    )]
    SpacePrefix {
        /// The GGUF file.
        path: PathBuf,
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

/// Builds the tokenizer a GGUF file describes (the table above says how).
///
/// Control tokens such as `<|im_start|>` are special added tokens: they are recognised in the
/// input text as single tokens and dropped by `decode(.., skip_special_tokens = true)`.
pub fn tokenizer_from_gguf(gguf: &GgufFile) -> Result<Tokenizer, TokenizerError> {
    let path = gguf.path();
    let tokens = strings(gguf, "tokenizer.ggml.tokens")?;
    let types = per_token(
        gguf,
        "tokenizer.ggml.token_type",
        tokens.len(),
        "integer",
        |v| v.as_i64(),
    )?
    .unwrap_or_else(|| vec![1; tokens.len()]);
    let ids = special_token_ids(gguf)?;
    let mut tokenizer = match gguf.get_str("tokenizer.ggml.model")? {
        "gpt2" => byte_level_bpe(gguf, &tokens, ids)?,
        "llama" => sentencepiece::tokenizer(gguf, &tokens, ids)?,
        other => {
            return Err(TokenizerError::UnsupportedModel {
                path: path.to_path_buf(),
                found: other.to_string(),
            });
        }
    };
    let added = |wanted: i64| {
        tokens
            .iter()
            .zip(&types)
            .filter(move |(_, t)| **t == wanted)
            .map(|(&token, _)| AddedToken::from(token, true).normalized(false))
    };
    // A user-defined token the model's vocabulary spells differently (SentencePiece's runs of
    // spaces) is left to the model, as transformers does.
    let user_defined: Vec<AddedToken> = added(TOKEN_TYPE_USER_DEFINED)
        .filter(|t| tokenizer.token_to_id(&t.content).is_some())
        .map(|t| t.special(false))
        .collect();
    tokenizer
        .add_special_tokens(added(TOKEN_TYPE_CONTROL))
        .map_err(|source| build_error(gguf, source))?;
    tokenizer
        .add_tokens(user_defined)
        .map_err(|source| build_error(gguf, source))?;
    Ok(tokenizer)
}

/// GPT-2 style byte-level BPE: the file's merges and pre-tokenizer, ByteLevel decoding.
fn byte_level_bpe(
    gguf: &GgufFile,
    tokens: &[&str],
    ids: SpecialTokenIds,
) -> Result<Tokenizer, TokenizerError> {
    let path = gguf.path();
    let pre_tokenizer = pre_tokenizer(gguf)?;
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
    let vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, &token)| (token.to_string(), id as u32))
        .collect::<Vocab>();
    let mut bpe = BPE::builder().vocab_and_merges(vocab, merges);
    if let Some(unk) = ids.unk {
        bpe = bpe.unk_token(tokens[unk as usize].to_string());
    }
    let bpe = bpe.build().map_err(|source| build_error(gguf, source))?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    tokenizer.with_decoder(Some(ByteLevel::default()));
    let byte_level = PostProcessorWrapper::from(ByteLevel::new(false, true, true));
    tokenizer.with_post_processor(post_processor(gguf, tokens, ids, Some(byte_level), false)?);
    Ok(tokenizer)
}

fn build_error(gguf: &GgufFile, source: tokenizers::Error) -> TokenizerError {
    TokenizerError::Build {
        path: gguf.path().to_path_buf(),
        source,
    }
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

/// The elements of array `key`, each converted by `convert` (`expected` names the element type
/// in errors).
fn elements<'a, T>(
    gguf: &'a GgufFile,
    key: &'static str,
    expected: &'static str,
    convert: impl Fn(&'a MetadataValue) -> Option<T>,
) -> Result<Vec<T>, TokenizerError> {
    gguf.get_array(key)?
        .iter()
        .enumerate()
        .map(|(index, value)| {
            convert(value).ok_or_else(|| TokenizerError::BadElement {
                path: gguf.path().to_path_buf(),
                key,
                index,
                expected,
                found: value.type_name(),
            })
        })
        .collect()
}

/// The elements of string array `key`.
fn strings<'a>(gguf: &'a GgufFile, key: &'static str) -> Result<Vec<&'a str>, TokenizerError> {
    elements(gguf, key, "string", MetadataValue::as_str)
}

/// Array `key` with one element per token (`None` when the file lacks it).
fn per_token<'a, T>(
    gguf: &'a GgufFile,
    key: &'static str,
    vocab_size: usize,
    expected: &'static str,
    convert: impl Fn(&'a MetadataValue) -> Option<T>,
) -> Result<Option<Vec<T>>, TokenizerError> {
    if gguf.metadata(key).is_none() {
        return Ok(None);
    }
    let values = elements(gguf, key, expected, convert)?;
    if values.len() != vocab_size {
        return Err(TokenizerError::LengthMismatch {
            path: gguf.path().to_path_buf(),
            key,
            expected: vocab_size,
            found: values.len(),
        });
    }
    Ok(Some(values))
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

/// BOS / EOS around the text when `tokenizer.ggml.add_{bos,eos}_token` ask for them (an absent
/// BOS flag means `bos_by_default`), after `base` (ByteLevel offsets for byte-level BPE) when
/// given; `None` when there is neither.
fn post_processor(
    gguf: &GgufFile,
    tokens: &[&str],
    ids: SpecialTokenIds,
    base: Option<PostProcessorWrapper>,
    bos_by_default: bool,
) -> Result<Option<PostProcessorWrapper>, TokenizerError> {
    let flag = |key, default| {
        gguf.metadata(key)
            .map_or(Some(default), MetadataValue::as_bool)
    };
    let bos = ids
        .bos
        .filter(|_| flag("tokenizer.ggml.add_bos_token", bos_by_default) == Some(true));
    let eos = ids
        .eos
        .filter(|_| flag("tokenizer.ggml.add_eos_token", false) == Some(true));
    if bos.is_none() && eos.is_none() {
        return Ok(base);
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
    let template: PostProcessorWrapper = TemplateProcessing::builder()
        .try_single(around("$A"))
        .and_then(|b| b.try_pair(format!("{} {}", around("$A"), around("$B:1"))))
        .map_err(|e| build_error(gguf, e.into()))?
        .special_tokens(bos.into_iter().chain(eos).collect::<Vec<_>>())
        .build()
        .map_err(|e| build_error(gguf, e.into()))?
        .into();
    Ok(Some(match base {
        Some(base) => PostSequence::new(vec![base, template]).into(),
        None => template,
    }))
}
