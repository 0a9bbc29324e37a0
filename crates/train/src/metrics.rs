//! `metrics.jsonl`: one JSON object per line, per logged training window or evaluation.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::durable::write_atomic;

/// Which data a metrics line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Training batches since the previous training line.
    Train,
    /// The dev set (or its configured subset).
    Dev,
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRecord {
    /// Optimizer steps done when the line was written.
    pub step: usize,
    /// Train window or dev evaluation.
    pub split: Split,
    /// Mean cross-entropy over the examples.
    pub loss: f64,
    /// Share of examples whose best-scoring class is the gold one.
    pub accuracy: f64,
    /// Examples in the window or evaluation.
    pub examples: usize,
    /// Examples per second over the window or evaluation.
    pub examples_per_s: f64,
    /// Seconds since the start of this process's training.
    pub seconds: f64,
    /// Learning rate of the last step (train lines only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
}

/// Appends [`MetricRecord`]s to a file, one flushed line each.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// Opens `path` for appending; on resume, lines after `keep_through_step` (written by the
    /// interrupted run after its last checkpoint) are dropped first so no step appears twice.
    pub fn open(path: &Path, keep_through_step: Option<usize>) -> std::io::Result<Self> {
        if let Some(last) = keep_through_step {
            truncate_after(path, last)?;
        } else if path.exists() {
            fs::remove_file(path)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and flushes it.
    pub fn append(&mut self, record: &MetricRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
        line.push('\n');
        // Written in two halves so a test can kill the process mid-line.
        let (first, rest) = line.as_bytes().split_at(line.len() / 2);
        self.file.write_all(first)?;
        fail::fail_point!("metrics::half_a_line");
        self.file.write_all(rest)?;
        self.file.flush()
    }
}

/// Reads every record of a metrics file.
pub fn read_metrics(path: &Path) -> std::io::Result<Vec<MetricRecord>> {
    BufReader::new(File::open(path)?)
        .lines()
        .filter(|line| line.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(|line| serde_json::from_str(&line?).map_err(std::io::Error::other))
        .collect()
}

fn truncate_after(path: &Path, last: usize) -> std::io::Result<()> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    // Only complete lines count: a run killed mid-append leaves a last line without its newline.
    let mut kept = String::new();
    for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        if line.trim().is_empty() {
            continue;
        }
        let record: MetricRecord = serde_json::from_str(line).map_err(std::io::Error::other)?;
        if record.step <= last {
            kept.push_str(line);
        }
    }
    write_atomic(path, kept.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(step: usize, split: Split) -> MetricRecord {
        MetricRecord {
            step,
            split,
            loss: 0.5,
            accuracy: 0.25,
            examples: 8,
            examples_per_s: 100.0,
            seconds: 1.5,
            lr: (split == Split::Train).then_some(0.3),
        }
    }

    #[test]
    fn lines_are_json_objects_and_resume_drops_later_steps() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metrics.jsonl");
        let mut log = MetricsLog::open(&path, None).unwrap();
        for (step, split) in [(1, Split::Train), (2, Split::Dev), (3, Split::Train)] {
            log.append(&record(step, split)).unwrap();
        }
        drop(log);
        let text = fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            r#"{"step":1,"split":"train","loss":0.5,"accuracy":0.25,"examples":8,"examples_per_s":100.0,"seconds":1.5,"lr":0.3}"#
        );
        let mut log = MetricsLog::open(&path, Some(2)).unwrap();
        log.append(&record(4, Split::Dev)).unwrap();
        let steps: Vec<usize> = read_metrics(&path)
            .unwrap()
            .iter()
            .map(|r| r.step)
            .collect();
        assert_eq!(steps, [1, 2, 4]);
        // A fresh run starts a fresh file.
        MetricsLog::open(&path, None).unwrap();
        assert!(read_metrics(&path).unwrap().is_empty());
    }

    #[test]
    fn resume_drops_a_line_cut_short_by_a_kill() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metrics.jsonl");
        let mut log = MetricsLog::open(&path, None).unwrap();
        log.append(&record(1, Split::Train)).unwrap();
        drop(log);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"step":2,"split":"tr"#).unwrap();
        drop(file);
        assert!(
            read_metrics(&path).is_err(),
            "the torn line is not valid JSON"
        );
        let mut log = MetricsLog::open(&path, Some(1)).unwrap();
        log.append(&record(2, Split::Train)).unwrap();
        let steps: Vec<usize> = read_metrics(&path)
            .unwrap()
            .iter()
            .map(|r| r.step)
            .collect();
        assert_eq!(steps, [1, 2]);
    }
}
