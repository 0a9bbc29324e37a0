//! Evaluation of a prompt-tuned model on encoded examples: mean loss, accuracy and each
//! example's predicted class, without gradients.

use burn::data::dataloader::batcher::Batcher;
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use prompt_data::{Encoded, PromptBatch, PromptBatcher, sorted_batches};
use prompt_model::{Backbone, ClassTokens, PromptTuned, RowPrefixes, answer_hidden_behind};

/// The result of an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy over the examples.
    pub loss: f64,
    /// Share of examples whose best-scoring class is the gold one.
    pub accuracy: f64,
    /// Predicted class of each example, in the order given.
    pub predictions: Vec<usize>,
    /// Number of examples.
    pub examples: usize,
}

impl Evaluation {
    /// The evaluation of `examples` whose losses sum to `loss_sum` and whose predicted classes
    /// are `predictions`, in the same order.
    pub fn from_predictions(loss_sum: f64, predictions: Vec<usize>, examples: &[Encoded]) -> Self {
        let correct = predictions
            .iter()
            .zip(examples)
            .filter(|(p, e)| **p == e.label)
            .count();
        let n = examples.len().max(1) as f64;
        Self {
            loss: loss_sum / n,
            accuracy: correct as f64 / n,
            predictions,
            examples: examples.len(),
        }
    }
}

/// Scores one batch: summed loss, predicted classes.
pub fn score_batch<B: Backbone + Module>(
    model: &PromptTuned<B>,
    classes: &ClassTokens,
    batch: PromptBatch,
) -> (Tensor<1>, Tensor<2>) {
    let scores = model.forward(batch.ids, batch.mask, batch.answer_pos, classes);
    let loss = PromptTuned::<B>::loss(scores.clone(), batch.labels);
    (loss, scores)
}

/// Predicted class per row of `scores` `[B, C]` and how many match `labels` `[B]`.
pub fn predictions(scores: Tensor<2>, labels: Tensor<1, Int>) -> (Vec<usize>, usize) {
    let [batch, _] = scores.dims();
    let predicted = scores.argmax(1).reshape([batch]);
    let correct = predicted.clone().equal(labels).int().sum();
    let predicted = int_values(predicted)
        .into_iter()
        .map(|p| p as usize)
        .collect();
    (predicted, int_values(correct)[0] as usize)
}

fn int_values<const D: usize>(t: Tensor<D, Int>) -> Vec<i64> {
    t.into_data()
        .try_into_vec_as::<i64>()
        .expect("int tensors convert to i64")
}

/// Evaluates `model` on `examples` in batches of `batch_size` (sorted by length to pad
/// little). The prompt is prepared once ([`PromptTuned::cached_prompt`]: a causal backbone
/// computes its keys and values once for all batches). `model` and `classes` must live on
/// `device`; an autodiff model should be passed through [`Module::valid`] first so no graph
/// is recorded.
pub fn evaluate<B: Backbone + Module>(
    model: &PromptTuned<B>,
    classes: &ClassTokens,
    examples: &[Encoded],
    batch_size: usize,
    pad_id: u32,
    device: &Device,
) -> Evaluation {
    let prompt = model.cached_prompt();
    let lengths: Vec<usize> = examples.iter().map(|e| e.ids.len()).collect();
    let batches = sorted_batches(&lengths, batch_size.max(1)).expect("batch size is at least 1");
    let batcher = PromptBatcher { pad_id };
    let mut predictions_in_order = vec![0; examples.len()];
    let mut loss_sum = 0.0;
    for indices in batches {
        let items: Vec<Encoded> = indices.iter().map(|&i| examples[i].clone()).collect();
        let batch = batcher.batch(items, device);
        let labels = batch.labels.clone();
        let hidden = answer_hidden_behind(
            &model.backbone,
            &RowPrefixes::same(&prompt, indices.len()),
            batch.ids,
            batch.mask,
            batch.answer_pos,
        );
        let scores = classes.scores(&model.backbone, hidden);
        let loss = PromptTuned::<B>::loss(scores.clone(), labels.clone());
        loss_sum += f64::from(loss.into_scalar::<f32>()) * indices.len() as f64;
        let (predicted, _) = predictions(scores, labels);
        for (&i, p) in indices.iter().zip(predicted) {
            predictions_in_order[i] = p;
        }
    }
    Evaluation::from_predictions(loss_sum, predictions_in_order, examples)
}
