//! Prompts prepared once and batches that mix rows behind different prompts: each row gets
//! what it gets behind its own prompt alone, on causal backbones (llama and Gemma 3: cached keys
//! and values) and on a bidirectional one (prompt rows encoded with every row).

mod common;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use common::{batch, floats, max_abs_diff, tiny_bert_dir, tiny_gemma3_config, tiny_llama_config};
use prompt_model::{
    Backbone, PrefixCache, PromptPlacement, PromptTuned, RowPrefixes, SoftPrompt,
    answer_hidden_behind,
};

/// Rows of different lengths (each answers at its last token).
const ROWS: [&[i64]; 4] = [&[5, 9, 12, 3, 7], &[40, 2, 33], &[8, 1], &[11, 12, 13, 14]];

/// Random prompts of the given lengths (0: the template alone).
fn prompts(lengths: &[usize], width: usize, device: &Device) -> Vec<Tensor<2>> {
    lengths
        .iter()
        .map(|&k| Tensor::random([k, width], Distribution::Uniform(-0.5, 0.5), device))
        .collect()
}

/// Each row's answer hidden state behind prompt `of_row[r]`, computed one row at a time the
/// training way (`PromptTuned::answer_hidden`).
fn alone<B: Backbone + Module + Clone>(
    backbone: &B,
    prompts: &[Tensor<2>],
    of_row: &[usize],
    device: &Device,
) -> Vec<f32> {
    ROWS.iter()
        .zip(of_row)
        .flat_map(|(row, &p)| {
            let model = PromptTuned::new(
                backbone.clone(),
                SoftPrompt::from_tensor(prompts[p].clone()),
            )
            .unwrap();
            let (ids, mask, answer) = batch(&[row], device);
            floats(model.answer_hidden(ids, mask, answer))
        })
        .collect()
}

/// The same rows in one batch, each behind its own cached prompt.
fn mixed<B: Backbone>(
    backbone: &B,
    caches: &[PrefixCache],
    of_row: &[usize],
    device: &Device,
) -> Vec<f32> {
    let (ids, mask, answer) = batch(&ROWS, device);
    let prefixes = RowPrefixes::new(caches.iter().collect(), of_row.to_vec());
    floats(answer_hidden_behind(backbone, &prefixes, ids, mask, answer))
}

#[test]
fn a_causal_backbone_caches_each_prompts_keys_and_values_and_mixes_tasks_in_a_batch() {
    let device = Device::flex();
    causal_prompts_cached_and_mixed(tiny_llama_config().init(&device), &device);
}

#[test]
fn gemma3_caches_prompts_across_its_local_and_global_layers() {
    // Windows of 3 positions: rows behind 3- and 5-row prompts lose sight of early prompt rows
    // in the local layers and keep them in the global one.
    let device = Device::flex();
    causal_prompts_cached_and_mixed(tiny_gemma3_config().init(&device), &device);
}

/// Prompts of 3, 0 and 5 rows: cached and mixed in one batch, encoded in front of every row,
/// and one prompt behind a whole batch all give each row what it gets alone.
fn causal_prompts_cached_and_mixed<B: Backbone + Module + Clone>(backbone: B, device: &Device) {
    let prompts = prompts(&[3, 0, 5], backbone.hidden_size(), device);
    let caches: Vec<PrefixCache> = prompts
        .iter()
        .map(|p| backbone.cache_prefix(p.clone()))
        .collect();
    assert!(caches[0].has_layers() && !caches[1].has_layers());
    let of_row = [0, 1, 2, 0];
    let expected = alone(&backbone, &prompts, &of_row, device);
    let cached = mixed(&backbone, &caches, &of_row, device);
    assert!(max_abs_diff(&cached, &expected) < 1e-5);
    // The plain path (each row's prompt rows encoded in front of it) agrees too.
    let rows_only: Vec<PrefixCache> = prompts
        .iter()
        .map(|p| PrefixCache::rows_only(p.clone()))
        .collect();
    let every_row = mixed(&backbone, &rows_only, &of_row, device);
    assert!(max_abs_diff(&every_row, &expected) < 1e-5);
    // A batch behind one prompt equals the training forward of the whole batch.
    let model = PromptTuned::new(backbone, SoftPrompt::from_tensor(prompts[2].clone())).unwrap();
    let (ids, mask, answer) = batch(&ROWS, device);
    let trained = floats(model.answer_hidden(ids.clone(), mask.clone(), answer.clone()));
    let cache = model.cached_prompt();
    let scored = floats(answer_hidden_behind(
        &model.backbone,
        &RowPrefixes::same(&cache, ROWS.len()),
        ids,
        mask,
        answer,
    ));
    assert!(max_abs_diff(&scored, &trained) < 1e-5);
    let every_row = model.with_placement(PromptPlacement::EveryRow);
    assert!(!every_row.cached_prompt().has_layers());
}

#[test]
fn a_bidirectional_backbone_encodes_each_rows_prompt_in_front_of_it() {
    let device = Device::flex();
    let backbone = prompt_model::load(&tiny_bert_dir(), &device)
        .unwrap()
        .backbone;
    let prompts = prompts(&[2, 4, 0], backbone.hidden_size(), &device);
    let caches: Vec<PrefixCache> = prompts
        .iter()
        .map(|p| backbone.cache_prefix(p.clone()))
        .collect();
    assert!(caches.iter().all(|c| !c.has_layers()));
    let of_row = [1, 0, 2, 1];
    let expected = alone(&backbone, &prompts, &of_row, &device);
    assert!(max_abs_diff(&mixed(&backbone, &caches, &of_row, &device), &expected) < 1e-5);
}
