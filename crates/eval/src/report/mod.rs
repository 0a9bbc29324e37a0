//! Sweep reports: what each cell and each ensemble reached, their spread over seeds, the
//! markdown tables ([`table`]) and the figures in the style of Lester et al.'s Figure 3
//! ([`plot`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod plot;
mod table;

pub use plot::{Figures, draw_figures, find_font};
pub use table::markdown_report;

/// One dev evaluation of a training run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Optimizer steps done.
    pub step: usize,
    /// Dev accuracy.
    pub accuracy: f64,
    /// Mean dev cross-entropy.
    pub loss: f64,
}

/// What one sweep cell (one training run) reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// Init name (`random_uniform`, `sampled_vocab`, `class_label`, ...).
    pub init: String,
    /// Prompt length `k`.
    pub length: usize,
    /// Seed.
    pub seed: u64,
    /// Steps trained.
    pub steps: usize,
    /// Seconds of training, evaluations included, over all sessions of the run.
    pub seconds: f64,
    /// The evaluation whose prompt the run kept (best accuracy, ties to the lower loss).
    pub best: CurvePoint,
    /// Every dev evaluation, in step order: the learning curve.
    pub curve: Vec<CurvePoint>,
}

impl CellResult {
    /// The last evaluation.
    ///
    /// # Panics
    /// If the curve is empty (a finished run has evaluated at least once).
    pub fn last(&self) -> CurvePoint {
        *self.curve.last().expect("a finished run has evaluated")
    }

    /// Largest minus smallest accuracy over the last `n` evaluations: how far the curve still
    /// moves at its end.
    pub fn last_range(&self, n: usize) -> f64 {
        let tail = &self.curve[self.curve.len().saturating_sub(n)..];
        let max = tail.iter().map(|p| p.accuracy).fold(f64::MIN, f64::max);
        let min = tail.iter().map(|p| p.accuracy).fold(f64::MAX, f64::min);
        max - min
    }
}

/// An ensemble of one cell's seeds (the same init and length), scored on the same dev set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleResult {
    /// Init name.
    pub init: String,
    /// Prompt length `k`.
    pub length: usize,
    /// The members' seeds, in order.
    pub seeds: Vec<u64>,
    /// How the members decided (`majority`, `mean_probability`).
    pub vote: String,
    /// Each member's dev accuracy (the best prompt of its run), in seed order.
    pub members: Vec<f64>,
    /// The ensemble's dev accuracy.
    pub accuracy: f64,
}

/// The template alone (no prompt) on the cells' dev set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ZeroShot {
    /// Dev accuracy.
    pub accuracy: f64,
    /// Dev examples scored.
    pub examples: usize,
}

/// Mean, sample standard deviation and count of some values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for a single value).
    pub std: f64,
    /// How many values.
    pub n: usize,
}

impl Spread {
    /// The spread of `values` (at least one).
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Self {
            mean,
            std: var.sqrt(),
            n,
        }
    }
}

/// Results grouped by init, then by prompt length: the spread of `metric` over seeds.
pub fn group(
    results: &[CellResult],
    metric: impl Fn(&CellResult) -> f64,
) -> BTreeMap<String, BTreeMap<usize, Spread>> {
    let mut values: BTreeMap<String, BTreeMap<usize, Vec<f64>>> = BTreeMap::new();
    for r in results {
        values
            .entry(r.init.clone())
            .or_default()
            .entry(r.length)
            .or_default()
            .push(metric(r));
    }
    values
        .into_iter()
        .map(|(init, by_len)| {
            let spreads = by_len
                .into_iter()
                .map(|(len, v)| (len, Spread::of(&v)))
                .collect();
            (init, spreads)
        })
        .collect()
}

/// The best accuracy of a cell: the paper's early stopping on dev.
pub fn best_accuracy(r: &CellResult) -> f64 {
    r.best.accuracy
}

#[cfg(test)]
pub(crate) fn test_cell(init: &str, length: usize, seed: u64, accuracies: &[f64]) -> CellResult {
    let curve: Vec<CurvePoint> = accuracies
        .iter()
        .enumerate()
        .map(|(i, &accuracy)| CurvePoint {
            step: 50 * (i + 1),
            accuracy,
            loss: 0.5,
        })
        .collect();
    let best = *curve
        .iter()
        .reduce(|a, b| if b.accuracy > a.accuracy { b } else { a })
        .unwrap();
    CellResult {
        init: init.to_string(),
        length,
        seed,
        steps: 50 * accuracies.len(),
        seconds: 1.0,
        best,
        curve,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_uses_the_sample_deviation() {
        let s = Spread::of(&[0.8, 0.9]);
        assert!((s.mean - 0.85).abs() < 1e-12);
        assert!((s.std - 0.0707106781).abs() < 1e-9);
        assert_eq!(Spread::of(&[0.7]).std, 0.0);
    }

    #[test]
    fn the_last_range_covers_the_curves_end_only() {
        let cell = test_cell("class_label", 20, 0, &[0.5, 0.9, 0.84, 0.86]);
        assert!((cell.last_range(3) - 0.06).abs() < 1e-12);
        assert!((cell.last_range(2) - 0.02).abs() < 1e-12);
        assert!((cell.last_range(9) - 0.4).abs() < 1e-12);
        assert_eq!(cell.last().accuracy, 0.86);
    }

    #[test]
    fn groups_are_by_init_then_length() {
        let results = [
            test_cell("class_label", 1, 0, &[0.80]),
            test_cell("class_label", 1, 1, &[0.90]),
            test_cell("random_uniform", 20, 0, &[0.60, 0.70]),
        ];
        let groups = group(&results, best_accuracy);
        assert_eq!(groups["class_label"][&1].n, 2);
        assert!((groups["class_label"][&1].mean - 0.85).abs() < 1e-12);
        assert_eq!(groups["random_uniform"][&20].mean, 0.70);
        let last = group(&results, |r| r.last().accuracy);
        assert_eq!(last["random_uniform"][&20].mean, 0.70);
    }
}
