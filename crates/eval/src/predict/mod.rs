//! The method's second half: one frozen backbone, loaded once, classifies new text for any
//! number of tasks, each task a trained prompt (or several, an ensemble) in front of its
//! template.
//!
//! ```text
//! (task, text) -> Task::encode -> Row { task, ids, answer_pos }
//! rows of any tasks -> sorted by length -> batches where each row stands behind its own
//!   task's prompt (keys and values cached per prompt for a causal backbone)
//!   -> class probabilities per prompt -> vote -> Prediction
//! ```
//!
//! [`Predictor`] is `Send + Sync`: request handlers on several threads may register tasks,
//! encode inputs and score rows at once.

mod task;
mod vote;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use prompt_data::{Encoded, PromptBatcher, Truncation, sorted_batches};
use prompt_model::{
    Backbone, FusedLlama, FusedPrompt, LoadedModel, PrefixCache, RowPrefixes, answer_hidden_behind,
};
use serde::Serialize;

use task::Member;
pub use task::{Task, TaskInfo, TaskSpec};
pub use vote::Vote;
use vote::argmax;

use crate::error::EvalError;

/// One input to classify: a text for a template with one field, or each field by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The text of the template's only field.
    Text(String),
    /// The text of each of the template's fields.
    Fields(BTreeMap<String, String>),
}

/// An input encoded for its task, ready to be scored in a batch with others.
#[derive(Debug, Clone)]
pub struct Row {
    task: Arc<Task>,
    encoded: Encoded,
    truncation: Option<Truncation>,
}

impl Row {
    /// Tokens of the encoded input.
    pub fn tokens(&self) -> usize {
        self.encoded.ids.len()
    }

    /// Whether and how much the input was shortened to fit.
    pub fn truncation(&self) -> Option<Truncation> {
        self.truncation
    }

    /// The encoded input.
    pub fn encoded(&self) -> &Encoded {
        &self.encoded
    }

    /// The task's name.
    pub fn task_name(&self) -> &str {
        &self.task.info().name
    }

    /// What clients may know of the row's task (its labels among them).
    pub fn task_info(&self) -> &TaskInfo {
        self.task.info()
    }
}

/// One prompt's opinion of an input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberPrediction {
    /// The prompt's folder.
    pub prompt: PathBuf,
    /// Its most probable class.
    pub label: String,
    /// That class's index in the task's labels.
    pub class: usize,
    /// Its class probabilities, in the task's label order.
    pub probabilities: Vec<f32>,
}

/// The prediction for one input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The task.
    pub task: String,
    /// The predicted class name.
    pub label: String,
    /// Its index in the task's labels.
    pub class: usize,
    /// Class probabilities in the task's label order (the members' mean for an ensemble).
    pub probabilities: Vec<f32>,
    /// Each prompt's prediction, when the task is an ensemble.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberPrediction>,
    /// Set when the input was shortened to fit the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<Truncation>,
}

/// A prediction as clients read it: class names with their probabilities.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedPrediction<'a> {
    /// The predicted class name.
    pub label: &'a str,
    /// Class name -> probability.
    pub probabilities: BTreeMap<&'a str, f32>,
    /// Each prompt's prediction, when the task is an ensemble.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<NamedMember<'a>>,
    /// Set when the input was shortened to fit the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<Truncation>,
}

/// One prompt's prediction as clients read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedMember<'a> {
    /// The prompt's folder.
    pub prompt: &'a Path,
    /// Its most probable class.
    pub label: &'a str,
    /// Class name -> probability.
    pub probabilities: BTreeMap<&'a str, f32>,
}

impl Prediction {
    /// This prediction with the class names `labels` (the task's, in score order).
    pub fn named<'a>(&'a self, labels: &'a [String]) -> NamedPrediction<'a> {
        let by_label = |probabilities: &'a [f32]| {
            labels
                .iter()
                .map(String::as_str)
                .zip(probabilities.iter().copied())
                .collect()
        };
        NamedPrediction {
            label: &self.label,
            probabilities: by_label(&self.probabilities),
            members: self
                .members
                .iter()
                .map(|m| NamedMember {
                    prompt: &m.prompt,
                    label: &m.label,
                    probabilities: by_label(&m.probabilities),
                })
                .collect(),
            truncated: self.truncated,
        }
    }
}

/// One prompt's best class (by score) for one input and its class probabilities.
type Scored = (usize, Vec<f32>);

/// One frozen backbone serving the prompts of many tasks.
#[derive(Debug)]
pub struct Predictor {
    model: LoadedModel,
    /// The backbone on its fused CPU kernels, where it has them.
    fused: Option<FusedLlama>,
    model_path: PathBuf,
    device: Device,
    tasks: RwLock<BTreeMap<String, Arc<Task>>>,
}

impl Predictor {
    /// Loads the backbone at `model_path` onto `device` (no tasks yet).
    pub fn load(model_path: &Path, device: &Device) -> Result<Self, EvalError> {
        let model = prompt_model::load(model_path, device)?;
        Ok(Self::new(model, model_path, device))
    }

    /// Serves tasks with the already loaded `model` (read from `model_path`).
    pub fn new(model: LoadedModel, model_path: &Path, device: &Device) -> Self {
        Self {
            fused: model.backbone.fused(),
            model,
            model_path: model_path.to_path_buf(),
            device: device.clone(),
            tasks: RwLock::new(BTreeMap::new()),
        }
    }

    /// The loaded backbone, its tokenizer and family.
    pub fn model(&self) -> &LoadedModel {
        &self.model
    }

    /// Registers the task `name` with the prompts `spec` names (replacing a task of that
    /// name); each prompt is prepared once, here.
    pub fn register(&self, name: &str, spec: &TaskSpec) -> Result<TaskInfo, EvalError> {
        let task = Task::new(
            name,
            spec,
            &self.model,
            self.fused.as_ref(),
            &self.model_path,
            &self.device,
        )?;
        let info = task.info().clone();
        self.tasks
            .write()
            .expect("no thread panics while holding the task table")
            .insert(name.to_string(), Arc::new(task));
        Ok(info)
    }

    /// Every registered task, by name.
    pub fn tasks(&self) -> Vec<TaskInfo> {
        self.task_table()
            .values()
            .map(|task| task.info().clone())
            .collect()
    }

    /// The eval batch size of the task `name`'s config.
    pub fn batch_size_of(&self, name: &str) -> Option<usize> {
        self.task_table().get(name).map(|task| task.batch_size)
    }

    fn task_table(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Task>>> {
        self.tasks
            .read()
            .expect("no thread panics while holding the task table")
    }

    /// Encodes `input` for the task `task`: a row to score.
    pub fn prepare(&self, task: &str, input: &Input) -> Result<Row, EvalError> {
        let task = self
            .task_table()
            .get(task)
            .cloned()
            .ok_or_else(|| EvalError::UnknownTask {
                task: task.to_string(),
                known: self.task_table().keys().cloned().collect(),
            })?;
        let (encoded, truncation) = task.encode(input)?;
        Ok(Row {
            task,
            encoded,
            truncation,
        })
    }

    /// Scores `rows` of any tasks in shared batches of at most `batch_size` model rows (an
    /// ensemble's input takes one row per prompt), sorted by length; `progress` hears how many
    /// model rows each batch finished. Predictions come back in the order of `rows`.
    pub fn score(
        &self,
        rows: &[Row],
        batch_size: usize,
        mut progress: impl FnMut(usize),
    ) -> Vec<Prediction> {
        // One model row per (input, prompt).
        let units: Vec<(usize, usize)> = rows
            .iter()
            .enumerate()
            .flat_map(|(r, row)| (0..row.task.members.len()).map(move |m| (r, m)))
            .collect();
        let lengths: Vec<usize> = units.iter().map(|&(r, _)| rows[r].tokens()).collect();
        let mut scored: Vec<Vec<Option<Scored>>> = rows
            .iter()
            .map(|row| vec![None; row.task.members.len()])
            .collect();
        for batch in sorted_batches(&lengths, batch_size.max(1)).unwrap_or_default() {
            let batch: Vec<(usize, usize)> = batch.iter().map(|&u| units[u]).collect();
            for ((r, m), result) in batch.iter().zip(self.score_batch(rows, &batch)) {
                scored[*r][*m] = Some(result);
            }
            progress(batch.len());
        }
        rows.iter()
            .zip(scored)
            .map(|(row, members)| {
                let members = members
                    .into_iter()
                    .map(|m| m.expect("every model row was scored"))
                    .collect();
                decide(row, members)
            })
            .collect()
    }

    /// Classifies `(task, input)` pairs in shared batches of the first task's batch size:
    /// [`Predictor::prepare`] then [`Predictor::score`].
    pub fn classify(&self, requests: &[(String, Input)]) -> Result<Vec<Prediction>, EvalError> {
        let rows = requests
            .iter()
            .map(|(task, input)| self.prepare(task, input))
            .collect::<Result<Vec<_>, _>>()?;
        let batch_size = rows.first().map_or(1, |row| row.task.batch_size);
        Ok(self.score(&rows, batch_size, |_| {}))
    }

    /// Final hidden states `[B, d]` at the answer slots of `items`, row `r` behind
    /// `members[of_row[r]]`: on the fused kernels when the members were prepared for them.
    fn answer_hidden(
        &self,
        members: &[&Member],
        of_row: Vec<usize>,
        items: Vec<Encoded>,
    ) -> Tensor<2> {
        let n = items.len();
        // A predictor prepares all its members one way: for its fused kernels, or for burn.
        let fused_prompts: Option<Vec<&FusedPrompt>> = members.iter().map(|m| m.fused()).collect();
        if let (Some(fused), Some(prompts)) = (&self.fused, fused_prompts) {
            let hidden = fused.answer_hidden(&prompts, &of_row, &items);
            let d = hidden.len() / n.max(1);
            return Tensor::from_data(TensorData::new(hidden, [n, d]), &self.device);
        }
        let caches: Vec<&PrefixCache> = members
            .iter()
            .map(|m| {
                m.burn()
                    .expect("a predictor without fused kernels prepares burn prompts")
            })
            .collect();
        let batch = PromptBatcher { pad_id: 0 }.batch(items, &self.device);
        answer_hidden_behind(
            &self.model.backbone,
            &RowPrefixes::new(caches, of_row),
            batch.ids,
            batch.mask,
            batch.answer_pos,
        )
    }

    /// One forward pass over `units` (input, prompt) of `rows`: each unit's best class (by
    /// score) and class probabilities.
    fn score_batch(&self, rows: &[Row], units: &[(usize, usize)]) -> Vec<Scored> {
        let backbone = &self.model.backbone;
        let mut prompts: Vec<(*const Task, usize)> = Vec::new();
        let mut members: Vec<&Member> = Vec::new();
        let mut of_row = Vec::with_capacity(units.len());
        for &(r, m) in units {
            let key = (Arc::as_ptr(&rows[r].task), m);
            let index = prompts.iter().position(|&p| p == key).unwrap_or_else(|| {
                prompts.push(key);
                members.push(&rows[r].task.members[m]);
                prompts.len() - 1
            });
            of_row.push(index);
        }
        let items: Vec<Encoded> = units
            .iter()
            .map(|&(r, _)| rows[r].encoded.clone())
            .collect();
        let hidden = self.answer_hidden(&members, of_row, items);
        // Each task scores its own rows against its own verbalizer.
        let mut results = vec![(0, Vec::new()); units.len()];
        let mut done = vec![false; units.len()];
        for first in 0..units.len() {
            if done[first] {
                continue;
            }
            let task = &rows[units[first].0].task;
            let positions: Vec<usize> = (first..units.len())
                .filter(|&i| Arc::ptr_eq(&rows[units[i].0].task, task))
                .collect();
            let hidden = if positions.len() == units.len() {
                hidden.clone()
            } else {
                let index: Vec<i64> = positions.iter().map(|&i| i as i64).collect();
                let index = TensorData::new(index, [positions.len()]);
                hidden
                    .clone()
                    .select(0, Tensor::<1, Int>::from_data(index, &self.device))
            };
            let scores = task.classes.scores(backbone, hidden);
            let classes = task.classes.num_classes();
            let probabilities = values(softmax(scores.clone(), 1));
            let scores = values(scores);
            for (j, &i) in positions.iter().enumerate() {
                let row = &scores[j * classes..(j + 1) * classes];
                results[i] = (
                    argmax(row, |c| row[c]),
                    probabilities[j * classes..(j + 1) * classes].to_vec(),
                );
                done[i] = true;
            }
        }
        results
    }
}

/// The prediction for `row` from its prompts' classes and probabilities.
fn decide(row: &Row, members: Vec<Scored>) -> Prediction {
    let info = row.task.info();
    let (classes, probabilities): (Vec<usize>, Vec<Vec<f32>>) = members.into_iter().unzip();
    let (class, mean) = info.vote.decide(&classes, &probabilities);
    let members = if classes.len() > 1 {
        info.prompts
            .iter()
            .zip(classes.iter().zip(probabilities))
            .map(|(prompt, (&class, probabilities))| MemberPrediction {
                prompt: prompt.clone(),
                label: info.labels[class].clone(),
                class,
                probabilities,
            })
            .collect()
    } else {
        Vec::new()
    };
    Prediction {
        task: info.name.clone(),
        label: info.labels[class].clone(),
        class,
        probabilities: mean,
        members,
        truncated: row.truncation,
    }
}

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .try_into_vec_as::<f32>()
        .expect("scores convert to f32")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_predictor_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Predictor>();
        shared::<Row>();
    }
}
