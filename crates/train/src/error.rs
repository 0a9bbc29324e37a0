//! Error types of the training crate: config errors name the key (and the line when it comes
//! from the file), checkpoint errors name the file, run errors keep their source.

use std::path::PathBuf;

/// A config that cannot be read, parsed or used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the schema.
    #[error("{}:{line}:{column}: {}{message}", path.display(), key_prefix(key))]
    Toml {
        /// The config file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// Dotted key path at fault (empty when the error is about the whole document).
        key: String,
        /// What the TOML reader said.
        message: String,
    },
    /// A `--set` override does not fit the schema.
    #[error("override `{assignment}`: {}{message}", key_prefix(key))]
    Override {
        /// The assignment as given.
        assignment: String,
        /// Dotted key path at fault.
        key: String,
        /// What the TOML reader said.
        message: String,
    },
    /// A `--set` argument is not of the form `key.path=value`.
    #[error("override `{assignment}`: {reason}")]
    BadOverride {
        /// The assignment as given.
        assignment: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `--set` key walks through a value as if it were a table.
    #[error("override `{assignment}`: `{key}` is a value, not a table")]
    OverrideNotTable {
        /// The assignment as given.
        assignment: String,
        /// The part of the key path that is a value.
        key: String,
    },
    /// A value is of the right type but cannot be used.
    #[error("config key `{key}` {reason}")]
    Invalid {
        /// Dotted key path.
        key: &'static str,
        /// Why, and what is allowed.
        reason: String,
    },
    /// The data settings do not fit together (columns, template fields).
    #[error("config key `{key}`: {source}")]
    Data {
        /// Dotted key path.
        key: &'static str,
        /// What the data crate said.
        source: Box<prompt_data::DataError>,
    },
    /// The learning-rate schedule rejected the settings.
    #[error("config table `schedule`: {reason} (burn's scheduler refused these settings)")]
    Schedule {
        /// burn's message.
        reason: String,
    },
    /// The config cannot be written back as TOML.
    #[error("cannot write config as TOML for {path}: {source}")]
    Serialize {
        /// Where it was meant to go.
        path: PathBuf,
        /// What the TOML writer said.
        source: toml::ser::Error,
    },
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("key `{key}`: ")
    }
}

/// A checkpoint file that cannot be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// File system failure.
    #[error("checkpoint {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is shorter or longer than its header says, or its checksum does not match.
    #[error("checkpoint {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// The header cannot be parsed.
    #[error("checkpoint {path} has an unreadable header: {source}")]
    Header {
        /// The file.
        path: PathBuf,
        /// What serde said.
        source: serde_json::Error,
    },
    /// burn cannot encode or decode the optimizer or scheduler record.
    #[error("checkpoint {path}: burn record: {source}")]
    Record {
        /// The file.
        path: PathBuf,
        /// What burn said.
        source: burn::store::RecordError,
    },
    /// The checkpoint belongs to another experiment shape.
    #[error("checkpoint {path} holds a prompt of shape {found:?}, this run needs {expected:?}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// Shape this run needs.
        expected: [usize; 2],
        /// Shape in the file.
        found: [usize; 2],
    },
}

/// Everything that can stop a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The config is unusable.
    #[error(transparent)]
    Config(#[from] Box<ConfigError>),
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Reading or encoding the data failed.
    #[error(transparent)]
    Data(Box<prompt_data::DataError>),
    /// The model could not be found, detected or loaded.
    #[error(transparent)]
    Model(#[from] prompt_model::ModelError),
    /// The prompt could not be built, saved or loaded.
    #[error(transparent)]
    Prompt(#[from] prompt_model::PromptError),
    /// A file of the output folder could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Another process is writing to the output folder.
    #[error(
        "{} is in use by another training process{}; wait for it or choose another output \
         (`--set output=...`)",
        dir.display(),
        pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    OutputLocked {
        /// The output folder.
        dir: PathBuf,
        /// The process holding it, as its lock file says.
        pid: Option<u32>,
    },
    /// A fresh run would overwrite the checkpoints of another run.
    #[error(
        "{dir} already holds checkpoints: resume with --resume, or choose another output folder \
         (`--set output=...`)"
    )]
    OutputInUse {
        /// The checkpoints folder.
        dir: PathBuf,
    },
    /// `--resume` found no checkpoint that reads back intact.
    #[error(
        "nothing to resume in {dir}: no intact checkpoint{}",
        skipped_list(skipped)
    )]
    NothingToResume {
        /// The checkpoints folder.
        dir: PathBuf,
        /// Checkpoints that were found but failed to read.
        skipped: Vec<CheckpointError>,
    },
    /// The checkpoint was written by a run with other settings.
    #[error("cannot resume from {path}: {what}")]
    ResumeMismatch {
        /// The checkpoint.
        path: PathBuf,
        /// What differs.
        what: String,
    },
    /// The training set is empty.
    #[error("the training split has no examples")]
    NoTrainingData,
    /// A training batch would hold more examples than the split has.
    #[error(
        "`train.batch_size = {batch}` is larger than the training split ({examples} examples): \
         use at most {examples} (`--set train.batch_size={examples}`)"
    )]
    BatchLargerThanSplit {
        /// The batch size asked for.
        batch: usize,
        /// Examples in the training split.
        examples: usize,
    },
    /// The run's estimated peak memory exceeds what the process can have.
    #[error(transparent)]
    Memory(Box<crate::memory::MemoryError>),
    /// The training or dev loss, or a prompt value, became NaN or infinite.
    #[error(
        "{what} at step {step}: training diverged and stopped; {kept}. Lower optimizer.lr and \
         start again, or resume from that checkpoint with `--resume`"
    )]
    Diverged {
        /// The step.
        step: usize,
        /// What is not finite, e.g. "the loss is NaN".
        what: String,
        /// Which checkpoint is the last good one, in words.
        kept: String,
    },
    /// The thread pool could not be built.
    #[error("cannot start {threads} threads: {source}")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// What rayon said.
        source: rayon::ThreadPoolBuildError,
    },
}

fn skipped_list(skipped: &[CheckpointError]) -> String {
    skipped
        .iter()
        .map(|e| format!("\n  skipped: {e}"))
        .collect()
}

impl From<ConfigError> for TrainError {
    fn from(error: ConfigError) -> Self {
        Self::Config(Box::new(error))
    }
}

impl From<crate::memory::MemoryError> for TrainError {
    fn from(error: crate::memory::MemoryError) -> Self {
        Self::Memory(Box::new(error))
    }
}

impl From<prompt_data::DataError> for TrainError {
    fn from(error: prompt_data::DataError) -> Self {
        Self::Data(Box::new(error))
    }
}
