//! The llama backbone on small random weights: causal masking, right padding, the restricted
//! vocabulary head, frozen parameters, and the HF-directory loader's naming and errors.

mod common;

use std::collections::HashMap;
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use common::{floats, max_abs_diff, padded_ids as ids, tiny_llama_config};
use prompt_model::{Backbone, Llama, LlamaError, LoadError};
use safetensors::tensor::{Dtype, TensorView};
use tempfile::TempDir;

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

/// Collects every float parameter: requires-grad flag and values.
#[derive(Default)]
struct Params(Vec<(bool, Vec<f32>)>);

impl ModuleVisitor for Params {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0
            .push((param.val().is_require_grad(), floats(param.val())));
    }
}

fn params(model: &impl Module) -> Vec<(bool, Vec<f32>)> {
    let mut visitor = Params::default();
    model.visit(&mut visitor);
    visitor.0
}

/// HF tensor name -> (shape `[out, in]` as stored, values) of a model's weights.
fn hf_tensors(model: &Llama) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let linear = |w: &Param<Tensor<2>>| {
        let [i, o] = w.dims();
        (vec![o, i], floats(w.val().transpose()))
    };
    let vector = |w: &Param<Tensor<1>>| (w.dims().to_vec(), floats(w.val()));
    let mut out = Vec::new();
    let mut push =
        |name: String, (shape, values): (Vec<usize>, Vec<f32>)| out.push((name, shape, values));
    let e = &model.embed_tokens.weight;
    push(
        "model.embed_tokens.weight".into(),
        (e.dims().to_vec(), floats(e.val())),
    );
    push("model.norm.weight".into(), vector(&model.norm.gamma));
    for (i, l) in model.layers.iter().enumerate() {
        let p = |s: &str| format!("model.layers.{i}.{s}");
        push(
            p("input_layernorm.weight"),
            vector(&l.input_layernorm.gamma),
        );
        push(
            p("post_attention_layernorm.weight"),
            vector(&l.post_attention_layernorm.gamma),
        );
        push(
            p("self_attn.q_proj.weight"),
            linear(&l.self_attn.q_proj.weight),
        );
        push(
            p("self_attn.k_proj.weight"),
            linear(&l.self_attn.k_proj.weight),
        );
        push(
            p("self_attn.v_proj.weight"),
            linear(&l.self_attn.v_proj.weight),
        );
        push(
            p("self_attn.o_proj.weight"),
            linear(&l.self_attn.o_proj.weight),
        );
        push(p("mlp.gate_proj.weight"), linear(&l.mlp.gate_proj.weight));
        push(p("mlp.up_proj.weight"), linear(&l.mlp.up_proj.weight));
        push(p("mlp.down_proj.weight"), linear(&l.mlp.down_proj.weight));
    }
    out
}

/// Writes an HF llama directory (config.json as transformers writes it, with fields this crate
/// ignores) holding `tensors`.
fn write_hf_dir(dir: &Path, tensors: &[(String, Vec<usize>, Vec<f32>)]) {
    let c = tiny_llama_config();
    let config = serde_json::json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": c.vocab_size,
        "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.num_hidden_layers,
        "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.num_key_value_heads,
        "rms_norm_eps": c.rms_norm_eps,
        "rope_theta": c.rope_theta,
        "rope_scaling": null,
        "max_position_embeddings": c.max_position_embeddings,
        "tie_word_embeddings": true,
        "hidden_act": "silu",
        "torch_dtype": "float32",
        "bos_token_id": 1,
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: HashMap<String, TensorView> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| {
            (
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
}

#[test]
fn hf_directory_round_trip_gives_the_same_model_with_every_parameter_frozen() {
    let device = Device::flex();
    let model = tiny_llama_config().init(&device);
    let dir = TempDir::new().unwrap();
    write_hf_dir(dir.path(), &hf_tensors(&model));
    let loaded = Llama::from_hf_dir(dir.path(), &device.clone().autodiff()).unwrap();
    let rows: &[&[i64]] = &[&[3, 1, 4, 1, 5], &[9, 2, 6]];
    let expected = hidden(&model, rows, &device);
    let found = hidden(&loaded, rows, &device.clone().autodiff());
    assert!(max_abs_diff(&expected, &found) < 1e-6);
    let loaded_params = params(&loaded);
    assert_eq!(loaded_params.len(), 2 + 2 * 9);
    assert!(loaded_params.iter().all(|(grad, _)| !grad));
}

#[test]
fn hf_loader_names_missing_and_unexpected_tensors() {
    let device = Device::flex();
    let mut tensors = hf_tensors(&tiny_llama_config().init(&device));
    let dir = TempDir::new().unwrap();

    tensors.push((
        "model.layers.0.self_attn.q_proj.bias".into(),
        vec![16],
        vec![0.0; 16],
    ));
    write_hf_dir(dir.path(), &tensors);
    match Llama::from_hf_dir(dir.path(), &device) {
        Err(LlamaError::Load(LoadError::UnexpectedTensors { names, .. })) => {
            assert_eq!(
                names,
                vec!["model.layers.0.self_attn.q_proj.bias".to_string()]
            )
        }
        other => panic!("expected unexpected-tensor error, got {other:?}"),
    }

    tensors.retain(|(n, _, _)| {
        !n.ends_with("q_proj.bias") && n != "model.layers.1.mlp.up_proj.weight"
    });
    write_hf_dir(dir.path(), &tensors);
    let err = Llama::from_hf_dir(dir.path(), &device).unwrap_err();
    assert!(
        err.to_string()
            .contains("model.layers.1.mlp.up_proj.weight"),
        "{err}"
    );
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
