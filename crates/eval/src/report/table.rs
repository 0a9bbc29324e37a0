//! The sweep's markdown report: accuracy by init and prompt length (best and last evaluation,
//! mean ± sample std over seeds), the ensembles beside their members, and every cell's
//! learning curve with how far it still moves at its end.

use std::collections::BTreeSet;

use super::{CellResult, EnsembleResult, ZeroShot, best_accuracy, group};

/// Evaluations at the end of a curve whose range says whether it has flattened.
pub const TAIL: usize = 3;

/// The whole report: the tables, then the total training time.
pub fn markdown_report(
    results: &[CellResult],
    ensembles: &[EnsembleResult],
    zero_shot: Option<ZeroShot>,
) -> String {
    let zero = zero_shot.map(|z| z.accuracy);
    let mut out = String::from("## Best dev accuracy (%), mean ± std over seeds\n\n");
    out += &accuracy_table(results, best_accuracy, zero);
    out += "\n## Dev accuracy at the last evaluation (%)\n\n";
    out += &accuracy_table(results, |r| r.last().accuracy, zero);
    if !ensembles.is_empty() {
        out += "\n## Ensembles of the seeds' best prompts\n\n";
        out += &ensemble_table(ensembles);
    }
    out += "\n## Learning curves: dev accuracy (%) at each evaluation\n\n";
    out += &curve_table(results);
    let seconds: f64 = results.iter().map(|r| r.seconds).sum();
    out += &format!(
        "\n{} cells, {:.1} hours of training and evaluation in all.\n",
        results.len(),
        seconds / 3600.0
    );
    out
}

/// One row per init, one column per prompt length, cells `mean ± std` of `metric` in percent
/// over seeds (with the seed count when not every cell has the same), and a zero-shot row.
fn accuracy_table(
    results: &[CellResult],
    metric: impl Fn(&CellResult) -> f64,
    zero_shot: Option<f64>,
) -> String {
    let groups = group(results, metric);
    let lengths: BTreeSet<usize> = results.iter().map(|r| r.length).collect();
    let most_seeds = groups
        .values()
        .flat_map(|g| g.values())
        .map(|s| s.n)
        .max()
        .unwrap_or(0);
    let mut out = String::from("| init |");
    for len in &lengths {
        out += &format!(" k = {len} |");
    }
    out += "\n|---|";
    out += &"---:|".repeat(lengths.len());
    out += "\n";
    for (init, by_len) in &groups {
        out += &format!("| {init} |");
        for len in &lengths {
            out += &match by_len.get(len) {
                Some(s) => {
                    let mut cell = format!(" {:.1}", 100.0 * s.mean);
                    if s.n > 1 {
                        cell += &format!(" ± {:.1}", 100.0 * s.std);
                    }
                    if s.n < most_seeds {
                        cell += &format!(" (n = {})", s.n);
                    }
                    cell + " |"
                }
                None => " – |".to_string(),
            };
        }
        out += "\n";
    }
    if let Some(zero) = zero_shot {
        out += "| zero-shot (no prompt) |";
        out += &format!(" {:.1} |", 100.0 * zero).repeat(lengths.len());
        out += "\n";
    }
    out
}

fn ensemble_table(ensembles: &[EnsembleResult]) -> String {
    let mut out = String::from(
        "| init | k | vote | members (seed: accuracy) | best member | ensemble | ensemble − best |\n\
         |---|---:|---|---|---:|---:|---:|\n",
    );
    for e in ensembles {
        let members: Vec<String> = e
            .seeds
            .iter()
            .zip(&e.members)
            .map(|(seed, acc)| format!("{seed}: {:.1}", 100.0 * acc))
            .collect();
        let best = e.members.iter().cloned().fold(f64::MIN, f64::max);
        out += &format!(
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:+.1} |\n",
            e.init,
            e.length,
            e.vote,
            members.join(", "),
            100.0 * best,
            100.0 * e.accuracy,
            100.0 * (e.accuracy - best)
        );
    }
    out
}

/// One row per cell: its accuracy at every evaluation step of the sweep, and the range of its
/// last [`TAIL`] evaluations.
fn curve_table(results: &[CellResult]) -> String {
    let steps: BTreeSet<usize> = results
        .iter()
        .flat_map(|r| r.curve.iter().map(|p| p.step))
        .collect();
    let mut out = String::from("| cell |");
    for step in &steps {
        out += &format!(" {step} |");
    }
    out += &format!(" range of the last {TAIL} |\n|---|");
    out += &"---:|".repeat(steps.len() + 1);
    out += "\n";
    let mut rows: Vec<&CellResult> = results.iter().collect();
    rows.sort_by(|a, b| (&a.init, a.length, a.seed).cmp(&(&b.init, b.length, b.seed)));
    for r in rows {
        out += &format!("| {}-k{}-s{} |", r.init, r.length, r.seed);
        for step in &steps {
            out += &match r.curve.iter().find(|p| p.step == *step) {
                Some(p) => format!(" {:.1} |", 100.0 * p.accuracy),
                None => " – |".to_string(),
            };
        }
        out += &format!(" {:.1} |\n", 100.0 * r.last_range(TAIL));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::test_cell;
    use super::*;

    #[test]
    fn the_accuracy_table_has_mean_and_std_per_cell_and_the_zero_shot_row() {
        let results = [
            test_cell("class_label", 1, 0, &[0.70, 0.80]),
            test_cell("class_label", 1, 1, &[0.90]),
            test_cell("class_label", 20, 0, &[0.88]),
            test_cell("random_uniform", 1, 0, &[0.5]),
        ];
        assert_eq!(
            accuracy_table(&results, best_accuracy, Some(0.75)),
            "| init | k = 1 | k = 20 |\n|---|---:|---:|\n\
             | class_label | 85.0 ± 7.1 | 88.0 (n = 1) |\n\
             | random_uniform | 50.0 (n = 1) | – |\n\
             | zero-shot (no prompt) | 75.0 | 75.0 |\n"
        );
    }

    #[test]
    fn an_ensemble_row_sets_the_ensemble_beside_its_best_member() {
        let e = EnsembleResult {
            init: "class_label".into(),
            length: 20,
            seeds: vec![0, 1, 2],
            vote: "majority".into(),
            members: vec![0.85, 0.87, 0.86],
            accuracy: 0.88,
        };
        let table = ensemble_table(&[e]);
        assert!(
            table.ends_with(
                "| class_label | 20 | majority | 0: 85.0, 1: 87.0, 2: 86.0 | 87.0 | 88.0 | +1.0 |\n"
            ),
            "{table}"
        );
    }

    #[test]
    fn the_curve_table_lists_every_evaluation_and_the_tail_range() {
        let results = [
            test_cell("random_uniform", 5, 0, &[0.6, 0.8, 0.82, 0.81]),
            test_cell("class_label", 5, 0, &[0.8, 0.85]),
        ];
        assert_eq!(
            curve_table(&results),
            "| cell | 50 | 100 | 150 | 200 | range of the last 3 |\n\
             |---|---:|---:|---:|---:|---:|\n\
             | class_label-k5-s0 | 80.0 | 85.0 | – | – | 5.0 |\n\
             | random_uniform-k5-s0 | 60.0 | 80.0 | 82.0 | 81.0 | 2.0 |\n"
        );
    }
}
