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
    /// Overrides for some lengths only, applied after `set` (the paper tuned each setting).
    #[serde(default)]
    pub length_set: Vec<LengthOverrides>,
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

/// Overrides that apply to the cells of some prompt lengths.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthOverrides {
    /// The lengths they apply to.
    pub lengths: Vec<usize>,
    /// The overrides (`key=value`).
    pub set: Vec<String>,
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

    /// The overrides of a cell of length `k`: the sweep's, then those for its length.
    pub fn overrides(&self, k: usize) -> Result<Vec<Override>, EvalError> {
        let for_length = self
            .length_set
            .iter()
            .filter(|o| o.lengths.contains(&k))
            .flat_map(|o| &o.set);
        Ok(Override::parse_all(self.set.iter().chain(for_length))?)
    }

    /// The experiment config of `cell`: the base, the sweep's overrides and its length's, then
    /// the cell's length, init, seed and folder.
    pub fn cell_config(&self, cell: &Cell) -> Result<ExperimentConfig, EvalError> {
        let folder = self.output.join(cell.name());
        let cell_overrides = [
            format!("prompt.length={}", cell.length),
            format!("seed={}", cell.seed),
            format!("output=\"{}\"", folder.display()),
        ];
        let mut overrides = self.overrides(cell.length)?;
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
    fn length_overrides_apply_to_their_lengths_only() {
        let mut s = sweep();
        s.base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/sst2.toml");
        s.length_set = vec![LengthOverrides {
            lengths: vec![150],
            set: vec!["optimizer.lr=0.005".into(), "train.steps=700".into()],
        }];
        let cell = |length| Cell {
            init: SoftPromptInit::ClassLabel {},
            length,
            seed: 0,
        };
        let long = s.cell_config(&cell(150)).unwrap();
        assert_eq!((long.optimizer.lr, long.train.steps), (0.005, 700));
        let short = s.cell_config(&cell(20)).unwrap();
        let base = ExperimentConfig::load(&s.base, &Override::parse_all(&s.set).unwrap()).unwrap();
        assert_eq!(
            (short.optimizer.lr, short.train.steps),
            (base.optimizer.lr, base.train.steps)
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
