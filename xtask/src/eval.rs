//! `cargo xtask eval --artifact DIR [--config CONFIG] [--data FILE] [--zero-shot] [--set k=v]…
//! [--json]`: scores a run's best prompt, a prompt folder, or the template alone on a data file
//! and prints the metrics.

use std::path::Path;

use anyhow::{Context, Result};
use burn::tensor::Device;
use prompt_eval::{EvalReport, EvalSpec, score};
use prompt_train::Override;

pub fn run(
    artifact: &Path,
    config: Option<&Path>,
    data: Option<&Path>,
    limit: Option<usize>,
    zero_shot: bool,
    overrides: &[String],
    json: bool,
    device: &Device,
) -> Result<()> {
    let overrides = overrides
        .iter()
        .map(|o| Override::parse(o))
        .collect::<Result<Vec<_>, _>>()?;
    let mut spec = EvalSpec::for_artifact(artifact, config, data, zero_shot, &overrides)?;
    spec.limit = limit;
    let report =
        score(&spec, device).with_context(|| format!("cannot evaluate {}", artifact.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(report: &EvalReport) {
    println!("data      {}", report.data.display());
    println!(
        "prompt    {} ({} tokens)",
        report.prompt, report.prompt_tokens
    );
    println!("template  {:?}", report.template);
    if report.skipped_rows > 0 {
        println!("skipped   {} malformed rows", report.skipped_rows);
    }
    println!(
        "loss      {:.4}  ({:.1} s, {:.1} examples/s)\n",
        report.loss,
        report.seconds,
        report.metrics.examples as f64 / report.seconds.max(1e-9)
    );
    print!("{}", report.metrics.table());
}
