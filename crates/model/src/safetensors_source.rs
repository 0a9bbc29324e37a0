//! A memory-mapped `.safetensors` file as a [`WeightSource`]: F32, F16 and BF16 tensors read as
//! f32.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::tensor::{Dtype, Metadata, SafeTensors};

use crate::error::LoadError;
use crate::weights::{ShapedValues, WeightSource};

/// Why a safetensors file cannot be used (the file itself is named by [`LoadError::Safetensors`]).
#[derive(Debug, thiserror::Error)]
pub enum SafetensorsError {
    /// The header is unreadable or disagrees with the file size (a truncated download, or not a
    /// safetensors file at all).
    #[error("not a valid safetensors file (truncated or bad header; download it again): {0}")]
    Format(#[from] safetensors::SafeTensorError),
    /// A tensor is stored in a type that is not converted to f32.
    #[error(
        "tensor `{tensor}` is stored as {dtype:?}; only F32, F16 and BF16 are supported \
         (convert the checkpoint to one of them)"
    )]
    Dtype {
        /// The tensor name.
        tensor: String,
        /// Its stored type.
        dtype: Dtype,
    },
}

/// A `.safetensors` file mapped into memory; tensors are converted to f32 on demand.
pub struct SafetensorsFile {
    path: PathBuf,
    mmap: Mmap,
    /// Offset of the data section (after the 8-byte length and the JSON header).
    data_start: usize,
    metadata: Metadata,
}

impl SafetensorsFile {
    /// Maps `path` and validates its header against the file size.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| LoadError::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(io)?;
        // SAFETY: the map is read-only and the file is not modified while it is open; a
        // concurrent truncation by another process is outside what any reader can guard.
        let mmap = unsafe { Mmap::map(&file) }.map_err(io)?;
        let (header_len, metadata) =
            SafeTensors::read_metadata(&mmap).map_err(|e| LoadError::Safetensors {
                path: path.clone(),
                source: e.into(),
            })?;
        Ok(Self {
            path,
            mmap,
            data_start: 8 + header_len,
            metadata,
        })
    }
}

impl WeightSource for SafetensorsFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.metadata.tensors().into_keys().collect();
        names.sort();
        names
    }

    fn read_f32(&self, name: &str) -> Option<Result<ShapedValues, LoadError>> {
        let info = self.metadata.info(name)?;
        // `read_metadata` checked that every tensor's offsets lie inside the data section.
        let (begin, end) = info.data_offsets;
        let bytes = &self.mmap[self.data_start + begin..self.data_start + end];
        let values = match info.dtype {
            Dtype::F32 => convert(bytes, f32::from_le_bytes),
            Dtype::F16 => convert(bytes, |b| half::f16::from_le_bytes(b).to_f32()),
            Dtype::BF16 => convert(bytes, |b| half::bf16::from_le_bytes(b).to_f32()),
            dtype => {
                return Some(Err(LoadError::Safetensors {
                    path: self.path.clone(),
                    source: SafetensorsError::Dtype {
                        tensor: name.to_string(),
                        dtype,
                    },
                }));
            }
        };
        Some(Ok((info.shape.clone(), values)))
    }
}

/// Little-endian elements of `N` bytes to f32 (safetensors data need not be aligned).
fn convert<const N: usize>(bytes: &[u8], element: impl Fn([u8; N]) -> f32) -> Vec<f32> {
    bytes
        .chunks_exact(N)
        .map(|chunk| element(chunk.try_into().expect("chunks_exact yields N bytes")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_half_precision_elements() {
        let f16 = [half::f16::from_f32(1.5), half::f16::from_f32(-2.0)];
        let bytes: Vec<u8> = f16.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            convert(&bytes, |b| half::f16::from_le_bytes(b).to_f32()),
            [1.5, -2.0]
        );
        let bf16 = half::bf16::from_f32(0.25).to_le_bytes();
        assert_eq!(
            convert(&bf16, |b| half::bf16::from_le_bytes(b).to_f32()),
            [0.25]
        );
    }
}
