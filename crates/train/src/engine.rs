//! Where a training step and an evaluation run: on the backbone's fused CPU kernels when it has
//! them and the config allows (`kernels = "fused"`, the default), else through burn's graph.
//! Both give the same numbers within float rounding (crates/model/tests/fused.rs); the fused
//! kernels skip the graph's bookkeeping, padding and copies.

use burn::data::dataloader::batcher::Batcher;
use burn::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use prompt_data::{Encoded, PromptBatcher, Verbalizer, sorted_batches};
use prompt_model::{
    Backbone, ClassTokens, FusedClassHead, FusedLlama, PromptPlacement, PromptTuned,
};

use crate::config::Kernels;
use crate::evaluate::{Evaluation, evaluate, predictions, score_batch};
use crate::run::prompt_values;

/// A task's scoring on one backbone: its classes on the chosen kernels.
pub struct Engine {
    fused: Option<(FusedLlama, FusedClassHead)>,
    /// The verbalizer's rows on the training (autodiff) device and the evaluation device.
    train_classes: ClassTokens,
    eval_classes: ClassTokens,
    batcher: PromptBatcher,
    train_device: Device,
    device: Device,
}

impl Engine {
    /// Scoring of `verbalizer`'s classes on `backbone` (inputs padded with `pad_id` on the burn
    /// path). The fused kernels are used when `kernels` asks for them, the backbone has them
    /// on `device`, and the prompt is shared by every row.
    pub fn new<B: Backbone>(
        backbone: &B,
        verbalizer: &Verbalizer,
        pad_id: u32,
        kernels: Kernels,
        placement: PromptPlacement,
        device: &Device,
    ) -> Self {
        let wanted = kernels == Kernels::Fused && placement == PromptPlacement::SharedPrefix;
        let fused = wanted.then(|| backbone.fused()).flatten().map(|model| {
            let head = model.class_head(verbalizer);
            (model, head)
        });
        let train_device = device.clone().autodiff();
        Self {
            fused,
            train_classes: ClassTokens::new(verbalizer, &train_device),
            eval_classes: ClassTokens::new(verbalizer, device),
            batcher: PromptBatcher { pad_id },
            train_device,
            device: device.clone(),
        }
    }

    /// `"fused"` or `"burn"`: which kernels this engine runs.
    pub fn kernels(&self) -> &'static str {
        if self.fused.is_some() {
            "fused"
        } else {
            "burn"
        }
    }

    /// One optimizer step on `items`: updates the prompt and returns the batch's mean loss and
    /// how many of its examples the prompt classified right before the update.
    pub fn train_step<B: Backbone + Module>(
        &self,
        model: &mut PromptTuned<B>,
        optimizer: &mut ModuleOptimizer,
        rate: ModuleLearningRate,
        items: Vec<Encoded>,
    ) -> (f64, usize) {
        let Some((fused, head)) = &self.fused else {
            let batch = self.batcher.batch(items, &self.train_device);
            let labels = batch.labels.clone();
            let (loss, scores) = score_batch(model, &self.train_classes, batch);
            let grads = GradientsParams::from_grads(loss.backward(), &model.prompt);
            model.prompt = optimizer.step(rate, model.prompt.clone(), grads);
            let (_, correct) = predictions(scores, labels);
            return (f64::from(loss.into_scalar::<f32>()), correct);
        };
        let shape = [model.prompt.num_tokens(), model.prompt.width()];
        let step = fused.train_step(&prompt_values(&model.prompt), &items, head);
        let mut grads = GradientsParams::new();
        let grad = Tensor::<2>::from_data(TensorData::new(step.prompt_grad, shape), &self.device);
        grads.register(model.prompt.embeddings.id, grad);
        model.prompt = optimizer.step(rate, model.prompt.clone(), grads);
        let correct = argmax_rows(&step.scores, head.num_classes())
            .iter()
            .zip(&items)
            .filter(|(p, e)| **p == e.label)
            .count();
        (f64::from(step.loss), correct)
    }

    /// Evaluates `model` on `examples` in batches of `batch_size` (sorted by length), the prompt
    /// prepared once. `model` may be on the autodiff device: no graph is recorded.
    pub fn evaluate<B: Backbone + Module>(
        &self,
        model: &PromptTuned<B>,
        examples: &[Encoded],
        batch_size: usize,
    ) -> Evaluation {
        let Some((fused, head)) = &self.fused else {
            let valid = PromptTuned {
                backbone: model.backbone.valid(),
                prompt: model.prompt.valid(),
                placement: model.placement,
            };
            return evaluate(
                &valid,
                &self.eval_classes,
                examples,
                batch_size,
                self.batcher.pad_id,
                &self.device,
            );
        };
        let prompt = fused.cache_prompt(&prompt_values(&model.prompt));
        let lengths: Vec<usize> = examples.iter().map(|e| e.ids.len()).collect();
        let batches =
            sorted_batches(&lengths, batch_size.max(1)).expect("batch size is at least 1");
        let mut predicted = vec![0; examples.len()];
        let mut loss_sum = 0.0;
        for indices in batches {
            let items: Vec<Encoded> = indices.iter().map(|&i| examples[i].clone()).collect();
            let scores = fused.scores(&prompt, &items, head);
            let classes = head.num_classes();
            for ((row, &i), best) in scores
                .chunks(classes)
                .zip(&indices)
                .zip(argmax_rows(&scores, classes))
            {
                loss_sum += f64::from(cross_entropy(row, examples[i].label));
                predicted[i] = best;
            }
        }
        Evaluation::from_predictions(loss_sum, predicted, examples)
    }
}

/// The best class of each row (the first of equals, as burn's `argmax`).
fn argmax_rows(scores: &[f32], classes: usize) -> Vec<usize> {
    scores
        .chunks(classes)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (c, &s)| {
                    if s > best.1 { (c, s) } else { best }
                })
                .0
        })
        .collect()
}

/// `−log softmax(row)[label]`.
fn cross_entropy(row: &[f32], label: usize) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = max + row.iter().map(|s| (s - max).exp()).sum::<f32>().ln();
    log_sum - row[label]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_equal_scores() {
        assert_eq!(
            argmax_rows(&[0.1, 0.9, 0.5, 0.5, 2.0, -1.0], 2),
            vec![1, 0, 0]
        );
    }

    #[test]
    fn cross_entropy_of_two_equal_scores_is_log_two() {
        assert!((cross_entropy(&[3.0, 3.0], 1) - std::f32::consts::LN_2).abs() < 1e-6);
        assert!(cross_entropy(&[10.0, -10.0], 0) < 1e-6);
    }
}
