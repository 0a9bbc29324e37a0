//! Encoding with the real bert-base-uncased tokenizer: truncation of a very long sentence,
//! Chinese text with a CJK verbalizer, and the causal answer slot.

mod common;

use std::collections::BTreeMap;

use prompt_data::{
    AnswerSlot, Encoder, EncoderConfig, Example, MultiTokenPolicy, SpecialTokens,
    SpecialTokensSpec, Template, Tokenizer, Verbalizer, VerbalizerSpec,
};

const CLS: u32 = 101;
const SEP: u32 = 102;
const MASK: u32 = 103;

fn example(field: &str, text: &str, label: usize) -> Example {
    Example {
        fields: BTreeMap::from([(field.to_string(), text.to_string())]),
        label,
    }
}

/// Reference ids: the whole string tokenized without special tokens or the file's padding.
fn ids(tokenizer: &Tokenizer, text: &str) -> Vec<u32> {
    let mut tokenizer = tokenizer.clone();
    tokenizer.with_padding(None).with_truncation(None).unwrap();
    tokenizer.encode(text, false).unwrap().get_ids().to_vec()
}

fn masked_config(tokenizer: &Tokenizer, prompt_len: usize) -> EncoderConfig {
    EncoderConfig {
        answer_slot: AnswerSlot::MaskToken {
            token: "[MASK]".into(),
        },
        special_tokens: SpecialTokensSpec::bert().resolve(tokenizer).unwrap(),
        prompt_len,
        max_positions: 512,
    }
}

fn long_sentence() -> String {
    let words = [
        "the",
        "movie",
        "was",
        "surprisingly",
        "good",
        "and",
        "never",
        "boring",
    ];
    (0..2000)
        .map(|i| words[i % words.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_2000_word_sentence_is_cut_to_the_budget_keeping_the_template() {
    let tokenizer = common::bert_tokenizer();
    let template = Template::parse("{sentence} It was {mask} .").unwrap();
    let encoder =
        Encoder::new(tokenizer.clone(), template, masked_config(&tokenizer, 150)).unwrap();
    assert_eq!(encoder.budget(), 362);
    let sentence = long_sentence();
    let encoded = encoder.encode(&example("sentence", &sentence, 1)).unwrap();
    assert_eq!(encoded.ids.len(), 362, "fills the budget exactly");
    assert_eq!(encoded.label, 1);
    let tail = [
        ids(&tokenizer, "it was"),
        vec![MASK],
        ids(&tokenizer, "."),
        vec![SEP],
    ]
    .concat();
    assert_eq!(
        encoded.ids[362 - tail.len()..],
        tail[..],
        "template words, answer slot and [SEP] intact"
    );
    assert_eq!(encoded.answer_pos, 362 - 3);
    assert_eq!(encoded.ids[encoded.answer_pos], MASK);
    let kept = 362 - tail.len() - 1;
    assert_eq!(encoded.ids[0], CLS);
    assert_eq!(
        encoded.ids[1..1 + kept],
        ids(&tokenizer, &sentence)[..kept],
        "the sentence's first tokens"
    );
}

#[test]
fn causal_answer_slot_reads_the_last_token_after_truncation() {
    let tokenizer = common::bert_tokenizer();
    let config = EncoderConfig {
        answer_slot: AnswerSlot::NextToken,
        special_tokens: SpecialTokens::default(),
        prompt_len: 150,
        max_positions: 512,
    };
    let template = Template::parse("Review: {sentence}\nSentiment:{mask}").unwrap();
    let encoder = Encoder::new(tokenizer.clone(), template, config).unwrap();
    let encoded = encoder
        .encode(&example("sentence", &long_sentence(), 0))
        .unwrap();
    assert_eq!(encoded.ids.len(), 362);
    assert_eq!(encoded.answer_pos, 361);
    assert_eq!(encoded.ids[..2], ids(&tokenizer, "review:")[..]);
    assert_eq!(encoded.ids[360..], ids(&tokenizer, "sentiment:")[..]);
    let short = encoder.encode(&example("sentence", "fine", 1)).unwrap();
    assert_eq!(short.ids, ids(&tokenizer, "Review: fine\nSentiment:"));
    assert_eq!(short.answer_pos, short.ids.len() - 1);
}

#[test]
fn chinese_template_and_verbalizer() {
    let tokenizer = common::bert_tokenizer();
    let template =
        Template::parse_for_fields("{text}总体评价是{mask}的", &["text".into()]).unwrap();
    let encoder = Encoder::new(tokenizer.clone(), template, masked_config(&tokenizer, 20)).unwrap();
    let text = "这部电影很有趣。";
    let encoded = encoder.encode(&example("text", text, 1)).unwrap();
    let text_ids = ids(&tokenizer, text);
    assert_eq!(
        text_ids.len(),
        text.chars().count(),
        "one WordPiece per CJK character"
    );
    let expected = [
        vec![CLS],
        text_ids,
        ids(&tokenizer, "总体评价是"),
        vec![MASK],
        ids(&tokenizer, "的"),
        vec![SEP],
    ]
    .concat();
    assert_eq!(encoded.ids, expected);
    assert_eq!(encoded.answer_pos, 1 + 8 + 5);
    assert_eq!(encoded.ids[encoded.answer_pos], MASK);

    // bert-base-uncased has only a few hundred CJK characters: 美 and 不 are in it, 好 and 差
    // are not, and a word that would score [UNK] is refused.
    let names = ["负面".to_string(), "正面".to_string()];
    let spec = |neg: &str, pos: &str| VerbalizerSpec {
        label_words: vec![vec![neg.to_string()], vec![pos.to_string()]],
        multi_token: MultiTokenPolicy::FirstToken,
    };
    let verbalizer = Verbalizer::new(&spec("不", "美"), &names, &tokenizer).unwrap();
    for (class, word) in [(0, "不"), (1, "美")] {
        assert_eq!(
            verbalizer.words(class)[0].ids,
            vec![tokenizer.token_to_id(word).unwrap()],
            "{word} is one token"
        );
    }
    assert_eq!(
        verbalizer.scored_ids(),
        &[
            tokenizer.token_to_id("不").unwrap(),
            tokenizer.token_to_id("美").unwrap()
        ]
    );
    let err = Verbalizer::new(&spec("差", "好"), &names, &tokenizer).unwrap_err();
    assert!(err.to_string().starts_with("label word \"差\" of class `负面` is not in the tokenizer's vocabulary (it becomes [UNK])"), "{err}");
}

#[test]
fn english_verbalizer_with_a_multi_token_word() {
    let tokenizer = common::bert_tokenizer();
    let names = ["negative".to_string(), "positive".to_string()];
    let words = vec![
        vec!["terrible".to_string(), "unwatchable".to_string()],
        vec!["great".to_string()],
    ];
    let unwatchable = ids(&tokenizer, "unwatchable");
    assert!(unwatchable.len() > 1, "{unwatchable:?}");
    let first = Verbalizer::new(
        &VerbalizerSpec {
            label_words: words.clone(),
            multi_token: MultiTokenPolicy::FirstToken,
        },
        &names,
        &tokenizer,
    )
    .unwrap();
    let terrible = tokenizer.token_to_id("terrible").unwrap();
    let great = tokenizer.token_to_id("great").unwrap();
    assert_eq!(first.scored_ids(), &[terrible, unwatchable[0], great]);
    assert_eq!(first.score_weights(), &[0.5, 0.5, 0.0, 0.0, 0.0, 1.0]);
    let mean = Verbalizer::new(
        &VerbalizerSpec {
            label_words: words,
            multi_token: MultiTokenPolicy::Mean,
        },
        &names,
        &tokenizer,
    )
    .unwrap();
    assert_eq!(mean.scored_ids().len(), 2 + unwatchable.len());
    assert_eq!(mean.class_entries(1), &[1 + unwatchable.len()]);
    let per_token = 0.5 / unwatchable.len() as f32;
    assert_eq!(mean.score_weights()[1], per_token);
}
