//! `cargo xtask regress configs/sst2_ci.toml [--write-baseline] [--set k=v]…`: runs the
//! accuracy regression checks, prints a verdict table and fails when a check regressed.

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use prompt_eval::{Baseline, RegressConfig, Verdict, verdict_table};
use prompt_train::Override;

use crate::fetch;

pub fn run(
    config_path: &Path,
    write_baseline: bool,
    overrides: &[Override],
    device: &Device,
) -> Result<()> {
    let config = RegressConfig::load(config_path)?;
    for experiment in [
        config.committed.experiment(overrides)?,
        config.training.experiment(overrides)?,
    ] {
        fetch::ensure_model(&experiment.model.resolved_path())?;
    }
    // Results differ in the last bits between kernel sets and thread counts: say which ran.
    println!(
        "matmul kernels {}{}",
        prompt_model::matmul_kernels(),
        if overrides.is_empty() {
            String::new()
        } else {
            let sets: Vec<&str> = overrides.iter().map(|o| o.assignment.as_str()).collect();
            format!(", overrides {}", sets.join(" "))
        }
    );
    let committed = config
        .committed
        .measure(overrides, device)
        .context("the committed-prompt check could not run")?;
    let training = config
        .training
        .measure(overrides, device)
        .context("the short-training check could not run")?;
    if write_baseline {
        config.write_baseline(&Baseline {
            committed,
            training,
        })?;
        println!(
            "wrote {}: committed {:.2} % (loss {:.4}) on {} examples, training {:.2} % (loss \
             {:.4}) on {}",
            config.baseline.display(),
            100.0 * committed.accuracy,
            committed.loss,
            committed.examples,
            100.0 * training.accuracy,
            training.loss,
            training.examples
        );
        return Ok(());
    }
    let baseline = config.read_baseline()?;
    let verdicts = [
        Verdict::new(
            "committed",
            baseline.committed,
            committed,
            config.committed.tolerance,
            config.committed.loss_tolerance,
        ),
        Verdict::new(
            "training",
            baseline.training,
            training,
            config.training.tolerance,
            config.training.loss_tolerance,
        ),
    ];
    print!("{}", verdict_table(&verdicts));
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    if failed > 0 {
        bail!(
            "{failed} accuracy check(s) regressed against {}",
            config.baseline.display()
        );
    }
    Ok(())
}
