//! How `predict` prints its answers: a readable table, or one JSON object per line.

use std::io::Write;

use anyhow::Result;
use prompt_eval::predict::{NamedPrediction, Prediction, TaskInfo};
use serde::Serialize;
use serde_json::Value;

use super::input::Numbered;

/// One answer: an input, the prompt folder(s) and task that classified it, the prediction.
pub struct Answer<'a> {
    /// 1-based position of the input.
    pub number: usize,
    pub input: &'a Numbered,
    pub task: &'a TaskInfo,
    pub prediction: &'a Prediction,
}

/// The JSON form of an answer: where the input came from, then the prediction.
#[derive(Serialize)]
struct JsonAnswer<'a> {
    input: usize,
    origin: &'a str,
    text: String,
    task: &'a str,
    artifact: Value,
    #[serde(flatten)]
    prediction: NamedPrediction<'a>,
}

/// Writes one JSON object per answer and line.
pub fn write_json(out: &mut dyn Write, answers: &[Answer]) -> Result<()> {
    for answer in answers {
        let artifact = match answer.task.prompts.as_slice() {
            [one] => Value::from(one.display().to_string()),
            many => many.iter().map(|p| p.display().to_string()).collect(),
        };
        let json = JsonAnswer {
            input: answer.number,
            origin: &answer.input.origin,
            text: answer.input.text(),
            task: &answer.task.name,
            artifact,
            prediction: answer.prediction.named(&answer.task.labels),
        };
        writeln!(out, "{}", serde_json::to_string(&json)?)?;
    }
    Ok(())
}

/// Writes a table: input number, task, label, each class's probability, the text (cut to 60
/// characters).
pub fn write_table(out: &mut dyn Write, answers: &[Answer]) -> Result<()> {
    let rows: Vec<[String; 4]> = answers
        .iter()
        .map(|answer| {
            let probabilities: Vec<String> = answer
                .task
                .labels
                .iter()
                .zip(&answer.prediction.probabilities)
                .map(|(label, p)| format!("{label} {p:.3}"))
                .collect();
            let mut text = answer.input.text();
            if text.chars().count() > 60 {
                text = text.chars().take(59).collect::<String>() + "…";
            }
            [
                answer.task.name.clone(),
                answer.prediction.label.clone(),
                probabilities.join("  "),
                text,
            ]
        })
        .collect();
    let header = ["task", "label", "probabilities"];
    let width = |c: usize| {
        rows.iter()
            .map(|row| row[c].chars().count())
            .chain([header[c].len()])
            .max()
            .unwrap_or(0)
    };
    let (task, label, probabilities) = (width(0), width(1), width(2));
    writeln!(
        out,
        "{:>5}  {:task$}  {:label$}  {:probabilities$}  text",
        "input", header[0], header[1], header[2]
    )?;
    for (answer, row) in answers.iter().zip(&rows) {
        writeln!(
            out,
            "{:>5}  {:task$}  {:label$}  {:probabilities$}  {}",
            answer.number, row[0], row[1], row[2], row[3]
        )?;
    }
    Ok(())
}
