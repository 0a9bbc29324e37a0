//! The fused CPU path against the burn model it replaces on the hot loops: the same loss, class
//! scores and prompt gradient for a training step, the same scores behind a cached prompt.

mod common;

use burn::tensor::{Bool, Device, Distribution, Int, Tensor, TensorData};
use common::{batch, floats, max_abs_diff, tiny_llama_config};
use prompt_data::{Encoded, MultiTokenPolicy, Verbalizer};
use prompt_model::{
    Backbone, ClassTokens, Llama, PromptTuned, RowPrefixes, SoftPrompt, answer_hidden_behind,
};

/// Rows of different lengths; the second answers before its last token (what follows the
/// answer slot cannot change it in a causal model).
fn examples() -> Vec<Encoded> {
    let rows: [(&[u32], usize, usize); 4] = [
        (&[5, 9, 12, 3, 7], 4, 1),
        (&[40, 2, 33, 8, 1], 2, 0),
        (&[8, 1], 1, 2),
        (&[11, 12, 13, 14], 3, 1),
    ];
    rows.iter()
        .map(|&(ids, answer_pos, label)| Encoded {
            ids: ids.to_vec(),
            answer_pos,
            label,
        })
        .collect()
}

/// Three classes, the last a two-token word scored by the mean of its logits.
fn verbalizer() -> Verbalizer {
    Verbalizer::from_ids(&[vec![5], vec![9], vec![17, 3]], MultiTokenPolicy::Mean).unwrap()
}

/// `examples` right-padded for the burn model: ids, mask and answer positions.
fn padded(
    examples: &[Encoded],
    device: &Device,
) -> (Tensor<2, Int>, Tensor<2, Bool>, Tensor<1, Int>) {
    let rows: Vec<Vec<i64>> = examples
        .iter()
        .map(|e| e.ids.iter().map(|&i| i64::from(i)).collect())
        .collect();
    let rows: Vec<&[i64]> = rows.iter().map(|r| r.as_slice()).collect();
    let (ids, mask, _) = batch(&rows, device);
    let answer: Vec<i64> = examples.iter().map(|e| e.answer_pos as i64).collect();
    let answer = Tensor::<1, Int>::from_data(TensorData::new(answer, [examples.len()]), device);
    (ids, mask, answer)
}

/// The burn model's loss and scores on `examples` behind `prompt`, and the prompt's gradient
/// when `device` records one.
fn burn_step(backbone: Llama, prompt: Tensor<2>, device: &Device) -> (f32, Vec<f32>, Vec<f32>) {
    let model = PromptTuned::new(backbone, SoftPrompt::from_tensor(prompt)).unwrap();
    let examples = examples();
    let (ids, mask, answer) = padded(&examples, device);
    let labels: Vec<i64> = examples.iter().map(|e| e.label as i64).collect();
    let n = examples.len();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), device);
    let classes = ClassTokens::new(&verbalizer(), device);
    let scores = model.forward(ids, mask, answer, &classes);
    let loss = PromptTuned::<Llama>::loss(scores.clone(), labels);
    let grad = match device.is_autodiff() {
        true => floats(
            model
                .prompt
                .embeddings
                .val()
                .grad(&loss.backward())
                .unwrap(),
        ),
        false => Vec::new(),
    };
    (floats(loss)[0], floats(scores), grad)
}

#[test]
fn a_fused_training_step_gives_the_burn_models_loss_scores_and_prompt_gradient() {
    let device = Device::flex().autodiff();
    let backbone = tiny_llama_config().init(&device);
    let fused = backbone
        .fused()
        .expect("a plain f32 llama on the CPU has a fused path");
    let head = fused.class_head(&verbalizer());
    for k in [1, 3, 7] {
        let prompt = Tensor::<2>::random([k, 16], Distribution::Uniform(-0.5, 0.5), &device);
        let (loss, scores, grad) = burn_step(backbone.clone(), prompt.clone(), &device);
        let step = fused.train_step(&floats(prompt), &examples(), &head);
        assert!(
            (step.loss - loss).abs() < 1e-5,
            "k = {k}: {} vs {loss}",
            step.loss
        );
        assert!(max_abs_diff(&step.scores, &scores) < 1e-5, "k = {k}");
        let scale = grad.iter().fold(0.0f32, |m, g| m.max(g.abs()));
        assert!(scale > 0.0);
        let diff = max_abs_diff(&step.prompt_grad, &grad);
        assert!(
            diff <= 1e-4 * scale,
            "k = {k}: gradient off by {diff} (largest {scale})"
        );
    }
}

#[test]
fn a_repeated_step_is_bit_equal_though_its_buffers_are_reused() {
    let device = Device::flex();
    let fused = tiny_llama_config().init(&device).fused().unwrap();
    let head = fused.class_head(&verbalizer());
    let prompt: Vec<f32> = (0..5 * 16).map(|i| (i as f32 * 0.37).sin() * 0.5).collect();
    let first = fused.train_step(&prompt, &examples(), &head);
    // A step on other rows in between leaves stale values in the reused buffers.
    fused.train_step(&prompt[..16], &examples()[1..3], &head);
    let again = fused.train_step(&prompt, &examples(), &head);
    assert_eq!(first.loss.to_bits(), again.loss.to_bits());
    assert_eq!(first.prompt_grad, again.prompt_grad);
    assert_eq!(first.scores, again.scores);
}

#[test]
fn fused_scores_behind_a_cached_prompt_equal_the_burn_models() {
    let device = Device::flex();
    let backbone = tiny_llama_config().init(&device);
    let fused = backbone.fused().unwrap();
    let head = fused.class_head(&verbalizer());
    for k in [0, 4] {
        let values: Vec<f32> = (0..k * 16)
            .map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5)
            .collect();
        let prompt = Tensor::<2>::from_data(TensorData::new(values, [k, 16]), &device);
        // k = 0 is the template alone.
        let expected = burn_step(backbone.clone(), prompt.clone(), &device).1;
        let cached = fused.cache_prompt(&floats(prompt));
        assert_eq!(cached.len(), k);
        let scores = fused.scores(&cached, &examples(), &head);
        assert!(max_abs_diff(&scores, &expected) < 1e-5, "k = {k}");
    }
}

#[test]
fn rows_behind_different_cached_prompts_get_the_burn_models_hidden_states() {
    let device = Device::flex();
    let backbone = tiny_llama_config().init(&device);
    let fused = backbone.fused().unwrap();
    // Prompts of 3, 0 and 5 rows; the four examples behind prompts 2, 0, 1, 2.
    let prompts: Vec<Tensor<2>> = [3, 0, 5]
        .iter()
        .map(|&k| {
            let values: Vec<f32> = (0..k * 16)
                .map(|i| (i as f32 * 0.71 + k as f32).cos() * 0.4)
                .collect();
            Tensor::<2>::from_data(TensorData::new(values, [k, 16]), &device)
        })
        .collect();
    let of_row = [2, 0, 1, 2];
    let caches: Vec<_> = prompts
        .iter()
        .map(|p| backbone.cache_prefix(p.clone()))
        .collect();
    let examples = examples();
    let (ids, mask, answer) = padded(&examples, &device);
    let expected = floats(answer_hidden_behind(
        &backbone,
        &RowPrefixes::new(caches.iter().collect(), of_row.to_vec()),
        ids,
        mask,
        answer,
    ));
    let cached: Vec<_> = prompts
        .iter()
        .map(|p| fused.cache_prompt(&floats(p.clone())))
        .collect();
    let hidden = fused.answer_hidden(&cached.iter().collect::<Vec<_>>(), &of_row, &examples);
    assert!(
        max_abs_diff(&hidden, &expected) < 1e-4,
        "{}",
        max_abs_diff(&hidden, &expected)
    );
}

#[test]
fn models_the_kernels_do_not_cover_keep_the_burn_path() {
    let device = Device::flex();
    let mut config = tiny_llama_config();
    config.tie_word_embeddings = false;
    assert!(
        config.init(&device).fused().is_some(),
        "an untied head is covered"
    );
    let gemma = common::tiny_gemma3_config().init(&device);
    assert!(gemma.fused().is_none());
}

/// `found` within 1e-3 absolute or `rel` relative of `expected` (the parity tests' bounds).
fn within(found: f64, expected: f64, rel: f64) -> bool {
    let diff = (found - expected).abs();
    diff <= 1e-3 || diff <= rel * expected.abs()
}

#[test]
fn the_fused_path_meets_the_transformers_reference_on_smollm2() {
    // The float64 transformers run of shared/fixtures: label logits, loss and prompt gradient
    // of each case behind the fixed 1- and 5-row prompts, target class 1.
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::shared_file("fixtures/smollm2_reference.json")).unwrap(),
    )
    .unwrap();
    let device = Device::flex();
    let backbone = Llama::from_gguf(&common::smollm2_gguf(), &device).unwrap();
    let fused = backbone.fused().unwrap();
    let label_ids: Vec<Vec<u32>> = reference["label_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| vec![id.as_u64().unwrap() as u32])
        .collect();
    let head =
        fused.class_head(&Verbalizer::from_ids(&label_ids, MultiTokenPolicy::SingleToken).unwrap());
    let numbers = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    for (index, case) in reference["cases"].as_array().unwrap().iter().enumerate() {
        let ids: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_u64().unwrap() as u32)
            .collect();
        let example = Encoded {
            answer_pos: ids.len() - 1,
            ids,
            label: 1,
        };
        for (name, k) in [("prompt1", 1), ("prompt5", 5)] {
            let expected = &case[name];
            let prompt = floats(prompt_model::reference::fixture_prompt(
                k, 576, index, &device,
            ));
            let step = fused.train_step(&prompt, std::slice::from_ref(&example), &head);
            let what = format!("case {index}, {name}");
            assert!(
                within(
                    f64::from(step.loss),
                    expected["loss"].as_f64().unwrap(),
                    1e-4
                ),
                "{what}: loss {}",
                step.loss
            );
            for (s, e) in step.scores.iter().zip(numbers(&expected["label_logits"])) {
                assert!(
                    within(f64::from(*s), e, 1e-4),
                    "{what}: label logit {s} vs {e}"
                );
            }
            let norm = step
                .prompt_grad
                .iter()
                .map(|g| f64::from(*g).powi(2))
                .sum::<f64>()
                .sqrt();
            // The one-row prompt's gradient norm is ill-conditioned (llama_parity.rs): 5e-4.
            let rel = if k == 1 { 5e-4 } else { 1e-4 };
            assert!(
                within(norm, expected["grad_norm"].as_f64().unwrap(), rel),
                "{what}: gradient norm {norm}"
            );
            for (g, e) in step
                .prompt_grad
                .iter()
                .zip(numbers(&expected["grad_row0_first8"]))
            {
                assert!(
                    within(f64::from(*g), e, 1e-4),
                    "{what}: gradient {g} vs {e}"
                );
            }
        }
    }
}
