//! Prediction with the real models: `predict` on SST-2 dev (SmolLM2) and ChnSentiCorp dev
//! (Gemma-3-270M) without labels makes exactly the predictions `eval` makes, and rows of three
//! tasks (different templates, verbalizers and prompt lengths) mixed in shared batches get what
//! each task gets alone.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Distribution, Tensor};
use prompt_data::{ColumnMapping, ReadOptions, read_dataset};
use prompt_eval::predict::{Input, Predictor, TaskInfo, TaskSpec};
use prompt_eval::{EvalSpec, score};
use prompt_model::{AdapterConfig, PromptTask, SoftPrompt, SoftPromptInit, save_prompt};

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn committed_prompt() -> PathBuf {
    workspace_root().join("baselines/sst2-k20")
}

fn sst2_dev() -> PathBuf {
    shared_asset("sst2/dev.tsv")
}

/// A file under `../shared/assets` (or `$PROMPT_TUNING_SHARED/assets`).
fn shared_asset(relative: &str) -> PathBuf {
    let shared = std::env::var_os("PROMPT_TUNING_SHARED")
        .map_or_else(|| workspace_root().join("../shared"), PathBuf::from);
    let path = shared.join("assets").join(relative);
    assert!(
        path.is_file(),
        "{} is missing: set PROMPT_TUNING_SHARED",
        path.display()
    );
    path
}

/// The default model in the model cache (loading names the fetch command when it is missing).
fn smollm2() -> PathBuf {
    prompt_model::cache::SMOLLM2_135M_INSTRUCT.cached_path()
}

/// The `field` texts of `path`, read without their labels.
fn texts(path: &Path, field: &str) -> Vec<Input> {
    let mapping = ColumnMapping::unlabelled(vec![field.into()]);
    read_dataset(path, &mapping, &ReadOptions::default())
        .unwrap()
        .examples
        .into_iter()
        .map(|e| Input::Fields(e.fields))
        .collect()
}

/// The SST-2 sentences of `path`, read without their labels.
fn sentences(path: &Path) -> Vec<Input> {
    texts(path, "sentence")
}

/// `predict` with the prompt folder `artifact` on the first `n` texts (`field`) of `data`,
/// read without labels, gives the classes `eval` gives on the same rows; returns the task.
fn predict_makes_evals_predictions(
    artifact: &Path,
    data: &Path,
    field: &str,
    n: usize,
) -> TaskInfo {
    let device = Device::default();
    let mut spec = EvalSpec::for_artifact(artifact, None, Some(data), false, &[]).unwrap();
    spec.limit = Some(n);
    let evaluated = score(&spec, &device).unwrap();
    assert_eq!(evaluated.predictions.len(), n);

    let predictor = Predictor::load(&spec.config.model.resolved_path(), &device).unwrap();
    let task = TaskSpec {
        artifacts: vec![artifact.to_path_buf()],
        ..TaskSpec::default()
    };
    let info = predictor.register("task", &task).unwrap();
    let requests: Vec<(String, Input)> = texts(data, field)
        .into_iter()
        .take(n)
        .map(|input| ("task".to_string(), input))
        .collect();
    let predicted: Vec<usize> = predictor
        .classify(&requests)
        .unwrap()
        .iter()
        .map(|p| p.class)
        .collect();
    assert_eq!(predicted, evaluated.predictions);
    info
}

#[test]
fn predict_on_unlabelled_dev_sentences_makes_evals_predictions() {
    // The first 300 of the 872 sentences keep the test at a minute on a slow 2-core machine
    // (all 872 agreed when the limit was lifted).
    let info = predict_makes_evals_predictions(&committed_prompt(), &sst2_dev(), "sentence", 300);
    assert_eq!(info.labels, ["negative", "positive"]);
    assert_eq!(info.prompt_tokens, [20]);
}

#[test]
fn the_chinese_prompt_on_gemma_predicts_as_eval_scores() {
    // ChnSentiCorp reviews are long (95 Gemma tokens on average): 24 keep this to seconds.
    let data = shared_asset("chnsenticorp/dev.csv");
    let artifact = workspace_root().join("baselines/chnsenticorp-k20");
    let info = predict_makes_evals_predictions(&artifact, &data, "review", 24);
    assert_eq!(info.labels, ["负面", "正面"]);
    assert_eq!(info.template, "{review}总体评价是{mask}的");
}

/// A prompt folder for the default model with random values.
fn random_prompt(dir: &Path, k: usize, template: &str, words: &[&str], names: &[&str]) {
    let values = Tensor::random([k, 576], Distribution::Normal(0.0, 0.1), &Device::default());
    let task = PromptTask {
        template: template.into(),
        verbalizer: serde_json::json!({
            "label_words": words.iter().map(|w| vec![*w]).collect::<Vec<_>>()
        }),
        label_names: Some(names.iter().map(|n| n.to_string()).collect()),
        model_file: Some(prompt_model::cache::SMOLLM2_135M_INSTRUCT.file_name.into()),
        init: None,
    };
    let init = SoftPromptInit::default();
    let config = AdapterConfig::new("CAUSAL_LM", "m", k, 576, &init, "");
    save_prompt(dir, &SoftPrompt::from_tensor(values), &config, &task).unwrap();
}

#[test]
fn mixed_task_batches_give_each_task_what_it_gets_alone() {
    let device = Device::default();
    let folders = tempfile::tempdir().unwrap();
    let (topic, polite) = (folders.path().join("topic"), folders.path().join("polite"));
    random_prompt(
        &topic,
        5,
        "{sentence}\nTopic:{mask}",
        &[" film", " food", " sport"],
        &["film", "food", "sport"],
    );
    random_prompt(
        &polite,
        100,
        "Is this polite? {sentence} Answer:{mask}",
        &[" yes", " no"],
        &["polite", "rude"],
    );
    let predictor = Predictor::load(&smollm2(), &device).unwrap();
    for (name, artifact) in [
        ("sst2", committed_prompt()),
        ("topic", topic),
        ("polite", polite),
    ] {
        let task = TaskSpec {
            artifacts: vec![artifact],
            ..TaskSpec::default()
        };
        predictor.register(name, &task).unwrap();
    }
    let inputs: Vec<Input> = sentences(&sst2_dev()).into_iter().take(12).collect();
    let alone: Vec<_> = ["sst2", "topic", "polite"]
        .iter()
        .flat_map(|task| {
            let requests: Vec<(String, Input)> = inputs
                .iter()
                .map(|input| (task.to_string(), input.clone()))
                .collect();
            predictor.classify(&requests).unwrap()
        })
        .collect();
    // The same 36 rows interleaved: each batch holds rows of all three tasks.
    let rows: Vec<_> = (0..inputs.len())
        .flat_map(|i| {
            ["sst2", "topic", "polite"]
                .iter()
                .map(move |task| (*task, i))
        })
        .map(|(task, i)| predictor.prepare(task, &inputs[i]).unwrap())
        .collect();
    let mixed = predictor.score(&rows, 8, |_| {});
    for (row, got) in rows.iter().zip(&mixed) {
        let task = ["sst2", "topic", "polite"]
            .iter()
            .position(|t| *t == row.task_name())
            .unwrap();
        let index = rows
            .iter()
            .filter(|r| r.task_name() == row.task_name())
            .position(|r| std::ptr::eq(r, row))
            .unwrap();
        let expected = &alone[task * inputs.len() + index];
        assert_eq!(got.task, expected.task);
        assert_eq!(got.label, expected.label);
        let largest = got
            .probabilities
            .iter()
            .zip(&expected.probabilities)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(largest < 1e-5, "{}: {largest}", row.task_name());
    }
}
