//! The Gemma 3 backbone on small random weights: the scaled embedding, causal masking and
//! right padding, the sliding window of the local layers, and the shared prompt prefix.

mod common;

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use common::{floats, max_abs_diff, padded_ids, requires_grad_flags, tiny_gemma3_config};
use prompt_model::{Backbone, Gemma3, Gemma3Config};

fn hidden(model: &Gemma3, rows: &[&[i64]], device: &Device) -> Vec<f32> {
    let (ids, mask) = padded_ids(rows, device);
    floats(model.encode(model.embed_tokens(ids), mask))
}

#[test]
fn token_embeddings_are_scaled_by_the_square_root_of_the_width() {
    let device = Device::flex();
    let model = tiny_gemma3_config().init(&device);
    let (ids, _) = padded_ids(&[&[7]], &device);
    let scaled = floats(model.embed_tokens(ids));
    // The head is tied to the embedding, so scoring the identity against token 7 reads its
    // unscaled row.
    let identity = Tensor::<2>::from_data(
        TensorData::new(
            (0..16 * 16)
                .map(|i| if i % 17 == 0 { 1.0f32 } else { 0.0 })
                .collect(),
            [16, 16],
        ),
        &device,
    );
    let token = Tensor::<1, Int>::from_data(TensorData::new(vec![7i64], [1]), &device);
    let raw = floats(model.vocab_logits(identity, token));
    let scale = 16f64.sqrt() as f32;
    let expected: Vec<f32> = raw.iter().map(|v| v * scale).collect();
    assert_eq!(scaled, expected);
}

#[test]
fn right_padding_and_later_tokens_do_not_change_earlier_positions() {
    let device = Device::flex();
    let model = tiny_gemma3_config().init(&device);
    let d = model.hidden_size();
    let short = hidden(&model, &[&[5, 9, 12]], &device);
    let batch = hidden(&model, &[&[5, 9, 12], &[1, 2, 3, 4, 5, 6]], &device);
    assert!(max_abs_diff(&short, &batch[..3 * d]) < 1e-5);
    let longer = hidden(&model, &[&[5, 9, 12, 40, 41]], &device);
    assert!(max_abs_diff(&short, &longer[..3 * d]) < 1e-5);
    let changed = hidden(&model, &[&[6, 9, 12]], &device);
    assert!(max_abs_diff(&short[2 * d..], &changed[2 * d..]) > 1e-4);
}

#[test]
fn a_local_layer_sees_only_its_window() {
    // One local layer with a window of 3: position p reads positions p-2..=p only.
    let config = Gemma3Config {
        num_hidden_layers: 1,
        ..tiny_gemma3_config()
    };
    assert!(!config.is_global(0));
    let device = Device::flex();
    let model = config.init(&device);
    let d = model.hidden_size();
    let base = hidden(&model, &[&[5, 9, 12, 20, 21]], &device);
    let changed = hidden(&model, &[&[6, 9, 12, 20, 21]], &device);
    // Positions 0..3 see position 0; positions 3 and 4 do not.
    assert!(max_abs_diff(&base[2 * d..3 * d], &changed[2 * d..3 * d]) > 1e-4);
    assert!(max_abs_diff(&base[3 * d..], &changed[3 * d..]) < 1e-6);
    // A global layer sees everything before it.
    let global = Gemma3Config {
        sliding_window_pattern: 1,
        ..config
    }
    .init(&device);
    let base = hidden(&global, &[&[5, 9, 12, 20, 21]], &device);
    let changed = hidden(&global, &[&[6, 9, 12, 20, 21]], &device);
    assert!(max_abs_diff(&base[4 * d..], &changed[4 * d..]) > 1e-4);
}

#[test]
fn shared_prefix_path_equals_running_the_prefix_in_every_row() {
    let device = Device::flex();
    let model = tiny_gemma3_config().init(&device);
    let prefix = Tensor::<2>::random([3, 16], burn::tensor::Distribution::Default, &device);
    // Rows longer than the window, so that local layers cut the prefix off for late tokens.
    let (ids, mask) = padded_ids(&[&[5, 9, 12, 3, 7], &[40, 2]], &device);
    let embeds = model.embed_tokens(ids);
    let fast = floats(model.encode_with_prefix(prefix.clone(), embeds.clone(), mask.clone()));
    let rows = Tensor::cat(vec![prefix.unsqueeze::<3>().expand([2, 3, 16]), embeds], 1);
    let full_mask = Tensor::cat(
        vec![Tensor::<2, Bool>::full([2, 3], true, &device), mask],
        1,
    );
    let slow = floats(model.encode(rows, full_mask).narrow(1, 3, 5));
    let d = 16;
    let real = |v: &[f32]| [&v[..5 * d], &v[5 * d..7 * d]].concat();
    assert_eq!(fast.len(), slow.len());
    assert!(max_abs_diff(&real(&fast), &real(&slow)) < 1e-5);
}

#[test]
fn every_parameter_is_frozen() {
    let model = tiny_gemma3_config().init(&Device::flex().autodiff());
    let frozen = requires_grad_flags(&model);
    // Embedding and final norm, and per layer 4 projections, 2 head norms, 4 block norms and
    // 3 feed-forward matrices.
    assert_eq!(frozen.len(), 2 + 3 * 13);
    assert!(frozen.iter().all(|requires_grad| !requires_grad));
}
