//! The llama backbone on small random weights: causal masking, right padding, the restricted
//! vocabulary head and the shared prompt prefix.

mod common;

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use common::{floats, max_abs_diff, padded_ids as ids, tiny_llama_config};
use prompt_model::{Backbone, Llama};

fn hidden(model: &Llama, rows: &[&[i64]], device: &Device) -> Vec<f32> {
    let (ids, mask) = ids(rows, device);
    floats(model.encode(model.embed_tokens(ids), mask))
}

#[test]
fn right_padding_and_later_tokens_do_not_change_earlier_positions() {
    let device = Device::flex();
    let model = tiny_llama_config().init(&device);
    let d = model.hidden_size();
    let short = hidden(&model, &[&[5, 9, 12]], &device);
    // The same row padded to 6 inside a batch with a longer row.
    let batch = hidden(&model, &[&[5, 9, 12], &[1, 2, 3, 4, 5, 6]], &device);
    assert!(max_abs_diff(&short, &batch[..3 * d]) < 1e-5);
    // A longer continuation leaves the first three positions unchanged (causal).
    let longer = hidden(&model, &[&[5, 9, 12, 40, 41]], &device);
    assert!(max_abs_diff(&short, &longer[..3 * d]) < 1e-5);
    // ...but changing an earlier token changes a later position.
    let changed = hidden(&model, &[&[6, 9, 12]], &device);
    assert!(max_abs_diff(&short[2 * d..], &changed[2 * d..]) > 1e-4);
}

#[test]
fn restricted_head_equals_the_selected_columns_of_the_full_head() {
    let device = Device::flex();
    let model = tiny_llama_config().init(&device);
    let h = Tensor::<2>::random([3, 16], burn::tensor::Distribution::Default, &device);
    let rows = Tensor::<1, Int>::from_data(TensorData::new(vec![7i64, 0, 63], [3]), &device);
    let some = floats(model.vocab_logits(h.clone(), rows.clone()));
    let all = floats(model.full_logits(h).select(1, rows));
    assert_eq!(some.len(), 9);
    assert!(max_abs_diff(&some, &all) < 1e-5);
}

#[test]
fn shared_prefix_path_equals_running_the_prefix_in_every_row() {
    let device = Device::flex();
    let model = tiny_llama_config().init(&device);
    let prefix = Tensor::<2>::random([3, 16], burn::tensor::Distribution::Default, &device);
    let (ids, mask) = ids(&[&[5, 9, 12, 3], &[40, 2]], &device);
    let embeds = model.embed_tokens(ids);
    let fast = floats(model.encode_with_prefix(prefix.clone(), embeds.clone(), mask.clone()));
    // The trait's default: every row carries its own copy of the prefix.
    let rows = Tensor::cat(vec![prefix.unsqueeze::<3>().expand([2, 3, 16]), embeds], 1);
    let full_mask = Tensor::cat(
        vec![Tensor::<2, Bool>::full([2, 3], true, &device), mask],
        1,
    );
    let slow = floats(model.encode(rows, full_mask).narrow(1, 3, 4));
    // Row 1's padding positions differ (they are never read); compare the real ones.
    let d = 16;
    let real = |v: &[f32]| [&v[..4 * d], &v[4 * d..6 * d]].concat();
    assert_eq!(fast.len(), slow.len());
    assert!(max_abs_diff(&real(&fast), &real(&slow)) < 1e-5);
}
