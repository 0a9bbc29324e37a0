//! The output folder of a run: resolved config, metrics log, prompt-only checkpoints with
//! retention, and the best prompt in PEFT layout.

mod common;

use std::fs;

use burn::optim::OptimizerRecord;
use burn::tensor::{Bytes, Device};
use prompt_model::SavedPrompt;
use prompt_train::ProgressMode;
use prompt_train::checkpoint::{Checkpoint, CheckpointDir};
use prompt_train::metrics::{Split, read_metrics};
use prompt_train::{ExperimentConfig, TrainOptions, train_prompt};

#[test]
fn a_run_writes_config_metrics_checkpoints_and_the_best_prompt() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let device = Device::flex().autodiff();
    let config = common::experiment(&out, &["optimizer.kind=adamw", "optimizer.lr=0.05"]);
    let task = common::synthetic_task(40, 10);
    let summary = train_prompt(
        common::tiny_llama(&device),
        common::start_prompt(4, &device),
        &task,
        &config,
        &TrainOptions {
            progress: ProgressMode::Quiet,
            device: Device::flex(),
            ..TrainOptions::default()
        },
    )
    .unwrap();

    // config.toml is the resolved config and reads back to the same experiment.
    let written = ExperimentConfig::load(&out.join("config.toml"), &[]).unwrap();
    assert_eq!(written.train, config.train);
    assert_eq!(written.optimizer, config.optimizer);
    assert_eq!(written.model.path, Some(config.model.resolved_path()));

    // metrics.jsonl: a train line per step (log_every = 1) and a dev line per evaluation.
    let records = read_metrics(&out.join("metrics.jsonl")).unwrap();
    let train: Vec<usize> = records
        .iter()
        .filter(|r| r.split == Split::Train)
        .map(|r| r.step)
        .collect();
    let dev: Vec<usize> = records
        .iter()
        .filter(|r| r.split == Split::Dev)
        .map(|r| r.step)
        .collect();
    assert_eq!(train, (1..=8).collect::<Vec<_>>());
    assert_eq!(dev, [4, 8]);
    for r in &records {
        assert!(
            r.loss.is_finite() && (0.0..=1.0).contains(&r.accuracy),
            "{r:?}"
        );
        assert!(r.examples_per_s > 0.0 && r.seconds > 0.0, "{r:?}");
        assert_eq!(r.examples, if r.split == Split::Dev { 10 } else { 4 });
    }
    let last_dev = records
        .iter()
        .rev()
        .find(|r| r.split == Split::Dev)
        .unwrap();
    assert_eq!(
        summary.last_dev.as_ref().unwrap().accuracy,
        last_dev.accuracy
    );

    // Checkpoints every 2 steps, the newest 2 kept (plus the best one's, if older).
    let checkpoints = CheckpointDir::new(out.join("checkpoints"), 2);
    let best = summary.best.unwrap();
    let mut expected = vec![6, 8];
    if best.step < 6 {
        expected.insert(0, best.step);
    }
    assert_eq!(checkpoints.steps().unwrap(), expected);
    // A checkpoint holds the prompt and the optimizer state of the prompt only: AdamW keeps
    // two moment tensors for its single parameter, nothing for the frozen backbone.
    let latest = checkpoints.latest_valid().unwrap();
    assert!(latest.skipped.is_empty());
    let (_, checkpoint): (_, Checkpoint) = latest.found.unwrap();
    assert_eq!(checkpoint.header.step, 8);
    assert_eq!(checkpoint.header.prompt_shape, [4, common::WIDTH]);
    assert_eq!(checkpoint.prompt, summary.prompt);
    let optimizer =
        OptimizerRecord::from_bytes(Bytes::from_bytes_vec(checkpoint.optimizer)).unwrap();
    assert_eq!(optimizer.len(), 2);

    // best/ is a PEFT prompt folder with the template and verbalizer.
    let saved = SavedPrompt::load(&out.join("best")).unwrap();
    assert_eq!(saved.config.peft_type, "PROMPT_TUNING");
    assert_eq!(saved.config.task_type, "CAUSAL_LM");
    assert_eq!(
        (saved.config.num_virtual_tokens, saved.config.token_dim),
        (4, common::WIDTH)
    );
    let task_file = saved.task.unwrap();
    assert_eq!(task_file.template, "{sentence} It was{mask}");
    assert_eq!(task_file.verbalizer["label_words"][1][0], " positive");
    if best.step == 8 {
        assert_eq!(saved.values, summary.prompt);
    }
    let names: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(
        names,
        [
            ".lock",
            "best",
            "checkpoints",
            "config.toml",
            "metrics.jsonl"
        ]
    );
}
