//! `cargo xtask …`: the project's command line (fetching assets, training, evaluation, checks).

mod bench;
mod bench_predict;
mod check_reference;
mod device;
mod eval;
mod fetch;
mod load_test;
mod predict;
mod regress;
mod serve;
mod sweep;
mod tasks;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use device::{DeviceChoice, Precision};
use prompt_data::error_chain;
use prompt_model::PromptPlacement;
use prompt_model::reference::{Tolerance, Tolerances};
use prompt_train::{BenchOptions, Override};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Soft-prompt tuning of frozen language models"
)]
struct Cli {
    /// Where to compute: `cpu`; `cuda` (GPU 0) or `libtorch-cpu` through LibTorch, which need
    /// the `tch` build.
    #[arg(long, global = true, value_enum, default_value_t = DeviceChoice::Cpu)]
    device: DeviceChoice,
    /// Float type of the frozen backbone: `f32`; `bf16` (prompt, scores, loss and optimizer
    /// stay f32); `f64` (everything in double precision).
    #[arg(long, global = true, value_enum, default_value_t = Precision::F32)]
    dtype: Precision,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Download a model into the model cache or a dataset into the data root.
    Fetch {
        /// `smollm2-135m-instruct` (the default model) or `sst2` (GLUE SST-2).
        what: String,
    },
    /// Train a soft prompt as a config describes (see configs/sst2.toml).
    Train {
        /// The experiment's TOML file.
        config: PathBuf,
        /// Continue from the newest intact checkpoint in the output folder.
        #[arg(long)]
        resume: bool,
        /// Override a config value, e.g. `--set prompt.length=100` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
        overrides: Vec<Override>,
    },
    /// Score a run's best prompt, a prompt folder (ours or PEFT's), or the template alone on a
    /// data file: accuracy, macro-F1, per-class precision/recall and the confusion matrix.
    Eval(eval::EvalArgs),
    /// Classify new text with trained prompts: each --artifact is a task, --ensemble several
    /// prompts of one task; one loaded model serves them all in shared batches.
    Predict(predict::PredictArgs),
    /// Serve task prompts over HTTP: one loaded model, many tasks, batching across requests
    /// and tasks (POST /v1/classify, GET /v1/tasks, /healthz, /metrics).
    Serve(serve::ServeArgs),
    /// Load-test the server on loopback: N concurrent clients over every task, each answer
    /// checked against the offline predictor; throughput and p50/p99 latency per batch limit.
    LoadTest(load_test::LoadTestArgs),
    /// Train and evaluate every cell of a prompt-length × init × seed grid (resumable), then
    /// write results.jsonl, a markdown table and the plot (see configs/sst2_sweep.toml).
    Sweep {
        /// The sweep's TOML file.
        config: PathBuf,
    },
    /// Accuracy regression check: a committed prompt and a short training run against a
    /// committed baseline (see configs/sst2_ci.toml); exits non-zero on a regression.
    Regress {
        /// The regression config.
        config: PathBuf,
        /// Measure and write the baseline file instead of checking against it.
        #[arg(long)]
        write_baseline: bool,
        /// Override a value of both checks' experiment configs, e.g. `--set threads=1`.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
        overrides: Vec<Override>,
    },
    /// Measure training and evaluation examples/s of an experiment on its own model and data.
    Bench {
        /// The experiment's TOML file.
        config: PathBuf,
        /// Timed training steps (after two untimed warm-up steps).
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Dev examples in the timed evaluation.
        #[arg(long, default_value_t = 256)]
        eval_examples: usize,
        /// Copy the prompt in front of every row instead of sharing its keys and values (to
        /// measure what sharing saves).
        #[arg(long)]
        every_row: bool,
        /// Time inputs of exactly N random tokens instead of the config's data files.
        #[arg(long, value_name = "N")]
        synthetic_length: Option<usize>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Override a config value, e.g. `--set train.batch_size=16` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
        overrides: Vec<Override>,
    },
    /// Time prediction: three tasks mixed in shared batches against one after another, and a
    /// prompt computed once against once per batch (k = 20, 100).
    BenchPredict(bench_predict::BenchPredictArgs),
    /// Compare a model with a reference file of HF transformers outputs (the format of
    /// `../shared/fixtures/*_reference.json`).
    CheckReference {
        /// The reference JSON file.
        reference: PathBuf,
        /// The model: a GGUF file or an HF directory (default: the cached SmolLM2).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Largest accepted absolute difference.
        #[arg(long, default_value_t = 1e-3)]
        abs: f64,
        /// Largest accepted relative difference.
        #[arg(long, default_value_t = 1e-4)]
        rel: f64,
        /// Largest accepted absolute difference of prompt gradients (default: --abs).
        #[arg(long)]
        grad_abs: Option<f64>,
        /// Largest accepted relative difference of prompt gradients (default: --rel).
        #[arg(long)]
        grad_rel: Option<f64>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command, cli.device, cli.dtype) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, outermost context first; causes the outer messages already quote are
            // left out (anyhow's own report would repeat them).
            eprintln!("error: {}", error_chain(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, device: DeviceChoice, precision: Precision) -> Result<()> {
    let mut device = device.device()?;
    precision.apply(&mut device)?;
    let precision = precision
        .to_possible_value()
        .expect("no variant is skipped");
    let precision = precision.get_name();
    match command {
        Command::Fetch { what } => fetch::run(&what),
        Command::Train {
            config,
            resume,
            overrides,
        } => train::run(&config, resume, &overrides, device),
        Command::Eval(args) => eval::run(&args, &device),
        Command::Predict(args) => predict::run(&args, &device),
        Command::Serve(args) => serve::run(&args, &device),
        Command::LoadTest(args) => load_test::run(&args, &device),
        Command::BenchPredict(args) => bench_predict::run(&args, &device),
        Command::Sweep { config } => sweep::run(&config, &device),
        Command::Regress {
            config,
            write_baseline,
            overrides,
        } => regress::run(&config, write_baseline, &overrides, &device),
        Command::Bench {
            config,
            steps,
            eval_examples,
            every_row,
            synthetic_length,
            json,
            overrides,
        } => bench::run(
            &config,
            &overrides,
            &BenchOptions {
                train_steps: steps,
                eval_examples,
                placement: if every_row {
                    PromptPlacement::EveryRow
                } else {
                    PromptPlacement::SharedPrefix
                },
                device,
                synthetic_length,
                ..BenchOptions::default()
            },
            json,
        ),
        Command::CheckReference {
            reference,
            model,
            abs,
            rel,
            grad_abs,
            grad_rel,
        } => check_reference::run(
            device,
            precision,
            &reference,
            model.as_deref(),
            Tolerances {
                values: Tolerance { abs, rel },
                gradients: Tolerance {
                    abs: grad_abs.unwrap_or(abs),
                    rel: grad_rel.unwrap_or(rel),
                },
            },
        ),
    }
}
