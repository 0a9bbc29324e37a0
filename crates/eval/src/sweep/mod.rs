//! Prompt-length × init × seed sweeps (the paper's Figure 3 ablation): every cell is a normal
//! training run of a base config in its own folder; each finished cell is recorded in a small
//! results folder meant to be committed, so a sweep resumes from those records on another
//! machine as well as from interrupted runs on this one; the records become a markdown report
//! and three figures.

use std::path::{Path, PathBuf};

use prompt_model::SoftPromptInit;
use prompt_train::{ExperimentConfig, Override};
use serde::Deserialize;

use crate::error::EvalError;

mod record;
mod run;

pub use record::ResultsDir;
pub use run::{SweepOutputs, run_sweep};

/// A sweep: the base experiment, its overrides, and the grid.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// The base experiment config.
    pub base: PathBuf,
    /// Overrides applied to every cell (`key=value`), e.g. a shorter schedule.
    #[serde(default)]
    pub set: Vec<String>,
    /// Folder of the training runs, one sub-folder per cell (checkpoints, metrics, best prompt).
    pub output: PathBuf,
    /// Folder of the results, small enough to commit: a record per finished cell, the
    /// zero-shot score, the ensembles, their prompts, the report and the figures.
    pub results: PathBuf,
    /// Prompt lengths at which the seeds' best prompts are also scored as one ensemble.
    #[serde(default)]
    pub ensemble_lengths: Vec<usize>,
    /// Prompt lengths `k`.
    pub lengths: Vec<usize>,
    /// Overrides for some cells only, applied after `set` (the paper tuned each setting).
    #[serde(default)]
    pub cell_set: Vec<CellOverrides>,
    /// Inits, as the config's `prompt.init` takes them (`{ kind = "class_label" }`, ...).
    pub inits: Vec<SoftPromptInit>,
    /// Seeds; each cell is run once per seed.
    pub seeds: Vec<u64>,
    /// Title of the figures.
    #[serde(default = "default_title")]
    pub title: String,
}

fn default_title() -> String {
    "Prompt length and initialisation".to_string()
}

/// Overrides that apply to the cells of some prompt lengths, some inits, or both.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellOverrides {
    /// The lengths they apply to; empty: every length.
    #[serde(default)]
    pub lengths: Vec<usize>,
    /// The inits they apply to, by name (`"class_label"`, ...); empty: every init.
    #[serde(default)]
    pub inits: Vec<String>,
    /// The overrides (`key=value`).
    pub set: Vec<String>,
}

impl CellOverrides {
    fn applies_to(&self, cell: &Cell) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&cell.length))
            && (self.inits.is_empty() || self.inits.iter().any(|n| n == cell.init.name()))
    }
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
        if let Some(k) = config
            .ensemble_lengths
            .iter()
            .find(|k| !config.lengths.contains(k))
        {
            return Err(EvalError::Format {
                path: path.to_path_buf(),
                what: "sweep config",
                reason: format!("`ensemble_lengths` has {k}, which is not one of `lengths`"),
            });
        }
        for (i, entry) in config.cell_set.iter().enumerate() {
            let unknown_length = entry.lengths.iter().find(|k| !config.lengths.contains(k));
            let unknown_init = entry
                .inits
                .iter()
                .find(|n| !config.inits.iter().any(|init| init.name() == n.as_str()));
            let problem = if entry.lengths.is_empty() && entry.inits.is_empty() {
                Some("names no `lengths` and no `inits` (for every cell, use `set`)".to_string())
            } else if let Some(k) = unknown_length {
                Some(format!("has length {k}, which is not one of `lengths`"))
            } else {
                unknown_init.map(|n| format!("has init {n:?}, which is not one of `inits`"))
            };
            if let Some(problem) = problem {
                return Err(EvalError::Format {
                    path: path.to_path_buf(),
                    what: "sweep config",
                    reason: format!("`cell_set` entry {} {problem}", i + 1),
                });
            }
        }
        if !config.ensemble_lengths.is_empty() && config.seeds.len() < 2 {
            return Err(EvalError::Format {
                path: path.to_path_buf(),
                what: "sweep config",
                reason: "an ensemble of the seeds' prompts needs at least two `seeds`".to_string(),
            });
        }
        Ok(config)
    }

    /// Every cell, seed-major: the whole grid for the first seed comes first, so a sweep cut
    /// short has results for every length and init.
    pub fn cells(&self) -> Vec<Cell> {
        let mut cells = vec![];
        for &seed in &self.seeds {
            for init in &self.inits {
                for &length in &self.lengths {
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

    /// The overrides of `cell`: the sweep's, then those of the `cell_set` entries it matches.
    pub fn overrides(&self, cell: &Cell) -> Result<Vec<Override>, EvalError> {
        let for_cell = self
            .cell_set
            .iter()
            .filter(|o| o.applies_to(cell))
            .flat_map(|o| &o.set);
        Ok(Override::parse_all(self.set.iter().chain(for_cell))?)
    }

    /// The experiment config of `cell`: the base, the sweep's overrides and the cell's, then
    /// the cell's length, init, seed and folder.
    pub fn cell_config(&self, cell: &Cell) -> Result<ExperimentConfig, EvalError> {
        let folder = self.output.join(cell.name());
        let cell_overrides = [
            format!("prompt.length={}", cell.length),
            format!("seed={}", cell.seed),
            format!("output=\"{}\"", folder.display()),
        ];
        let mut overrides = self.overrides(cell)?;
        overrides.extend(Override::parse_all(&cell_overrides)?);
        let mut config = ExperimentConfig::load(&self.base, &overrides)?;
        config.prompt.init = cell.init.clone();
        config.validate()?;
        Ok(config)
    }
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
    fn the_project_sweeps_budget_is_the_one_the_readme_gives() {
        let mut s = sweep();
        s.base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/sst2.toml");
        let budget = |init: &str, length| {
            let init = s.inits.iter().find(|i| i.name() == init).unwrap().clone();
            let c = s
                .cell_config(&Cell {
                    init,
                    length,
                    seed: 0,
                })
                .unwrap();
            (c.train.steps, c.schedule.decay_steps, c.optimizer.lr)
        };
        assert_eq!(budget("random_uniform", 1), (750, Some(150), 0.03));
        assert_eq!(budget("class_label", 20), (450, Some(150), 0.03));
        assert_eq!(budget("sampled_vocab", 100), (450, Some(150), 0.01));
        assert_eq!(budget("sampled_vocab", 150), (600, Some(600), 0.01));
        assert_eq!(budget("class_label", 150), (600, Some(600), 0.005));
    }

    #[test]
    fn an_empty_grid_axis_is_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.toml");
        let text = "base = \"b.toml\"\noutput = \"o\"\nresults = \"r\"\nlengths = []\n\
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

    #[test]
    fn cell_overrides_apply_to_their_lengths_and_inits_only() {
        let mut s = sweep();
        s.base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/sst2.toml");
        s.cell_set = vec![
            CellOverrides {
                lengths: vec![150],
                inits: vec![],
                set: vec!["optimizer.lr=0.005".into(), "train.steps=700".into()],
            },
            CellOverrides {
                lengths: vec![150],
                inits: vec!["class_label".into()],
                set: vec!["optimizer.lr=0.002".into()],
            },
        ];
        let rates_and_steps = |init, length| {
            let config = s
                .cell_config(&Cell {
                    init,
                    length,
                    seed: 0,
                })
                .unwrap();
            (config.optimizer.lr, config.train.steps)
        };
        let random = SoftPromptInit::RandomUniform { range: 0.5 };
        assert_eq!(rates_and_steps(random.clone(), 150), (0.005, 700));
        assert_eq!(
            rates_and_steps(SoftPromptInit::ClassLabel {}, 150),
            (0.002, 700)
        );
        let base = ExperimentConfig::load(&s.base, &Override::parse_all(&s.set).unwrap()).unwrap();
        assert_eq!(
            rates_and_steps(random, 20),
            (base.optimizer.lr, base.train.steps)
        );
    }

    #[test]
    fn a_cell_set_entry_outside_the_grid_is_refused_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.toml");
        let error = |entry: &str| {
            let text = format!(
                "base = \"b.toml\"\noutput = \"o\"\nresults = \"r\"\nlengths = [1, 5]\n\
                 inits = [{{ kind = \"class_label\" }}]\nseeds = [0]\n\n\
                 [[cell_set]]\nlengths = [5]\nset = []\n\n[[cell_set]]\n{entry}set = []\n"
            );
            std::fs::write(&path, text).unwrap();
            let err = SweepConfig::load(&path).unwrap_err().to_string();
            let prefix = format!("{} is not a valid sweep config: ", path.display());
            err.strip_prefix(&prefix).unwrap().to_string()
        };
        assert_eq!(
            error("lengths = [20]\n"),
            "`cell_set` entry 2 has length 20, which is not one of `lengths`"
        );
        assert_eq!(
            error("inits = [\"random\"]\n"),
            "`cell_set` entry 2 has init \"random\", which is not one of `inits`"
        );
        assert_eq!(
            error(""),
            "`cell_set` entry 2 names no `lengths` and no `inits` (for every cell, use `set`)"
        );
    }

    #[test]
    fn cells_come_seed_major() {
        let s = sweep();
        let cells = s.cells();
        let per_seed = s.lengths.len() * s.inits.len();
        assert!(cells[..per_seed].iter().all(|c| c.seed == s.seeds[0]));
        assert_eq!(cells[per_seed].seed, s.seeds[1]);
    }

    /// What loading a sweep config with `lengths`, `seeds` and `ensemble_lengths` says.
    fn load_error(lengths: &str, seeds: &str, ensemble: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.toml");
        let text = format!(
            "base = \"b.toml\"\noutput = \"o\"\nresults = \"r\"\nlengths = {lengths}\n\
             inits = [{{ kind = \"class_label\" }}]\nseeds = {seeds}\nensemble_lengths = {ensemble}\n"
        );
        std::fs::write(&path, text).unwrap();
        SweepConfig::load(&path).unwrap_err().to_string()
    }

    #[test]
    fn an_ensemble_outside_the_grid_or_of_one_seed_is_refused() {
        let err = load_error("[1, 5]", "[0, 1]", "[20]");
        assert!(
            err.ends_with("`ensemble_lengths` has 20, which is not one of `lengths`"),
            "{err}"
        );
        let err = load_error("[20]", "[0]", "[20]");
        assert!(
            err.ends_with("an ensemble of the seeds' prompts needs at least two `seeds`"),
            "{err}"
        );
    }
}
