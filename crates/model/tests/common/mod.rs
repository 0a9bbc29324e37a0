//! Helpers shared by the integration tests: tiny model shapes, batches, and (from
//! `src/test_support/fixtures.rs`) where the shared fixtures and cached models live.
#![allow(dead_code)] // each test binary uses a different subset

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

#[path = "../../src/test_support/fixtures.rs"]
mod fixtures;

#[allow(unused_imports)] // each test binary uses a different subset
pub use fixtures::*;
use prompt_model::{Gemma3Config, LlamaConfig, cache};

/// Right-padded token ids `[B, L]` and their mask (`true` on real tokens).
pub fn padded_ids(
    rows: &[&[i64]],
    device: &burn::tensor::Device,
) -> (
    burn::tensor::Tensor<2, burn::tensor::Int>,
    burn::tensor::Tensor<2, burn::tensor::Bool>,
) {
    use burn::tensor::{Tensor, TensorData};
    let len = rows.iter().map(|r| r.len()).max().unwrap();
    let mut data = Vec::new();
    let mut mask = Vec::new();
    for row in rows {
        for j in 0..len {
            data.push(row.get(j).copied().unwrap_or(0));
            mask.push(j < row.len());
        }
    }
    (
        Tensor::from_data(TensorData::new(data, [rows.len(), len]), device),
        Tensor::from_data(TensorData::new(mask, [rows.len(), len]), device),
    )
}

/// Right-padded batch: ids, mask, answer positions (each row's last real token).
pub fn batch(
    rows: &[&[i64]],
    device: &Device,
) -> (Tensor<2, Int>, Tensor<2, Bool>, Tensor<1, Int>) {
    let len = rows.iter().map(|r| r.len()).max().unwrap();
    let mut ids = Vec::new();
    let mut mask = Vec::new();
    for row in rows {
        for j in 0..len {
            ids.push(row.get(j).copied().unwrap_or(0));
            mask.push(j < row.len());
        }
    }
    let answer: Vec<i64> = rows.iter().map(|r| r.len() as i64 - 1).collect();
    let n = rows.len();
    (
        Tensor::from_data(TensorData::new(ids, [n, len]), device),
        Tensor::from_data(TensorData::new(mask, [n, len]), device),
        Tensor::from_data(TensorData::new(answer, [n]), device),
    )
}

/// The quantities a causal-LM reference check reports, with how many values each compares:
/// `ids` ids in all, `cases` cases, and the `prompt{k}` entries `prompts` of every case.
pub fn causal_quantities(ids: usize, cases: usize, prompts: &[&str]) -> Vec<(String, usize)> {
    let mut expected = vec![
        ("ids".to_string(), ids),
        ("last_logits_first16".to_string(), cases * 16),
        ("top10_ids".to_string(), cases * 10),
        ("top10_logits".to_string(), cases * 10),
        ("label_logits".to_string(), cases * 2),
    ];
    for k in prompts {
        expected.push((format!("{k}.label_logits"), cases * 2));
        expected.push((format!("{k}.loss"), cases));
        expected.push((format!("{k}.grad_norm"), cases));
        expected.push((format!("{k}.grad_row0_first8"), cases * 8));
    }
    expected
}

/// The quantity names and value counts of a reference report.
pub fn reported_quantities(
    report: &prompt_model::reference::ReferenceReport,
) -> Vec<(String, usize)> {
    report
        .checks
        .iter()
        .map(|c| (c.name.clone(), c.count))
        .collect()
}

/// Whether each float parameter of `module` requires a gradient, in visiting order.
pub fn requires_grad_flags(module: &impl burn::module::Module) -> Vec<bool> {
    struct Flags(Vec<bool>);
    impl burn::module::ModuleVisitor for Flags {
        fn visit_float<const D: usize>(
            &mut self,
            param: &burn::module::Param<burn::tensor::Tensor<D>>,
        ) {
            self.0.push(param.val().is_require_grad());
        }
    }
    let mut flags = Flags(Vec::new());
    module.visit(&mut flags);
    flags.0
}
