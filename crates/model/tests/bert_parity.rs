//! BERT against Hugging Face transformers: the tiny random `BertForMaskedLM` fixture must
//! reproduce `tiny_bert_reference.json` (ids, logits at `[MASK]`, and a prompt-tuned loss and
//! gradient) to about 1e-4.

mod common;

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use prompt_data::{MultiTokenPolicy, Verbalizer};
use prompt_model::{Backbone, Bert, ClassTokens, PromptTuned, SoftPrompt};
use serde_json::Value;
use tokenizers::Tokenizer;

/// The fixture prints values with 5 decimals: compare with a relative tolerance of 1e-4 on top
/// of that rounding.
fn assert_close(name: &str, ours: &[f32], reference: &[f64], abs_rounding: f64) {
    assert_eq!(ours.len(), reference.len(), "{name}: length");
    for (i, (&a, &b)) in ours.iter().zip(reference).enumerate() {
        let tolerance = 1e-4 * b.abs() + abs_rounding;
        assert!(
            (a as f64 - b).abs() <= tolerance,
            "{name}[{i}]: ours {a}, reference {b}, |diff| {} > {tolerance}",
            (a as f64 - b).abs()
        );
    }
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect()
}

fn ints(value: &Value) -> Vec<i64> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_i64().expect("integer"))
        .collect()
}

fn reference() -> Value {
    let path = common::shared_dir().join("fixtures/tiny_bert_reference.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the shared fixtures are missing)", path.display()));
    serde_json::from_str(&text).expect("valid reference JSON")
}

/// The soft prompt of the reference: `P[i][j] = 0.05 * sin(0.37 * (i+1) * (j+1) + case)`.
fn reference_prompt(k: usize, d: usize, case: usize) -> Vec<f32> {
    (0..k)
        .flat_map(|i| {
            (0..d).map(move |j| {
                (0.05 * (0.37 * ((i + 1) * (j + 1)) as f64 + case as f64).sin()) as f32
            })
        })
        .collect()
}

fn ids_tensor(ids: &[i64], device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(ids.to_vec(), [1, ids.len()]), device)
}

fn all_real(len: usize, device: &Device) -> Tensor<2, Bool> {
    Tensor::from_data(TensorData::new(vec![true; len], [1, len]), device)
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().expect("f32 data")
}

/// Hidden state `[1, d]` at position `pos` of a `[1, T, d]` output.
fn row_at(hidden: Tensor<3>, pos: usize) -> Tensor<2> {
    let [_, _, d] = hidden.dims();
    hidden.narrow(1, pos, 1).reshape([1, d])
}

#[test]
fn fixture_tokenizer_gives_the_reference_ids() {
    let mut tokenizer = Tokenizer::from_file(common::tiny_bert_dir().join("tokenizer.json"))
        .expect("fixture tokenizer");
    // The fixture's tokenizer.json pads every input to 128 tokens; the reference ids are
    // unpadded (batching pads later, with a mask).
    tokenizer.with_padding(None);
    for case in reference()["cases"].as_array().unwrap() {
        let encoding = tokenizer
            .encode(case["text"].as_str().unwrap(), true)
            .unwrap();
        let ids: Vec<i64> = encoding.get_ids().iter().map(|&i| i as i64).collect();
        assert_eq!(ids, ints(&case["ids"]), "{}", case["text"]);
        let mask_id = tokenizer.token_to_id("[MASK]").unwrap() as i64;
        let mask_pos = ids.iter().position(|&i| i == mask_id).unwrap();
        assert_eq!(mask_pos as u64, case["mask_pos"].as_u64().unwrap());
    }
}

#[test]
fn mask_logits_match_transformers() {
    let device = Device::flex();
    let bert = Bert::from_hf_dir(common::tiny_bert_dir(), &device).expect("fixture loads");
    for case in reference()["cases"].as_array().unwrap() {
        let ids = ints(&case["ids"]);
        let mask_pos = case["mask_pos"].as_u64().unwrap() as usize;
        let hidden = bert.encode(
            bert.embed_tokens(ids_tensor(&ids, &device)),
            all_real(ids.len(), &device),
        );
        let at_mask = row_at(hidden, mask_pos);
        let full = to_vec(bert.full_logits(at_mask.clone()));
        assert_eq!(full.len(), 30522);
        assert_close(
            "mask_logits_first16",
            &full[..16],
            &floats(&case["mask_logits_first16"]),
            5e-6,
        );
        let word_ids = ints(&case["word_ids"]);
        let words = to_vec(bert.vocab_logits(
            at_mask,
            Tensor::from_data(TensorData::new(word_ids.clone(), [2]), &device),
        ));
        assert_close("word_logits", &words, &floats(&case["word_logits"]), 5e-6);
        // The restricted head is the full head's columns.
        for (c, &id) in word_ids.iter().enumerate() {
            assert!((words[c] - full[id as usize]).abs() < 1e-6);
        }
    }
}

#[test]
fn prompt_tuned_loss_and_gradient_match_transformers() {
    let device = Device::flex().autodiff();
    let (k, d) = (4, 32);
    for (case_index, case) in reference()["cases"].as_array().unwrap().iter().enumerate() {
        let bert = Bert::from_hf_dir(common::tiny_bert_dir(), &device).expect("fixture loads");
        let prompt = SoftPrompt::from_tensor(Tensor::from_data(
            TensorData::new(reference_prompt(k, d, case_index), [k, d]),
            &device,
        ));
        let model = PromptTuned::new(bert, prompt).unwrap();
        let ids = ints(&case["ids"]);
        let mask_pos = case["mask_pos"].as_i64().unwrap();
        let words: Vec<Vec<u32>> = ints(&case["word_ids"])
            .iter()
            .map(|&i| vec![i as u32])
            .collect();
        let classes = ClassTokens::new(
            &Verbalizer::from_ids(&words, MultiTokenPolicy::FirstToken).unwrap(),
            &device,
        );
        let scores = model.forward(
            ids_tensor(&ids, &device),
            all_real(ids.len(), &device),
            Tensor::from_data(TensorData::new(vec![mask_pos], [1]), &device),
            &classes,
        );
        // The reference loss is the cross-entropy with the first word as gold.
        let loss = PromptTuned::<Bert>::loss(
            scores.clone(),
            Tensor::from_data(TensorData::new(vec![0i64], [1]), &device),
        );
        let grads = loss.backward();
        let grad = model
            .prompt
            .embeddings
            .grad(&grads)
            .expect("the prompt receives a gradient");
        let grad_norm = to_vec(grad.powi_scalar(2).sum().sqrt())[0];
        let reference = &case["prompt4"];
        assert_close(
            "prompt4.word_logits",
            &to_vec(scores),
            &floats(&reference["word_logits"]),
            5e-6,
        );
        assert_close(
            "prompt4.loss",
            &to_vec(loss),
            &[reference["loss"].as_f64().unwrap()],
            5e-7,
        );
        assert_close(
            "prompt4.grad_norm",
            &[grad_norm],
            &[reference["grad_norm"].as_f64().unwrap()],
            5e-8,
        );
    }
}

#[test]
fn padding_does_not_change_the_real_positions() {
    let device = Device::flex();
    let bert = Bert::from_hf_dir(common::tiny_bert_dir(), &device).expect("fixture loads");
    let cases = reference();
    let cases = cases["cases"].as_array().unwrap();
    let long = ints(&cases[0]["ids"]);
    let short = ints(&cases[1]["ids"]);
    let mut padded = short.clone();
    padded.resize(long.len(), 0);
    let batch: Vec<i64> = long.iter().chain(&padded).copied().collect();
    let mask: Vec<bool> = (0..2 * long.len())
        .map(|i| i < long.len() || i - long.len() < short.len())
        .collect();
    let hidden = bert.encode(
        bert.embed_tokens(Tensor::from_data(
            TensorData::new(batch, [2, long.len()]),
            &device,
        )),
        Tensor::from_data(TensorData::new(mask, [2, long.len()]), &device),
    );
    let alone = bert.encode(
        bert.embed_tokens(ids_tensor(&short, &device)),
        all_real(short.len(), &device),
    );
    let batched_short = to_vec(hidden.narrow(0, 1, 1).narrow(1, 0, short.len()));
    let alone = to_vec(alone);
    let max_diff = batched_short
        .iter()
        .zip(&alone)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        max_diff < 1e-5,
        "padding leaked into real positions: {max_diff}"
    );
}

#[test]
fn reference_check_reports_every_quantity_within_tolerance() {
    let fixture = common::shared_dir().join("fixtures/tiny_bert_reference.json");
    let report = prompt_model::reference::check_reference(
        &fixture,
        &common::tiny_bert_dir(),
        &Device::flex(),
        prompt_model::reference::Tolerances::uniform(prompt_model::reference::Tolerance {
            abs: 1e-5,
            rel: 1e-4,
        }),
    )
    .expect("the check runs");
    println!("{report}");
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ids",
            "mask_pos",
            "mask_logits_first16",
            "word_logits",
            "prompt4.word_logits",
            "prompt4.loss",
            "prompt4.grad_norm"
        ]
    );
    assert_eq!(report.check("ids").unwrap().count, 25);
    assert!(report.passed(), "{report}");
}
