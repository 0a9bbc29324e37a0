//! A run that cannot fit in memory, or whose batch is larger than its split, is refused
//! before anything is written, and the error names the key and a size that works.

mod common;

use burn::tensor::Device;
use prompt_train::ProgressMode;
use prompt_train::memory::{
    BatchShape, MemoryBudget, MemoryError, fits_within, footprint, run_shapes,
};
use prompt_train::{TrainError, TrainOptions, train_prompt};

fn budget(bytes: u64) -> MemoryBudget {
    MemoryBudget {
        bytes,
        source: "the test".into(),
    }
}

#[test]
fn the_largest_batch_that_fits_is_named() {
    let device = Device::flex();
    let backbone = common::tiny_llama(&device);
    let config = common::experiment(std::path::Path::new("unused"), &["train.batch_size=32"]);
    let task = common::synthetic_task(40, 10);
    let [train, _] = run_shapes(&task, &config);
    let longest = task.train.iter().map(|e| e.ids.len()).max().unwrap();
    assert_eq!(
        (train.key, train.batch, train.longest),
        ("train.batch_size", 32, longest)
    );
    let resident = 50_000_000;
    let total_at = |batch| footprint(&backbone, &BatchShape { batch, ..train }, resident).total();
    // A run may plan to use nine tenths of the budget: here, between batch 8's and 9's needs.
    let usable = (total_at(8) + total_at(9)) / 2;
    let err = fits_within(&backbone, &train, resident, &budget(usable * 10 / 9)).unwrap_err();
    let MemoryError::WontFit { fits, needed, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*fits, Some(8));
    assert_eq!(needed.total(), total_at(32));
    let message = err.to_string();
    assert!(
        message.starts_with("`train.batch_size = 32` does not fit in memory"),
        "{message}"
    );
    let inputs = format!("({longest} tokens behind 4 prompt rows)");
    assert!(message.contains(&inputs), "{message}");
    assert!(
        message.ends_with("A batch of 8 fits: `--set train.batch_size=8`."),
        "{message}"
    );
}

#[test]
fn a_run_that_cannot_fit_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("run");
    let device = Device::flex().autodiff();
    let config = common::experiment(&output, &[]);
    let options = TrainOptions {
        progress: ProgressMode::Quiet,
        device: Device::flex(),
        memory: Some(budget(1 << 20)),
        ..TrainOptions::default()
    };
    let err = train_prompt(
        common::tiny_llama(&device),
        common::start_prompt(config.prompt.length, &device),
        &common::synthetic_task(40, 10),
        &config,
        &options,
    )
    .unwrap_err();
    assert!(
        matches!(&err, TrainError::Memory(e) if matches!(**e, MemoryError::WontFit { fits: None, .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("Not even a batch of 1 fits"),
        "{err}"
    );
    assert!(!output.exists(), "a refused run writes nothing");
}

#[test]
fn a_batch_larger_than_the_split_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("run");
    let device = Device::flex().autodiff();
    let config = common::experiment(&output, &["train.batch_size=41"]);
    let err = train_prompt(
        common::tiny_llama(&device),
        common::start_prompt(config.prompt.length, &device),
        &common::synthetic_task(40, 10),
        &config,
        &TrainOptions {
            progress: ProgressMode::Quiet,
            device: Device::flex(),
            ..TrainOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`train.batch_size = 41` is larger than the training split (40 examples): use at most \
         40 (`--set train.batch_size=40`)"
    );
    assert!(!output.exists());
}
