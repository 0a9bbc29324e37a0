//! Prompts computed once and reused by every batch behind them, and batches whose rows stand
//! behind different prompts (several tasks, or several prompts of one task, in one pass).
//!
//! A [`PrefixCache`] is what a backbone keeps of one prompt so that any number of batches can be
//! scored behind it without computing the prompt again: for a causal backbone each layer's keys
//! and values (the prompt sees nothing after it, so they never change); for a bidirectional one
//! only the rows, which are encoded together with every row. [`RowPrefixes`] names the prompt
//! behind each row of a batch.

use burn::tensor::{Bool, Int, Tensor, TensorData};

use crate::backbone::Backbone;

/// One layer's keys and values of a prefix, rotated, before key/value heads are shared:
/// `[1, Hkv, P, hd]` each.
#[derive(Debug, Clone)]
pub struct LayerKv {
    /// Keys, rotated to their positions `0..P`.
    pub keys: Tensor<4>,
    /// Values.
    pub values: Tensor<4>,
}

/// A prompt prepared for scoring without gradients.
#[derive(Debug, Clone)]
pub struct PrefixCache {
    /// The prompt rows `[P, d]`.
    rows: Tensor<2>,
    /// Each layer's keys and values (causal backbones; empty otherwise).
    layers: Vec<LayerKv>,
}

impl PrefixCache {
    /// A prefix kept as its rows only: every batch encodes them with its rows.
    pub fn rows_only(rows: Tensor<2>) -> Self {
        Self {
            rows,
            layers: Vec::new(),
        }
    }

    /// A prefix with each layer's keys and values, computed once.
    pub(crate) fn with_layers(rows: Tensor<2>, layers: Vec<LayerKv>) -> Self {
        Self { rows, layers }
    }

    /// Prefix rows `P`.
    pub fn len(&self) -> usize {
        self.rows.dims()[0]
    }

    /// Whether the prefix has no rows (the template alone).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether each layer's keys and values are kept.
    pub fn has_layers(&self) -> bool {
        !self.layers.is_empty()
    }
}

/// The prefix behind each row of a batch.
#[derive(Debug, Clone)]
pub struct RowPrefixes<'a> {
    /// The distinct prefixes of the batch.
    caches: Vec<&'a PrefixCache>,
    /// For each row, its index into `caches`.
    of_row: Vec<usize>,
}

impl<'a> RowPrefixes<'a> {
    /// Row `r` stands behind `caches[of_row[r]]`.
    ///
    /// # Panics
    /// If an index is out of range or there are no caches.
    pub fn new(caches: Vec<&'a PrefixCache>, of_row: Vec<usize>) -> Self {
        assert!(
            of_row.iter().all(|&c| c < caches.len()),
            "a row names a prefix that is not in the batch"
        );
        Self { caches, of_row }
    }

    /// Every one of `rows` rows behind `cache`.
    pub fn same(cache: &'a PrefixCache, rows: usize) -> Self {
        Self::new(vec![cache], vec![0; rows])
    }

    /// Prefix length of each row.
    pub fn lengths(&self) -> Vec<usize> {
        self.of_row.iter().map(|&c| self.caches[c].len()).collect()
    }

    /// Each row's token positions `[B, l]`: a row behind a prefix of `P` rows starts at `P`.
    pub fn row_positions(&self, l: usize) -> Tensor<2, Int> {
        let positions: Vec<i64> = self
            .lengths()
            .iter()
            .flat_map(|&len| (len..len + l).map(|j| j as i64))
            .collect();
        Tensor::from_data(
            TensorData::new(positions, [self.of_row.len(), l]),
            &self.caches[0].rows.device(),
        )
    }

    /// Longest prefix of the batch.
    pub fn max_len(&self) -> usize {
        self.caches.iter().map(|c| c.len()).max().unwrap_or(0)
    }

    /// Whether every non-empty prefix keeps its keys and values (so the rows can attend to them
    /// instead of encoding the prefix again).
    pub fn all_cached(&self) -> bool {
        self.caches.iter().all(|c| c.is_empty() || c.has_layers())
    }

    /// `[B, P]` (`P` the longest prefix): `true` where row `b` has a prefix row.
    pub fn valid(&self) -> Tensor<2, Bool> {
        let p = self.max_len();
        let values: Vec<bool> = self
            .lengths()
            .iter()
            .flat_map(|&len| (0..p).map(move |j| j < len))
            .collect();
        Tensor::from_data(
            TensorData::new(values, [self.of_row.len(), p]),
            &self.caches[0].rows.device(),
        )
    }

    /// Each row's prefix rows, zero-padded to the longest: `[B, P, d]`.
    pub fn padded_rows(&self) -> Tensor<3> {
        let p = self.max_len();
        self.per_row(|cache| {
            let [len, d] = cache.rows.dims();
            if len == 0 {
                // (burn cannot reshape an empty tensor into another empty shape)
                return Tensor::<3>::zeros([1, p, d], &cache.rows.device())
                    .cast(cache.rows.dtype());
            }
            pad(cache.rows.clone().unsqueeze::<3>(), 1, p)
        })
    }

    /// Layer `layer`'s keys and values behind each row, zero-padded to the longest prefix:
    /// `[B, Hkv, P, hd]` each. Only when [`RowPrefixes::all_cached`].
    pub fn layer_kv(&self, layer: usize) -> (Tensor<4>, Tensor<4>) {
        let p = self.max_len();
        let shape = self
            .caches
            .iter()
            .find_map(|c| c.layers.get(layer))
            .expect("a cached prefix of the batch has this layer")
            .keys
            .dims();
        let device = self.caches[0].rows.device();
        let part = |cache: &PrefixCache, keys: bool| match cache.layers.get(layer) {
            Some(kv) => pad(
                if keys {
                    kv.keys.clone()
                } else {
                    kv.values.clone()
                },
                2,
                p,
            ),
            None => Tensor::zeros([1, shape[1], p, shape[3]], &device),
        };
        (
            self.per_row(|cache| part(cache, true)),
            self.per_row(|cache| part(cache, false)),
        )
    }

    /// Stacks `part(cache)` (`[1, …]`) of each row's prefix into `[B, …]`.
    fn per_row<const D: usize>(&self, part: impl Fn(&PrefixCache) -> Tensor<D>) -> Tensor<D> {
        let rows = self.of_row.len();
        if self.caches.len() == 1 {
            let one = part(self.caches[0]);
            let mut shape = one.dims();
            shape[0] = rows;
            return one.expand(shape);
        }
        let stacked = Tensor::cat(self.caches.iter().map(|c| part(c)).collect(), 0);
        let which: Vec<i64> = self.of_row.iter().map(|&c| c as i64).collect();
        let which = Tensor::<1, Int>::from_data(TensorData::new(which, [rows]), &stacked.device());
        stacked.select(0, which)
    }
}

/// `x` zero-padded along `dim` to `len`.
fn pad<const D: usize>(x: Tensor<D>, dim: usize, len: usize) -> Tensor<D> {
    let mut shape = x.dims();
    if shape[dim] == len {
        return x;
    }
    shape[dim] = len - shape[dim];
    let zeros = Tensor::<D>::zeros(shape, &x.device()).cast(x.dtype());
    Tensor::cat(vec![x, zeros], dim)
}

/// [`Backbone::encode_behind`] the plain way: each row's prefix rows copied in front of its
/// tokens (left-aligned, so its tokens take positions `P_row..`), the whole input encoded, and
/// the rows' hidden states `[B, L, d]` returned. Works for every backbone.
pub fn encode_behind_in_every_row<B: Backbone + ?Sized>(
    backbone: &B,
    prefixes: &RowPrefixes,
    embeds: Tensor<3>,
    attention_mask: Tensor<2, Bool>,
) -> Tensor<3> {
    let p = prefixes.max_len();
    if p == 0 {
        return backbone.encode(embeds, attention_mask);
    }
    let [b, l, d] = embeds.dims();
    let t = p + l;
    // Slot j of a row behind a prefix of `len` rows takes the prefix's row j, then token
    // j - len, then (past the tokens) one of the prefix's padding slots, which are masked.
    let lengths = prefixes.lengths();
    let mut source = Vec::with_capacity(b * t);
    let mut back = Vec::with_capacity(b * l);
    for &len in &lengths {
        source.extend((0..t).map(|j| match j {
            j if j < len => j,
            j if j < len + l => p + j - len,
            j => j - l,
        } as i64));
        back.extend((len..len + l).map(|j| j as i64));
    }
    let device = embeds.device();
    let index = |values: Vec<i64>, len: usize| {
        Tensor::<2, Int>::from_data(TensorData::new(values, [b, len]), &device)
    };
    let (source, back) = (index(source, t), index(back, l));
    let combined = Tensor::cat(vec![prefixes.padded_rows().cast(embeds.dtype()), embeds], 1);
    let aligned = combined.gather(1, source.clone().unsqueeze_dim::<3>(2).expand([b, t, d]));
    let mask = Tensor::cat(vec![prefixes.valid().int(), attention_mask.int()], 1)
        .gather(1, source)
        .equal_elem(1);
    backbone
        .encode(aligned, mask)
        .gather(1, back.unsqueeze_dim::<3>(2).expand([b, l, d]))
}
