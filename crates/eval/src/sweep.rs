//! Prompt-length × init × seed sweeps (the paper's Figure 3 ablation): every cell is a normal
//! training run of a base config in its own folder; finished cells are skipped, interrupted
//! ones resume; the results become `results.jsonl`, a markdown table and a plot.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use prompt_model::{
    Backbone, LoadedModel, PromptPlacement, PromptTuned, SoftPrompt, SoftPromptInit,
};
use prompt_train::artifacts::RunDir;
use prompt_train::checkpoint::CheckpointDir;
use prompt_train::{
    Engine, ExperimentConfig, Override, PreparedTask, TrainError, TrainOptions, on_threads,
    prepare_task, train_prompt,
};
use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::report::{CellResult, draw_plot, find_font, markdown_table};

/// A sweep: the base experiment, its overrides, and the grid.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// The base experiment config.
    pub base: PathBuf,
    /// Overrides applied to every cell (`key=value`), e.g. a shorter schedule.
    #[serde(default)]
    pub set: Vec<String>,
    /// Folder of the sweep: one sub-folder per cell plus the reports.
    pub output: PathBuf,
    /// Prompt lengths `k`.
    pub lengths: Vec<usize>,
    /// Inits, as the config's `prompt.init` takes them (`{ kind = "class_label" }`, ...).
    pub inits: Vec<SoftPromptInit>,
    /// Seeds; each cell is run once per seed.
    pub seeds: Vec<u64>,
    /// Title of the plot.
    #[serde(default = "default_title")]
    pub title: String,
}

fn default_title() -> String {
    "Prompt length and initialisation".to_string()
}

/// One cell of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Init.
    pub init: SoftPromptInit,
    /// Prompt length.
    pub length: usize,
    /// Seed.
    pub seed: u64,
}

impl Cell {
    /// The cell's folder name, e.g. `class_label-k20-s0`.
    pub fn name(&self) -> String {
        format!("{}-k{}-s{}", self.init.name(), self.length, self.seed)
    }
}

/// Files a finished sweep wrote.
#[derive(Debug, Clone, Serialize)]
pub struct SweepOutputs {
    /// One JSON line per cell, then the zero-shot line.
    pub results: PathBuf,
    /// The markdown table.
    pub table: PathBuf,
    /// The plot.
    pub svg: PathBuf,
    /// The plot as PNG.
    pub png: PathBuf,
}

/// The zero-shot line of `results.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ZeroShot {
    init: String,
    length: usize,
    accuracy: f64,
    examples: usize,
}

const CELL_RESULT: &str = "result.json";
const ZERO_SHOT: &str = "zero_shot.json";

impl SweepConfig {
    /// Reads a sweep config (TOML).
    pub fn load(path: &Path) -> Result<Self, EvalError> {
        let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let config: Self = toml::from_str(&text).map_err(|e| EvalError::Format {
            path: path.to_path_buf(),
            what: "sweep config",
            reason: e.to_string(),
        })?;
        if config.lengths.is_empty() || config.inits.is_empty() || config.seeds.is_empty() {
            return Err(EvalError::Format {
                path: path.to_path_buf(),
                what: "sweep config",
                reason: "`lengths`, `inits` and `seeds` each need at least one value".to_string(),
            });
        }
        Ok(config)
    }

    /// Every cell, init-major.
    pub fn cells(&self) -> Vec<Cell> {
        let mut cells = vec![];
        for init in &self.inits {
            for &length in &self.lengths {
                for &seed in &self.seeds {
                    cells.push(Cell {
                        init: init.clone(),
                        length,
                        seed,
                    });
                }
            }
        }
        cells
    }

    /// The experiment config of `cell`: the base, the sweep's overrides, then the cell's
    /// length, init, seed and folder.
    pub fn cell_config(&self, cell: &Cell) -> Result<ExperimentConfig, EvalError> {
        let folder = self.output.join(cell.name());
        let cell_overrides = [
            format!("prompt.length={}", cell.length),
            format!("seed={}", cell.seed),
            format!("output=\"{}\"", folder.display()),
        ];
        let overrides = Override::parse_all(self.set.iter().chain(&cell_overrides))?;
        let mut config = ExperimentConfig::load(&self.base, &overrides)?;
        config.prompt.init = cell.init.clone();
        config.validate()?;
        Ok(config)
    }
}

/// Runs every unfinished cell (resuming interrupted ones), scores the zero-shot baseline, and
/// writes the reports. The backbone is loaded once for the whole sweep.
pub fn run_sweep(config: &SweepConfig, device: &Device) -> Result<SweepOutputs, EvalError> {
    let cells = config.cells();
    let configs = cells
        .iter()
        .map(|c| config.cell_config(c))
        .collect::<Result<Vec<_>, _>>()?;
    let first = &configs[0];
    std::fs::create_dir_all(&config.output).map_err(|source| EvalError::Io {
        path: config.output.clone(),
        source,
    })?;
    let (results, zero) = on_threads(first.threads, || {
        let model = prompt_model::load(&first.model.resolved_path(), &device.clone().autodiff())?;
        run_cells(config, &cells, &configs, model, device)
    })?;
    write_reports(config, &results, &zero)
}

/// Trains every unfinished cell on the loaded `model`, then scores the template alone.
fn run_cells(
    sweep: &SweepConfig,
    cells: &[Cell],
    configs: &[ExperimentConfig],
    model: LoadedModel,
    device: &Device,
) -> Result<(Vec<CellResult>, ZeroShot), EvalError> {
    // Encodings depend on the prompt length only (the room left for the text).
    let mut tasks: HashMap<usize, PreparedTask> = HashMap::new();
    let mut results = vec![];
    for (i, (cell, config)) in cells.iter().zip(configs).enumerate() {
        let folder = RunDir::new(&config.output);
        let result_path = folder.root().join(CELL_RESULT);
        if let Some(done) = read_json::<CellResult>(&result_path) {
            println!("[{}/{}] {}: done before", i + 1, cells.len(), cell.name());
            results.push(done);
            continue;
        }
        println!("[{}/{}] {}", i + 1, cells.len(), cell.name());
        let task = encoded(&mut tasks, config, &model)?;
        let resume = !CheckpointDir::new(folder.checkpoints(), 1)
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
        let result = CellResult {
            init: cell.init.name().to_string(),
            length: cell.length,
            seed: cell.seed,
            best_accuracy: best.accuracy,
            best_step: best.step,
            final_accuracy: summary.last_dev.map(|d| d.accuracy),
            steps: summary.steps,
            seconds: summary.seconds,
        };
        write_json(&result_path, &result)?;
        results.push(result);
    }

    let zero_path = sweep.output.join(ZERO_SHOT);
    if let Some(zero) = read_json::<ZeroShot>(&zero_path) {
        return Ok((results, zero));
    }
    // The template alone on the same dev examples as the cells.
    let task = encoded(&mut tasks, &configs[0], &model)?;
    let train_device = device.clone().autodiff();
    let empty = SoftPrompt::from_tensor(Tensor::zeros(
        [0, model.backbone.hidden_size()],
        &train_device,
    ));
    let engine = Engine::new(
        &model.backbone,
        &task.verbalizer,
        task.pad_id,
        configs[0].kernels,
        PromptPlacement::default(),
        device,
    );
    let model = PromptTuned::new(model.backbone, empty)?;
    let dev = engine.evaluate(&model, &task.dev, configs[0].train.eval_batch_size);
    let zero = ZeroShot {
        init: "zero_shot".to_string(),
        length: 0,
        accuracy: dev.accuracy,
        examples: dev.examples,
    };
    write_json(&zero_path, &zero)?;
    Ok((results, zero))
}

/// The encoded task of `config`, from `tasks` when its prompt length was encoded before.
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

fn write_reports(
    config: &SweepConfig,
    results: &[CellResult],
    zero: &ZeroShot,
) -> Result<SweepOutputs, EvalError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EvalError::Io { path, source }
    };
    let results_path = config.output.join("results.jsonl");
    let mut lines = String::new();
    for r in results {
        lines += &serde_json::to_string(r).expect("plain data");
        lines += "\n";
    }
    lines += &serde_json::to_string(zero).expect("plain data");
    lines += "\n";
    std::fs::write(&results_path, lines).map_err(io(&results_path))?;

    let table_path = config.output.join("results.md");
    let table = markdown_table(results, Some(zero.accuracy));
    std::fs::write(&table_path, table).map_err(io(&table_path))?;

    let font = find_font().ok_or_else(|| EvalError::Format {
        path: PathBuf::from("/usr/share/fonts"),
        what: "font folder",
        reason: "no DejaVu or Liberation Sans font for the PNG plot; install fonts-dejavu-core"
            .to_string(),
    })?;
    let (svg, png) = draw_plot(
        results,
        Some(zero.accuracy),
        &config.title,
        &config.output.join("figure"),
        &font,
    )?;
    Ok(SweepOutputs {
        results: results_path,
        table: table_path,
        svg,
        png,
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).expect("plain data");
    // Atomic: a sweep killed mid-write must not leave a cell that looks finished but is not.
    prompt_train::durable::write_atomic(path, (text + "\n").as_bytes()).map_err(|source| {
        TrainError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep() -> SweepConfig {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/sst2_sweep.toml");
        SweepConfig::load(&path).unwrap()
    }

    #[test]
    fn the_project_sweep_covers_the_papers_grid() {
        let s = sweep();
        assert_eq!(s.lengths, [1, 5, 20, 100, 150]);
        let names: Vec<&str> = s.inits.iter().map(SoftPromptInit::name).collect();
        assert_eq!(names, ["random_uniform", "sampled_vocab", "class_label"]);
        assert_eq!(s.cells().len(), 15 * s.seeds.len());
    }

    #[test]
    fn an_empty_grid_axis_is_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.toml");
        let text = "base = \"b.toml\"\noutput = \"o\"\nlengths = []\n\
                    inits = [{ kind = \"class_label\" }]\nseeds = [0]\n";
        std::fs::write(&path, text).unwrap();
        let err = SweepConfig::load(&path).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{} is not a valid sweep config: `lengths`, `inits` and `seeds` each need at \
                 least one value",
                path.display()
            )
        );
    }

    #[test]
    fn a_cell_config_is_the_base_with_the_cells_values() {
        let mut s = sweep();
        s.base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/sst2.toml");
        let cell = Cell {
            init: SoftPromptInit::RandomUniform { range: 0.5 },
            length: 5,
            seed: 2,
        };
        let config = s.cell_config(&cell).unwrap();
        assert_eq!(config.prompt.length, 5);
        assert_eq!(config.prompt.init.name(), "random_uniform");
        assert_eq!(config.seed, 2);
        assert_eq!(config.output, s.output.join("random_uniform-k5-s2"));
    }
}
