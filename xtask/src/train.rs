//! `cargo xtask train CONFIG [--resume] [--set key.path=value]…`: runs one experiment,
//! fetching the default model first when the config uses it and the cache lacks it.

use std::path::Path;

use anyhow::{Context, Result};
use burn::tensor::Device;
use prompt_train::{ExperimentConfig, Override, TrainOptions, train};

use crate::fetch;

pub fn run(config_path: &Path, resume: bool, overrides: &[Override], device: Device) -> Result<()> {
    let config = load_config(config_path, overrides)?;
    let options = TrainOptions {
        resume,
        device,
        ..TrainOptions::default()
    };
    let summary = train(&config, &options)?;
    println!(
        "{} steps in {:.0} s ({:.2} training examples/s); output in {}",
        summary.steps,
        summary.seconds,
        summary.examples_per_s,
        summary.output.display()
    );
    if let Some(best) = summary.best {
        println!(
            "best dev accuracy {:.2} % at step {} (loss {:.4})",
            100.0 * best.accuracy,
            best.step,
            best.loss
        );
    }
    Ok(())
}

/// Reads the config with its `--set` overrides and fetches the default model when the config
/// uses it and the cache lacks it.
pub fn load_config(config_path: &Path, overrides: &[Override]) -> Result<ExperimentConfig> {
    let config = ExperimentConfig::load(config_path, overrides)
        .with_context(|| format!("cannot use the config {}", config_path.display()))?;
    fetch::ensure_model(&config.model.resolved_path())?;
    Ok(config)
}
