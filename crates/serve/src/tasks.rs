//! Which prompts a server loads: a folder of artifacts (each a task named after its folder), a
//! single artifact, or a TOML file that names each task's prompts.
//!
//! ```toml
//! [tasks.sst2]
//! artifacts = ["baselines/sst2-k20"]     # one prompt or run folder; several: an ensemble
//! # config = "configs/sst2.toml"         # for prompt folders without prompt_task.json
//! # vote = "majority"                    # or "mean_probability" (ensembles)
//! # set = ["data.max_tokens=128"]        # config overrides
//! ```
//!
//! Paths are used as written (relative to the working directory), as everywhere else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prompt_eval::predict::{TaskSpec, Vote};
use prompt_train::Override;
use serde::Deserialize;

use crate::error::ServeError;

/// A tasks file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TasksFile {
    tasks: BTreeMap<String, TaskEntry>,
}

/// One task of a tasks file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskEntry {
    artifacts: Vec<PathBuf>,
    #[serde(default)]
    config: Option<PathBuf>,
    #[serde(default)]
    vote: Vote,
    #[serde(default)]
    set: Vec<String>,
}

/// The tasks `path` names: a `.toml` tasks file, an artifact folder, or a folder of them.
pub fn read_tasks(path: &Path) -> Result<Vec<(String, TaskSpec)>, ServeError> {
    if path.extension().is_some_and(|e| e == "toml") {
        return read_tasks_file(path);
    }
    if !path.is_dir() {
        return Err(ServeError::NoTasks {
            path: path.to_path_buf(),
        });
    }
    let one = |dir: &Path| TaskSpec {
        artifacts: vec![dir.to_path_buf()],
        ..TaskSpec::default()
    };
    if is_artifact(path) {
        return Ok(vec![(folder_name(path), one(path))]);
    }
    let entries = std::fs::read_dir(path).map_err(|source| ServeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut tasks: Vec<(String, TaskSpec)> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|dir| is_artifact(dir))
        .map(|dir| (folder_name(&dir), one(&dir)))
        .collect();
    tasks.sort_by(|a, b| a.0.cmp(&b.0));
    if tasks.is_empty() {
        return Err(ServeError::NoTasks {
            path: path.to_path_buf(),
        });
    }
    Ok(tasks)
}

fn read_tasks_file(path: &Path) -> Result<Vec<(String, TaskSpec)>, ServeError> {
    let text = std::fs::read_to_string(path).map_err(|source| ServeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |reason: String| ServeError::TasksFile {
        path: path.to_path_buf(),
        reason,
    };
    let file: TasksFile = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    if file.tasks.is_empty() {
        return Err(invalid("it names no task: add a [tasks.NAME] table".into()));
    }
    file.tasks
        .into_iter()
        .map(|(name, entry)| {
            let overrides = entry
                .set
                .iter()
                .map(|s| Override::parse(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid(format!("task `{name}`: {e}")))?;
            if entry.artifacts.is_empty() {
                return Err(invalid(format!("task `{name}` has no artifacts")));
            }
            let spec = TaskSpec {
                artifacts: entry.artifacts,
                config: entry.config,
                overrides,
                vote: entry.vote,
                ..TaskSpec::default()
            };
            Ok((name, spec))
        })
        .collect()
}

/// A run folder (`config.toml`) or a prompt folder (`adapter_config.json`).
fn is_artifact(dir: &Path) -> bool {
    dir.join("config.toml").is_file() || dir.join("adapter_config.json").is_file()
}

fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map_or_else(|| "task".into(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_of_artifacts_gives_one_task_per_folder() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b-task", "a-task"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
            std::fs::write(dir.path().join(name).join("adapter_config.json"), "{}").unwrap();
        }
        std::fs::create_dir(dir.path().join("notes")).unwrap();
        let tasks = read_tasks(dir.path()).unwrap();
        let names: Vec<&str> = tasks.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a-task", "b-task"]);
        let single = read_tasks(&dir.path().join("a-task")).unwrap();
        assert_eq!(single[0].1.artifacts, [dir.path().join("a-task")]);
        let err = read_tasks(&dir.path().join("notes")).unwrap_err();
        assert!(err.to_string().contains("holds no task"), "{err}");
    }

    #[test]
    fn a_tasks_file_names_prompts_votes_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.toml");
        std::fs::write(
            &path,
            "[tasks.sentiment]\nartifacts = [\"a\", \"b\", \"c\"]\nvote = \"mean_probability\"\n\
             set = [\"data.max_tokens=64\"]\n",
        )
        .unwrap();
        let tasks = read_tasks(&path).unwrap();
        assert_eq!(tasks[0].0, "sentiment");
        assert_eq!(tasks[0].1.artifacts.len(), 3);
        assert_eq!(tasks[0].1.vote, Vote::MeanProbability);
        assert_eq!(tasks[0].1.overrides[0].key, ["data", "max_tokens"]);
        std::fs::write(&path, "[tasks.x]\nartifacts = [\"a\"]\nvotes = 1\n").unwrap();
        let err = read_tasks(&path).unwrap_err().to_string();
        assert!(err.contains("unknown field `votes`"), "{err}");
    }
}
