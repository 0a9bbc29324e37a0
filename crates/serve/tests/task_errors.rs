//! What a server (or `predict`) says about tasks it cannot load and inputs it cannot read: each
//! message names the task, the folder or the field and what to do.

mod common;

use common::{predictor, three_tasks};
use prompt_eval::predict::{Input, TaskSpec};
use prompt_train::Override;

#[test]
fn tasks_that_cannot_be_loaded_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = three_tasks(dir.path());
    let predictor = predictor(&tasks);
    let register = |artifacts: Vec<std::path::PathBuf>, overrides: &[&str]| {
        let spec = TaskSpec {
            artifacts,
            overrides: overrides
                .iter()
                .map(|o| Override::parse(o).unwrap())
                .collect(),
            ..TaskSpec::default()
        };
        predictor.register("new", &spec).unwrap_err().to_string()
    };
    assert_eq!(
        register(Vec::new(), &[]),
        "task `new` names no prompt folder"
    );
    let (sentiment, topic) = (tasks.join("sentiment"), tasks.join("topic"));
    assert_eq!(
        register(vec![sentiment.clone(), topic.clone()], &[]),
        format!(
            "{} and {} differ in their template: an ensemble's prompts must share the template, \
             the verbalizer and the class names",
            sentiment.display(),
            topic.display()
        )
    );
    let loaded = common::tiny_bert_dir();
    assert_eq!(
        register(
            vec![sentiment.clone()],
            &["model.path=\"/elsewhere/model.gguf\""]
        ),
        format!(
            "{} was trained for the model /elsewhere/model.gguf, but the loaded model is {}: one \
             process serves the prompts of one model; give it prompts trained for the same model",
            sentiment.display(),
            loaded.display()
        )
    );
}

#[test]
fn inputs_a_task_cannot_read_name_the_task_and_its_fields() {
    let dir = tempfile::tempdir().unwrap();
    let predictor = predictor(&three_tasks(dir.path()));
    let prepare =
        |task: &str, input: Input| predictor.prepare(task, &input).unwrap_err().to_string();
    assert_eq!(
        prepare("sentiment", Input::Text("  ".into())),
        "the input for task `sentiment` is empty: give the text to classify"
    );
    assert_eq!(
        prepare("entail", Input::Text("a man sings".into())),
        "task `entail` reads the fields premise, hypothesis: give each by name (a JSON object, or \
         a TSV, CSV or JSONL file with those columns)"
    );
}
