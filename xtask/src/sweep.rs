//! `cargo xtask sweep configs/sst2_sweep.toml`: trains and evaluates every cell of a prompt
//! length × init × seed grid that its results folder has not recorded, scores the ensembles,
//! then writes the report and the figures.

use std::path::Path;

use anyhow::{Context, Result};
use burn::tensor::Device;
use prompt_eval::{SweepConfig, run_sweep};

use crate::fetch;

pub fn run(config_path: &Path, device: &Device) -> Result<()> {
    let config = SweepConfig::load(config_path)?;
    if let Some(cell) = config.cells().first() {
        fetch::ensure_model(&config.cell_config(cell)?.model.resolved_path())?;
    }
    let outputs = run_sweep(&config, device)
        .with_context(|| format!("the sweep {} stopped", config_path.display()))?;
    print!("{}", std::fs::read_to_string(&outputs.report)?);
    let figures = &outputs.figures;
    println!(
        "\n{} of {} cells recorded; wrote {}, {}, {} and {} (and their SVGs)",
        outputs.finished,
        outputs.cells,
        outputs.report.display(),
        figures.by_length[1].display(),
        figures.by_init[1].display(),
        figures.curves[1].display()
    );
    Ok(())
}
