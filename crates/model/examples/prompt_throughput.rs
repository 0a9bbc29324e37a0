//! Measures prompt-tuning throughput of SmolLM2-135M on the CPU: forward-only and train-step
//! (forward + backward + AdamW) examples per second on SST-2 dev sentences.
//!
//! `cargo run --release -p prompt-model --example prompt_throughput -- [SST2_DEV_TSV] [GGUF]`

use std::path::PathBuf;
use std::time::Instant;

use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use prompt_model::cache::SMOLLM2_135M_INSTRUCT;
use prompt_model::gguf::GgufFile;
use prompt_model::reference::fixture_prompt;
use prompt_model::tokenizer::tokenizer_from_gguf;
use prompt_model::{ClassTokens, LabelTokenPolicy, Llama, PromptTuned, SoftPrompt};

const SENTENCES: usize = 64;
const BATCH: usize = 16;
const PROMPT_TOKENS: usize = 20;
const TEMPLATE: &str = "Review: {sentence}\nSentiment:";
/// " negative", " positive" in the SmolLM2 vocabulary.
const LABEL_IDS: [u32; 2] = [3524, 2731];

type Batch = (
    Tensor<2, Int>,
    Tensor<2, Bool>,
    Tensor<1, Int>,
    Tensor<1, Int>,
);

fn main() {
    let mut args = std::env::args().skip(1);
    let tsv = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/assets/sst2/dev.tsv"));
    let gguf = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| SMOLLM2_135M_INSTRUCT.cached_path());
    let text = std::fs::read_to_string(&tsv).expect("pass the SST-2 dev.tsv path");
    let rows: Vec<(String, i64)> = text
        .lines()
        .skip(1)
        .take(SENTENCES)
        .map(|line| {
            let (sentence, label) = line.rsplit_once('\t').expect("sentence<TAB>label");
            (
                sentence.to_string(),
                label.trim().parse().expect("label 0 or 1"),
            )
        })
        .collect();
    let tokenizer = tokenizer_from_gguf(&GgufFile::open(&gguf).expect("GGUF")).expect("tokenizer");
    let encoded: Vec<(Vec<u32>, i64)> = rows
        .iter()
        .map(|(s, label)| {
            let rendered = TEMPLATE.replace("{sentence}", s);
            let ids = tokenizer.encode(rendered.as_str(), false).expect("encode");
            (ids.get_ids().to_vec(), *label)
        })
        .collect();
    let lens: Vec<usize> = encoded.iter().map(|(ids, _)| ids.len()).collect();
    println!(
        "{} sentences, {} to {} tokens (mean {:.1}), batch {BATCH}, prompt {PROMPT_TOKENS} tokens",
        lens.len(),
        lens.iter().min().unwrap(),
        lens.iter().max().unwrap(),
        lens.iter().sum::<usize>() as f64 / lens.len() as f64
    );

    for (mode, device) in [
        ("forward", Device::flex()),
        ("train step", Device::flex().autodiff()),
    ] {
        let start = Instant::now();
        let backbone = Llama::from_gguf(&gguf, &device).expect("model");
        let loaded = start.elapsed();
        let prompt = SoftPrompt::from_tensor(fixture_prompt(PROMPT_TOKENS, 576, 0, &device));
        let mut model = PromptTuned::new(backbone, prompt).expect("widths agree");
        let classes = ClassTokens::new(
            &LABEL_IDS.map(|id| vec![id]),
            LabelTokenPolicy::FirstToken,
            &device,
        )
        .expect("classes");
        let batches: Vec<Batch> = encoded.chunks(BATCH).map(|c| batch(c, &device)).collect();
        let mut optimizer = AdamWConfig::new().init();
        let start = Instant::now();
        let mut loss_sum = 0.0;
        for (ids, mask, answer, labels) in batches {
            let scores = model.forward(ids, mask, answer, &classes);
            let loss = PromptTuned::<Llama>::loss(scores, labels);
            if device.is_autodiff() {
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optimizer.step(0.3, model, grads);
            }
            loss_sum += loss.into_scalar::<f32>();
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{mode:>10}: {:.2} examples/s ({SENTENCES} examples in {seconds:.1} s; model load {:.1} s; mean loss {:.4})",
            SENTENCES as f64 / seconds,
            loaded.as_secs_f64(),
            loss_sum / (SENTENCES / BATCH) as f32
        );
    }
}

/// Right-padded ids, mask, answer positions (last template token) and labels.
fn batch(examples: &[(Vec<u32>, i64)], device: &Device) -> Batch {
    let len = examples.iter().map(|(ids, _)| ids.len()).max().unwrap_or(0);
    let mut ids = Vec::new();
    let mut mask = Vec::new();
    for (row, _) in examples {
        ids.extend((0..len).map(|j| row.get(j).copied().unwrap_or(0) as i64));
        mask.extend((0..len).map(|j| j < row.len()));
    }
    let n = examples.len();
    let answer: Vec<i64> = examples.iter().map(|(r, _)| r.len() as i64 - 1).collect();
    let labels: Vec<i64> = examples.iter().map(|(_, l)| *l).collect();
    (
        Tensor::from_data(TensorData::new(ids, [n, len]), device),
        Tensor::from_data(TensorData::new(mask, [n, len]), device),
        Tensor::from_data(TensorData::new(answer, [n]), device),
        Tensor::from_data(TensorData::new(labels, [n]), device),
    )
}
