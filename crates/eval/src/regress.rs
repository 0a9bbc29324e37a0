//! The accuracy regression check CI runs (`cargo xtask regress configs/sst2_ci.toml`): a
//! committed trained prompt scored on a dev set, and a short seeded training run scored on a
//! dev subset, each compared with a committed baseline file within a stated tolerance.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use prompt_train::{ExperimentConfig, Override, ProgressMode, TrainOptions, train};
use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::score::{EvalSpec, PromptChoice, score};

/// The regression config: where the baseline is and what each check runs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegressConfig {
    /// The committed baseline file (JSON), written by `--write-baseline`.
    pub baseline: PathBuf,
    /// A trained prompt scored as it is.
    pub committed: CommittedCheck,
    /// A short training run from scratch.
    pub training: TrainingCheck,
}

/// Scores a committed prompt with an experiment's template, verbalizer and model.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommittedCheck {
    /// The experiment config the prompt was trained with.
    pub config: PathBuf,
    /// Overrides of that config (`key=value`, as `--set` takes them).
    #[serde(default)]
    pub set: Vec<String>,
    /// The prompt folder (PEFT layout).
    pub prompt: PathBuf,
    /// The data file (default: the config's dev split).
    #[serde(default)]
    pub data: Option<PathBuf>,
    /// Score only the first `n` examples (default: all).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Largest accepted drop in accuracy below the baseline (a fraction: 0.005 = 0.5 points).
    pub tolerance: f64,
    /// Largest accepted rise of the mean dev cross-entropy above the baseline.
    pub loss_tolerance: f64,
}

/// Trains a prompt from scratch with an experiment config and its overrides; the run's last
/// dev evaluation is the measurement.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingCheck {
    /// The experiment config.
    pub config: PathBuf,
    /// Overrides that make the run short (`key=value`).
    #[serde(default)]
    pub set: Vec<String>,
    /// Largest accepted drop in accuracy below the baseline.
    pub tolerance: f64,
    /// Largest accepted rise of the mean dev cross-entropy above the baseline.
    pub loss_tolerance: f64,
}

/// One measured accuracy and loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Share of examples predicted correctly.
    pub accuracy: f64,
    /// Mean cross-entropy over the classes: it moves smoothly where accuracy jumps by whole
    /// examples, and it rises when training did not learn even if accuracy holds.
    pub loss: f64,
    /// Examples scored.
    pub examples: usize,
}

/// The committed baseline: what each check measured when the baseline was written.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// The committed prompt's result.
    pub committed: Measurement,
    /// The short training run's result.
    pub training: Measurement,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// `committed` or `training`.
    pub check: &'static str,
    /// The baseline's value.
    pub baseline: Measurement,
    /// This run's value.
    pub measured: Measurement,
    /// Largest accepted drop in accuracy.
    pub tolerance: f64,
    /// Largest accepted rise in loss.
    pub loss_tolerance: f64,
    /// Whether the check passed.
    pub passed: bool,
    /// Why it failed (empty when it passed).
    pub reason: String,
}

impl Verdict {
    /// Compares `measured` with `baseline`: it fails when accuracy dropped by more than
    /// `tolerance`, when the loss rose by more than `loss_tolerance`, or when the number of
    /// examples differs (then the check itself changed).
    pub fn new(
        check: &'static str,
        baseline: Measurement,
        measured: Measurement,
        tolerance: f64,
        loss_tolerance: f64,
    ) -> Self {
        let mut reasons = Vec::new();
        if measured.examples != baseline.examples {
            reasons.push(format!(
                "scored {} examples, the baseline {}: the check changed; rewrite the baseline",
                measured.examples, baseline.examples
            ));
        } else {
            if measured.accuracy < baseline.accuracy - tolerance {
                reasons.push(format!(
                    "accuracy fell {:.2} points, more than the {:.2} allowed",
                    100.0 * (baseline.accuracy - measured.accuracy),
                    100.0 * tolerance
                ));
            }
            if measured.loss.is_nan() || measured.loss > baseline.loss + loss_tolerance {
                reasons.push(format!(
                    "loss rose {:.4}, more than the {:.4} allowed",
                    measured.loss - baseline.loss,
                    loss_tolerance
                ));
            }
        }
        let reason = reasons.join("; ");
        Self {
            check,
            baseline,
            measured,
            tolerance,
            loss_tolerance,
            passed: reason.is_empty(),
            reason,
        }
    }
}

impl RegressConfig {
    /// Reads a regression config (TOML).
    pub fn load(path: &Path) -> Result<Self, EvalError> {
        let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| EvalError::Format {
            path: path.to_path_buf(),
            what: "regression config",
            reason: e.to_string(),
        })
    }

    /// Reads the baseline file.
    pub fn read_baseline(&self) -> Result<Baseline, EvalError> {
        let text = std::fs::read_to_string(&self.baseline).map_err(|source| EvalError::Io {
            path: self.baseline.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| EvalError::Format {
            path: self.baseline.clone(),
            what: "baseline file",
            reason: e.to_string(),
        })
    }

    /// Writes `baseline` to the baseline file.
    pub fn write_baseline(&self, baseline: &Baseline) -> Result<(), EvalError> {
        let text = serde_json::to_string_pretty(baseline).expect("the baseline is plain data");
        std::fs::write(&self.baseline, text + "\n").map_err(|source| EvalError::Io {
            path: self.baseline.clone(),
            source,
        })
    }
}

/// The experiment at `path` with the check's own `set` and then the `extra` overrides.
fn load_experiment(
    path: &Path,
    set: &[String],
    extra: &[Override],
) -> Result<ExperimentConfig, EvalError> {
    let mut overrides = Override::parse_all(set)?;
    overrides.extend_from_slice(extra);
    Ok(ExperimentConfig::load(path, &overrides)?)
}

impl CommittedCheck {
    /// The check's experiment; `extra` overrides apply after the check's own.
    pub fn experiment(&self, extra: &[Override]) -> Result<ExperimentConfig, EvalError> {
        load_experiment(&self.config, &self.set, extra)
    }

    /// Scores the committed prompt; `extra` overrides apply after the check's own.
    pub fn measure(&self, extra: &[Override], device: &Device) -> Result<Measurement, EvalError> {
        let config = self.experiment(extra)?;
        let mut spec = EvalSpec::new(
            config,
            PromptChoice::Saved(self.prompt.clone()),
            self.data.as_deref(),
        );
        spec.limit = self.limit;
        let report = score(&spec, device)?;
        Ok(Measurement {
            accuracy: report.metrics.accuracy,
            loss: report.loss,
            examples: report.metrics.examples,
        })
    }
}

impl TrainingCheck {
    /// The check's experiment; `extra` overrides apply after the check's own.
    pub fn experiment(&self, extra: &[Override]) -> Result<ExperimentConfig, EvalError> {
        load_experiment(&self.config, &self.set, extra)
    }

    /// Trains into a temporary folder and returns the last dev evaluation; `extra` overrides
    /// apply after the check's own.
    pub fn measure(&self, extra: &[Override], device: &Device) -> Result<Measurement, EvalError> {
        let mut config = self.experiment(extra)?;
        let output = tempfile::tempdir().map_err(|source| EvalError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
        config.output = output.path().join("run");
        let options = TrainOptions {
            progress: ProgressMode::Plain,
            device: device.clone(),
            ..TrainOptions::default()
        };
        let summary = train(&config, &options)?;
        let dev = summary
            .last_dev
            .expect("a finished run evaluates at its last step");
        Ok(Measurement {
            accuracy: dev.accuracy,
            loss: dev.loss,
            examples: dev.examples,
        })
    }
}

/// Plain-text verdict table.
pub fn verdict_table(verdicts: &[Verdict]) -> String {
    let mut out = format!(
        "{:<10} {:>9} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9}  {}\n",
        "check",
        "examples",
        "baseline",
        "measured",
        "tolerance",
        "base loss",
        "loss",
        "loss tol",
        "verdict"
    );
    for v in verdicts {
        out += &format!(
            "{:<10} {:>9} {:>9.2}% {:>9.2}% {:>9.2}% {:>9.4} {:>9.4} {:>9.4}  {}\n",
            v.check,
            v.measured.examples,
            100.0 * v.baseline.accuracy,
            100.0 * v.measured.accuracy,
            100.0 * v.tolerance,
            v.baseline.loss,
            v.measured.loss,
            v.loss_tolerance,
            if v.passed {
                "pass".to_string()
            } else {
                format!("FAIL: {}", v.reason)
            }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Measurement = Measurement {
        accuracy: 0.88,
        loss: 0.30,
        examples: 872,
    };

    fn measured(accuracy: f64, loss: f64, examples: usize) -> Measurement {
        Measurement {
            accuracy,
            loss,
            examples,
        }
    }

    #[test]
    fn a_drop_within_tolerance_passes_and_a_larger_one_fails() {
        let verdict = |m| Verdict::new("committed", BASE, m, 0.005, 0.01);
        assert!(verdict(measured(0.876, 0.305, 872)).passed);
        assert!(verdict(measured(0.95, 0.1, 872)).passed);
        let fail = verdict(measured(0.87, 0.30, 872));
        assert!(!fail.passed);
        assert_eq!(
            fail.reason,
            "accuracy fell 1.00 points, more than the 0.50 allowed"
        );
    }

    #[test]
    fn a_loss_that_rose_fails_even_when_accuracy_holds() {
        let fail = Verdict::new("training", BASE, measured(0.88, 0.35, 872), 0.005, 0.01);
        assert_eq!(
            fail.reason,
            "loss rose 0.0500, more than the 0.0100 allowed"
        );
        let nan = Verdict::new("training", BASE, measured(0.88, f64::NAN, 872), 0.005, 0.01);
        assert!(!nan.passed);
        let both = Verdict::new("training", BASE, measured(0.5, 0.7, 872), 0.005, 0.01);
        assert_eq!(
            both.reason,
            "accuracy fell 38.00 points, more than the 0.50 allowed; loss rose 0.4000, more \
             than the 0.0100 allowed"
        );
    }

    #[test]
    fn a_different_example_count_fails() {
        let v = Verdict::new("training", BASE, measured(0.88, 0.3, 200), 0.02, 0.01);
        assert!(!v.passed);
        assert!(v.reason.contains("scored 200 examples, the baseline 872"));
    }

    #[test]
    fn the_table_names_each_check_and_its_verdict() {
        let table = verdict_table(&[
            Verdict::new("committed", BASE, measured(0.88, 0.3, 872), 0.005, 0.01),
            Verdict::new("training", BASE, measured(0.5, 0.3, 872), 0.02, 0.05),
        ]);
        assert!(
            table.contains(
                "committed        872     88.00%     88.00%      0.50%    0.3000    0.3000    \
                 0.0100  pass"
            ),
            "{table}"
        );
        assert!(
            table.contains("training         872     88.00%     50.00%      2.00%    0.3000    0.3000    0.0500  FAIL: accuracy fell 38.00 points"),
            "{table}"
        );
    }

    #[test]
    fn the_project_regression_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/sst2_ci.toml");
        let config = RegressConfig::load(&path).unwrap();
        assert!(config.committed.tolerance > 0.0 && config.training.tolerance > 0.0);
        assert!(config.committed.loss_tolerance > 0.0 && config.training.loss_tolerance > 0.0);
    }

    #[test]
    fn an_unknown_key_names_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ci.toml");
        std::fs::write(&path, "baseline = \"b.json\"\nbaselne = 1\n").unwrap();
        let err = RegressConfig::load(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "{} is not a valid regression config:",
                path.display()
            )),
            "{err}"
        );
        assert!(err.contains("unknown field `baselne`"), "{err}");
    }
}
