//! Evaluation: padding and batch size do not change the loss, the accuracy or the predictions.

mod common;

use burn::tensor::Device;
use prompt_model::{ClassTokens, PromptTuned};
use prompt_train::evaluate;

#[test]
fn evaluation_does_not_depend_on_batch_size_or_padding() {
    let device = Device::flex();
    let task = common::synthetic_task(0, 23);
    let model = PromptTuned::new(
        common::tiny_llama(&device),
        common::start_prompt(3, &device),
    )
    .unwrap();
    let classes = ClassTokens::new(&task.verbalizer, &device);
    let one = evaluate(&model, &classes, &task.dev, 1, task.pad_id, &device);
    let many = evaluate(&model, &classes, &task.dev, 7, task.pad_id, &device);
    assert_eq!(one.examples, 23);
    assert_eq!(one.predictions, many.predictions);
    assert_eq!(one.accuracy, many.accuracy);
    assert!(
        (one.loss - many.loss).abs() < 1e-5,
        "{} vs {}",
        one.loss,
        many.loss
    );
    // Accuracy is the share of predictions equal to the labels.
    let right = one
        .predictions
        .iter()
        .zip(&task.dev)
        .filter(|(p, e)| **p == e.label)
        .count();
    assert_eq!(one.accuracy, right as f64 / 23.0);
    assert!(one.predictions.iter().all(|&p| p < 2));
    assert!(one.loss.is_finite() && one.loss > 0.0, "{}", one.loss);
}
