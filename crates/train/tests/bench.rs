//! `bench` on the real SmolLM2 with synthetic inputs: every timed example has exactly the asked
//! number of tokens, both prompt placements run, and the report's counts add up.

mod common;

use prompt_model::PromptPlacement;
use prompt_train::{BenchOptions, ExperimentConfig, Override, bench};

#[test]
fn synthetic_inputs_have_the_asked_length_with_either_placement() {
    let sets = [
        "train.batch_size=2",
        "train.eval_batch_size=3",
        "prompt.length=4",
    ];
    let overrides: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
    let config = ExperimentConfig::load(
        &common::workspace_root().join("configs/sst2.toml"),
        &overrides,
    )
    .unwrap();
    for placement in [PromptPlacement::SharedPrefix, PromptPlacement::EveryRow] {
        let options = BenchOptions {
            warmup_steps: 1,
            train_steps: 2,
            eval_examples: 5,
            placement,
            synthetic_length: Some(7),
            ..BenchOptions::default()
        };
        let report = bench(&config, &options).unwrap();
        assert!(report.synthetic);
        assert_eq!(report.placement, placement);
        assert_eq!((report.prompt_len, report.batch_size), (4, 2));
        assert_eq!((report.train_steps, report.train_examples), (2, 4));
        assert_eq!((report.eval_examples, report.eval_batch_size), (5, 3));
        assert_eq!(report.train_mean_tokens, 7.0);
        assert_eq!(report.eval_mean_tokens, 7.0);
        assert!(report.train_examples_per_s > 0.0 && report.eval_examples_per_s > 0.0);
    }
}
