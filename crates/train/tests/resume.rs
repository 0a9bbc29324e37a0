//! Exact resume: training 2N steps straight and N steps + resume N steps give the same prompt,
//! also when the newest checkpoint is corrupt and resume falls back to an older one; a run
//! whose loss stops being finite ends with an error and keeps its last good checkpoint.

mod common;

use std::fs;
use std::path::Path;

use burn::tensor::Device;
use prompt_model::Llama;
use prompt_train::ProgressMode;
use prompt_train::checkpoint::CheckpointDir;
use prompt_train::metrics::{Split, read_metrics};
use prompt_train::{TrainError, TrainOptions, TrainSummary, train_prompt};

fn options(resume: bool, stop_after: Option<usize>) -> TrainOptions {
    TrainOptions {
        resume,
        progress: ProgressMode::Quiet,
        device: Device::flex(),
        stop_after,
        ..TrainOptions::default()
    }
}

/// Trains on the synthetic task. Each test makes one backbone and passes it to all its runs:
/// random weights drawn in parallel tests would differ between runs.
fn run(
    backbone: &Llama,
    output: &Path,
    sets: &[&str],
    options: &TrainOptions,
) -> Result<TrainSummary, TrainError> {
    let device = Device::flex().autodiff();
    let config = common::experiment(output, sets);
    let task = common::synthetic_task(40, 10);
    train_prompt(
        backbone.clone(),
        common::start_prompt(config.prompt.length, &device),
        &task,
        &config,
        options,
    )
}

fn train_losses(output: &Path) -> Vec<(usize, f64)> {
    read_metrics(&output.join("metrics.jsonl"))
        .unwrap()
        .into_iter()
        .filter(|r| r.split == Split::Train)
        .map(|r| (r.step, r.loss))
        .collect()
}

/// Straight run vs interrupted-and-resumed run, for one optimizer/schedule setting.
fn assert_resume_is_exact(sets: &[&str]) {
    let backbone = common::tiny_llama(&Device::flex().autodiff());
    let tmp = tempfile::tempdir().unwrap();
    let (straight_dir, split_dir) = (tmp.path().join("straight"), tmp.path().join("split"));
    let straight = run(&backbone, &straight_dir, sets, &options(false, None)).unwrap();
    assert_eq!(straight.steps, 8);
    let first = run(&backbone, &split_dir, sets, &options(false, Some(4))).unwrap();
    assert_eq!((first.steps, first.resumed_from), (4, None));
    let resumed = run(&backbone, &split_dir, sets, &options(true, None)).unwrap();
    assert_eq!((resumed.steps, resumed.resumed_from), (8, Some(4)));

    // Bit for bit: same data order, optimizer state, schedule position and prompt values.
    assert_eq!(straight.prompt, resumed.prompt, "{sets:?}");
    let start = common::start_prompt(4, &Device::flex());
    assert_ne!(
        straight.prompt,
        prompt_train::prompt_values(&start),
        "training changed nothing"
    );
    // The per-step losses of both runs are the same too, each step logged once.
    assert_eq!(train_losses(&straight_dir), train_losses(&split_dir));
    assert_eq!(
        train_losses(&split_dir)
            .iter()
            .map(|(s, _)| *s)
            .collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );
    assert_eq!(straight.best, resumed.best);
}

#[test]
fn resume_is_exact_with_adamw_and_a_linear_schedule() {
    assert_resume_is_exact(&[
        "optimizer.kind=adamw",
        "optimizer.lr=0.05",
        "schedule.kind=linear",
        "schedule.warmup_steps=3",
    ]);
}

#[test]
fn resume_is_exact_with_adafactor_at_a_constant_rate() {
    assert_resume_is_exact(&["optimizer.kind=adafactor", "optimizer.lr=0.3"]);
}

#[test]
fn a_corrupt_newest_checkpoint_falls_back_to_the_previous_one_and_stays_exact() {
    let backbone = common::tiny_llama(&Device::flex().autodiff());
    let tmp = tempfile::tempdir().unwrap();
    let straight = run(
        &backbone,
        &tmp.path().join("straight"),
        &[],
        &options(false, None),
    )
    .unwrap();
    let dir = tmp.path().join("split");
    run(&backbone, &dir, &[], &options(false, Some(4))).unwrap();
    let newest = dir.join("checkpoints/step-00000004.ckpt");
    let bytes = fs::read(&newest).unwrap();
    fs::write(&newest, &bytes[..bytes.len() - 10]).unwrap();

    let resumed = run(&backbone, &dir, &[], &options(true, None)).unwrap();
    assert_eq!(resumed.resumed_from, Some(2));
    assert_eq!(resumed.skipped_checkpoints.len(), 1);
    assert!(resumed.skipped_checkpoints[0].contains("step-00000004.ckpt is corrupt"));
    assert_eq!(straight.prompt, resumed.prompt);
}

#[test]
fn a_fresh_run_refuses_an_output_folder_with_checkpoints_and_resume_needs_one() {
    let backbone = common::tiny_llama(&Device::flex().autodiff());
    let tmp = tempfile::tempdir().unwrap();
    let e = run(&backbone, tmp.path(), &[], &options(true, None))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("nothing to resume in "), "{e}");
    run(&backbone, tmp.path(), &[], &options(false, Some(2))).unwrap();
    let e = run(&backbone, tmp.path(), &[], &options(false, None))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("already holds checkpoints: resume with --resume"),
        "{e}"
    );
    let e = run(&backbone, tmp.path(), &["seed=3"], &options(true, None))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("it was written with seed 0, the config says 3"),
        "{e}"
    );
}

#[test]
fn a_diverging_run_stops_naming_the_step_and_keeps_the_last_good_checkpoint() {
    let backbone = common::tiny_llama(&Device::flex().autodiff());
    let tmp = tempfile::tempdir().unwrap();
    // Each step moves every prompt value by about the learning rate; at 1e30 a forward pass
    // soon overflows f32 and the loss is no longer finite.
    let sets = ["optimizer.lr=1e30", "train.checkpoint_every=1"];
    let message = run(&backbone, tmp.path(), &sets, &options(false, None))
        .unwrap_err()
        .to_string();
    let step: usize = message
        .split(" at step ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no step in: {message}"));
    let checkpoints = CheckpointDir::new(tmp.path().join("checkpoints"), 2);
    let last_good = checkpoints.file_for(step - 1);
    assert!(
        message.contains(&format!(
            "training diverged and stopped; the last good checkpoint, {}, is kept. Lower \
             optimizer.lr",
            last_good.display()
        )),
        "{message}"
    );
    let (path, kept) = checkpoints.latest_valid().unwrap().found.unwrap();
    assert_eq!(path, last_good);
    assert!(kept.prompt.iter().all(|v| v.is_finite()));
}
