//! `cargo xtask train CONFIG [--resume] [--set key.path=value]…`: runs one experiment,
//! fetching the default model first when the config uses it and the cache lacks it.

use std::path::Path;

use anyhow::{Context, Result};
use burn::tensor::Device;
use prompt_model::cache::SMOLLM2_135M_INSTRUCT;
use prompt_train::{ExperimentConfig, Override, TrainOptions, train};

use crate::fetch;

pub fn run(config_path: &Path, resume: bool, overrides: &[String], device: Device) -> Result<()> {
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

/// Reads the config with its `--set` overrides and, when it uses the default model and the
/// cache lacks it, fetches the model.
pub fn load_config(config_path: &Path, overrides: &[String]) -> Result<ExperimentConfig> {
    let overrides = overrides
        .iter()
        .map(|o| Override::parse(o))
        .collect::<Result<Vec<_>, _>>()?;
    let config = ExperimentConfig::load(config_path, &overrides)
        .with_context(|| format!("cannot use the config {}", config_path.display()))?;
    if config.model.path.is_none() && !SMOLLM2_135M_INSTRUCT.cached_path().exists() {
        fetch::fetch_model(&SMOLLM2_135M_INSTRUCT)?;
    }
    Ok(config)
}
