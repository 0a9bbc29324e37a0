//! The reader on hand-built files (every version, type and kind of damage) and on the real
//! SmolLM2 file.

use super::{GgmlType, GgufFile, TensorInfo};

mod format;
mod real_file;

/// What the reader parsed, for the tests to assert on; the loaders never need it.
impl GgufFile {
    /// The GGUF version (2 or 3).
    pub(crate) fn version(&self) -> u32 {
        self.version
    }

    /// Every metadata key, sorted.
    pub(crate) fn metadata_keys(&self) -> impl Iterator<Item = &str> {
        self.metadata.keys().map(String::as_str)
    }

    /// The tensor directory in file order.
    pub(crate) fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }
}

impl TensorInfo {
    /// The element type as stored.
    pub(crate) fn ggml_type(&self) -> GgmlType {
        self.ggml_type
    }

    /// Number of elements.
    pub(crate) fn element_count(&self) -> usize {
        self.elements
    }
}
