//! Loading a llama from a Hugging Face directory: a written directory gives back the same
//! frozen parameters, and missing or unexpected tensors are named.

use std::collections::HashMap;
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use safetensors::tensor::{Dtype, TensorView};
use tempfile::TempDir;

use crate::test_support::{floats, tiny_llama_config};
use crate::{Llama, LlamaError, LoadError};

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
        let norms = [
            ("input_layernorm", &l.input_layernorm.gamma),
            (
                "post_attention_layernorm",
                &l.post_attention_layernorm.gamma,
            ),
        ];
        let linears = [
            ("self_attn.q_proj", &l.self_attn.q_proj.weight),
            ("self_attn.k_proj", &l.self_attn.k_proj.weight),
            ("self_attn.v_proj", &l.self_attn.v_proj.weight),
            ("self_attn.o_proj", &l.self_attn.o_proj.weight),
            ("mlp.gate_proj", &l.mlp.gate_proj.weight),
            ("mlp.up_proj", &l.mlp.up_proj.weight),
            ("mlp.down_proj", &l.mlp.down_proj.weight),
        ];
        for (name, gamma) in norms {
            push(format!("model.layers.{i}.{name}.weight"), vector(gamma));
        }
        for (name, weight) in linears {
            push(format!("model.layers.{i}.{name}.weight"), linear(weight));
        }
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
    let loaded_params = params(&loaded);
    assert_eq!(loaded_params.len(), 2 + 2 * 9);
    assert!(loaded_params.iter().all(|(grad, _)| !grad));
    let values = |params: Vec<(bool, Vec<f32>)>| params.into_iter().map(|(_, v)| v).collect();
    let expected: Vec<Vec<f32>> = values(params(&model));
    assert_eq!(values(loaded_params), expected);
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
