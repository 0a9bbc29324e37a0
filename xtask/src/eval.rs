//! `cargo xtask eval --artifact DIR [--config CONFIG] [--data FILE] [--zero-shot] [--set k=v]…
//! [--json]`: scores a run's best prompt, a prompt folder, or the template alone on a data file
//! and prints the metrics.

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::tensor::Device;
use prompt_eval::predict::Vote;
use prompt_eval::{EvalReport, EvalSpec, score, score_ensemble};
use prompt_train::Override;

use crate::fetch;

#[derive(clap::Args)]
pub struct EvalArgs {
    /// A run folder `cargo xtask train` wrote (its config.toml and best/), or a prompt folder
    /// (adapter_config.json + adapter_model.safetensors [+ prompt_task.json]). A prompt folder
    /// with prompt_task.json brings its template, verbalizer and model and needs only --data;
    /// one without it (as PEFT writes) needs --config.
    #[arg(long, required_unless_present = "ensemble")]
    artifact: Option<PathBuf>,
    /// Score several prompts of one task (run or prompt folders, e.g. a sweep's seeds) as an
    /// ensemble in one batched pass: each member's accuracy, loss and macro-F1, then the
    /// ensemble's full report.
    #[arg(long, value_name = "DIR", num_args = 2.., conflicts_with_all = ["artifact", "zero_shot"])]
    ensemble: Vec<PathBuf>,
    /// How the ensemble decides: `majority` (the paper's rule) or `mean` (mean probability).
    #[arg(long, value_parser = crate::predict::parse_vote, default_value = "majority")]
    vote: Vote,
    /// The experiment config that names the data, its columns and the model (and, for a prompt
    /// folder without prompt_task.json, the template and verbalizer); default for a run
    /// folder: its own config.toml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The data file (TSV, CSV or JSONL); default: the config's dev split. Without --config
    /// its columns are the template's fields, `label`, and the label words as class names
    /// (labels may be those names or class indices); `--set data.columns.label_field=…` etc.
    /// change them.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Score only the first N examples.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Score the template alone, without the prompt (k = 0).
    #[arg(long)]
    zero_shot: bool,
    /// Override a config value, e.g. `--set 'template=Review: {sentence}{mask}'`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
    overrides: Vec<Override>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &EvalArgs, device: &Device) -> Result<()> {
    let Some(artifact) = &args.artifact else {
        return run_ensemble(args, device);
    };
    let mut spec = EvalSpec::for_artifact(
        artifact,
        args.config.as_deref(),
        args.data.as_deref(),
        args.zero_shot,
        &args.overrides,
    )?;
    fetch::ensure_model(&spec.config.model.resolved_path())?;
    spec.limit = args.limit;
    let report =
        score(&spec, device).with_context(|| format!("cannot evaluate {}", artifact.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn run_ensemble(args: &EvalArgs, device: &Device) -> Result<()> {
    let spec = EvalSpec::for_artifact(
        &args.ensemble[0],
        args.config.as_deref(),
        args.data.as_deref(),
        false,
        &args.overrides,
    )?;
    fetch::ensure_model(&spec.config.model.resolved_path())?;
    let report = score_ensemble(
        &args.ensemble,
        args.config.as_deref(),
        args.data.as_deref(),
        &args.overrides,
        args.vote,
        args.limit,
        device,
    )
    .context("cannot evaluate the ensemble")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("member                                      accuracy  macro-F1     loss");
    for member in report.members.iter().chain([&report.ensemble]) {
        println!(
            "{:42}  {:7.2}%  {:7.2}%  {:.4}",
            member.prompt,
            100.0 * member.metrics.accuracy,
            100.0 * member.metrics.macro_f1,
            member.loss
        );
    }
    println!();
    print_report(&report.ensemble);
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
