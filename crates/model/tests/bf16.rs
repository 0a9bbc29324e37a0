//! A bf16 backbone: with the device's default float type set to bf16 the frozen weights are
//! bf16, while the prompt, the class scores, the loss and the optimizer step stay f32. (Its own
//! test binary: a device's default type is set once per process.)

mod common;

use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{
    DType, Device, DeviceConfig, Distribution, FloatDType, Int, Tensor, TensorData,
};
use prompt_data::{MultiTokenPolicy, Verbalizer};
use prompt_model::{Backbone, ClassTokens, Llama, PromptTuned, SoftPrompt};

#[test]
fn a_bf16_backbone_trains_an_f32_prompt() {
    let mut cpu = Device::flex();
    cpu.configure(DeviceConfig::default().float_dtype(FloatDType::BF16))
        .unwrap();
    let device = cpu.autodiff();
    let backbone = common::tiny_llama_config().init(&device);
    let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64], [1, 1]), &device);
    assert_eq!(backbone.embed_tokens(ids).dtype(), DType::BF16);
    let start = Tensor::<2>::random([3, 16], Distribution::Uniform(-0.5, 0.5), &device);
    let model = PromptTuned::new(backbone, SoftPrompt::from_tensor(start)).unwrap();
    assert_eq!(model.prompt.values().dtype(), DType::F32);

    let ids = Tensor::<2, Int>::from_data(
        TensorData::new(vec![5i64, 9, 12, 40, 2, 33], [2, 3]),
        &device,
    );
    let mask = ids.clone().greater_equal_elem(0);
    let answer = Tensor::<1, Int>::from_data(TensorData::new(vec![2i64, 2], [2]), &device);
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 0], [2]), &device);
    let classes = ClassTokens::new(
        &Verbalizer::from_ids(&[vec![10], vec![20]], MultiTokenPolicy::FirstToken).unwrap(),
        &device,
    );
    let scores = model.forward(ids, mask, answer, &classes);
    assert_eq!(scores.dtype(), DType::F32);
    let loss = PromptTuned::<Llama>::loss(scores, labels);
    assert_eq!(loss.dtype(), DType::F32);
    let value: f32 = loss.clone().into_scalar();
    assert!(value.is_finite() && value > 0.0, "{value}");

    let before = model
        .prompt
        .values()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let grads = GradientsParams::from_grads(loss.backward(), &model.prompt);
    let mut optimizer = AdamWConfig::new().init();
    let prompt = optimizer.step(0.01, model.prompt.clone(), grads);
    assert_eq!(prompt.values().dtype(), DType::F32);
    let after = prompt.values().into_data().try_to_vec::<f32>().unwrap();
    assert!(
        before.iter().zip(&after).any(|(a, b)| a != b),
        "the step changed nothing"
    );
}
