//! Evaluation of soft prompts: accuracy, macro-F1, per-class precision/recall and confusion
//! matrices for any split, zero-shot scoring of the template alone ([`score`]), prompt-length ×
//! init × seed sweeps with their table and plot ([`sweep`], [`report`]), and the accuracy
//! regression check CI runs ([`regress`]).
#![warn(missing_docs)]

mod ensemble;
mod error;
pub mod metrics;
pub mod predict;
pub mod prompt_folder;
pub mod regress;
pub mod report;
pub mod score;
pub mod sweep;

pub use ensemble::{EnsembleReport, score_ensemble};
pub use error::EvalError;
pub use metrics::{ClassMetrics, ClassificationMetrics};
pub use regress::{
    Baseline, CommittedCheck, Measurement, RegressConfig, TrainingCheck, Verdict, verdict_table,
};
pub use score::{EvalReport, EvalSpec, PromptChoice, artifact_experiment, score};
pub use sweep::{ResultsDir, SweepConfig, SweepOutputs, run_sweep};
