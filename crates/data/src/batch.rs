//! Batching encoded examples into right-padded tensors for the model.

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use crate::encode::Encoded;

/// A batch of `B` examples padded to the longest, `L` ids.
#[derive(Debug, Clone)]
pub struct PromptBatch {
    /// Token ids `[B, L]`, right-padded with the pad id.
    pub ids: Tensor<2, Int>,
    /// `[B, L]`, `true` for real tokens, `false` for padding.
    pub mask: Tensor<2, Bool>,
    /// `[B]`: index into each row of `ids` whose output predicts the label word.
    pub answer_pos: Tensor<1, Int>,
    /// `[B]`: class indices.
    pub labels: Tensor<1, Int>,
}

/// Pads encoded examples into a [`PromptBatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptBatcher {
    /// The id put after each row's tokens (its value never matters: the mask hides it).
    pub pad_id: u32,
}

/// Row-major padded ids and mask for `items`, and the padded length.
pub(crate) fn pad(items: &[Encoded], pad_id: u32) -> (Vec<i64>, Vec<bool>, usize) {
    let width = items.iter().map(|e| e.ids.len()).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(items.len() * width);
    let mut mask = Vec::with_capacity(items.len() * width);
    for item in items {
        ids.extend(item.ids.iter().map(|&id| i64::from(id)));
        ids.extend(std::iter::repeat_n(
            i64::from(pad_id),
            width - item.ids.len(),
        ));
        mask.extend(std::iter::repeat_n(true, item.ids.len()));
        mask.extend(std::iter::repeat_n(false, width - item.ids.len()));
    }
    (ids, mask, width)
}

impl Batcher<Encoded, PromptBatch> for PromptBatcher {
    fn batch(&self, items: Vec<Encoded>, device: &Device) -> PromptBatch {
        let (ids, mask, width) = pad(&items, self.pad_id);
        let shape = [items.len(), width];
        let answer_pos: Vec<i64> = items.iter().map(|e| e.answer_pos as i64).collect();
        let labels: Vec<i64> = items.iter().map(|e| e.label as i64).collect();
        PromptBatch {
            ids: Tensor::from_data(TensorData::new(ids, shape), device),
            mask: Tensor::from_data(TensorData::new(mask, shape), device),
            answer_pos: Tensor::from_data(TensorData::new(answer_pos, [items.len()]), device),
            labels: Tensor::from_data(TensorData::new(labels, [items.len()]), device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints<const D: usize>(t: Tensor<D, Int>) -> Vec<i64> {
        t.into_data().convert::<i64>().try_to_vec::<i64>().unwrap()
    }

    #[test]
    fn pads_right_and_masks_padding() {
        let items = vec![
            Encoded {
                ids: vec![5, 6, 7],
                answer_pos: 2,
                label: 1,
            },
            Encoded {
                ids: vec![8],
                answer_pos: 0,
                label: 0,
            },
        ];
        let batch = PromptBatcher { pad_id: 0 }.batch(items, &Device::flex());
        assert_eq!(batch.ids.dims(), [2, 3]);
        assert_eq!(ints(batch.ids), vec![5, 6, 7, 8, 0, 0]);
        assert_eq!(
            batch.mask.into_data().try_to_vec::<bool>().unwrap(),
            vec![true, true, true, true, false, false]
        );
        assert_eq!(ints(batch.answer_pos), vec![2, 0]);
        assert_eq!(ints(batch.labels), vec![1, 0]);
    }

    #[test]
    fn an_empty_batch_has_zero_rows() {
        let batch = PromptBatcher { pad_id: 0 }.batch(Vec::new(), &Device::flex());
        assert_eq!(batch.ids.dims(), [0, 0]);
        assert_eq!(batch.labels.dims(), [0]);
    }
}
