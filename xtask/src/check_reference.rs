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
    println!("precision: {precision}");
    println!("{report}");
    if !report.passed() {
        bail!(
            "the model differs from {} beyond tolerance",
            reference.display()
        );
    }
    Ok(())
}
