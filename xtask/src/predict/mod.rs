//! `cargo xtask predict --artifact DIR [--artifact DIR]… [--ensemble DIR DIR…] [TEXT]…`:
//! classifies new text with trained prompts. One backbone is loaded; every input is classified
//! by each artifact (and by the ensemble), all of them in shared, length-sorted batches.

mod input;
mod output;

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};
use prompt_data::Truncation;
use prompt_eval::predict::{Predictor, Row, TaskInfo, TaskSpec, Vote};
use prompt_train::memory::{check_all, eval_shape};
use prompt_train::{Override, on_threads};

use crate::tasks::{LoadedTasks, load_tasks};
use input::Numbered;
use output::Answer;

#[derive(clap::Args)]
pub struct PredictArgs {
    /// A prompt folder or a run folder (repeatable). Each is a task of its own, named after
    /// its folder; every input is classified by each, in shared batches.
    #[arg(long, value_name = "DIR")]
    artifact: Vec<PathBuf>,
    /// Prompt or run folders trained for one task (2 or more), scored in one batched pass and
    /// combined by --vote; each member's prediction is reported too.
    #[arg(long, value_name = "DIR", num_args = 2..)]
    ensemble: Vec<PathBuf>,
    /// How an ensemble decides: `majority` (each prompt votes its class; ties go to the higher
    /// mean probability) or `mean` (the highest mean probability).
    #[arg(long, value_parser = parse_vote, default_value = "majority")]
    vote: Vote,
    /// The experiment config for prompt folders without prompt_task.json (as PEFT writes).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Read the inputs from a TSV, CSV or JSONL file with a column for each template field
    /// (e.g. `sentence`); other columns, a label among them, are ignored.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Print one JSON object per line instead of the table.
    #[arg(long)]
    json: bool,
    /// Write the answers to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Override a config value of every task, e.g. `--set data.max_tokens=128`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
    overrides: Vec<Override>,
    /// Texts to classify; without them, --input or standard input (one text per line).
    texts: Vec<String>,
}

pub fn parse_vote(value: &str) -> Result<Vote, String> {
    match value {
        "majority" => Ok(Vote::Majority),
        "mean" => Ok(Vote::MeanProbability),
        other => Err(format!("`{other}` is not a vote: use `majority` or `mean`")),
    }
}

pub fn run(args: &PredictArgs, device: &Device) -> Result<()> {
    let specs = task_specs(args)?;
    let LoadedTasks {
        predictor,
        infos: tasks,
        threads,
    } = load_tasks(&specs, device)?;
    on_threads(threads, || -> Result<()> {
        let inputs = read_inputs(args, &tasks)?;
        let rows = encode(&predictor, &inputs, &tasks)?;
        // Rows per forward pass: the first task's `train.eval_batch_size` (`--set` changes it).
        let batch_size = predictor
            .batch_size_of(&tasks[0].name)
            .expect("the first task is registered");
        check_memory(&predictor, &rows, &tasks, batch_size)?;
        let model_rows: usize = rows.iter().map(|(_, row)| members(row, &tasks)).sum();
        let bar = progress(model_rows, batch_size);
        let predictions = predictor.score(
            &rows.iter().map(|(_, row)| row.clone()).collect::<Vec<_>>(),
            batch_size,
            |n| bar.inc(n as u64),
        );
        bar.finish_and_clear();
        let answers: Vec<Answer> = rows
            .iter()
            .zip(&predictions)
            .map(|(&(number, ref row), prediction)| Answer {
                number: number + 1,
                input: &inputs[number],
                task: tasks
                    .iter()
                    .find(|t| t.name == row.task_name())
                    .expect("every row's task is registered"),
                prediction,
            })
            .collect();
        write_answers(args, &answers)
    })
}

/// The tasks to register: each `--artifact` alone, then the `--ensemble` as one task.
fn task_specs(args: &PredictArgs) -> Result<Vec<(String, TaskSpec)>> {
    if args.artifact.is_empty() && args.ensemble.is_empty() {
        bail!(
            "name the prompts to predict with: --artifact DIR (e.g. baselines/sst2-k20) or --ensemble DIR DIR…"
        );
    }
    let spec = |artifacts: Vec<PathBuf>| TaskSpec {
        artifacts,
        config: args.config.clone(),
        overrides: args.overrides.clone(),
        vote: args.vote,
        ..TaskSpec::default()
    };
    let mut specs: Vec<(String, TaskSpec)> = Vec::new();
    for artifact in &args.artifact {
        let mut name = task_name(artifact);
        if specs.iter().any(|(n, _)| *n == name) {
            name = format!("{name}-{}", specs.len() + 1);
        }
        specs.push((name, spec(vec![artifact.clone()])));
    }
    if !args.ensemble.is_empty() {
        specs.push(("ensemble".to_string(), spec(args.ensemble.clone())));
    }
    Ok(specs)
}

/// A task's name: its folder's name (a run's `best/` is named after the run).
fn task_name(artifact: &Path) -> String {
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    match name(artifact).as_deref() {
        Some("best") | None => artifact
            .canonicalize()
            .ok()
            .and_then(|p| p.parent().and_then(name))
            .unwrap_or_else(|| "task".to_string()),
        Some(other) => other.to_string(),
    }
}

fn read_inputs(args: &PredictArgs, tasks: &[TaskInfo]) -> Result<Vec<Numbered>> {
    match (&args.input, args.texts.is_empty()) {
        (Some(_), false) => bail!("give the texts either as arguments or with --input, not both"),
        (Some(path), true) => {
            let fields: Vec<Vec<String>> = tasks.iter().map(|t| t.fields.clone()).collect();
            input::from_file(path, &input::fields_of_all(&fields))
        }
        (None, false) => input::from_arguments(&args.texts),
        (None, true) => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("reading texts from standard input, one per line (end with Ctrl-D)");
            }
            input::from_lines(stdin.lock(), "stdin")
        }
    }
}

/// Encodes every input for every task, in input order; inputs that had to be shortened are
/// reported (as training shortens them).
fn encode(
    predictor: &Predictor,
    inputs: &[Numbered],
    tasks: &[TaskInfo],
) -> Result<Vec<(usize, Row)>> {
    let mut rows = Vec::with_capacity(inputs.len() * tasks.len());
    for (number, input) in inputs.iter().enumerate() {
        for task in tasks {
            let row = predictor
                .prepare(&task.name, &input.input)
                .with_context(|| input.origin.clone())?;
            if let Some(cut) = row.truncation() {
                eprintln!("{}", shortened(&input.origin, &task.name, &cut));
            }
            rows.push((number, row));
        }
    }
    Ok(rows)
}

/// Model rows of `row`: one per prompt of its task.
fn members(row: &Row, tasks: &[TaskInfo]) -> usize {
    tasks
        .iter()
        .find(|t| t.name == row.task_name())
        .map_or(1, |t| t.prompts.len())
}

/// Refuses a batch size whose forward pass would not fit in memory.
fn check_memory(
    predictor: &Predictor,
    rows: &[(usize, Row)],
    tasks: &[TaskInfo],
    batch_size: usize,
) -> Result<()> {
    let encoded: Vec<_> = rows.iter().map(|(_, row)| row.encoded().clone()).collect();
    let prompt = tasks
        .iter()
        .flat_map(|t| t.prompt_tokens.iter().copied())
        .max()
        .unwrap_or(0);
    let shape = eval_shape(&encoded, batch_size, prompt);
    check_all(&predictor.model().backbone, &[shape], None)?;
    Ok(())
}

/// A progress bar on standard error for inputs that take more than one batch.
fn progress(model_rows: usize, batch_size: usize) -> ProgressBar {
    if model_rows <= batch_size {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(model_rows as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows, {per_sec}, {eta} left")
            .expect("the template is valid"),
    );
    bar
}

fn write_answers(args: &PredictArgs, answers: &[Answer]) -> Result<()> {
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    if args.json {
        output::write_json(&mut out, answers)?;
    } else {
        output::write_table(&mut out, answers)?;
    }
    out.flush()?;
    if let Some(path) = &args.output {
        eprintln!("{} answers written to {}", answers.len(), path.display());
    }
    Ok(())
}

/// The warning for an input longer than its task allows.
fn shortened(origin: &str, task: &str, cut: &Truncation) -> String {
    format!(
        "{origin}: the text is {} tokens, more than task `{task}` allows ({}); it was shortened \
         to fit, as in training",
        cut.tokens, cut.kept
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shortened_input_is_reported_with_its_origin_and_both_lengths() {
        let cut = Truncation {
            tokens: 23,
            kept: 12,
        };
        assert_eq!(
            shortened("argument 1", "sst2-k20", &cut),
            "argument 1: the text is 23 tokens, more than task `sst2-k20` allows (12); it was \
             shortened to fit, as in training"
        );
    }
}
