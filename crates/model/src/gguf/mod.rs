//! GGUF files (versions 2 and 3, little-endian): header, metadata, tensor directory and
//! tensors converted to f32, read from a memory map.
//!
//! Layout (all little-endian): `"GGUF"`, version `u32`, tensor count `u64`, metadata count
//! `u64`, the metadata (key string, type `u32`, value), the tensor directory (name, `n_dims`
//! `u32`, `ne[n_dims]` `u64` innermost first, ggml type `u32`, offset `u64`), padding to
//! `general.alignment` (default 32), then the tensor data at those offsets.

mod cursor;
mod dequant;
mod error;
mod ggml_type;
mod kquant;
mod metadata;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::LoadError;
use crate::weights::{ShapedValues, WeightSource};
use cursor::{Cursor, ReadFail};
use metadata::ValueFail;

pub use error::GgufError;
pub use ggml_type::GgmlType;
pub use metadata::MetadataValue;

const MAGIC: &[u8; 4] = b"GGUF";
/// Data alignment when `general.alignment` is absent.
const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;

/// One entry of the tensor directory, already checked against the file.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    name: String,
    dims: Vec<u64>,
    ggml_type: GgmlType,
    elements: usize,
    /// Absolute offset of the data in the file.
    start: usize,
    /// Size of the data; `None` for a type id ggml does not define.
    n_bytes: Option<usize>,
}

impl TensorInfo {
    /// Row-major shape, outermost dimension first (ggml's `ne` reversed).
    pub fn shape(&self) -> Vec<usize> {
        // Every dimension fits in usize: their product was checked when the file was opened.
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }
}

/// An open, memory-mapped GGUF file.
pub struct GgufFile {
    path: PathBuf,
    mmap: Mmap,
    version: u32,
    metadata: BTreeMap<String, MetadataValue>,
    tensors: Vec<TensorInfo>,
    by_name: HashMap<String, usize>,
}

impl fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata_keys", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

impl GgufFile {
    /// Maps the file and reads its header, metadata and tensor directory; checks that every
    /// tensor's data lies inside the file. Tensor data is read only when asked for.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GgufError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| GgufError::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(io)?;
        // SAFETY: the map is read-only and private to this value; as with every mapped model
        // file, the file must not be truncated by another process while it is open.
        let mmap = unsafe { Mmap::map(&file) }.map_err(io)?;
        let parsed = GgufDirectory::parse(&mmap, &path)?;
        Ok(Self {
            path,
            mmap,
            version: parsed.version,
            metadata: parsed.metadata,
            by_name: parsed
                .tensors
                .iter()
                .enumerate()
                .map(|(i, t)| (t.name.clone(), i))
                .collect(),
            tensors: parsed.tensors,
        })
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The value of metadata key `key`, if present.
    pub fn metadata(&self, key: &str) -> Option<&MetadataValue> {
        self.metadata.get(key)
    }

    fn typed<'a, T>(
        &'a self,
        key: &str,
        expected: &'static str,
        convert: impl Fn(&'a MetadataValue) -> Option<T>,
    ) -> Result<T, GgufError> {
        let value = self.metadata(key).ok_or_else(|| GgufError::MissingKey {
            path: self.path.clone(),
            key: key.to_string(),
        })?;
        convert(value).ok_or_else(|| GgufError::WrongType {
            path: self.path.clone(),
            key: key.to_string(),
            expected,
            found: match value.as_i64() {
                Some(v) if v < 0 => format!("negative {}", value.type_name()),
                _ => value.type_name().to_string(),
            },
        })
    }

    /// An integer value of any width (negative values are refused).
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        self.typed(key, "a non-negative integer", MetadataValue::as_u64)
    }

    /// A float value (`f32`, or `f64` narrowed).
    pub fn get_f32(&self, key: &str) -> Result<f32, GgufError> {
        self.typed(key, "a float", MetadataValue::as_f32)
    }

    /// A string value.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        self.typed(key, "a string", MetadataValue::as_str)
    }

    /// An array value.
    pub fn get_array(&self, key: &str) -> Result<&[MetadataValue], GgufError> {
        self.typed(key, "an array", MetadataValue::as_array)
    }

    /// The directory entry of tensor `name`.
    pub fn tensor_info(&self, name: &str) -> Option<&TensorInfo> {
        self.by_name.get(name).map(|&i| &self.tensors[i])
    }

    /// Every tensor name in file order.
    pub fn tensor_names(&self) -> Vec<String> {
        self.tensors.iter().map(|t| t.name.clone()).collect()
    }

    /// Row-major shape of tensor `name`, outermost dimension first (ggml's `ne` reversed).
    pub fn tensor_shape(&self, name: &str) -> Option<Vec<usize>> {
        self.tensor_info(name).map(TensorInfo::shape)
    }

    /// Row-major shape and values of tensor `name`, dequantized to f32.
    pub fn tensor_f32(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), GgufError> {
        let info = self
            .tensor_info(name)
            .ok_or_else(|| GgufError::MissingTensor {
                path: self.path.clone(),
                tensor: name.to_string(),
            })?;
        let unsupported = || GgufError::UnsupportedTensorType {
            path: self.path.clone(),
            tensor: name.to_string(),
            ggml_type: info.ggml_type,
        };
        let n_bytes = info.n_bytes.ok_or_else(unsupported)?;
        // Bounds were checked when the file was opened.
        let bytes = &self.mmap[info.start..info.start + n_bytes];
        let mut values = vec![0.0; info.elements];
        if !dequant::dequantize_into(info.ggml_type, bytes, &mut values) {
            return Err(unsupported());
        }
        Ok((info.shape(), values))
    }
}

impl WeightSource for GgufFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn names(&self) -> Vec<String> {
        self.tensor_names()
    }

    fn read_f32(&self, name: &str) -> Option<Result<ShapedValues, LoadError>> {
        self.tensor_info(name)?;
        Some(self.tensor_f32(name).map_err(LoadError::from))
    }
}

/// What a GGUF file says before its tensor data: header, metadata and tensor directory.
#[derive(Debug, Clone)]
pub struct GgufDirectory {
    /// Format version (2 or 3).
    pub version: u32,
    /// Metadata by key.
    pub metadata: BTreeMap<String, MetadataValue>,
    /// Tensor directory, in file order.
    pub tensors: Vec<TensorInfo>,
}

impl GgufDirectory {
    /// Reads the directory of the GGUF file whose bytes are `bytes`, naming `path` in errors;
    /// checks that every tensor's data lies inside `bytes`.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, GgufError> {
        Parser::new(path, bytes).parse()
    }
}

/// One tensor directory entry as stored.
struct Entry {
    name: String,
    /// ggml order, innermost first.
    dims: Vec<u64>,
    ggml_type: GgmlType,
    /// Relative to the start of the data.
    offset: u64,
}

/// Reads the header of one file and names that file in every error.
struct Parser<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    cursor: Cursor<'a>,
}

impl<'a> Parser<'a> {
    fn new(path: &'a Path, bytes: &'a [u8]) -> Self {
        Self {
            path,
            bytes,
            cursor: Cursor::new(bytes),
        }
    }

    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Turns a failed read of `what` into an error naming the file.
    fn fail(&self, what: impl Into<String>, fail: ReadFail) -> GgufError {
        match fail {
            ReadFail::Eof { offset } => GgufError::Truncated {
                path: self.path.to_path_buf(),
                what: what.into(),
                offset: offset as u64,
                len: self.len(),
            },
            ReadFail::Utf8 { offset, source } => GgufError::InvalidUtf8 {
                path: self.path.to_path_buf(),
                what: what.into(),
                offset: offset as u64,
                source,
            },
        }
    }

    fn parse(mut self) -> Result<GgufDirectory, GgufError> {
        let head = &self.bytes[..self.bytes.len().min(MAGIC.len())];
        // A shorter prefix of the magic is a truncated file, reported by the header read.
        if !MAGIC.starts_with(head) {
            return Err(GgufError::BadMagic {
                path: self.path.to_path_buf(),
                found: head.to_vec(),
            });
        }
        let header = (|| -> Result<_, ReadFail> {
            self.cursor.array::<4>()?;
            Ok((self.cursor.u32()?, self.cursor.u64()?, self.cursor.u64()?))
        })();
        let (version, tensor_count, kv_count) = header.map_err(|f| self.fail("the header", f))?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion {
                path: self.path.to_path_buf(),
                version,
            });
        }
        let metadata = self.metadata(kv_count)?;
        let alignment = self.alignment(&metadata)?;
        let directory = self.directory(tensor_count)?;
        let data_start = (self.cursor.pos() as u64).next_multiple_of(alignment);
        let tensors = directory
            .into_iter()
            .map(|entry| self.check_tensor(entry, data_start))
            .collect::<Result<_, _>>()?;
        Ok(GgufDirectory {
            version,
            metadata,
            tensors,
        })
    }

    fn metadata(&mut self, count: u64) -> Result<BTreeMap<String, MetadataValue>, GgufError> {
        let mut metadata = BTreeMap::new();
        for i in 0..count {
            let key = self
                .cursor
                .string()
                .map_err(|f| self.fail(format!("the name of metadata entry #{i}"), f))?
                .to_string();
            let value =
                metadata::read_typed_value(&mut self.cursor).map_err(|fail| match fail {
                    ValueFail::Read(f) => {
                        self.fail(format!("the value of metadata key `{key}`"), f)
                    }
                    ValueFail::UnknownType(type_id) => GgufError::UnknownValueType {
                        path: self.path.to_path_buf(),
                        key: key.clone(),
                        type_id,
                    },
                    ValueFail::TooDeep => GgufError::NestingTooDeep {
                        path: self.path.to_path_buf(),
                        key: key.clone(),
                        max: metadata::MAX_DEPTH,
                    },
                })?;
            if metadata.insert(key.clone(), value).is_some() {
                return Err(GgufError::DuplicateKey {
                    path: self.path.to_path_buf(),
                    key,
                });
            }
        }
        Ok(metadata)
    }

    fn alignment(&self, metadata: &BTreeMap<String, MetadataValue>) -> Result<u64, GgufError> {
        const KEY: &str = "general.alignment";
        let Some(value) = metadata.get(KEY) else {
            return Ok(DEFAULT_ALIGNMENT);
        };
        let alignment = value.as_u64().ok_or_else(|| GgufError::WrongType {
            path: self.path.to_path_buf(),
            key: KEY.to_string(),
            expected: "a non-negative integer",
            found: value.type_name().to_string(),
        })?;
        if alignment.is_power_of_two() {
            Ok(alignment)
        } else {
            Err(GgufError::BadAlignment {
                path: self.path.to_path_buf(),
                value: alignment,
            })
        }
    }

    /// The tensor directory as stored.
    fn directory(&mut self, count: u64) -> Result<Vec<Entry>, GgufError> {
        let mut seen = HashSet::new();
        let mut entries = Vec::new();
        for i in 0..count {
            let name = self
                .cursor
                .string()
                .map_err(|f| self.fail(format!("the name of tensor #{i}"), f))?
                .to_string();
            let what = || format!("the directory entry of tensor `{name}`");
            let n_dims = self.cursor.u32().map_err(|f| self.fail(what(), f))?;
            if n_dims > MAX_DIMS {
                return Err(GgufError::TooManyDims {
                    path: self.path.to_path_buf(),
                    tensor: name,
                    n_dims,
                });
            }
            let entry = (|| -> Result<_, ReadFail> {
                let dims = (0..n_dims)
                    .map(|_| self.cursor.u64())
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((
                    dims,
                    GgmlType::from_id(self.cursor.u32()?),
                    self.cursor.u64()?,
                ))
            })();
            let (dims, ggml_type, offset) = entry.map_err(|f| self.fail(what(), f))?;
            if !seen.insert(name.clone()) {
                return Err(GgufError::DuplicateTensor {
                    path: self.path.to_path_buf(),
                    tensor: name,
                });
            }
            entries.push(Entry {
                name,
                dims,
                ggml_type,
                offset,
            });
        }
        Ok(entries)
    }

    /// Checks the shape against the type's blocks and the data against the file's end.
    fn check_tensor(&self, entry: Entry, data_start: u64) -> Result<TensorInfo, GgufError> {
        let Entry {
            name,
            dims,
            ggml_type,
            offset,
        } = entry;
        let start = data_start.saturating_add(offset);
        let bad_shape = |dims: &[u64], reason| GgufError::BadShape {
            path: self.path.to_path_buf(),
            tensor: name.clone(),
            ggml_type,
            dims: dims.to_vec(),
            reason,
        };
        let elements = dims
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d))
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| bad_shape(&dims, "the element count overflows"))?;
        let n_bytes = match ggml_type.block() {
            None => None,
            Some((block_elements, block_bytes)) => {
                if dims
                    .first()
                    .is_some_and(|&d| d % block_elements as u64 != 0)
                {
                    return Err(bad_shape(
                        &dims,
                        "the innermost dimension is not a multiple of the type's block size",
                    ));
                }
                let n_bytes = (elements / block_elements)
                    .checked_mul(block_bytes)
                    .ok_or_else(|| bad_shape(&dims, "the byte size overflows"))?;
                let end = start.saturating_add(n_bytes as u64);
                if end > self.len() {
                    return Err(GgufError::TensorOutOfBounds {
                        path: self.path.to_path_buf(),
                        tensor: name,
                        ggml_type,
                        start,
                        end,
                        len: self.len(),
                    });
                }
                Some(n_bytes)
            }
        };
        Ok(TensorInfo {
            name,
            dims,
            ggml_type,
            elements,
            // Within the file (checked above) or never used (unknown type).
            start: usize::try_from(start).unwrap_or(usize::MAX),
            n_bytes,
        })
    }
}
