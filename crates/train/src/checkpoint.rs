//! Prompt-only checkpoints: the prompt, the optimizer and scheduler state and where the data
//! order stands, never the frozen backbone.
//!
//! File layout (all integers little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `PTCKPT01` |
//! | 8 | header length `h` |
//! | h | JSON [`CheckpointHeader`] (step, data cursor, best so far, section lengths) |
//! | 4·k·d | the prompt, f32 row-major |
//! | header.optimizer_len | burn's optimizer record (burnpack) |
//! | header.scheduler_len | burn's learning-rate scheduler record (burnpack) |
//! | 32 | SHA-256 of everything before it |
//!
//! A file is written with [`write_atomic`] (temporary name, fsync, rename), so a crash leaves
//! either the old set of checkpoints or the new one. A file whose length or checksum does not
//! match is reported and skipped on resume.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::durable::write_atomic;
use crate::error::CheckpointError;
use crate::order::Cursor;

const MAGIC: &[u8; 8] = b"PTCKPT01";
const EXTENSION: &str = "ckpt";

/// The best dev result so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// Step of the evaluation.
    pub step: usize,
    /// Dev accuracy.
    pub accuracy: f64,
    /// Dev loss.
    pub loss: f64,
}

/// Everything about the run's position except the tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointHeader {
    /// Optimizer steps done.
    pub step: usize,
    /// The next batch of the data order.
    pub cursor: Cursor,
    /// The run's seed (resume refuses another).
    pub seed: u64,
    /// burn's id of the prompt parameter, the key of its optimizer state.
    pub prompt_param_id: u64,
    /// Prompt shape `[k, d]`.
    pub prompt_shape: [usize; 2],
    /// Best dev result so far.
    pub best: Option<Best>,
    /// Evaluations since the best one (early stopping).
    pub evals_since_best: usize,
    /// Seconds of training before this checkpoint, over all sessions of the run.
    pub elapsed_s: f64,
    /// Length of the optimizer section in bytes.
    pub optimizer_len: usize,
    /// Length of the scheduler section in bytes.
    pub scheduler_len: usize,
}

/// A checkpoint in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Position, best so far and section lengths.
    pub header: CheckpointHeader,
    /// The prompt, row-major `[k, d]`.
    pub prompt: Vec<f32>,
    /// burn's optimizer record as burnpack bytes.
    pub optimizer: Vec<u8>,
    /// burn's scheduler record as burnpack bytes.
    pub scheduler: Vec<u8>,
}

impl Checkpoint {
    /// The file's bytes (see the module docs for the layout).
    pub fn encode(&self) -> Vec<u8> {
        let mut header = self.header.clone();
        header.optimizer_len = self.optimizer.len();
        header.scheduler_len = self.scheduler.len();
        let json = serde_json::to_vec(&header).expect("the header holds only numbers");
        let mut bytes = Vec::with_capacity(
            16 + json.len()
                + 4 * self.prompt.len()
                + self.optimizer.len()
                + self.scheduler.len()
                + 32,
        );
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&json);
        for value in &self.prompt {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        bytes.extend_from_slice(&self.optimizer);
        bytes.extend_from_slice(&self.scheduler);
        let digest = Sha256::digest(&bytes);
        bytes.extend_from_slice(&digest);
        bytes
    }

    /// Parses and verifies a file's bytes; `path` names the file in errors.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<Self, CheckpointError> {
        let corrupt = |reason: String| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.len() < 16 + 32 || &bytes[..8] != MAGIC {
            return Err(corrupt(format!(
                "not a checkpoint (no `PTCKPT01` header, {} bytes)",
                bytes.len()
            )));
        }
        let (body, digest) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != digest {
            return Err(corrupt(
                "SHA-256 mismatch (truncated or altered file)".into(),
            ));
        }
        let header_len = u64::from_le_bytes(body[8..16].try_into().expect("8 bytes")) as usize;
        let json = body
            .get(16..16 + header_len)
            .ok_or_else(|| corrupt(format!("header length {header_len} runs past the file")))?;
        let header: CheckpointHeader =
            serde_json::from_slice(json).map_err(|source| CheckpointError::Header {
                path: path.to_path_buf(),
                source,
            })?;
        let [k, d] = header.prompt_shape;
        let prompt_len = 4 * k * d;
        let expected = 16 + header_len + prompt_len + header.optimizer_len + header.scheduler_len;
        if body.len() != expected {
            return Err(corrupt(format!(
                "{} bytes before the checksum, the header implies {expected}",
                body.len()
            )));
        }
        let mut at = 16 + header_len;
        let mut take = |n: usize| {
            let section = &body[at..at + n];
            at += n;
            section
        };
        let prompt = take(prompt_len)
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let optimizer = take(header.optimizer_len).to_vec();
        let scheduler = take(header.scheduler_len).to_vec();
        Ok(Self {
            header,
            prompt,
            optimizer,
            scheduler,
        })
    }
}

/// What resuming found: the newest intact checkpoint, and the newer files that were not.
#[derive(Debug)]
pub struct LatestCheckpoint {
    /// The newest checkpoint that reads back intact, and its file.
    pub found: Option<(PathBuf, Checkpoint)>,
    /// Why each newer checkpoint file was skipped.
    pub skipped: Vec<CheckpointError>,
}

/// The `checkpoints/` folder of a run: numbered files, the newest few kept.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    dir: PathBuf,
    keep: usize,
}

impl CheckpointDir {
    /// A folder that keeps the `keep` newest checkpoints.
    pub fn new(dir: impl Into<PathBuf>, keep: usize) -> Self {
        Self {
            dir: dir.into(),
            keep: keep.max(1),
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// File name of the checkpoint after `step` steps.
    pub fn file_for(&self, step: usize) -> PathBuf {
        self.dir.join(format!("step-{step:08}.{EXTENSION}"))
    }

    /// Writes a checkpoint atomically, then deletes the old ones beyond `keep`, sparing the
    /// checkpoint of step `protect` (the best on dev) if there is one.
    pub fn save(
        &self,
        checkpoint: &Checkpoint,
        protect: Option<usize>,
    ) -> Result<PathBuf, CheckpointError> {
        fs::create_dir_all(&self.dir).map_err(|source| CheckpointError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let path = self.file_for(checkpoint.header.step);
        write_atomic(&path, &checkpoint.encode()).map_err(|source| CheckpointError::Io {
            path: path.clone(),
            source,
        })?;
        fail::fail_point!("checkpoint::before_pruning");
        let steps = self.steps()?;
        let excess = steps.len().saturating_sub(self.keep);
        for &step in steps[..excess].iter().filter(|&&s| Some(s) != protect) {
            let old = self.file_for(step);
            fs::remove_file(&old).map_err(|source| CheckpointError::Io { path: old, source })?;
        }
        Ok(path)
    }

    /// Steps of the checkpoint files present, oldest first (files are not verified).
    pub fn steps(&self) -> Result<Vec<usize>, CheckpointError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(CheckpointError::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut steps: Vec<usize> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_prefix("step-")?
                    .strip_suffix(&format!(".{EXTENSION}"))?
                    .parse()
                    .ok()
            })
            .collect();
        steps.sort_unstable();
        Ok(steps)
    }

    /// The newest checkpoint that reads back intact, with the errors of the newer ones that
    /// did not (they are skipped, not deleted, so they can be inspected).
    pub fn latest_valid(&self) -> Result<LatestCheckpoint, CheckpointError> {
        let mut skipped = Vec::new();
        for step in self.steps()?.into_iter().rev() {
            let path = self.file_for(step);
            let read = fs::read(&path)
                .map_err(|source| CheckpointError::Io {
                    path: path.clone(),
                    source,
                })
                .and_then(|bytes| Checkpoint::decode(&bytes, &path));
            match read {
                Ok(checkpoint) => {
                    return Ok(LatestCheckpoint {
                        found: Some((path, checkpoint)),
                        skipped,
                    });
                }
                Err(error) => skipped.push(error),
            }
        }
        Ok(LatestCheckpoint {
            found: None,
            skipped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(step: usize) -> Checkpoint {
        Checkpoint {
            header: CheckpointHeader {
                step,
                cursor: Cursor { epoch: 2, batch: 5 },
                seed: 9,
                prompt_param_id: 77,
                prompt_shape: [2, 3],
                best: Some(Best {
                    step: 4,
                    accuracy: 0.75,
                    loss: 0.5,
                }),
                evals_since_best: 1,
                elapsed_s: 12.5,
                optimizer_len: 0,
                scheduler_len: 0,
            },
            prompt: vec![0.1, -2.5, 3.0, f32::MIN_POSITIVE, 1e-30, 7.0],
            optimizer: vec![1, 2, 3, 4, 5],
            scheduler: vec![9, 8],
        }
    }

    #[test]
    fn encode_decode_round_trips_bit_for_bit() {
        let original = sample(10);
        let decoded = Checkpoint::decode(&original.encode(), Path::new("x")).unwrap();
        assert_eq!(decoded.prompt, original.prompt);
        assert_eq!(decoded.optimizer, original.optimizer);
        assert_eq!(decoded.scheduler, original.scheduler);
        assert_eq!(decoded.header.optimizer_len, 5);
        assert_eq!(decoded.header.scheduler_len, 2);
        assert_eq!(decoded.header.cursor, original.header.cursor);
        assert_eq!(decoded.header.best, original.header.best);
    }

    #[test]
    fn truncated_and_flipped_files_are_rejected() {
        let bytes = sample(10).encode();
        let e = Checkpoint::decode(&bytes[..bytes.len() - 1], Path::new("c.ckpt")).unwrap_err();
        assert!(
            e.to_string()
                .contains("c.ckpt is corrupt: SHA-256 mismatch"),
            "{e}"
        );
        let mut flipped = bytes.clone();
        flipped[40] ^= 1;
        let e = Checkpoint::decode(&flipped, Path::new("c.ckpt")).unwrap_err();
        assert!(e.to_string().contains("SHA-256 mismatch"), "{e}");
        let e = Checkpoint::decode(b"hello", Path::new("c.ckpt")).unwrap_err();
        assert!(e.to_string().contains("not a checkpoint"), "{e}");
    }

    #[test]
    fn newest_valid_checkpoint_wins_and_corrupt_ones_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = CheckpointDir::new(tmp.path().join("checkpoints"), 2);
        assert!(dir.latest_valid().unwrap().found.is_none());
        for step in [10, 20, 30] {
            dir.save(&sample(step), Some(10)).unwrap();
        }
        // Keeps the newest two plus the protected step 10.
        assert_eq!(dir.steps().unwrap(), [10, 20, 30]);
        dir.save(&sample(40), Some(10)).unwrap();
        assert_eq!(dir.steps().unwrap(), [10, 30, 40]);
        // Truncate the newest: resume falls back to step 30 and names the bad file.
        let newest = dir.file_for(40);
        let bytes = fs::read(&newest).unwrap();
        fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
        let LatestCheckpoint { found, skipped } = dir.latest_valid().unwrap();
        let (path, checkpoint) = found.unwrap();
        assert_eq!(path, dir.file_for(30));
        assert_eq!(checkpoint.header.step, 30);
        assert_eq!(skipped.len(), 1);
        assert!(
            skipped[0].to_string().contains("step-00000040.ckpt"),
            "{}",
            skipped[0]
        );
        // No temporary files are left behind.
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }
}
