//! Loading experiment configs: the shipped SST-2 config, `--set` overrides, and the error
//! messages for unknown keys, wrong types, missing keys and missing files.

mod common;

use std::path::Path;

use prompt_model::SoftPromptInit;
use prompt_train::config::{OptimizerKind, ScheduleKind};
use prompt_train::{ExperimentConfig, Kernels, Override};

const MINIMAL: &str = r#"output = "runs/x"
template = "{sentence} It was{mask}"

[data]
train = "sst2/train.tsv"
dev = "sst2/dev.tsv"

[verbalizer]
label_words = [[" negative"], [" positive"]]

[prompt]
length = 5
"#;

fn parse(text: &str, sets: &[&str]) -> Result<ExperimentConfig, String> {
    let overrides: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
    ExperimentConfig::from_toml(text, Path::new("exp.toml"), &overrides).map_err(|e| e.to_string())
}

#[test]
fn shipped_sst2_config_loads_with_peft_s_optimizer_and_the_measured_budget() {
    let path = common::workspace_root().join("configs/sst2.toml");
    let config = ExperimentConfig::load(&path, &[]).unwrap();
    assert_eq!(config.prompt.length, 20);
    assert_eq!(config.prompt.init, SoftPromptInit::ClassLabel {});
    assert_eq!(config.optimizer.kind, OptimizerKind::Adamw);
    assert_eq!(config.optimizer.lr, 0.03);
    assert_eq!(config.optimizer.adamw.weight_decay, 0.01);
    // The paper's Adafactor settings stay written out for `--set optimizer.kind=adafactor`.
    assert!(!config.optimizer.adafactor.scale_parameter);
    assert_eq!(config.optimizer.adafactor.weight_decay, 1e-5);
    assert_eq!(config.schedule.kind, ScheduleKind::Constant);
    // 100 steps of 16, evaluated at 50 and 100 (configs/sst2.toml says what was measured).
    assert_eq!((config.train.steps, config.train.batch_size), (100, 16));
    assert_eq!(config.train.eval_every, 50);
    assert_eq!(config.data.columns.label_names, ["negative", "positive"]);
    assert_eq!(
        config.template.source(),
        "{sentence} The sentiment of this review is{mask}"
    );
    // The resolved config written to the output folder reads back to the same experiment,
    // with the default model path filled in.
    let resolved = ExperimentConfig::from_toml(&config.to_toml().unwrap(), &path, &[]).unwrap();
    assert_eq!(resolved.model.path, Some(config.model.resolved_path()));
    assert!(
        resolved
            .model
            .resolved_path()
            .ends_with("models/SmolLM2-135M-Instruct.Q4_1.gguf")
    );
    assert_eq!(
        ExperimentConfig {
            model: config.model.clone(),
            ..resolved
        },
        config
    );
}

#[test]
fn defaults_fill_everything_not_written() {
    let config = parse(MINIMAL, &[]).unwrap();
    assert_eq!(config.seed, 0);
    assert_eq!(config.threads, 0);
    assert_eq!(config.train.steps, 1000);
    assert_eq!(config.train.keep_checkpoints, 3);
    assert_eq!(config.optimizer.adamw.beta2, 0.999);
    // A config without [optimizer] gets the robust recipe, not the paper's Adafactor 0.3.
    assert_eq!(config.optimizer.kind, OptimizerKind::Adamw);
    assert_eq!(config.optimizer.lr, 0.03);
    assert_eq!(config.optimizer.adamw.weight_decay, 0.01);
    assert_eq!(config.data.columns.text_fields, ["sentence"]);
    assert_eq!(config.data.max_tokens, None);
    assert_eq!(config.kernels, Kernels::Fused);
}

#[test]
fn overrides_replace_and_add_values() {
    let config = parse(
        MINIMAL,
        &[
            "prompt.length=100",
            "optimizer.kind=adamw",
            "optimizer.lr=1",
            "train.log_every=7",
            "kernels=burn",
        ],
    )
    .unwrap();
    assert_eq!(config.kernels, Kernels::Burn);
    assert_eq!(config.prompt.length, 100);
    assert_eq!(config.optimizer.kind, OptimizerKind::Adamw);
    assert_eq!(config.optimizer.lr, 1.0);
    assert_eq!(config.train.log_every, 7);
    let config = parse(
        MINIMAL,
        &["prompt.init={ kind = \"random_uniform\", range = 0.25 }"],
    )
    .unwrap();
    assert_eq!(
        config.prompt.init,
        SoftPromptInit::RandomUniform { range: 0.25 }
    );
}

#[test]
fn unknown_key_in_the_file_names_key_line_and_column() {
    let text = MINIMAL.replace("length = 5", "lenght = 5");
    let e = parse(&text, &[]).unwrap_err();
    assert!(
        e.starts_with("exp.toml:12:1: key `prompt.lenght`: unknown field `lenght`"),
        "{e}"
    );
    assert!(e.contains("expected `length` or `init`"), "{e}");
}

#[test]
fn wrong_type_in_the_file_names_key_line_and_column() {
    let text = MINIMAL.replace("length = 5", "length = \"five\"");
    let e = parse(&text, &[]).unwrap_err();
    assert!(
        e.starts_with("exp.toml:12:10: key `prompt.length`: invalid type: string \"five\""),
        "{e}"
    );
}

#[test]
fn missing_key_is_named() {
    let text = MINIMAL.replace("dev = \"sst2/dev.tsv\"\n", "");
    let e = parse(&text, &[]).unwrap_err();
    assert!(e.contains("key `data`: missing field `dev`"), "{e}");
}

#[test]
fn unknown_override_key_is_named_with_the_assignment() {
    let e = parse(MINIMAL, &["promt.length=5"]).unwrap_err();
    assert!(
        e.starts_with("override `promt.length=5`: key `promt`: unknown field `promt`"),
        "{e}"
    );
    let e = parse(MINIMAL, &["train.stesp=5"]).unwrap_err();
    assert!(
        e.starts_with("override `train.stesp=5`: key `train.stesp`: unknown field `stesp`"),
        "{e}"
    );
}

#[test]
fn wrong_override_type_is_named_with_the_assignment() {
    let e = parse(MINIMAL, &["train.steps=abc"]).unwrap_err();
    assert!(
        e.starts_with(
            "override `train.steps=abc`: key `train.steps`: invalid type: string \"abc\""
        ),
        "{e}"
    );
    let e = parse(MINIMAL, &["kernels=gpu"]).unwrap_err();
    assert!(
        e.contains("key `kernels`: unknown variant `gpu`, expected `fused` or `burn`"),
        "{e}"
    );
    let e = parse(MINIMAL, &["seed.value=1"]).unwrap_err();
    assert_eq!(
        e,
        "override `seed.value=1`: key `seed`: invalid type: map, expected u64"
    );
    let e = parse(MINIMAL, &["output.value=1"]).unwrap_err();
    assert_eq!(
        e,
        "override `output.value=1`: `output` is a value, not a table"
    );
}

#[test]
fn unusable_values_are_rejected_by_key() {
    let e = parse(MINIMAL, &["train.steps=0"]).unwrap_err();
    assert_eq!(e, "config key `train.steps` must be at least 1");
    let e = parse(
        MINIMAL,
        &["schedule.kind=linear", "schedule.warmup_steps=1000"],
    )
    .unwrap_err();
    assert_eq!(
        e,
        "config key `schedule.warmup_steps` must be less than train.steps (1000)"
    );
    let e = parse(
        MINIMAL,
        &[
            "schedule.kind=linear",
            "schedule.warmup_steps=100",
            "schedule.decay_steps=901",
        ],
    )
    .unwrap_err();
    assert_eq!(
        e,
        "config key `schedule.decay_steps` must be in [1, train.steps - schedule.warmup_steps \
         = 900], got 901"
    );
    let e = parse(MINIMAL, &["verbalizer.label_words=[[\" bad\"]]"]).unwrap_err();
    assert_eq!(
        e,
        "config key `verbalizer.label_words` has 1 classes but data.columns.label_names has 2"
    );
    let e = parse(MINIMAL, &["template=\"{text} It was{mask}\""]).unwrap_err();
    assert_eq!(
        e,
        "config key `template`: template \"{text} It was{mask}\": slot `{text}` is not a \
         dataset field (available: sentence)"
    );
}

#[test]
fn a_model_by_name_is_read_from_the_cache_and_a_path_wins_over_it() {
    let config = parse(MINIMAL, &["model.name=\"gemma-3-270m\""]).unwrap();
    assert_eq!(
        config.model.resolved_path(),
        prompt_model::cache::GEMMA_3_270M.cached_path()
    );
    let both = parse(
        MINIMAL,
        &["model.name=\"gemma-3-270m\"", "model.path=\"m.gguf\""],
    )
    .unwrap();
    assert_eq!(both.model.resolved_path(), Path::new("m.gguf"));
    let e = parse(MINIMAL, &["model.name=\"gemma-3-1b\""]).unwrap_err();
    assert_eq!(
        e,
        "config key `model.name` `gemma-3-1b` is not a model `cargo xtask fetch` knows \
         (smollm2-135m-instruct, gemma-3-270m); set model.path to use another file"
    );
}

#[test]
fn a_bad_template_is_reported_at_its_line() {
    let text = MINIMAL.replace("It was{mask}", "It was");
    let e = parse(&text, &[]).unwrap_err();
    assert!(e.starts_with("exp.toml:2:12: key `template`: "), "{e}");
}

#[test]
fn missing_config_file_names_the_path() {
    let e = ExperimentConfig::load(Path::new("/no/such/exp.toml"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("cannot read config /no/such/exp.toml: "),
        "{e}"
    );
}

#[test]
fn a_missing_model_file_says_how_to_get_one() {
    let config = parse(MINIMAL, &["model.path=\"/no/such/model.gguf\""]).unwrap();
    let e = prompt_train::train(&config, &prompt_train::TrainOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "model /no/such/model.gguf not found: fetch the default model with `cargo xtask fetch` \
         or set model.path to a GGUF file or a Hugging Face folder"
    );
}
