//! `bench` on the real SmolLM2 with synthetic inputs: every timed example has exactly the asked
//! number of tokens, both prompt placements run, and the report's counts and matmul rates add
//! up.

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
        // 30 blocks of q, k, v, o and the three feed-forward matrices, plus the norms.
        assert_eq!(report.matmul_weights, 106_203_456);
        assert!(report.matmul_gflops > 0.0 && report.train_gflops > 0.0);
        let train_flops = 4.0 * 106_203_456.0 * 4.0 * 7.0;
        let rate = train_flops / report.train_seconds / 1e9;
        assert!((report.train_gflops - rate).abs() < 1e-6 * rate);
    }
}
