//! `cargo xtask …`: the project's command line (fetching assets, training, evaluation, checks).

mod check_reference;
mod fetch;
mod train;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use prompt_model::reference::Tolerance;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Soft-prompt tuning of frozen language models"
)]
struct Cli {
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
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
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
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Fetch { what } => fetch::run(&what),
        Command::Train {
            config,
            resume,
            overrides,
        } => train::run(&config, resume, &overrides),
        Command::CheckReference {
            reference,
            model,
            abs,
            rel,
        } => check_reference::run(&reference, model.as_deref(), Tolerance { abs, rel }),
    }
}
