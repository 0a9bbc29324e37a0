//! Prompt tuning on a small random llama: class scores come from the verbalizer's rows at the
//! answer slot, padding does not matter, and an optimizer step moves the prompt only.

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Gradients, Int, Tensor, TensorData};
use common::{batch, floats, max_abs_diff, tiny_llama_config};
use prompt_data::{LabelWord, MultiTokenPolicy, Verbalizer};
use prompt_model::{Backbone, ClassTokens, Llama, PromptPlacement, PromptTuned, SoftPrompt};

fn tiny_model(k: usize, device: &Device) -> PromptTuned<Llama> {
    let backbone = tiny_llama_config().init(device);
    let prompt = Tensor::<2>::random([k, 16], Distribution::Uniform(-0.5, 0.5), device);
    PromptTuned::new(backbone, SoftPrompt::from_tensor(prompt)).unwrap()
}

const ROWS: [&[i64]; 2] = [&[5, 9, 12, 3, 7], &[40, 2, 33]];

#[test]
fn class_scores_are_the_verbalizer_columns_of_the_answer_slot_logits() {
    let device = Device::flex();
    let model = tiny_model(3, &device);
    let (ids, mask, answer) = batch(&ROWS, &device);
    let labels = vec![vec![10u32, 11], vec![20], vec![30, 31, 32]];
    let vocab = floats(model.forward_vocab(ids.clone(), mask.clone(), answer.clone()));
    let v = 64;
    let first = ClassTokens::new(
        &Verbalizer::from_ids(&labels, MultiTokenPolicy::FirstToken).unwrap(),
        &device,
    );
    let scores = floats(model.forward(ids.clone(), mask.clone(), answer.clone(), &first));
    let expected: Vec<f32> = (0..2)
        .flat_map(|b| labels.iter().map(move |t| (b, t)))
        .map(|(b, t)| vocab[b * v + t[0] as usize])
        .collect();
    assert!(max_abs_diff(&scores, &expected) < 1e-5);

    let mean = ClassTokens::new(
        &Verbalizer::from_ids(&labels, MultiTokenPolicy::Mean).unwrap(),
        &device,
    );
    let scores = floats(model.forward(ids, mask, answer, &mean));
    let expected: Vec<f32> = (0..2)
        .flat_map(|b| labels.iter().map(move |t| (b, t)))
        .map(|(b, t)| t.iter().map(|&i| vocab[b * v + i as usize]).sum::<f32>() / t.len() as f32)
        .collect();
    assert!(max_abs_diff(&scores, &expected) < 1e-5);
}

#[test]
fn a_class_of_several_words_scores_the_mean_of_its_words() {
    let device = Device::flex();
    let model = tiny_model(3, &device);
    let (ids, mask, answer) = batch(&ROWS, &device);
    let vocab = floats(model.forward_vocab(ids.clone(), mask.clone(), answer.clone()));
    let word = |ids: &[u32]| LabelWord {
        text: format!("{ids:?}"),
        ids: ids.to_vec(),
    };
    let names = ["bad".to_string(), "good".to_string()];
    let words = vec![vec![word(&[10]), word(&[12, 13])], vec![word(&[20])]];
    let verbalizer = Verbalizer::from_words(&names, words, MultiTokenPolicy::FirstToken).unwrap();
    let scores = floats(model.forward(ids, mask, answer, &ClassTokens::new(&verbalizer, &device)));
    let v = 64;
    let expected: Vec<f32> = (0..2)
        .flat_map(|b| {
            [
                (vocab[b * v + 10] + vocab[b * v + 12]) / 2.0,
                vocab[b * v + 20],
            ]
        })
        .collect();
    assert!(max_abs_diff(&scores, &expected) < 1e-5);
}

#[test]
fn a_row_scores_the_same_alone_and_right_padded_in_a_batch() {
    let device = Device::flex();
    let model = tiny_model(4, &device);
    let classes = ClassTokens::new(
        &Verbalizer::from_ids(&[vec![1], vec![2]], MultiTokenPolicy::FirstToken).unwrap(),
        &device,
    );
    let (ids, mask, answer) = batch(&ROWS, &device);
    let both = floats(model.forward(ids, mask, answer, &classes));
    let (ids, mask, answer) = batch(&ROWS[1..], &device);
    let alone = floats(model.forward(ids, mask, answer, &classes));
    assert!(max_abs_diff(&both[2..], &alone) < 1e-5);
}

#[test]
fn an_empty_prompt_scores_the_template_alone() {
    let device = Device::flex();
    let model = tiny_model(0, &device);
    assert_eq!(model.prompt.num_tokens(), 0);
    let classes = ClassTokens::new(
        &Verbalizer::from_ids(&[vec![1], vec![2]], MultiTokenPolicy::FirstToken).unwrap(),
        &device,
    );
    let (ids, mask, answer) = batch(&ROWS, &device);
    let scores = floats(model.forward(ids.clone(), mask.clone(), answer, &classes));
    // The backbone alone, read at each row's last token.
    let backbone = &model.backbone;
    let hidden = backbone.encode(backbone.embed_tokens(ids), mask);
    let expected: Vec<f32> = ROWS
        .iter()
        .enumerate()
        .flat_map(|(b, row)| {
            let at = hidden
                .clone()
                .narrow(0, b, 1)
                .narrow(1, row.len() - 1, 1)
                .reshape([1, 16]);
            let rows = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 2], [2]), &device);
            floats(backbone.vocab_logits(at, rows))
        })
        .collect();
    assert_eq!(scores.len(), 4);
    assert!(max_abs_diff(&scores, &expected) < 1e-6);
}

#[test]
fn loss_is_the_mean_cross_entropy_over_classes() {
    let device = Device::flex();
    let scores = Tensor::<2>::from_data(
        TensorData::new(vec![1.0f32, 2.0, 0.0, 0.0], [2, 2]),
        &device,
    );
    let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 0], [2]), &device);
    let loss = floats(PromptTuned::<Llama>::loss(scores, targets))[0];
    let expected = ((1.0 + (-1.0f32).exp()).ln() + 2.0f32.ln()) / 2.0;
    assert!((loss - expected).abs() < 1e-6);
}

/// Every float parameter's values, and whether `grads` holds a gradient for it.
struct Snapshot<'a> {
    grads: Option<&'a Gradients>,
    params: Vec<(Vec<f32>, bool)>,
}

impl ModuleVisitor for Snapshot<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let has_grad = self.grads.is_some_and(|g| param.val().grad(g).is_some());
        self.params.push((floats(param.val()), has_grad));
    }
}

fn snapshot(module: &impl Module, grads: Option<&Gradients>) -> Vec<(Vec<f32>, bool)> {
    let mut visitor = Snapshot {
        grads,
        params: Vec::new(),
    };
    module.visit(&mut visitor);
    visitor.params
}

#[test]
fn shared_prefix_gives_the_logits_loss_and_prompt_gradient_of_the_prompt_in_every_row() {
    let device = Device::flex().autodiff();
    let k = 3;
    let model = tiny_model(k, &device);
    let classes = ClassTokens::new(
        &Verbalizer::from_ids(&[vec![10], vec![20]], MultiTokenPolicy::FirstToken).unwrap(),
        &device,
    );
    let (ids, mask, answer) = batch(&ROWS, &device);
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 0], [2]), &device);
    let prompt = model.prompt.values();

    let shared = model.forward(ids.clone(), mask.clone(), answer.clone(), &classes);
    let shared_logits = floats(shared.clone());
    let shared_loss = PromptTuned::<Llama>::loss(shared, labels.clone());
    let shared_grad = floats(prompt.grad(&shared_loss.backward()).unwrap());

    // Every row carries its own copy of the prompt through the backbone.
    let every_row = model.with_placement(PromptPlacement::EveryRow);
    let unshared = every_row.forward(ids, mask, answer, &classes);
    assert!(max_abs_diff(&shared_logits, &floats(unshared.clone())) < 1e-5);
    let unshared_loss = PromptTuned::<Llama>::loss(unshared, labels);
    let unshared_grad = floats(prompt.grad(&unshared_loss.backward()).unwrap());

    assert!(max_abs_diff(&floats(shared_loss), &floats(unshared_loss)) < 1e-5);
    assert_eq!(shared_grad.len(), k * 16);
    // The random model's gradient may be small: compare relative to its largest entry.
    let scale = shared_grad.iter().fold(0.0f32, |m, g| m.max(g.abs()));
    assert!(scale > 0.0, "the gradient is zero");
    assert!(max_abs_diff(&shared_grad, &unshared_grad) <= 1e-4 * scale);
}

#[test]
fn one_adamw_step_changes_the_prompt_and_no_backbone_parameter() {
    let device = Device::flex().autodiff();
    let model = tiny_model(3, &device);
    let classes = ClassTokens::new(
        &Verbalizer::from_ids(&[vec![10], vec![20]], MultiTokenPolicy::FirstToken).unwrap(),
        &device,
    );
    let (ids, mask, answer) = batch(&ROWS, &device);
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 0], [2]), &device);
    let scores = model.forward(ids, mask, answer, &classes);
    let grads = PromptTuned::<Llama>::loss(scores, labels).backward();

    let backbone_before = snapshot(&model.backbone, Some(&grads));
    assert_eq!(backbone_before.len(), 2 + 2 * 9);
    assert!(
        backbone_before.iter().all(|(_, has_grad)| !has_grad),
        "a backbone parameter got a gradient"
    );
    let prompt_before = snapshot(&model.prompt, Some(&grads));
    assert!(prompt_before[0].1, "the prompt got no gradient");

    let grads = GradientsParams::from_grads(grads, &model);
    assert_eq!(grads.len(), 1, "only the prompt has a gradient");
    let model = AdamWConfig::new().init().step(1e-2, model, grads);

    let backbone_after = snapshot(&model.backbone, None);
    for (before, after) in backbone_before.iter().zip(&backbone_after) {
        let same = before
            .0
            .iter()
            .zip(&after.0)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "a backbone parameter changed");
    }
    let prompt_after = snapshot(&model.prompt, None);
    // Adam's first step moves every coordinate with a non-zero gradient by about the lr.
    let moved = max_abs_diff(&prompt_before[0].0, &prompt_after[0].0);
    assert!((moved - 1e-2).abs() < 2e-3, "prompt moved by {moved}");
}

#[test]
fn a_prompt_of_another_width_is_refused() {
    let device = Device::flex();
    let prompt = SoftPrompt::from_tensor(Tensor::<2>::zeros([2, 8], &device));
    let err = PromptTuned::new(tiny_llama_config().init(&device), prompt).unwrap_err();
    assert!(
        matches!(
            err,
            prompt_model::PromptError::ModelWidth {
                found: 8,
                expected: 16
            }
        ),
        "{err}"
    );
}
