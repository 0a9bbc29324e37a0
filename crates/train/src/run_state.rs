//! Where a run stands between steps: its position and best dev result (saved in every
//! checkpoint), the patience count that stops it early, what is due after a step, and the
//! window of training statistics each metrics line reports.

use crate::checkpoint::Best;
use crate::config::TrainConfig;
use crate::evaluate::Evaluation;
use crate::metrics::{MetricRecord, Split};
use crate::order::Cursor;

/// Where the run stands; saved in every checkpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RunState {
    /// Optimizer steps done.
    pub step: usize,
    /// Position in the data order.
    pub cursor: Cursor,
    /// Best dev result so far.
    pub best: Option<Best>,
    /// Dev evaluations since the best one.
    pub evals_since_best: usize,
    /// Seconds of training over all sessions.
    pub elapsed_s: f64,
}

/// What a dev evaluation meant for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DevOutcome {
    /// A new best: its prompt is to be saved.
    Improved,
    /// No better than the best; the run goes on.
    NotBetter,
    /// No better for `patience` evaluations in a row: the run stops.
    OutOfPatience,
}

impl RunState {
    /// Records the dev result `dev` of the current step. Higher accuracy wins, a lower loss
    /// breaks ties; `patience` 0 never stops.
    pub fn record_dev(&mut self, dev: &Evaluation, patience: usize) -> DevOutcome {
        let improved = self.best.is_none_or(|best| {
            dev.accuracy > best.accuracy || (dev.accuracy == best.accuracy && dev.loss < best.loss)
        });
        if improved {
            self.best = Some(Best {
                step: self.step,
                accuracy: dev.accuracy,
                loss: dev.loss,
            });
            self.evals_since_best = 0;
            return DevOutcome::Improved;
        }
        self.evals_since_best += 1;
        if patience > 0 && self.evals_since_best >= patience {
            DevOutcome::OutOfPatience
        } else {
            DevOutcome::NotBetter
        }
    }
}

/// What is due after a step: each at its own cadence, and all of them after the last step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Due {
    /// A training metrics line.
    pub log: bool,
    /// A dev evaluation.
    pub evaluate: bool,
    /// A checkpoint.
    pub checkpoint: bool,
}

impl Due {
    /// What `train` asks for after optimizer step `step` (counted from 1).
    pub fn after(step: usize, train: &TrainConfig) -> Self {
        let last = step == train.steps;
        Self {
            log: last || step.is_multiple_of(train.log_every),
            evaluate: last || step.is_multiple_of(train.eval_every),
            checkpoint: last || step.is_multiple_of(train.checkpoint_every),
        }
    }
}

/// Training statistics since the last metrics line.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TrainWindow {
    loss_sum: f64,
    correct: usize,
    examples: usize,
    seconds: f64,
}

impl TrainWindow {
    /// Adds one step over `examples` rows with mean loss `loss`, `correct` of them right, that
    /// took `seconds`.
    pub fn add(&mut self, loss: f64, correct: usize, examples: usize, seconds: f64) {
        self.loss_sum += loss * examples as f64;
        self.correct += correct;
        self.examples += examples;
        self.seconds += seconds;
    }

    /// The window's metrics line at `step` (`seconds` of training so far, last rate `lr`),
    /// and a fresh window.
    pub fn take(&mut self, step: usize, seconds: f64, lr: f64) -> MetricRecord {
        let window = std::mem::take(self);
        let examples = window.examples.max(1) as f64;
        MetricRecord {
            step,
            split: Split::Train,
            loss: window.loss_sum / examples,
            accuracy: window.correct as f64 / examples,
            examples: window.examples,
            examples_per_s: window.examples as f64 / window.seconds.max(1e-9),
            seconds,
            lr: Some(lr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(accuracy: f64, loss: f64) -> Evaluation {
        Evaluation {
            loss,
            accuracy,
            predictions: vec![],
            examples: 10,
        }
    }

    #[test]
    fn higher_accuracy_wins_and_a_lower_loss_breaks_ties() {
        let mut state = RunState {
            step: 50,
            ..RunState::default()
        };
        assert_eq!(state.record_dev(&dev(0.8, 0.5), 0), DevOutcome::Improved);
        state.step = 100;
        assert_eq!(state.record_dev(&dev(0.8, 0.6), 0), DevOutcome::NotBetter);
        state.step = 150;
        assert_eq!(state.record_dev(&dev(0.8, 0.4), 0), DevOutcome::Improved);
        assert_eq!(
            state.best,
            Some(Best {
                step: 150,
                accuracy: 0.8,
                loss: 0.4
            })
        );
        assert_eq!(state.evals_since_best, 0);
    }

    #[test]
    fn patience_counts_evaluations_without_a_better_one() {
        let mut state = RunState::default();
        state.record_dev(&dev(0.9, 0.3), 2);
        assert_eq!(state.record_dev(&dev(0.7, 0.3), 2), DevOutcome::NotBetter);
        assert_eq!(
            state.record_dev(&dev(0.7, 0.3), 2),
            DevOutcome::OutOfPatience
        );
        let mut patient = RunState::default();
        patient.record_dev(&dev(0.9, 0.3), 0);
        for _ in 0..10 {
            assert_eq!(patient.record_dev(&dev(0.1, 9.0), 0), DevOutcome::NotBetter);
        }
    }

    #[test]
    fn each_cadence_is_kept_and_the_last_step_does_everything() {
        let train = TrainConfig {
            steps: 110,
            log_every: 10,
            eval_every: 50,
            checkpoint_every: 25,
            ..TrainConfig::default()
        };
        let due = |step| {
            let d = Due::after(step, &train);
            (d.log, d.evaluate, d.checkpoint)
        };
        assert_eq!(due(7), (false, false, false));
        assert_eq!(due(10), (true, false, false));
        assert_eq!(due(25), (false, false, true));
        assert_eq!(due(50), (true, true, true));
        assert_eq!(due(75), (false, false, true));
        assert_eq!(due(105), (false, false, false));
        assert_eq!(due(110), (true, true, true));
    }

    #[test]
    fn a_window_reports_example_weighted_means_and_starts_again() {
        let mut window = TrainWindow::default();
        window.add(1.0, 3, 4, 0.5);
        window.add(0.25, 2, 4, 1.5);
        let record = window.take(20, 7.0, 0.03);
        assert_eq!(record.step, 20);
        assert_eq!(record.loss, 0.625);
        assert_eq!(record.accuracy, 0.625);
        assert_eq!((record.examples, record.examples_per_s), (8, 4.0));
        assert_eq!((record.seconds, record.lr), (7.0, Some(0.03)));
        assert_eq!(window, TrainWindow::default());
    }
}
