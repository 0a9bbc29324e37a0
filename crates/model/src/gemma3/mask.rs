//! Which keys each query may not see in a Gemma 3 layer: later positions (causal), padding,
//! and, in the local layers, positions `sliding_window` or more before the query.

use burn::tensor::{Bool, Device, Tensor, TensorData};

/// Blocked query/key pairs `[B, 1, Tq, Tk]` for queries at positions `q_start..q_start + Tq`
/// and keys at `0..Tk`; `key_padding` `[B, Tk]` is `true` on padding keys; `window` is the
/// local layers' sliding window (`None`: global).
pub fn blocked(
    q_start: usize,
    queries: usize,
    key_padding: Tensor<2, Bool>,
    window: Option<usize>,
) -> Tensor<4, Bool> {
    let [b, keys] = key_padding.dims();
    let device = key_padding.device();
    let positions = position_mask(q_start, queries, keys, window, &device);
    positions.expand([b, 1, queries, keys]).bool_or(
        key_padding
            .reshape([b, 1, 1, keys])
            .expand([b, 1, queries, keys]),
    )
}

/// `[1, 1, Tq, Tk]`: `true` where key `j` is after query `q_start + i`, or (with a window `w`)
/// at least `w` positions before it.
pub fn position_mask(
    q_start: usize,
    queries: usize,
    keys: usize,
    window: Option<usize>,
    device: &Device,
) -> Tensor<4, Bool> {
    let values: Vec<bool> = (0..queries)
        .flat_map(|i| {
            let q = q_start + i;
            (0..keys).map(move |k| k > q || window.is_some_and(|w| q - k >= w))
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [1, 1, queries, keys]), device)
}

/// `[B, 1, L, P]`: `true` where query `i` of row `b` (at position `lengths[b] + i`, behind a
/// prefix of `lengths[b]` rows padded to `p`) may not see prefix key `j`: padding (`j >=
/// lengths[b]`) or, with a window `w`, at least `w` positions before the query.
pub fn behind_prefix(
    lengths: &[usize],
    p: usize,
    queries: usize,
    window: Option<usize>,
    device: &Device,
) -> Tensor<4, Bool> {
    let values: Vec<bool> = lengths
        .iter()
        .flat_map(|&len| {
            (0..queries).flat_map(move |i| {
                (0..p).map(move |j| j >= len || window.is_some_and(|w| len + i - j >= w))
            })
        })
        .collect();
    Tensor::from_data(
        TensorData::new(values, [lengths.len(), 1, queries, p]),
        device,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(t: Tensor<4, Bool>) -> Vec<Vec<bool>> {
        let [_, _, q, k] = t.dims();
        let v: Vec<bool> = t.into_data().try_to_vec().unwrap();
        (0..q).map(|i| v[i * k..(i + 1) * k].to_vec()).collect()
    }

    #[test]
    fn causal_window_and_padding() {
        let device = Device::flex();
        // Queries at positions 2 and 3 over keys 0..4, window 2: position 2 sees 1..=2,
        // position 3 sees 2..=3.
        let m = rows(position_mask(2, 2, 4, Some(2), &device));
        assert_eq!(m, [[true, false, false, true], [true, true, false, false]]);
        let global = rows(position_mask(0, 2, 2, None, &device));
        assert_eq!(global, [[false, true], [false, false]]);
        let padding =
            Tensor::<2, Bool>::from_data(TensorData::new(vec![false, true], [1, 2]), &device);
        let m = rows(blocked(0, 2, padding, None));
        assert_eq!(m, [[false, true], [false, true]]);
        // Behind a prefix of 2 rows padded to 3, window 3: the query at position 2 sees
        // prefix keys 0 and 1, the one at position 3 only key 1.
        let m = rows(behind_prefix(&[2], 3, 2, Some(3), &device));
        assert_eq!(m, [[false, false, true], [true, false, true]]);
    }
}
