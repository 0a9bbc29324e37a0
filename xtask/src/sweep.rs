//! `cargo xtask sweep configs/sst2_sweep.toml`: trains and evaluates every cell of a prompt
//! length × init × seed grid, then writes results.jsonl, results.md and the plot.

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
    print!("{}", std::fs::read_to_string(&outputs.table)?);
    println!(
        "\nwrote {}, {}, {} and {}",
        outputs.results.display(),
        outputs.table.display(),
        outputs.svg.display(),
        outputs.png.display()
    );
    Ok(())
}
