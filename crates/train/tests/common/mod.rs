//! Shared helpers of the training crate's integration tests; the tiny model shapes come from
//! prompt-model's test fixtures, compiled here too.
#![allow(dead_code)] // each test binary uses a different subset

// The fixtures file names these as `super::…`.
#[path = "../../../model/src/test_support/fixtures.rs"]
mod fixtures;
#[allow(unused_imports)]
use prompt_model::{Gemma3Config, cache};

use std::path::PathBuf;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use prompt_data::{Encoded, MultiTokenPolicy, Verbalizer};
use prompt_model::{Llama, LlamaConfig, ModelFamily, SoftPrompt};
use prompt_train::ProgressMode;
use prompt_train::{
    ExperimentConfig, Override, PreparedTask, TrainError, TrainOptions, TrainSummary, train_prompt,
};

/// Width of the tiny backbone.
pub const WIDTH: usize = 16;

/// A random llama small enough for fast tests (grouped-query attention like SmolLM2), frozen,
/// on `device` (pass an autodiff device for training).
pub fn tiny_llama(device: &Device) -> Llama {
    fixtures::tiny_llama_config().init(device)
}

/// `n` examples of 3 to 10 random ids; the label is whether the first id is even, so the
/// prompt has something learnable to pick up.
pub fn synthetic_task(n: usize, dev: usize) -> PreparedTask {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    let mut examples: Vec<Encoded> = (0..n + dev)
        .map(|_| {
            let len = 3 + next(8) as usize;
            let ids: Vec<u32> = (0..len).map(|_| 2 + next(62) as u32).collect();
            let label = (ids[0] % 2) as usize;
            Encoded {
                answer_pos: len - 1,
                ids,
                label,
            }
        })
        .collect();
    let dev = examples.split_off(n);
    PreparedTask {
        train: examples,
        dev,
        verbalizer: Verbalizer::from_ids(&[vec![5], vec![7]], MultiTokenPolicy::FirstToken)
            .unwrap(),
        pad_id: 0,
        family: ModelFamily::Llama,
    }
}

/// A fixed starting prompt of `k` rows.
pub fn start_prompt(k: usize, device: &Device) -> SoftPrompt {
    let values: Vec<f32> = (0..k * WIDTH)
        .map(|i| 0.1 * ((i as f32) * 0.37).sin())
        .collect();
    SoftPrompt::from_tensor(Tensor::from_data(
        TensorData::new(values, [k, WIDTH]),
        device,
    ))
}

/// An experiment writing to `output`, with `sets` applied as command-line overrides.
pub fn experiment(output: &Path, sets: &[&str]) -> ExperimentConfig {
    let text = format!(
        r#"output = "{}"
template = "{{sentence}} It was{{mask}}"

[data]
train = "train.tsv"
dev = "dev.tsv"

[verbalizer]
label_words = [[" negative"], [" positive"]]

[prompt]
length = 4

[train]
steps = 8
batch_size = 4
eval_batch_size = 5
eval_every = 4
checkpoint_every = 2
keep_checkpoints = 2
log_every = 1
bucket_batches = 2
"#,
        output.display()
    );
    let overrides: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
    ExperimentConfig::from_toml(&text, Path::new("test.toml"), &overrides).unwrap()
}

/// The tiny experiment of [`experiment`] trained into `output` (fresh or resumed), quietly, on
/// the seeded random backbone every process builds alike: the run the multi-process tests
/// start, stop and resume.
pub fn train_tiny(output: &Path, resume: bool) -> Result<TrainSummary, TrainError> {
    let device = Device::flex().autodiff();
    device.seed(7);
    let config = experiment(output, &[]);
    let options = TrainOptions {
        resume,
        progress: ProgressMode::Quiet,
        device: Device::flex(),
        ..TrainOptions::default()
    };
    train_prompt(
        tiny_llama(&device),
        start_prompt(config.prompt.length, &device),
        &synthetic_task(40, 10),
        &config,
        &options,
    )
}
