//! The real GLUE SST-2 files: exact row counts, encoding with the BERT tokenizer, and how
//! much padding bucketing saves.

mod common;

use std::path::Path;

use prompt_data::{
    AnswerSlot, ColumnMapping, DEFAULT_CHUNK_BATCHES, Encoder, EncoderConfig, ReadOptions,
    SpecialTokensSpec, Template, bucketed_batches, padding_ratio, read_dataset, resolve_data_path,
    shuffled_batches, sorted_batches,
};

fn read(split: &str) -> prompt_data::LoadedDataset {
    let path = common::shared_file(&format!("assets/sst2/{split}.tsv"));
    read_dataset(&path, &ColumnMapping::sst2(), &ReadOptions::default()).unwrap()
}

#[test]
fn sst2_splits_have_the_glue_counts() {
    let train = read("train");
    assert_eq!(train.examples.len(), 67_349);
    assert_eq!(train.label_counts(), vec![67_349 - 37_569, 37_569]);
    assert!(train.skipped.is_empty());
    let dev = read("dev");
    assert_eq!(dev.examples.len(), 872);
    // The data search finds the split too (in $PROMPT_TUNING_DATA, data/ or the shared assets).
    let found = resolve_data_path(Path::new("sst2/dev.tsv")).unwrap();
    let again = read_dataset(&found, &ColumnMapping::sst2(), &ReadOptions::default()).unwrap();
    assert_eq!(again.examples, dev.examples);
    assert_eq!(dev.label_counts(), vec![872 - 444, 444]);
    // GLUE TSV is not quoted CSV: quotes and trailing spaces stay as written.
    assert_eq!(
        dev.examples[0].fields["sentence"],
        "it 's a charming and often affecting journey . "
    );
    let quoted =
        "more than another `` best man '' clone by weaving a theme throughout this funny film";
    assert!(
        train
            .examples
            .iter()
            .any(|e| e.fields["sentence"] == quoted && e.label == 1)
    );
}

fn bert_encoder() -> Encoder {
    let tokenizer = common::bert_tokenizer();
    let special_tokens = SpecialTokensSpec::bert().resolve(&tokenizer).unwrap();
    let config = EncoderConfig {
        answer_slot: AnswerSlot::MaskToken {
            token: "[MASK]".into(),
        },
        special_tokens,
        prompt_len: 20,
        max_positions: 512,
    };
    let template =
        Template::parse_for_fields("Review: {sentence}\nSentiment:{mask}", &["sentence".into()])
            .unwrap();
    Encoder::new(tokenizer, template, config).unwrap()
}

#[test]
fn sst2_dev_encodes_with_the_mask_in_place() {
    let encoder = bert_encoder();
    let dev = read("dev");
    let encoded = encoder.encode_all(&dev.examples).unwrap();
    for (e, x) in encoded.iter().zip(&dev.examples) {
        assert_eq!(e.ids[e.answer_pos], 103, "[MASK] at the answer position");
        assert_eq!(
            (e.ids[0], *e.ids.last().unwrap()),
            (101, 102),
            "[CLS] … [SEP]"
        );
        assert_eq!(e.answer_pos, e.ids.len() - 2);
        assert_eq!(e.label, x.label);
    }
    // "review : it ' s a charming … journey . sentiment : [MASK]"
    let first = &encoded[0];
    assert_eq!(first.ids[..4], [101, 3319, 1024, 2009]);
    assert_eq!(first.ids.len(), 17);
}

/// With this template and tokenizer, batch 32, seed 0: 0.595 of the tokens are padding when
/// batches are drawn at random, 0.034 with bucketing (chunks of 50 batches), 0.001 when the
/// whole split is sorted by length (evaluation order).
#[test]
fn bucketing_keeps_sst2_train_padding_small() {
    let encoder = bert_encoder();
    let train = read("train");
    let lengths: Vec<usize> = encoder
        .encode_all(&train.examples)
        .unwrap()
        .iter()
        .map(|e| e.ids.len())
        .collect();
    let plain = padding_ratio(&lengths, &shuffled_batches(lengths.len(), 32, 0).unwrap());
    let bucketed = padding_ratio(
        &lengths,
        &bucketed_batches(&lengths, 32, DEFAULT_CHUNK_BATCHES, 0).unwrap(),
    );
    let sorted = padding_ratio(&lengths, &sorted_batches(&lengths, 32).unwrap());
    println!(
        "SST-2 train, batch 32: padding ratio shuffled {plain:.4}, bucketed {bucketed:.4}, sorted {sorted:.4}"
    );
    assert!(bucketed < 0.05, "bucketed padding ratio {bucketed}");
    assert!(
        plain > 10.0 * bucketed,
        "shuffled {plain} vs bucketed {bucketed}"
    );
    assert!(sorted < bucketed, "sorted {sorted} vs bucketed {bucketed}");
}
