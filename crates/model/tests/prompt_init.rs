//! Soft-prompt initialisations on a small random llama: each init's rows are what it promises,
//! and the same seed gives the same prompt.

mod common;

use burn::tensor::{Device, Int, Tensor, TensorData};
use common::{floats, tiny_llama_config};
use prompt_model::{
    AdapterConfig, Backbone, Llama, PromptError, PromptTask, PromptVocab, SoftPrompt,
    SoftPromptInit, save_prompt,
};
use tempfile::TempDir;

/// A vocabulary whose frequent tokens are 20..64 and whose tokenizer maps each byte of the
/// text to id `byte % 64`.
struct Vocab;

impl PromptVocab for Vocab {
    fn frequent_ids(&self, n: usize) -> Vec<u32> {
        (20..64).take(n).collect()
    }
    fn encode_text(&self, text: &str) -> Result<Vec<u32>, PromptError> {
        Ok(text.bytes().map(|b| b as u32 % 64).collect())
    }
}

fn embedding(model: &Llama, id: u32) -> Vec<f32> {
    let device = Device::flex();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![id as i64], [1, 1]), &device);
    floats(model.embed_tokens(ids))
}

fn rows(prompt: &SoftPrompt) -> Vec<Vec<f32>> {
    floats(prompt.values())
        .chunks(prompt.width())
        .map(<[f32]>::to_vec)
        .collect()
}

fn init(
    model: &Llama,
    init: &SoftPromptInit,
    k: usize,
    seed: u64,
) -> Result<SoftPrompt, PromptError> {
    let classes = vec![vec![3, 4], vec![7]];
    SoftPrompt::init(init, k, model, &Vocab, &classes, seed, &Device::flex())
}

#[test]
fn random_uniform_is_seeded_and_within_range() {
    let model = tiny_llama_config().init(&Device::flex());
    let random = SoftPromptInit::RandomUniform { range: 0.5 };
    let a = floats(init(&model, &random, 5, 1).unwrap().values());
    assert_eq!(a.len(), 5 * 16);
    assert!(a.iter().all(|v| v.abs() <= 0.5));
    assert!(
        a.iter().any(|v| v.abs() > 0.4),
        "values should fill the range"
    );
    assert_eq!(a, floats(init(&model, &random, 5, 1).unwrap().values()));
    assert_ne!(a, floats(init(&model, &random, 5, 2).unwrap().values()));
}

#[test]
fn sampled_vocab_rows_are_embeddings_of_distinct_frequent_tokens() {
    let model = tiny_llama_config().init(&Device::flex());
    let prompt = init(&model, &SoftPromptInit::SampledVocab {}, 6, 3).unwrap();
    let frequent: Vec<Vec<f32>> = (20..64).map(|id| embedding(&model, id)).collect();
    let mut picked: Vec<usize> = rows(&prompt)
        .iter()
        .map(|r| {
            frequent
                .iter()
                .position(|e| e == r)
                .expect("row is a frequent token's embedding")
        })
        .collect();
    picked.sort();
    picked.dedup();
    assert_eq!(picked.len(), 6, "tokens drawn without replacement");
    assert_eq!(
        rows(&prompt),
        rows(&init(&model, &SoftPromptInit::SampledVocab {}, 6, 3).unwrap())
    );
}

#[test]
fn class_label_rows_average_label_tokens_then_sample_vocab() {
    let model = tiny_llama_config().init(&Device::flex());
    let prompt = init(&model, &SoftPromptInit::ClassLabel {}, 4, 0).unwrap();
    let rows = rows(&prompt);
    let (e3, e4) = (embedding(&model, 3), embedding(&model, 4));
    let mean: Vec<f32> = e3.iter().zip(&e4).map(|(a, b)| (a + b) / 2.0).collect();
    assert!(common::max_abs_diff(&rows[0], &mean) < 1e-6);
    assert_eq!(rows[1], embedding(&model, 7));
    let frequent: Vec<Vec<f32>> = (20..64).map(|id| embedding(&model, id)).collect();
    assert!(rows[2..].iter().all(|r| frequent.contains(r)));
    // Fewer rows than classes: the first classes.
    let one = init(&model, &SoftPromptInit::ClassLabel {}, 1, 0).unwrap();
    assert!(common::max_abs_diff(&floats(one.values()), &mean) < 1e-6);
}

#[test]
fn text_rows_cycle_the_text_tokens() {
    let model = tiny_llama_config().init(&Device::flex());
    // "AB" -> ids 65 % 64 = 1 and 66 % 64 = 2.
    let text = SoftPromptInit::Text {
        text: "AB".to_string(),
    };
    let rows = rows(&init(&model, &text, 5, 0).unwrap());
    let (e1, e2) = (embedding(&model, 1), embedding(&model, 2));
    assert_eq!(rows, vec![e1.clone(), e2.clone(), e1.clone(), e2, e1]);
    let empty = SoftPromptInit::Text {
        text: String::new(),
    };
    assert!(matches!(
        init(&model, &empty, 2, 0),
        Err(PromptError::Init { .. })
    ));
}

#[test]
fn file_init_reads_a_saved_prompt_and_checks_its_length() {
    let model = tiny_llama_config().init(&Device::flex());
    let saved = init(&model, &SoftPromptInit::default(), 3, 9).unwrap();
    let dir = TempDir::new().unwrap();
    let task = PromptTask {
        template: "{sentence}".to_string(),
        verbalizer: serde_json::Value::Null,
        label_names: None,
        model_file: None,
        init: None,
    };
    let config = AdapterConfig::new("CAUSAL_LM", "tiny", 3, 16, &SoftPromptInit::default(), "");
    save_prompt(dir.path(), &saved, &config, &task).unwrap();
    let file = SoftPromptInit::File {
        path: dir.path().to_path_buf(),
    };
    assert_eq!(
        floats(init(&model, &file, 3, 0).unwrap().values()),
        floats(saved.values())
    );
    let err = init(&model, &file, 5, 0).unwrap_err();
    assert!(
        matches!(
            err,
            PromptError::LengthMismatch {
                found: 3,
                expected: 5,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn zero_tokens_and_missing_label_tokens_are_errors() {
    let model = tiny_llama_config().init(&Device::flex());
    assert!(matches!(
        init(&model, &SoftPromptInit::default(), 0, 0),
        Err(PromptError::Empty)
    ));
    let classes = vec![vec![3], vec![]];
    let err = SoftPrompt::init(
        &SoftPromptInit::ClassLabel {},
        2,
        &model,
        &Vocab,
        &classes,
        0,
        &Device::flex(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("class 1"), "{err}");
}
