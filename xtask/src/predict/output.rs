//! How `predict` prints its answers: a readable table, or one JSON object per line.

use std::io::Write;

use anyhow::Result;
use prompt_eval::predict::{NamedPrediction, Prediction, TaskInfo};
use serde::Serialize;
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

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
    // Columns are padded by display width: a CJK label or text takes two cells a character.
    let width = |c: usize| {
        rows.iter()
            .map(|row| row[c].width())
            .chain([header[c].len()])
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    let line = |number: &str, cells: [&str; 3], text: &str| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - cell.width())))
            .collect();
        format!("{number:>5}  {}  {text}", padded.join("  "))
    };
    writeln!(out, "{}", line("input", header, "text"))?;
    for (answer, row) in answers.iter().zip(&rows) {
        let cells = [row[0].as_str(), row[1].as_str(), row[2].as_str()];
        writeln!(out, "{}", line(&answer.number.to_string(), cells, &row[3]))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use prompt_eval::predict::{Input, Vote};

    use super::*;

    #[test]
    fn table_columns_line_up_for_chinese_labels_and_text() {
        let task = TaskInfo {
            name: "chnsenticorp".into(),
            labels: vec!["负面".into(), "正面".into()],
            template: "{review}总体评价是{mask}的".into(),
            fields: vec!["review".into()],
            prompt_tokens: vec![20],
            prompts: vec!["baselines/chnsenticorp-k20".into()],
            vote: Vote::Majority,
            model: "gemma-3-270m-q4_k_m.gguf".into(),
            max_input_tokens: 128,
        };
        let input = |text: &str| Numbered {
            origin: "stdin:1".into(),
            input: Input::Text(text.into()),
        };
        let prediction = |label: &str, class, p: f32| Prediction {
            task: "chnsenticorp".into(),
            label: label.into(),
            class,
            probabilities: vec![p, 1.0 - p],
            members: Vec::new(),
            truncated: None,
        };
        let (first, second) = (input("特效很棒，但剧情糟糕。"), input("bad"));
        let (negative, positive) = (prediction("负面", 0, 0.75), prediction("正面", 1, 0.25));
        let answers = [
            Answer {
                number: 1,
                input: &first,
                task: &task,
                prediction: &negative,
            },
            Answer {
                number: 2,
                input: &second,
                task: &task,
                prediction: &positive,
            },
        ];
        let mut out = Vec::new();
        write_table(&mut out, &answers).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "input  task          label  probabilities           text\n    \
                 1  chnsenticorp  负面   负面 0.750  正面 0.250  特效很棒，但剧情糟糕。\n    \
                 2  chnsenticorp  正面   负面 0.250  正面 0.750  bad\n"
        );
    }
}
