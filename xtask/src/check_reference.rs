//! `cargo xtask check-reference PATH`: runs a model on the inputs of a reference file written
//! by HF transformers and prints the largest differences per quantity; fails past tolerance.
//! `--dtype f64` runs the model in double precision.

use std::path::Path;

use anyhow::{Result, bail};
use burn::tensor::Device;
use prompt_model::cache::SMOLLM2_135M_INSTRUCT;
use prompt_model::reference::{Tolerances, check_reference};

use crate::fetch;

pub fn run(
    device: Device,
    precision: &str,
    reference: &Path,
    model: Option<&Path>,
    tolerances: Tolerances,
) -> Result<()> {
    let default_model = SMOLLM2_135M_INSTRUCT.cached_path();
    let model = model.unwrap_or(&default_model);
    fetch::ensure_model(model)?;
    let report = check_reference(reference, model, &device, tolerances)?;
    println!("reference: {}", report.reference.display());
    println!("model:     {}", report.model.display());
    println!("precision: {precision}");
    println!(
        "tolerance: {:e} absolute or {:e} relative; gradients {:e} or {:e} (ids exact)\n",
        tolerances.values.abs,
        tolerances.values.rel,
        tolerances.gradients.abs,
        tolerances.gradients.rel
    );
    println!(
        "{:<28} {:>6} {:>12} {:>12}  verdict",
        "quantity", "values", "max abs", "max rel"
    );
    for check in &report.checks {
        println!(
            "{:<28} {:>6} {:>12.3e} {:>12.3e}  {}",
            check.name,
            check.count,
            check.max_abs,
            check.max_rel,
            if check.passed { "ok" } else { "FAIL" }
        );
    }
    if !report.passed() {
        bail!(
            "the model differs from {} beyond tolerance",
            reference.display()
        );
    }
    println!("\nall quantities within tolerance");
    Ok(())
}
