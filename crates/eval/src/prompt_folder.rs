//! The experiment a prompt folder describes by itself: the template and verbalizer from its
//! `prompt_task.json`, the model it names in the model cache, and the data file given, read
//! with columns that default to the template's fields, `label`, and the label words.

use std::path::Path;

use prompt_data::Template;
use prompt_model::PromptTask;
use prompt_train::{ExperimentConfig, Override};
use toml::{Table, Value};

use crate::error::EvalError;

/// The column holding the label when `--set data.columns.label_field=…` says nothing else.
pub const DEFAULT_LABEL_FIELD: &str = "label";

/// The experiment of the prompt folder whose task file is `task` (read from `task_path`) on
/// `data`: `data.columns.text_fields` are the template's fields, `label_field` is `label`,
/// `label_names` are the task file's class names, or else the label words without their spaces
/// (labels may be those names or class indices); the model is `model_file` in the model cache,
/// or the default model. Without `data` (prediction reads no labelled file) the data paths name
/// the task file and are never read. `overrides` change any of it.
pub fn task_experiment(
    task: &PromptTask,
    task_path: &Path,
    data: Option<&Path>,
    overrides: &[Override],
) -> Result<ExperimentConfig, EvalError> {
    let data = data.unwrap_or(task_path);
    let invalid = |what: &'static str, reason: String| EvalError::Format {
        path: task_path.to_path_buf(),
        what,
        reason,
    };
    let template = Template::parse(&task.template)
        .map_err(|e| invalid("prompt task file (its template)", e.to_string()))?;
    let verbalizer = Value::try_from(&task.verbalizer)
        .map_err(|e| invalid("prompt task file (its verbalizer)", e.to_string()))?;
    let label_words = verbalizer
        .get("label_words")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            invalid(
                "prompt task file",
                "its verbalizer has no label_words".into(),
            )
        })?;
    let label_names: Vec<Value> = match &task.label_names {
        Some(names) => names.iter().map(|n| Value::String(n.clone())).collect(),
        None => label_words
            .iter()
            .map(|words| {
                let first = words.get(0).and_then(Value::as_str).unwrap_or_default();
                Value::String(first.trim().to_string())
            })
            .collect(),
    };
    let text_fields = template
        .fields()
        .map(|f| Value::String(f.to_string()))
        .collect();
    let path = |p: &Path| Value::String(p.display().to_string());

    let mut columns = Table::new();
    columns.insert("text_fields".into(), Value::Array(text_fields));
    columns.insert("label_field".into(), DEFAULT_LABEL_FIELD.into());
    columns.insert("label_names".into(), Value::Array(label_names));
    let mut data_table = Table::new();
    data_table.insert("train".into(), path(data));
    data_table.insert("dev".into(), path(data));
    data_table.insert("columns".into(), Value::Table(columns));
    let mut model = Table::new();
    if let Some(file) = &task.model_file {
        model.insert(
            "path".into(),
            path(&prompt_model::cache::models_dir().join(file)),
        );
    }
    let mut experiment = Table::new();
    // Evaluation writes nothing; the field is required of every experiment.
    experiment.insert(
        "output".into(),
        path(task_path.parent().unwrap_or(task_path)),
    );
    experiment.insert("template".into(), task.template.clone().into());
    experiment.insert("data".into(), Value::Table(data_table));
    experiment.insert("verbalizer".into(), verbalizer);
    experiment.insert("model".into(), Value::Table(model));
    Ok(ExperimentConfig::from_toml(
        &experiment.to_string(),
        task_path,
        overrides,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(template: &str, verbalizer: serde_json::Value) -> PromptTask {
        PromptTask {
            template: template.into(),
            verbalizer,
            label_names: None,
            model_file: Some("SmolLM2-135M-Instruct.Q4_1.gguf".into()),
            init: None,
        }
    }

    #[test]
    fn columns_default_to_the_template_fields_and_the_label_words() {
        let task = task(
            "Q: {question} A: {answer} Correct?{mask}",
            serde_json::json!({"label_words": [[" no", " wrong"], [" yes"]]}),
        );
        let config = task_experiment(
            &task,
            Path::new("p/prompt_task.json"),
            Some(Path::new("d.csv")),
            &[],
        )
        .unwrap();
        let columns = &config.data.columns;
        assert_eq!(columns.text_fields, ["question", "answer"]);
        assert_eq!(columns.label_field, "label");
        assert_eq!(columns.label_names, ["no", "yes"]);
        assert_eq!(config.data.dev, Path::new("d.csv"));
        assert_eq!(
            config.model.path.unwrap(),
            prompt_model::cache::models_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf")
        );
    }

    #[test]
    fn class_names_come_from_the_task_file_when_it_has_them() {
        let task = PromptTask {
            label_names: Some(vec!["negative".into(), "positive".into()]),
            ..task(
                "{sentence} It was{mask}",
                serde_json::json!({"label_words": [[" bad"], [" good"]]}),
            )
        };
        let path = Path::new("p/prompt_task.json");
        let config = task_experiment(&task, path, None, &[]).unwrap();
        assert_eq!(config.data.columns.label_names, ["negative", "positive"]);
        // Without data the paths name the task file, which prediction never reads as data.
        assert_eq!(config.data.dev, path);
    }

    #[test]
    fn set_changes_the_columns() {
        let task = task(
            "{review} Overall:{mask}",
            serde_json::json!({"label_words": [[" bad"], [" good"]]}),
        );
        let set = [
            Override::parse("data.columns.label_field=stars").unwrap(),
            Override::parse("data.columns.label_names=[\"1\", \"5\"]").unwrap(),
        ];
        let config = task_experiment(
            &task,
            Path::new("prompt_task.json"),
            Some(Path::new("d.tsv")),
            &set,
        )
        .unwrap();
        assert_eq!(config.data.columns.label_field, "stars");
        assert_eq!(config.data.columns.label_names, ["1", "5"]);
    }

    #[test]
    fn a_task_file_with_a_broken_template_names_the_file() {
        let task = task(
            "{sentence",
            serde_json::json!({"label_words": [[" a"], [" b"]]}),
        );
        let err = task_experiment(&task, Path::new("x/prompt_task.json"), None, &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("x/prompt_task.json is not a valid prompt task file (its template): "),
            "{err}"
        );
    }

    #[test]
    fn a_task_file_without_label_words_names_the_file() {
        let task = task("{sentence}{mask}", serde_json::json!({"words": []}));
        let err = task_experiment(&task, Path::new("x/prompt_task.json"), None, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "x/prompt_task.json is not a valid prompt task file: its verbalizer has no label_words"
        );
    }
}
