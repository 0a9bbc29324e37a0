//! Running a sweep: the zero-shot baseline, then every cell not yet recorded (resuming an
//! interrupted run from its checkpoints), then the ensembles; the report and figures are
//! rewritten after every cell, so they always show what has finished.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use prompt_model::{Backbone, LoadedModel, PromptPlacement, PromptTuned, SoftPrompt};
use prompt_train::artifacts::RunDir;
use prompt_train::checkpoint::CheckpointDir;
use prompt_train::metrics::{Split, read_metrics};
use prompt_train::{
    Engine, ExperimentConfig, PreparedTask, TrainError, TrainOptions, on_threads, prepare_task,
    train_prompt,
};
use serde::Serialize;

use super::{Cell, ResultsDir, SweepConfig};
use crate::ensemble::score_ensemble;
use crate::error::EvalError;
use crate::predict::Vote;
use crate::report::{
    CellResult, CurvePoint, EnsembleResult, Figures, ZeroShot, draw_figures, find_font,
    markdown_report,
};

/// What a sweep wrote into its results folder.
#[derive(Debug, Clone, Serialize)]
pub struct SweepOutputs {
    /// The markdown report.
    pub report: PathBuf,
    /// The figures' files.
    #[serde(skip)]
    pub figures: Figures,
    /// Cells recorded, of all in the grid.
    pub finished: usize,
    /// Cells in the grid.
    pub cells: usize,
}

/// Runs what the results folder does not yet hold: the zero-shot score, each cell (resuming
/// its run when interrupted), each ensemble; then writes the report and figures. The backbone
/// is loaded once, and only when something needs training or scoring.
pub fn run_sweep(sweep: &SweepConfig, device: &Device) -> Result<SweepOutputs, EvalError> {
    let results = ResultsDir::new(&sweep.results);
    let cells = sweep.cells();
    let configs = cells
        .iter()
        .map(|c| sweep.cell_config(c))
        .collect::<Result<Vec<_>, _>>()?;
    let mut todo = vec![];
    for (cell, config) in cells.iter().zip(&configs) {
        if results.cell(&cell.name())?.is_none() {
            todo.push((cell, config));
        }
    }
    let first = &configs[0];
    if !todo.is_empty() || results.zero_shot()?.is_none() {
        on_threads(first.threads, || {
            let train_device = device.clone().autodiff();
            let model = prompt_model::load(&first.model.resolved_path(), &train_device)?;
            let mut tasks = HashMap::new();
            if results.zero_shot()?.is_none() {
                let task = encoded(&mut tasks, first, &model)?;
                results.write_zero_shot(&zero_shot(&model, task, first, device)?)?;
            }
            for (done, (cell, config)) in todo.iter().enumerate() {
                println!(
                    "[{}/{}] {}",
                    cells.len() - todo.len() + done + 1,
                    cells.len(),
                    cell.name()
                );
                let task = encoded(&mut tasks, config, &model)?;
                let result = train_cell(cell, config, &model, task, device)?;
                if sweep.ensemble_lengths.contains(&cell.length) {
                    results.save_prompt(&cell.name(), &RunDir::new(&config.output).best())?;
                }
                results.write_cell(&cell.name(), &result)?;
                write_reports(sweep, &results)?;
            }
            Ok::<_, EvalError>(())
        })?;
    }
    score_ensembles(sweep, &results, device)?;
    write_reports(sweep, &results)
}

/// Trains one cell on the loaded `model`, resuming its run when it has checkpoints, and reads
/// its learning curve back from the run's metrics.
fn train_cell(
    cell: &Cell,
    config: &ExperimentConfig,
    model: &LoadedModel,
    task: &PreparedTask,
    device: &Device,
) -> Result<CellResult, EvalError> {
    let run = RunDir::new(&config.output);
    let resume = !CheckpointDir::new(run.checkpoints(), 1)
        .steps()
        .map_err(TrainError::from)?
        .is_empty();
    device.seed(config.seed);
    let prompt = task.initial_prompt(
        config,
        &model.backbone,
        &model.tokenizer,
        &device.clone().autodiff(),
    )?;
    let options = TrainOptions {
        resume,
        device: device.clone(),
        ..TrainOptions::default()
    };
    let summary = train_prompt(model.backbone.clone(), prompt, task, config, &options)?;
    let best = summary
        .best
        .expect("a finished run has evaluated at least once");
    let metrics = run.metrics();
    let curve = read_metrics(&metrics)
        .map_err(|source| TrainError::Io {
            path: metrics.clone(),
            source,
        })?
        .into_iter()
        .filter(|r| r.split == Split::Dev)
        .map(|r| CurvePoint {
            step: r.step,
            accuracy: r.accuracy,
            loss: r.loss,
        })
        .collect();
    Ok(CellResult {
        init: cell.init.name().to_string(),
        length: cell.length,
        seed: cell.seed,
        steps: summary.steps,
        seconds: summary.seconds,
        best: CurvePoint {
            step: best.step,
            accuracy: best.accuracy,
            loss: best.loss,
        },
        curve,
    })
}

/// The template alone on the cells' dev examples.
fn zero_shot(
    model: &LoadedModel,
    task: &PreparedTask,
    config: &ExperimentConfig,
    device: &Device,
) -> Result<ZeroShot, EvalError> {
    let train_device = device.clone().autodiff();
    let hidden = model.backbone.hidden_size();
    let empty = SoftPrompt::from_tensor(Tensor::zeros([0, hidden], &train_device));
    let engine = Engine::new(
        &model.backbone,
        &task.verbalizer,
        task.pad_id,
        config.kernels,
        PromptPlacement::default(),
        device,
    );
    let tuned = PromptTuned::new(model.backbone.clone(), empty)?;
    let dev = engine.evaluate(&tuned, &task.dev, config.train.eval_batch_size);
    Ok(ZeroShot {
        accuracy: dev.accuracy,
        examples: dev.examples,
    })
}

/// Scores each ensemble whose seeds have all finished and that is not yet recorded: the
/// seeds' best prompts of one init and length, on the cells' dev examples, by majority vote.
fn score_ensembles(
    sweep: &SweepConfig,
    results: &ResultsDir,
    device: &Device,
) -> Result<(), EvalError> {
    for init in &sweep.inits {
        for &length in &sweep.ensemble_lengths {
            if results.ensemble(init.name(), length)?.is_some() {
                continue;
            }
            let cells: Vec<Cell> = sweep
                .seeds
                .iter()
                .map(|&seed| Cell {
                    init: init.clone(),
                    length,
                    seed,
                })
                .collect();
            let prompts: Vec<PathBuf> = cells.iter().map(|c| results.prompt(&c.name())).collect();
            if !prompts.iter().all(|p| p.is_dir()) {
                continue;
            }
            let config = sweep.cell_config(&cells[0])?;
            let limit = (config.data.dev_examples > 0).then_some(config.data.dev_examples);
            let overrides = sweep.overrides(&cells[0])?;
            println!(
                "ensemble of {}-k{length}'s {} seeds",
                init.name(),
                cells.len()
            );
            let vote = Vote::default();
            let report = score_ensemble(
                &prompts,
                Some(&sweep.base),
                None,
                &overrides,
                vote,
                limit,
                device,
            )?;
            results.write_ensemble(&EnsembleResult {
                init: init.name().to_string(),
                length,
                seeds: sweep.seeds.clone(),
                vote: vote.to_string(),
                members: report.members.iter().map(|m| m.metrics.accuracy).collect(),
                accuracy: report.ensemble.metrics.accuracy,
            })?;
        }
    }
    Ok(())
}

/// The encoded task of `config`, from `tasks` when its prompt length was encoded before
/// (encodings depend on the prompt length only: the room left for the text).
fn encoded<'t>(
    tasks: &'t mut HashMap<usize, PreparedTask>,
    config: &ExperimentConfig,
    model: &LoadedModel,
) -> Result<&'t PreparedTask, TrainError> {
    Ok(match tasks.entry(config.prompt.length) {
        Entry::Occupied(entry) => entry.into_mut(),
        Entry::Vacant(slot) => slot.insert(prepare_task(config, model)?),
    })
}

/// Writes `report.md` and the figures from every recorded cell of the grid.
fn write_reports(sweep: &SweepConfig, results: &ResultsDir) -> Result<SweepOutputs, EvalError> {
    let cells = sweep.cells();
    let mut recorded = vec![];
    for cell in &cells {
        recorded.extend(results.cell(&cell.name())?);
    }
    let mut ensembles = vec![];
    for init in &sweep.inits {
        for &k in &sweep.ensemble_lengths {
            ensembles.extend(results.ensemble(init.name(), k)?);
        }
    }
    let zero = results.zero_shot()?;
    let report = results.root().join("report.md");
    let text = format!(
        "# {}\n\n{}",
        sweep.title,
        markdown_report(&recorded, &ensembles, zero)
    );
    super::record::write_file(&report, text.as_bytes())?;
    let font = find_font().ok_or_else(|| EvalError::Format {
        path: PathBuf::from("/usr/share/fonts"),
        what: "font folder",
        reason: "no DejaVu or Liberation Sans font for the PNG figures; install \
                 fonts-dejavu-core"
            .to_string(),
    })?;
    let figures = draw_figures(&recorded, zero, &sweep.title, results.root(), &font)?;
    Ok(SweepOutputs {
        report,
        figures,
        finished: recorded.len(),
        cells: cells.len(),
    })
}
