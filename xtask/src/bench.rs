//! `cargo xtask bench CONFIG [--steps N] [--eval-examples N] [--set key=value]…`: training and
//! evaluation throughput of an experiment on its own model and data.

use std::path::Path;

use anyhow::{Context, Result};
use prompt_train::{BenchOptions, ExperimentConfig, Override, bench};

use crate::train::load_config;

pub fn run(
    config_path: &Path,
    overrides: &[Override],
    options: &BenchOptions,
    json: bool,
) -> Result<()> {
    let config = load_config(config_path, overrides)?;
    let report = bench(&config, options)
        .with_context(|| format!("cannot benchmark {}", config_path.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    print_table(&config, &report);
    Ok(())
}

fn print_table(config: &ExperimentConfig, report: &prompt_train::BenchReport) {
    println!(
        "{} | prompt {} tokens ({:?}) | {} | {} thread(s)",
        config.model.resolved_path().display(),
        report.prompt_len,
        report.placement,
        if report.synthetic {
            "random tokens"
        } else {
            "the config's data"
        },
        rayon_threads(config.threads)
    );
    println!(
        "f32 matmul rate at the model's shapes: {:.1} GFLOP/s; {:.1} M matmul weights per token",
        report.matmul_gflops,
        report.matmul_weights as f64 / 1e6
    );
    println!(
        "{:<10} {:>6} {:>9} {:>12} {:>9} {:>12} {:>9} {:>8}",
        "phase", "batch", "examples", "mean tokens", "seconds", "examples/s", "GFLOP/s", "of peak"
    );
    let phases = [
        (
            "train",
            report.batch_size,
            report.train_examples,
            report.train_mean_tokens,
            report.train_seconds,
            report.train_examples_per_s,
            report.train_gflops,
        ),
        (
            "eval",
            report.eval_batch_size,
            report.eval_examples,
            report.eval_mean_tokens,
            report.eval_seconds,
            report.eval_examples_per_s,
            report.eval_gflops,
        ),
    ];
    for (phase, batch, examples, tokens, seconds, per_s, gflops) in phases {
        println!(
            "{phase:<10} {batch:>6} {examples:>9} {tokens:>12.1} {seconds:>9.1} {per_s:>12.2} \
             {gflops:>9.1} {:>7.0}%",
            100.0 * gflops / report.matmul_gflops
        );
    }
}

fn rayon_threads(configured: usize) -> usize {
    if configured == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        configured
    }
}
