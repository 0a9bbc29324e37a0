//! The fused kernels and burn's graph train the same prompt: the tiny experiment run with each
//! ends within float rounding of the other, with the same dev results.

mod common;

use burn::tensor::Device;
use prompt_train::ProgressMode;
use prompt_train::{TrainOptions, TrainSummary, train_prompt};

fn run(kernels: &str) -> TrainSummary {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex().autodiff();
    device.seed(7);
    let config = common::experiment(dir.path(), &[&format!("kernels={kernels}")]);
    let options = TrainOptions {
        progress: ProgressMode::Quiet,
        device: Device::flex(),
        ..TrainOptions::default()
    };
    train_prompt(
        common::tiny_llama(&device),
        common::start_prompt(config.prompt.length, &device),
        &common::synthetic_task(40, 10),
        &config,
        &options,
    )
    .unwrap()
}

#[test]
fn fused_and_burn_kernels_train_the_same_prompt() {
    let (fused, burn) = (run("fused"), run("burn"));
    let scale = burn.prompt.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let diff = fused
        .prompt
        .iter()
        .zip(&burn.prompt)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff <= 1e-4 * scale,
        "prompts differ by {diff} (largest value {scale})"
    );
    let (f, b) = (fused.last_dev.unwrap(), burn.last_dev.unwrap());
    assert_eq!(f.predictions, b.predictions);
    assert!((f.loss - b.loss).abs() < 1e-5, "{} vs {}", f.loss, b.loss);
}
