//! One way to read weights, whatever the file: a [`WeightSource`] yields f32 tensors by name,
//! and a [`WeightLoader`] turns them into frozen burn parameters while recording which names
//! were used, so that missing and unexpected tensors are reported by name.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::Path;

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::LoadError;

/// A file of named tensors (safetensors, GGUF) that can be read as row-major f32.
pub trait WeightSource {
    /// The file the tensors come from (named in every error).
    fn path(&self) -> &Path;
    /// Every tensor name in the file.
    fn names(&self) -> Vec<String>;
    /// Row-major shape (outermost dimension first) and f32 values of a tensor, dequantized or
    /// converted as needed. `None` when the file has no tensor of that name.
    fn read_f32(&self, name: &str) -> Option<Result<ShapedValues, LoadError>>;
}

/// A tensor's row-major shape and its values as f32.
pub type ShapedValues = (Vec<usize>, Vec<f32>);

/// Builds frozen parameters from a [`WeightSource`], checking shapes and tracking use.
pub struct WeightLoader<'a> {
    source: &'a dyn WeightSource,
    device: Device,
    used: RefCell<BTreeSet<String>>,
}

impl<'a> WeightLoader<'a> {
    /// A loader that places tensors on `device`.
    pub fn new(source: &'a dyn WeightSource, device: &Device) -> Self {
        Self {
            source,
            device: device.clone(),
            used: RefCell::new(BTreeSet::new()),
        }
    }

    /// The raw values of tensor `name`, checked against `expected` (row-major shape).
    pub fn values(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>, LoadError> {
        let (shape, values) =
            self.source
                .read_f32(name)
                .ok_or_else(|| LoadError::MissingTensor {
                    path: self.source.path().to_path_buf(),
                    name: name.to_string(),
                })??;
        if shape != expected {
            return Err(LoadError::ShapeMismatch {
                path: self.source.path().to_path_buf(),
                name: name.to_string(),
                expected: expected.to_vec(),
                found: shape,
            });
        }
        self.used.borrow_mut().insert(name.to_string());
        Ok(values)
    }

    /// Tensor `name` as a frozen parameter of the given shape.
    pub fn param<const D: usize>(
        &self,
        name: &str,
        expected: [usize; D],
    ) -> Result<Param<Tensor<D>>, LoadError> {
        let values = self.values(name, &expected)?;
        Ok(self.frozen(values, expected))
    }

    /// Values already transformed by the caller (a transpose, a permutation) as a frozen
    /// parameter of the given shape.
    pub fn frozen<const D: usize>(&self, values: Vec<f32>, shape: [usize; D]) -> Param<Tensor<D>> {
        let tensor = Tensor::<D>::from_data(TensorData::new(values, shape), &self.device);
        Param::from_tensor(tensor).set_require_grad(false)
    }

    /// Whether the file holds tensor `name` (for optional tensors such as an untied head).
    pub fn has(&self, name: &str) -> bool {
        self.source.names().iter().any(|n| n == name)
    }

    /// Fails with the names of the tensors in the file that were never used, except those the
    /// caller knows to be harmless (`ignored` holds exact names).
    pub fn finish(&self, ignored: &[&str]) -> Result<(), LoadError> {
        let used = self.used.borrow();
        let names: Vec<String> = self
            .source
            .names()
            .into_iter()
            .filter(|n| !used.contains(n) && !ignored.contains(&n.as_str()))
            .collect();
        if names.is_empty() {
            Ok(())
        } else {
            Err(LoadError::UnexpectedTensors {
                path: self.source.path().to_path_buf(),
                names,
            })
        }
    }
}

/// Row-major `[rows, cols]` to row-major `[cols, rows]`: HF and GGUF store linear weights as
/// `[out, in]`, burn multiplies by `[in, out]`.
pub(crate) fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for (r, row) in values.chunks_exact(cols).enumerate() {
        for (c, &value) in row.iter().enumerate() {
            out[c * rows + r] = value;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_swaps_rows_and_columns() {
        assert_eq!(
            transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3),
            [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
    }
}
