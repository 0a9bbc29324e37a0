//! The shipped SST-2 config against the real data and the real tokenizer: every example
//! encodes, the label words are single tokens, the answer slot is the last token; the model
//! loads through `prompt_model::load`.

mod common;

use std::path::Path;

use burn::tensor::Device;
use prompt_data::MultiTokenPolicy;
use prompt_model::{Backbone, ModelFamily};
use prompt_train::{ExperimentConfig, prepare_task};

#[test]
fn sst2_config_encodes_the_real_splits() {
    let config =
        ExperimentConfig::load(&common::workspace_root().join("configs/sst2.toml"), &[]).unwrap();
    let model = config.model.resolved_path();
    assert!(
        model.is_file(),
        "{} is missing: fetch it with `cargo xtask fetch` (see shared/assets/README.md)",
        model.display()
    );
    let model = prompt_model::load(&model, &Device::flex()).unwrap();
    let task = prepare_task(&config, &model).unwrap_or_else(|e| {
        panic!("{e} (SST-2 lives in ../shared/assets/sst2; PROMPT_TUNING_SHARED overrides)")
    });
    assert_eq!((task.train.len(), task.dev.len()), (67_349, 872));
    // " negative" and " positive" as in the transformers reference fixture.
    assert_eq!(task.verbalizer.scored_ids(), [3524, 2731]);
    assert_eq!(task.verbalizer.policy(), MultiTokenPolicy::SingleToken);
    assert_eq!(task.dev.iter().filter(|e| e.label == 1).count(), 444);
    for example in task.train.iter().chain(&task.dev) {
        assert_eq!(example.answer_pos, example.ids.len() - 1);
        assert!(example.ids.len() <= 128, "{}", example.ids.len());
    }
}

#[test]
fn load_opens_the_default_model_with_its_tokenizer() {
    let path = prompt_model::cache::SMOLLM2_135M_INSTRUCT.cached_path();
    assert!(
        path.is_file(),
        "{} is missing: fetch it with `cargo xtask fetch`",
        path.display()
    );
    let model = prompt_model::load(&path, &Device::flex()).unwrap();
    let positive = model.tokenizer.token_to_id("Ġpositive");
    let backbone = &model.backbone;
    assert_eq!(
        (
            model.family,
            backbone.hidden_size(),
            backbone.vocab_size(),
            positive
        ),
        (ModelFamily::Llama, 576, 49_152, Some(2731))
    );
    let missing = prompt_model::load(Path::new("/no/such/model.gguf"), &Device::flex());
    let e = missing.unwrap_err().to_string();
    assert!(
        e.starts_with("model /no/such/model.gguf not found: fetch"),
        "{e}"
    );
}
