//! Classification metrics from gold and predicted classes: accuracy, macro-F1, per-class
//! precision and recall, and the confusion matrix.

use serde::{Deserialize, Serialize};

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// The class name.
    pub name: String,
    /// Share of the examples predicted as this class that are this class (0 when none were).
    pub precision: f64,
    /// Share of this class's examples predicted as this class (0 when it has none).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Examples whose gold class this is.
    pub support: usize,
}

/// Every metric of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    /// Examples scored.
    pub examples: usize,
    /// Share of examples predicted correctly.
    pub accuracy: f64,
    /// Unweighted mean of the per-class F1 scores.
    pub macro_f1: f64,
    /// One entry per class, in class-index order.
    pub classes: Vec<ClassMetrics>,
    /// `confusion[gold][predicted]`: example counts.
    pub confusion: Vec<Vec<usize>>,
}

impl ClassificationMetrics {
    /// Metrics of `predicted` against `gold` (class indices into `class_names`, same length).
    pub fn new(class_names: &[String], gold: &[usize], predicted: &[usize]) -> Self {
        assert_eq!(gold.len(), predicted.len(), "one prediction per example");
        let n = class_names.len();
        let mut confusion = vec![vec![0; n]; n];
        for (&g, &p) in gold.iter().zip(predicted) {
            confusion[g][p] += 1;
        }
        let ratio = |num: usize, den: usize| {
            if den == 0 {
                0.0
            } else {
                num as f64 / den as f64
            }
        };
        let classes: Vec<ClassMetrics> = class_names
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let right = confusion[c][c];
                let support: usize = confusion[c].iter().sum();
                let predicted_as: usize = confusion.iter().map(|row| row[c]).sum();
                let precision = ratio(right, predicted_as);
                let recall = ratio(right, support);
                let f1 = if precision + recall == 0.0 {
                    0.0
                } else {
                    2.0 * precision * recall / (precision + recall)
                };
                ClassMetrics {
                    name: name.clone(),
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect();
        let correct: usize = (0..n).map(|c| confusion[c][c]).sum();
        Self {
            examples: gold.len(),
            accuracy: ratio(correct, gold.len()),
            macro_f1: classes.iter().map(|c| c.f1).sum::<f64>() / n.max(1) as f64,
            classes,
            confusion,
        }
    }

    /// A plain-text table: the headline numbers, per-class rows and the confusion matrix.
    pub fn table(&self) -> String {
        let width = self
            .classes
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(0)
            .max("gold \\ predicted".len());
        let mut out = format!(
            "examples {}  accuracy {:.2} %  macro-F1 {:.2} %\n\n",
            self.examples,
            100.0 * self.accuracy,
            100.0 * self.macro_f1
        );
        out += &format!(
            "{:<width$}  {:>9}  {:>7}  {:>7}  {:>7}\n",
            "class", "precision", "recall", "F1", "support"
        );
        for c in &self.classes {
            out += &format!(
                "{:<width$}  {:>8.2}%  {:>6.2}%  {:>6.2}%  {:>7}\n",
                c.name,
                100.0 * c.precision,
                100.0 * c.recall,
                100.0 * c.f1,
                c.support
            );
        }
        out += &format!("\n{:<width$}", "gold \\ predicted");
        for c in &self.classes {
            out += &format!("  {:>8}", c.name);
        }
        out += "\n";
        for (c, row) in self.classes.iter().zip(&self.confusion) {
            out += &format!("{:<width$}", c.name);
            for count in row {
                out += &format!("  {count:>8}");
            }
            out += "\n";
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["negative".into(), "positive".into()]
    }

    #[test]
    fn counts_and_ratios_of_a_small_case() {
        // gold:      n n n p p p p p
        // predicted: n n p p p p n p
        let gold = [0, 0, 0, 1, 1, 1, 1, 1];
        let predicted = [0, 0, 1, 1, 1, 1, 0, 1];
        let m = ClassificationMetrics::new(&names(), &gold, &predicted);
        assert_eq!(m.confusion, vec![vec![2, 1], vec![1, 4]]);
        assert_eq!(m.accuracy, 6.0 / 8.0);
        let (neg, pos) = (&m.classes[0], &m.classes[1]);
        assert_eq!(
            (neg.precision, neg.recall, neg.support),
            (2.0 / 3.0, 2.0 / 3.0, 3)
        );
        assert_eq!(
            (pos.precision, pos.recall, pos.support),
            (4.0 / 5.0, 4.0 / 5.0, 5)
        );
        assert!((neg.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((pos.f1 - 0.8).abs() < 1e-12);
        assert!((m.macro_f1 - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn a_class_never_predicted_has_zero_precision_not_nan() {
        let m = ClassificationMetrics::new(&names(), &[0, 1, 1], &[1, 1, 1]);
        assert_eq!(m.classes[0].precision, 0.0);
        assert_eq!(m.classes[0].f1, 0.0);
        assert_eq!(m.classes[1].recall, 1.0);
        assert!((m.macro_f1 - 0.4).abs() < 1e-12);
    }

    #[test]
    fn table_shows_every_number() {
        let m = ClassificationMetrics::new(&names(), &[0, 1], &[0, 0]);
        let table = m.table();
        assert!(table.contains("accuracy 50.00 %"), "{table}");
        // negative: 1 of the 2 predicted negatives is right, the one gold negative is found.
        assert!(table.contains("   50.00%  100.00%"), "{table}");
        assert!(
            table.contains("gold \\ predicted  negative  positive"),
            "{table}"
        );
    }
}
