//! Loading BERT from Hugging Face directories: naming variants, frozen parameters, and the
//! errors for missing, misshapen and unknown tensors, bad safetensors files and bad configs.

use crate::test_support;
use std::path::{Path, PathBuf};

use crate::hf_dir::HfDir;
use crate::safetensors_source::SafetensorsFile;
use crate::weights::WeightSource;
use crate::{Backbone, Bert, BertConfig};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use tempfile::TempDir;

/// A tensor as stored: name, dtype, shape, little-endian bytes.
struct Stored {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Stored {
    fn f32(name: &str, shape: &[usize], values: &[f32]) -> Self {
        Self {
            name: name.to_string(),
            dtype: Dtype::F32,
            shape: shape.to_vec(),
            bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

fn fixture_tensors() -> Vec<Stored> {
    let bytes = std::fs::read(test_support::tiny_bert_dir().join("model.safetensors")).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| Stored {
            name,
            dtype: view.dtype(),
            shape: view.shape().to_vec(),
            bytes: view.data().to_vec(),
        })
        .collect()
}

fn write_safetensors(path: &Path, tensors: &[Stored]) {
    let views = tensors.iter().map(|t| {
        (
            t.name.clone(),
            TensorView::new(t.dtype, t.shape.clone(), &t.bytes).unwrap(),
        )
    });
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// A copy of the tiny-bert directory whose weights are the fixture's after `edit`.
fn edited_fixture(edit: impl FnOnce(&mut Vec<Stored>)) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        test_support::tiny_bert_dir().join("config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    let mut tensors = fixture_tensors();
    edit(&mut tensors);
    write_safetensors(&dir.path().join("model.safetensors"), &tensors);
    dir
}

fn load_error(dir: &Path) -> String {
    Bert::from_hf_dir(dir, &Device::flex())
        .expect_err("loading must fail")
        .to_string()
}

/// Logits at position 1 of a fixed input, to compare two loads of the same weights.
fn probe(bert: &Bert) -> Vec<f32> {
    let device = Device::flex();
    let ids = Tensor::<2, Int>::from_data(
        TensorData::new(vec![101i64, 103, 2003, 102], [1, 4]),
        &device,
    );
    let mask = Tensor::<2, Bool>::from_data(TensorData::new(vec![true; 4], [1, 4]), &device);
    let hidden = bert.encode(bert.embed_tokens(ids), mask);
    let at_mask = hidden.narrow(1, 1, 1).reshape([1, bert.hidden_size()]);
    bert.full_logits(at_mask)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap()
}

#[test]
fn fixture_loads_with_its_config_and_every_parameter_frozen() {
    struct Trainable(usize);
    impl ModuleVisitor for Trainable {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0 += usize::from(param.is_require_grad());
        }
    }
    let bert = Bert::from_hf_dir(test_support::tiny_bert_dir(), &Device::flex()).unwrap();
    assert_eq!(
        (bert.hidden_size(), bert.vocab_size(), bert.max_positions()),
        (32, 30522, 512)
    );
    // Every tensor of the fixture: embeddings 993,216 + 2 layers x 8,544 + MLM head 31,642.
    assert_eq!(bert.num_params(), 1_041_946);
    let mut trainable = Trainable(0);
    bert.visit(&mut trainable);
    assert_eq!(trainable.0, 0, "frozen backbone has trainable parameters");
}

#[test]
fn config_reads_the_fixture() {
    let config = BertConfig::from_hf_dir(test_support::tiny_bert_dir()).unwrap();
    assert_eq!(
        (
            config.vocab_size,
            config.hidden_size,
            config.num_hidden_layers,
            config.num_attention_heads,
            config.intermediate_size,
            config.layer_norm_eps
        ),
        (30522, 32, 2, 2, 64, 1e-12)
    );
    assert_eq!(
        HfDir::new(test_support::tiny_bert_dir())
            .model_type()
            .unwrap(),
        "bert"
    );
}

#[test]
fn original_release_names_and_harmless_extras_load_the_same_model() {
    // bert-base-uncased style: LayerNorm gamma/beta, a pooler, NSP head, position_ids and an
    // explicit tied decoder; and a checkpoint without the `bert.` prefix.
    let renamed = edited_fixture(|tensors| {
        for t in tensors.iter_mut() {
            if t.name.contains("LayerNorm") {
                t.name = t
                    .name
                    .replace(".weight", ".gamma")
                    .replace(".bias", ".beta");
            }
        }
        let word = tensors
            .iter()
            .find(|t| t.name == "bert.embeddings.word_embeddings.weight")
            .map(|t| Stored {
                name: "cls.predictions.decoder.weight".into(),
                dtype: t.dtype,
                shape: t.shape.clone(),
                bytes: t.bytes.clone(),
            })
            .unwrap();
        tensors.push(word);
        tensors.push(Stored::f32(
            "bert.pooler.dense.weight",
            &[32, 32],
            &[0.5; 1024],
        ));
        tensors.push(Stored::f32("bert.pooler.dense.bias", &[32], &[0.5; 32]));
        tensors.push(Stored::f32(
            "cls.seq_relationship.weight",
            &[2, 32],
            &[0.5; 64],
        ));
        tensors.push(Stored::f32("cls.seq_relationship.bias", &[2], &[0.5; 2]));
        let positions: Vec<u8> = (0..512i64).flat_map(|p| p.to_le_bytes()).collect();
        tensors.push(Stored {
            name: "bert.embeddings.position_ids".into(),
            dtype: Dtype::I64,
            shape: vec![1, 512],
            bytes: positions,
        });
    });
    let unprefixed = edited_fixture(|tensors| {
        for t in tensors.iter_mut() {
            t.name = t.name.trim_start_matches("bert.").to_string();
        }
    });
    let device = Device::flex();
    let reference = probe(&Bert::from_hf_dir(test_support::tiny_bert_dir(), &device).unwrap());
    assert_eq!(
        probe(&Bert::from_hf_dir(renamed.path(), &device).unwrap()),
        reference
    );
    assert_eq!(
        probe(&Bert::from_hf_dir(unprefixed.path(), &device).unwrap()),
        reference
    );
}

#[test]
fn half_precision_checkpoints_are_converted() {
    let dir = edited_fixture(|tensors| {
        for t in tensors.iter_mut() {
            let values: Vec<f32> = t
                .bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            t.dtype = Dtype::BF16;
            t.bytes = values
                .iter()
                .flat_map(|&v| half::bf16::from_f32(v).to_le_bytes())
                .collect();
        }
    });
    let file = SafetensorsFile::open(dir.path().join("model.safetensors")).unwrap();
    let (shape, values) = file
        .read_f32("bert.encoder.layer.0.attention.self.query.weight")
        .unwrap()
        .unwrap();
    let original =
        SafetensorsFile::open(test_support::tiny_bert_dir().join("model.safetensors")).unwrap();
    let (_, exact) = original
        .read_f32("bert.encoder.layer.0.attention.self.query.weight")
        .unwrap()
        .unwrap();
    assert_eq!(shape, [32, 32]);
    let expected: Vec<f32> = exact
        .iter()
        .map(|&v| half::bf16::from_f32(v).to_f32())
        .collect();
    assert_eq!(values, expected);
    assert_ne!(values, exact, "bf16 rounding must be visible");
    assert!(Bert::from_hf_dir(dir.path(), &Device::flex()).is_ok());

    let path = dir.path().join("half.safetensors");
    let f16: Vec<u8> = [1.5f32, -0.25]
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    write_safetensors(
        &path,
        &[Stored {
            name: "h".into(),
            dtype: Dtype::F16,
            shape: vec![2],
            bytes: f16,
        }],
    );
    let (shape, values) = SafetensorsFile::open(&path)
        .unwrap()
        .read_f32("h")
        .unwrap()
        .unwrap();
    assert_eq!((shape, values), (vec![2], vec![1.5, -0.25]));
}

#[test]
fn missing_tensor_is_named() {
    let dir = edited_fixture(|tensors| {
        tensors.retain(|t| t.name != "bert.encoder.layer.1.output.dense.bias")
    });
    let message = load_error(dir.path());
    assert!(
        message.contains("has no tensor `bert.encoder.layer.1.output.dense.bias`"),
        "{message}"
    );
    assert!(message.contains("model.safetensors"), "{message}");
}

#[test]
fn wrong_shape_is_named_with_both_shapes() {
    let dir = edited_fixture(|tensors| {
        let t = tensors
            .iter_mut()
            .find(|t| t.name == "bert.encoder.layer.0.intermediate.dense.weight")
            .unwrap();
        t.shape = vec![32, 64];
    });
    let message = load_error(dir.path());
    assert!(
        message.contains("tensor `bert.encoder.layer.0.intermediate.dense.weight`")
            && message.contains("has shape [32, 64], expected [64, 32]"),
        "{message}"
    );
}

#[test]
fn unexpected_tensor_is_named() {
    let dir = edited_fixture(|tensors| {
        tensors.push(Stored::f32(
            "bert.encoder.layer.0.attention.self.rotary.weight",
            &[2],
            &[0.0, 1.0],
        ));
    });
    let message = load_error(dir.path());
    assert!(message.contains("does not know"), "{message}");
    assert!(
        message.contains("\"bert.encoder.layer.0.attention.self.rotary.weight\""),
        "{message}"
    );
}

#[test]
fn unsupported_dtype_names_tensor_and_dtype() {
    let dir = edited_fixture(|tensors| {
        let t = tensors
            .iter_mut()
            .find(|t| t.name == "cls.predictions.bias")
            .unwrap();
        t.dtype = Dtype::I32;
    });
    let message = load_error(dir.path());
    assert!(
        message.contains("tensor `cls.predictions.bias` is stored as I32"),
        "{message}"
    );
    assert!(message.contains("only F32, F16 and BF16"), "{message}");
}

#[test]
fn truncated_or_garbage_weights_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(test_support::tiny_bert_dir().join("model.safetensors")).unwrap();
    let cases: [(&str, &[u8]); 3] = [
        ("truncated.safetensors", &bytes[..bytes.len() / 2]),
        (
            "garbage.safetensors",
            b"{\"this is\": \"not a safetensors file\"}",
        ),
        ("empty.safetensors", b""),
    ];
    for (name, contents) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        let message = SafetensorsFile::open(&path)
            .err()
            .expect("must fail")
            .to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(
            message.contains("not a valid safetensors file"),
            "{message}"
        );
    }
    let missing = dir.path().join("absent.safetensors");
    let message = SafetensorsFile::open(&missing)
        .err()
        .expect("must fail")
        .to_string();
    assert!(
        message.starts_with(&format!("cannot read {}", missing.display())),
        "{message}"
    );
}

/// A directory with the fixture weights and `config.json` replaced by `config`.
fn with_config(config: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        test_support::tiny_bert_dir().join("model.safetensors"),
        dir.path().join("model.safetensors"),
    )
    .unwrap();
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    dir
}

fn config_path(dir: &TempDir) -> PathBuf {
    dir.path().join("config.json")
}

#[test]
fn bad_config_json_is_reported_with_the_file() {
    let fixture =
        std::fs::read_to_string(test_support::tiny_bert_dir().join("config.json")).unwrap();
    let cases = [
        ("{ not json".to_string(), "key must be a string"),
        (
            fixture.replace("\"hidden_size\": 32,", ""),
            "missing field `hidden_size`",
        ),
        (
            fixture.replace("\"gelu\"", "\"relu\""),
            "unknown variant `relu`, expected `gelu`",
        ),
        (
            fixture.replace("\"num_attention_heads\": 2", "\"num_attention_heads\": 5"),
            "hidden_size 32 is not a multiple of num_attention_heads 5",
        ),
    ];
    for (config, expected) in cases {
        let dir = with_config(&config);
        let message = load_error(dir.path());
        assert!(
            message.contains(&config_path(&dir).display().to_string()),
            "{message}"
        );
        assert!(message.contains("is not a valid model config"), "{message}");
        assert!(message.contains(expected), "{message}");
    }
    let dir = tempfile::tempdir().unwrap();
    let message = load_error(dir.path());
    assert!(
        message.starts_with(&format!(
            "cannot read {}",
            dir.path().join("config.json").display()
        )),
        "{message}"
    );
}
