//! The memory check before work starts: the peak is estimated from the shapes (weights,
//! activations at the batch size and the longest input, optimizer state) and compared with
//! what this process can have, so a batch that cannot fit is refused with the key to change
//! instead of the kernel killing the process half-way.

use std::fmt;
use std::path::Path;

use burn::module::Module;
use prompt_data::Encoded;
use prompt_model::Backbone;

use crate::config::ExperimentConfig;
use crate::task::PreparedTask;

/// Sets the memory the check allows this process (bytes, or with a `K`, `M`, `G` suffix), in
/// place of what the machine has free.
pub const MEMORY_LIMIT_VAR: &str = "PROMPT_TUNING_MEMORY_LIMIT";

/// One batch of work to size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchShape {
    /// The config key that sets the batch size, e.g. `train.batch_size`.
    pub key: &'static str,
    /// Rows per batch.
    pub batch: usize,
    /// Tokens of the longest input of the split (the worst batch pads to it).
    pub longest: usize,
    /// Soft prompt rows in front of each input.
    pub prompt: usize,
    /// Whether the batch is trained on (activations kept for the backward) or only scored.
    pub training: bool,
}

/// The estimated peak of a run, by part, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// The backbone's parameters.
    pub weights: u64,
    /// Everything else resident before the work starts: code, tokenizer, encoded data.
    pub other: u64,
    /// Activations at the batch's peak.
    pub activations: u64,
    /// The prompt, its gradient and the optimizer's two moments (training only).
    pub optimizer: u64,
}

impl Footprint {
    /// All parts together.
    pub fn total(&self) -> u64 {
        self.weights + self.other + self.activations + self.optimizer
    }
}

impl fmt::Display for Footprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "about {} (weights {}, other resident {}, activations {}, optimizer state {})",
            ByteSize(self.total()),
            ByteSize(self.weights),
            ByteSize(self.other),
            ByteSize(self.activations),
            ByteSize(self.optimizer)
        )
    }
}

/// The memory this process may use, and where that figure comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryBudget {
    /// Bytes.
    pub bytes: u64,
    /// Where the figure comes from, in words.
    pub source: String,
}

impl MemoryBudget {
    /// The part a run may plan to use: nine tenths, leaving room for the rest of the machine
    /// and for an estimate that is off on other backends or families (on SmolLM2 with the CPU
    /// backend it was 3–8 % above every measured peak).
    pub fn usable(&self) -> u64 {
        self.bytes - self.bytes / 10
    }

    /// What this process holds now plus what it can still get: the smaller of the machine's
    /// free memory (`MemAvailable`) and the room left under its cgroup's limit, unless
    /// [`MEMORY_LIMIT_VAR`] says otherwise. `None` where the system does not say (not Linux).
    pub fn of_this_process() -> Result<Option<Self>, MemoryError> {
        if let Ok(limit) = std::env::var(MEMORY_LIMIT_VAR) {
            let bytes = parse_size(&limit).ok_or_else(|| MemoryError::BadLimit {
                value: limit.clone(),
            })?;
            return Ok(Some(Self {
                bytes,
                source: format!("{MEMORY_LIMIT_VAR}={limit}"),
            }));
        }
        let Some(resident) = resident_bytes() else {
            return Ok(None);
        };
        let Some(free) = meminfo_available() else {
            return Ok(None);
        };
        let mut budget = Self {
            bytes: resident + free,
            source: "MemAvailable in /proc/meminfo".into(),
        };
        if let Some(room) = cgroup_room()
            && resident + room < budget.bytes
        {
            budget = Self {
                bytes: resident + room,
                source: "the room under this cgroup's memory.max".into(),
            };
        }
        Ok(Some(budget))
    }
}

/// The batches a training run of `config` on `task` forms: a training step at
/// `train.batch_size` and a dev evaluation at `train.eval_batch_size` (at most the whole split).
pub fn run_shapes(task: &PreparedTask, config: &ExperimentConfig) -> [BatchShape; 2] {
    let prompt = config.prompt.length;
    [
        BatchShape {
            key: "train.batch_size",
            batch: config.train.batch_size,
            longest: longest(&task.train),
            prompt,
            training: true,
        },
        eval_shape(&task.dev, config.train.eval_batch_size, prompt),
    ]
}

/// Scoring `examples` in batches of `batch_size` (`train.eval_batch_size`) behind `prompt` rows.
pub fn eval_shape(examples: &[Encoded], batch_size: usize, prompt: usize) -> BatchShape {
    BatchShape {
        key: "train.eval_batch_size",
        batch: batch_size.min(examples.len()).max(1),
        longest: longest(examples),
        prompt,
        training: false,
    }
}

fn longest(examples: &[Encoded]) -> usize {
    examples.iter().map(|e| e.ids.len()).max().unwrap_or(0)
}

/// Checks every shape against `budget` (read from the system when `None`) and returns the
/// largest estimate with the budget, or `None` where the system does not say what it has.
pub fn check_all<B: Backbone + Module>(
    backbone: &B,
    shapes: &[BatchShape],
    budget: Option<&MemoryBudget>,
) -> Result<Option<(Footprint, MemoryBudget)>, MemoryError> {
    let budget = match budget {
        Some(budget) => budget.clone(),
        None => match MemoryBudget::of_this_process()? {
            Some(budget) => budget,
            None => return Ok(None),
        },
    };
    let mut peak: Option<Footprint> = None;
    for shape in shapes {
        let needed = check_fits(backbone, shape, &budget)?;
        if peak.is_none_or(|p| needed.total() > p.total()) {
            peak = Some(needed);
        }
    }
    Ok(peak.map(|peak| (peak, budget)))
}

/// The estimated peak of `shape` on `backbone` for a process with `resident` bytes resident
/// before the work starts (the loaded backbone among them).
pub fn footprint<B: Backbone + Module>(
    backbone: &B,
    shape: &BatchShape,
    resident: u64,
) -> Footprint {
    let activation = backbone.activation_shape();
    let float = activation.float_bytes as u64;
    let weights = backbone.num_params() as u64 * float;
    let (activations, optimizer) = if shape.training {
        (
            activation.training_bytes(shape.batch, shape.longest, shape.prompt),
            4 * (shape.prompt * backbone.hidden_size()) as u64 * float,
        )
    } else {
        (
            activation.inference_bytes(shape.batch, shape.longest, shape.prompt),
            0,
        )
    };
    Footprint {
        weights,
        other: resident.saturating_sub(weights),
        activations,
        optimizer,
    }
}

/// Refuses `shape` when its estimated peak (from what this process holds now) exceeds
/// `budget`; returns the estimate otherwise.
pub fn check_fits<B: Backbone + Module>(
    backbone: &B,
    shape: &BatchShape,
    budget: &MemoryBudget,
) -> Result<Footprint, MemoryError> {
    fits_within(backbone, shape, resident_bytes().unwrap_or(0), budget)
}

/// [`check_fits`] for a given resident size; the error names the key and the largest batch
/// that fits.
pub fn fits_within<B: Backbone + Module>(
    backbone: &B,
    shape: &BatchShape,
    resident: u64,
    budget: &MemoryBudget,
) -> Result<Footprint, MemoryError> {
    let needed = footprint(backbone, shape, resident);
    if needed.total() <= budget.usable() {
        return Ok(needed);
    }
    let fits_with = |batch| {
        footprint(backbone, &BatchShape { batch, ..*shape }, resident).total() <= budget.usable()
    };
    // The estimate grows with the batch, so the largest batch that fits is found by bisection.
    let (mut lo, mut hi) = (0, shape.batch);
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if fits_with(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Err(MemoryError::WontFit {
        shape: *shape,
        needed: Box::new(needed),
        budget: budget.clone(),
        fits: (lo > 0).then_some(lo),
    })
}

/// A run that cannot fit, or a limit that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The estimated peak exceeds what the process can have.
    #[error(
        "`{key} = {batch}` does not fit in memory: {what} over the longest inputs ({longest} \
         tokens behind {prompt} prompt rows) needs {needed}, more than nine tenths of the {have} \
         this process can have ({source}). {advice}",
        key = shape.key,
        batch = shape.batch,
        what = if shape.training { "a training step" } else { "scoring a batch" },
        longest = shape.longest,
        prompt = shape.prompt,
        have = ByteSize(budget.bytes),
        source = budget.source,
        advice = advice(shape.key, *fits),
    )]
    WontFit {
        /// What was sized.
        shape: BatchShape,
        /// The estimate.
        needed: Box<Footprint>,
        /// What the process can have.
        budget: MemoryBudget,
        /// The largest batch size that fits, if any does.
        fits: Option<usize>,
    },
    /// The limit variable is not a size.
    #[error(
        "{MEMORY_LIMIT_VAR}={value} is not a size: write bytes, or a number with K, M or G \
         (e.g. {MEMORY_LIMIT_VAR}=16G)"
    )]
    BadLimit {
        /// The value given.
        value: String,
    },
}

fn advice(key: &str, fits: Option<usize>) -> String {
    match fits {
        // A command-line flag rather than a config key.
        Some(batch) if key.starts_with("--") => {
            format!("A batch of {batch} fits: `{key} {batch}`.")
        }
        Some(batch) => format!("A batch of {batch} fits: `--set {key}={batch}`."),
        None => "Not even a batch of 1 fits: shorten the inputs with `data.max_tokens` or free \
                 memory."
            .into(),
    }
}

/// A byte count in the largest unit that keeps it at least 1 (decimal units).
#[derive(Debug, Clone, Copy)]
pub struct ByteSize(pub u64);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)];
        let bytes = self.0 as f64;
        match units.iter().find(|(_, size)| bytes >= *size) {
            Some((unit, size)) => write!(f, "{:.1} {unit}", bytes / size),
            None => write!(f, "{} B", self.0),
        }
    }
}

/// `4096`, `512K`, `1.5G`, `16GiB` -> bytes (binary multiples).
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 1u64,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return None,
    };
    (number.is_finite() && number >= 0.0).then_some((number * scale as f64) as u64)
}

/// This process's resident memory (`VmRSS`).
fn resident_bytes() -> Option<u64> {
    kib_field(
        &std::fs::read_to_string("/proc/self/status").ok()?,
        "VmRSS:",
    )
}

/// The machine's `MemAvailable`.
fn meminfo_available() -> Option<u64> {
    kib_field(
        &std::fs::read_to_string("/proc/meminfo").ok()?,
        "MemAvailable:",
    )
}

/// Room left under this process's cgroup (v2) memory limit, when it has one.
fn cgroup_room() -> Option<u64> {
    let relative = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let relative = relative.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = Path::new("/sys/fs/cgroup").join(relative.trim_start_matches('/'));
    let read = |name| std::fs::read_to_string(dir.join(name)).ok();
    let limit: u64 = read("memory.max")?.trim().parse().ok()?; // "max" means no limit
    let current: u64 = read("memory.current")?.trim().parse().ok()?;
    Some(limit.saturating_sub(current))
}

/// The `kB` value of the line starting with `name` in a `/proc` file, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix(name))?;
    let kib: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_and_without_units() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("512K"), Some(512 << 10));
        assert_eq!(parse_size("16GiB"), Some(16 << 30));
        assert_eq!(parse_size("1.5g"), Some(3 << 29));
        assert_eq!(parse_size("2 MB"), Some(2 << 20));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("3X"), None);
    }

    #[test]
    fn a_limit_that_is_not_a_size_says_how_to_write_one() {
        let err = MemoryError::BadLimit {
            value: "1.5Q".into(),
        };
        assert_eq!(
            err.to_string(),
            "PROMPT_TUNING_MEMORY_LIMIT=1.5Q is not a size: write bytes, or a number with K, M \
             or G (e.g. PROMPT_TUNING_MEMORY_LIMIT=16G)"
        );
    }

    #[test]
    fn proc_fields_are_read_in_bytes() {
        let status = "Name:\txtask\nVmRSS:\t  620444 kB\nThreads:\t3\n";
        assert_eq!(kib_field(status, "VmRSS:"), Some(620444 * 1024));
        assert_eq!(kib_field(status, "VmSwap:"), None);
    }

    #[test]
    fn this_machine_reports_a_budget() {
        let budget = MemoryBudget::of_this_process().unwrap().unwrap();
        assert!(budget.bytes > resident_bytes().unwrap(), "{budget:?}");
    }

    #[test]
    fn byte_counts_print_in_decimal_units() {
        assert_eq!(ByteSize(2_343_000_000).to_string(), "2.3 GB");
        assert_eq!(ByteSize(999).to_string(), "999 B");
        assert_eq!(ByteSize(9_700_000_000_000).to_string(), "9.7 TB");
    }
}
