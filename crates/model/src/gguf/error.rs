//! Failures while reading a GGUF file; each names the file and the key or tensor at fault.

use std::path::PathBuf;
use std::str::Utf8Error;

use super::ggml_type::GgmlType;

/// Everything that can go wrong while reading a GGUF file.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened or mapped.
    #[error("cannot read GGUF file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file does not start with `GGUF`.
    #[error("{path} is not a GGUF file: it starts with {found:?} instead of \"GGUF\"")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// Its first bytes (fewer than four when the file is that short).
        found: Vec<u8>,
    },
    /// A GGUF version other than 2 or 3 (or a big-endian file).
    #[error(
        "{path} is GGUF version {version} ({}); only little-endian versions 2 and 3 are supported: \
         convert it with a current llama.cpp `convert_hf_to_gguf.py`",
        version_hint(*.version)
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version field as read (little-endian).
        version: u32,
    },
    /// The file ends inside a structure.
    #[error(
        "{path} is truncated: {what} at byte {offset} runs past the end of the file \
         ({len} bytes); download it again"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What was being read (`"the header"`, `"the value of metadata key `x`"`).
        what: String,
        /// Where it starts.
        offset: u64,
        /// The file length.
        len: u64,
    },
    /// A string in the header is not UTF-8.
    #[error("{path}: {what} at byte {offset} is not valid UTF-8: {source}")]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// Which string.
        what: String,
        /// Where its bytes start.
        offset: u64,
        /// What the decoder said.
        source: Utf8Error,
    },
    /// A metadata value has a type id GGUF does not define.
    #[error("{path}: metadata key `{key}` has unknown value type id {type_id}")]
    UnknownValueType {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The type id found.
        type_id: u32,
    },
    /// Arrays nested deeper than any real file needs.
    #[error("{path}: metadata key `{key}` nests arrays more than {max} deep")]
    NestingTooDeep {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The deepest nesting accepted.
        max: usize,
    },
    /// A metadata key occurs twice.
    #[error("{path}: metadata key `{key}` occurs twice")]
    DuplicateKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// `general.alignment` is zero or not a power of two.
    #[error("{path}: `general.alignment` is {value}, which is not a power of two")]
    BadAlignment {
        /// The file.
        path: PathBuf,
        /// The value found.
        value: u64,
    },
    /// A tensor name occurs twice.
    #[error("{path}: tensor `{tensor}` occurs twice in the tensor directory")]
    DuplicateTensor {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
    },
    /// A tensor with more dimensions than ggml allows.
    #[error("{path}: tensor `{tensor}` has {n_dims} dimensions; ggml tensors have at most 4")]
    TooManyDims {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
        /// The dimension count found.
        n_dims: u32,
    },
    /// A tensor's dimensions cannot describe data of its type.
    #[error(
        "{path}: tensor `{tensor}` of type {ggml_type} has invalid dimensions {dims:?}: {reason}"
    )]
    BadShape {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
        /// Its element type.
        ggml_type: GgmlType,
        /// Its dimensions as stored (ggml order, innermost first).
        dims: Vec<u64>,
        /// What is wrong with them.
        reason: &'static str,
    },
    /// A tensor's data runs past the end of the file.
    #[error(
        "{path}: tensor `{tensor}` of type {ggml_type} needs bytes {start}..{end} but the file has \
         {len} bytes; the file is truncated or corrupt, download it again"
    )]
    TensorOutOfBounds {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
        /// Its element type.
        ggml_type: GgmlType,
        /// First byte of its data in the file.
        start: u64,
        /// One past its last byte.
        end: u64,
        /// The file length.
        len: u64,
    },
    /// A tensor type that cannot be converted to f32 here.
    #[error(
        "{path}: tensor `{tensor}` has type {ggml_type}, which cannot be dequantized (supported: \
         {}); convert the model to one of those types",
        super::ggml_type::dequantizable_names()
    )]
    UnsupportedTensorType {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
        /// Its element type.
        ggml_type: GgmlType,
    },
    /// No tensor of that name.
    #[error("{path} has no tensor `{tensor}`")]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor name asked for.
        tensor: String,
    },
    /// No metadata key of that name.
    #[error("{path} has no metadata key `{key}`; is it a GGUF file of the expected model family?")]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// The key asked for.
        key: String,
    },
    /// A metadata value of another type than asked for.
    #[error("{path}: metadata key `{key}` holds a {found} value, expected {expected}")]
    WrongType {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What the caller needs.
        expected: &'static str,
        /// The type found (a negative integer is named as such).
        found: String,
    },
}

/// Says whether an unsupported version looks like a big-endian file of a known version.
fn version_hint(version: u32) -> &'static str {
    match version.swap_bytes() {
        2 | 3 => "a big-endian file",
        _ => "unknown version",
    }
}
