//! Ordering examples into batches of similar length so little padding is needed, and
//! measuring how much padding a batching leaves.

use crate::error::DataError;
use crate::rng::SplitMix64;

/// Chunk size, in batches, within which bucketing sorts by length. Larger chunks pad less but
/// make batches less random.
pub const DEFAULT_CHUNK_BATCHES: usize = 50;

fn nonzero(value: usize, what: &'static str) -> Result<usize, DataError> {
    if value == 0 {
        Err(DataError::ZeroSize { what })
    } else {
        Ok(value)
    }
}

/// `0..n` shuffled with `seed` and cut into batches of `batch_size` (the last may be smaller).
pub fn shuffled_batches(
    n: usize,
    batch_size: usize,
    seed: u64,
) -> Result<Vec<Vec<usize>>, DataError> {
    let batch_size = nonzero(batch_size, "batch size")?;
    let mut order: Vec<usize> = (0..n).collect();
    SplitMix64(seed).shuffle(&mut order);
    Ok(order.chunks(batch_size).map(<[usize]>::to_vec).collect())
}

/// Batches of similar length for training: indices are shuffled, cut into chunks of
/// `chunk_batches` batches, sorted by length within each chunk, cut into batches, and the
/// batch order is shuffled. The same seed gives the same batches.
pub fn bucketed_batches(
    lengths: &[usize],
    batch_size: usize,
    chunk_batches: usize,
    seed: u64,
) -> Result<Vec<Vec<usize>>, DataError> {
    let batch_size = nonzero(batch_size, "batch size")?;
    let chunk = nonzero(chunk_batches, "chunk size in batches")? * batch_size;
    let mut rng = SplitMix64(seed);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    rng.shuffle(&mut order);
    let mut batches = Vec::with_capacity(lengths.len().div_ceil(batch_size));
    for indices in order.chunks_mut(chunk) {
        indices.sort_by_key(|&i| lengths[i]);
        batches.extend(indices.chunks(batch_size).map(<[usize]>::to_vec));
    }
    rng.shuffle(&mut batches);
    Ok(batches)
}

/// Batches for evaluation: all indices sorted by length, in order (no randomness needed).
pub fn sorted_batches(lengths: &[usize], batch_size: usize) -> Result<Vec<Vec<usize>>, DataError> {
    let batch_size = nonzero(batch_size, "batch size")?;
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    Ok(order.chunks(batch_size).map(<[usize]>::to_vec).collect())
}

/// Pad tokens / all tokens when each batch is padded to its longest member (0 when empty).
/// Indices outside `lengths` count as length 0.
pub fn padding_ratio(lengths: &[usize], batches: &[Vec<usize>]) -> f64 {
    let (mut padded, mut real) = (0usize, 0usize);
    for batch in batches {
        let lens = batch.iter().map(|&i| lengths.get(i).copied().unwrap_or(0));
        let width = lens.clone().max().unwrap_or(0);
        padded += width * batch.len();
        real += lens.sum::<usize>();
    }
    if padded == 0 {
        0.0
    } else {
        (padded - real) as f64 / padded as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_flat(batches: &[Vec<usize>]) -> Vec<usize> {
        let mut all: Vec<usize> = batches.concat();
        all.sort();
        all
    }

    #[test]
    fn every_index_appears_once_and_seeds_are_deterministic() {
        let lengths: Vec<usize> = (0..103).map(|i| (i * 37) % 50 + 1).collect();
        let a = bucketed_batches(&lengths, 8, 4, 7).unwrap();
        assert_eq!(sorted_flat(&a), (0..103).collect::<Vec<_>>());
        assert_eq!(a.iter().filter(|b| b.len() != 8).count(), 1);
        assert_eq!(a, bucketed_batches(&lengths, 8, 4, 7).unwrap());
        assert_ne!(a, bucketed_batches(&lengths, 8, 4, 8).unwrap());
        let s = shuffled_batches(103, 8, 7).unwrap();
        assert_eq!(sorted_flat(&s), (0..103).collect::<Vec<_>>());
        assert_eq!(s, shuffled_batches(103, 8, 7).unwrap());
    }

    #[test]
    fn bucketing_reduces_padding() {
        let lengths: Vec<usize> = (0..1000).map(|i| (i * 7919) % 97 + 3).collect();
        let plain = padding_ratio(&lengths, &shuffled_batches(1000, 16, 1).unwrap());
        let bucketed = padding_ratio(&lengths, &bucketed_batches(&lengths, 16, 50, 1).unwrap());
        let sorted = padding_ratio(&lengths, &sorted_batches(&lengths, 16).unwrap());
        assert!(plain > 0.3, "{plain}");
        assert!(bucketed < 0.05, "{bucketed}");
        assert!(sorted <= bucketed, "{sorted} {bucketed}");
    }

    #[test]
    fn padding_ratio_counts_pad_tokens() {
        assert_eq!(
            padding_ratio(&[4, 2, 1, 1], &[vec![0, 1], vec![2, 3]]),
            2.0 / 10.0
        );
        assert_eq!(padding_ratio(&[], &[]), 0.0);
        assert!(matches!(
            bucketed_batches(&[1], 0, 1, 0),
            Err(DataError::ZeroSize { what: "batch size" })
        ));
    }
}
