//! The shipped Chinese example configs (BERT, and ChnSentiCorp on Gemma-3) parse into the
//! method's template and verbalizer.

mod common;

use prompt_data::Part;
use prompt_train::ExperimentConfig;

#[test]
fn chinese_bert_example_config_loads() {
    let path = common::workspace_root().join("configs/zh_bert_sentiment.toml");
    let config = ExperimentConfig::load(&path, &[]).expect("the shipped config is valid");
    assert_eq!(config.template.fields().collect::<Vec<_>>(), ["text"]);
    // The answer slot sits inside the sentence, as a masked LM allows.
    assert!(!config.template.ends_with_mask());
    assert_eq!(
        config.verbalizer.label_words,
        vec![vec!["差".to_string()], vec!["好".to_string()]]
    );
    assert_eq!(config.data.columns.label_names, vec!["负面", "正面"]);
    assert_eq!(config.prompt.length, 20);
}

#[test]
fn chnsenticorp_gemma_config_loads() {
    let path = common::workspace_root().join("configs/chnsenticorp.toml");
    let config = ExperimentConfig::load(&path, &[]).expect("the shipped config is valid");
    assert_eq!(config.template.source(), "{review}总体评价是{mask}的");
    // The causal model is not fed the 的 after the slot (the encoder warns once).
    assert_eq!(config.template.after_mask(), [Part::Literal("的".into())]);
    assert_eq!(
        config.verbalizer.label_words,
        vec![vec!["差".to_string()], vec!["好".to_string()]]
    );
    assert_eq!(config.data.columns.label_names, vec!["负面", "正面"]);
    assert_eq!(
        config.model.resolved_path(),
        prompt_model::cache::GEMMA_3_270M.cached_path()
    );
}
