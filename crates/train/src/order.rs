//! The order in which training examples are visited: a pure function of (seed, epoch), so a
//! run resumed from (epoch, batch) sees exactly the batches an uninterrupted run would.
//!
//! Each epoch is [`prompt_data::bucketed_batches`] with a seed derived from the run's seed and
//! the epoch number: shuffled, sorted by length within pools of `bucket_batches` batches
//! (similar lengths need less padding), batch order shuffled.

use prompt_data::bucketed_batches;
use serde::{Deserialize, Serialize};

/// Where the data order stands: the epoch and the next batch within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cursor {
    /// Epoch number, from 0.
    pub epoch: u64,
    /// Index of the next batch in the epoch's batch list.
    pub batch: usize,
}

/// Batches of example indices, epoch after epoch.
#[derive(Debug, Clone)]
pub struct DataOrder {
    seed: u64,
    lengths: Vec<usize>,
    batch_size: usize,
    bucket_batches: usize,
}

impl DataOrder {
    /// An order over examples of the given token lengths.
    pub fn new(seed: u64, lengths: Vec<usize>, batch_size: usize, bucket_batches: usize) -> Self {
        Self {
            seed,
            lengths,
            batch_size: batch_size.max(1),
            bucket_batches: bucket_batches.max(1),
        }
    }

    /// The batches of one epoch; the last one may be smaller than the batch size.
    pub fn epoch(&self, epoch: u64) -> Vec<Vec<usize>> {
        let seed = self.seed ^ epoch.wrapping_add(1).wrapping_mul(0xD1B5_4A32_D192_ED03);
        bucketed_batches(&self.lengths, self.batch_size, self.bucket_batches, seed)
            .expect("sizes are clamped to at least 1")
    }

    /// The batch at `cursor` and the cursor after it, moving into the next epoch when one
    /// ends. `None` when there are no examples.
    pub fn next(
        &self,
        cursor: Cursor,
        current: &mut Option<(u64, Vec<Vec<usize>>)>,
    ) -> Option<(Vec<usize>, Cursor)> {
        if self.lengths.is_empty() {
            return None;
        }
        let mut cursor = cursor;
        loop {
            if current
                .as_ref()
                .is_none_or(|(epoch, _)| *epoch != cursor.epoch)
            {
                *current = Some((cursor.epoch, self.epoch(cursor.epoch)));
            }
            let (_, batches) = current.as_ref().expect("filled above");
            if let Some(batch) = batches.get(cursor.batch) {
                let next = Cursor {
                    epoch: cursor.epoch,
                    batch: cursor.batch + 1,
                };
                return Some((batch.clone(), next));
            }
            cursor = Cursor {
                epoch: cursor.epoch + 1,
                batch: 0,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_visits_every_example_once_in_batches() {
        let order = DataOrder::new(7, (0..103).map(|i| i % 17).collect(), 10, 4);
        let batches = order.epoch(0);
        assert_eq!(batches.len(), 11);
        let mut seen: Vec<usize> = batches.concat();
        seen.sort();
        assert_eq!(seen, (0..103).collect::<Vec<_>>());
        assert_ne!(order.epoch(0), order.epoch(1));
        assert_eq!(order.epoch(3), order.epoch(3));
    }

    #[test]
    fn bucketing_groups_similar_lengths() {
        let lengths: Vec<usize> = (0..64).map(|i| (i * 37) % 64).collect();
        let order = DataOrder::new(1, lengths.clone(), 8, 8);
        for batch in order.epoch(0) {
            let lens: Vec<usize> = batch.iter().map(|&i| lengths[i]).collect();
            assert_eq!(
                lens.iter().max().unwrap() - lens.iter().min().unwrap(),
                7,
                "{lens:?}"
            );
        }
    }

    #[test]
    fn cursor_walks_across_epochs_and_resumes_exactly() {
        let order = DataOrder::new(3, vec![1; 25], 10, 1);
        let mut cache = None;
        let mut cursor = Cursor::default();
        let mut straight = Vec::new();
        for _ in 0..7 {
            let (batch, next) = order.next(cursor, &mut cache).unwrap();
            straight.push(batch);
            cursor = next;
        }
        assert_eq!(cursor, Cursor { epoch: 2, batch: 1 });
        // A fresh cache from a saved cursor gives the same continuation.
        let (batch, _) = order
            .next(Cursor { epoch: 1, batch: 2 }, &mut None)
            .unwrap();
        assert_eq!(batch, straight[5]);
        let mut sizes: Vec<usize> = straight[..3].iter().map(Vec::len).collect();
        sizes.sort();
        assert_eq!(sizes, [5, 10, 10]);
    }
}
