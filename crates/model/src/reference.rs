//! Checks a model against reference outputs of HF transformers (a JSON fixture): runs the same
//! inputs, and reports for each quantity its largest absolute and relative difference and
//! whether every value is within tolerance. Two fixture formats, told apart by their contents:
//! causal LM (a GGUF model, scores at the last position) and masked LM (`cases[].mask_pos`; a
//! Hugging Face BERT directory, scores at `[MASK]`).

use std::fmt;
use std::path::{Path, PathBuf};

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use prompt_data::{MultiTokenPolicy, Verbalizer};
use serde::Deserialize;

use crate::backbone::Backbone;
use crate::error::ModelError;
use crate::load::{AnyBackbone, LoadedModel};
use crate::prompt_tuned::{ClassTokens, PromptTuned};
use crate::soft_prompt::SoftPrompt;

/// A value passes when it is within `abs` of the reference or within `rel` of it relatively.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Largest accepted absolute difference.
    pub abs: f64,
    /// Largest accepted difference relative to the reference value.
    pub rel: f64,
}

impl Default for Tolerance {
    /// f32 agreement with an f32 reference: 1e-3 absolute or 1e-4 relative.
    fn default() -> Self {
        Self {
            abs: 1e-3,
            rel: 1e-4,
        }
    }
}

/// The bounds of a reference check: one for values (logits, losses), one for prompt gradients
/// (by default the same).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tolerances {
    /// Logits and losses.
    pub values: Tolerance,
    /// Prompt-gradient norms and entries.
    pub gradients: Tolerance,
}

impl Tolerances {
    /// The same bound for values and gradients.
    pub fn uniform(tolerance: Tolerance) -> Self {
        Self {
            values: tolerance,
            gradients: tolerance,
        }
    }
}

/// One compared quantity, over every case of the fixture.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantityCheck {
    /// What was compared (`label_logits`, `prompt5.grad_norm`, …).
    pub name: String,
    /// Values compared.
    pub count: usize,
    /// Largest absolute difference.
    pub max_abs: f64,
    /// Largest difference relative to the reference value.
    pub max_rel: f64,
    /// Whether every value was within tolerance (exact quantities: equal).
    pub passed: bool,
}

impl QuantityCheck {
    fn empty(name: &str) -> Self {
        Self {
            name: name.to_string(),
            count: 0,
            max_abs: 0.0,
            max_rel: 0.0,
            passed: true,
        }
    }

    /// Adds values `found` compared with `expected` under `tolerance`; a length mismatch
    /// fails with infinite differences.
    fn add(&mut self, found: &[f64], expected: &[f64], tolerance: Option<Tolerance>) {
        if found.len() != expected.len() {
            self.max_abs = f64::INFINITY;
            self.max_rel = f64::INFINITY;
            self.passed = false;
            return;
        }
        for (f, e) in found.iter().zip(expected) {
            let abs = (f - e).abs();
            let rel = if abs == 0.0 { 0.0 } else { abs / e.abs() };
            self.count += 1;
            self.max_abs = self.max_abs.max(abs);
            self.max_rel = self.max_rel.max(rel);
            let ok = match tolerance {
                Some(t) => abs <= t.abs || rel <= t.rel,
                None => abs == 0.0,
            };
            // NaN compares false everywhere: it fails.
            self.passed &= ok;
        }
    }
}

/// The outcome of [`check_reference`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceReport {
    /// The fixture.
    pub reference: PathBuf,
    /// The model checked.
    pub model: PathBuf,
    /// The bounds applied to float quantities (ids are compared exactly).
    pub tolerances: Tolerances,
    /// One entry per quantity, in the fixture's order.
    pub checks: Vec<QuantityCheck>,
}

impl ReferenceReport {
    /// Whether every quantity passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The check named `name`.
    pub fn check(&self, name: &str) -> Option<&QuantityCheck> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Records a comparison under `name` (exact when `tolerance` is `None`).
    fn compare(
        &mut self,
        name: &str,
        found: &[f64],
        expected: &[f64],
        tolerance: Option<Tolerance>,
    ) {
        let index = match self.checks.iter().position(|c| c.name == name) {
            Some(i) => i,
            None => {
                self.checks.push(QuantityCheck::empty(name));
                self.checks.len() - 1
            }
        };
        self.checks[index].add(found, expected, tolerance);
    }
}

impl fmt::Display for ReferenceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} vs {} (tolerance {:e} abs or {:e} rel, gradients {:e} abs or {:e} rel; ids exact)",
            self.model.display(),
            self.reference.display(),
            self.tolerances.values.abs,
            self.tolerances.values.rel,
            self.tolerances.gradients.abs,
            self.tolerances.gradients.rel
        )?;
        writeln!(
            f,
            "{:<28} {:>6} {:>12} {:>12}  verdict",
            "quantity", "values", "max abs", "max rel"
        )?;
        for c in &self.checks {
            writeln!(
                f,
                "{:<28} {:>6} {:>12.3e} {:>12.3e}  {}",
                c.name,
                c.count,
                c.max_abs,
                c.max_rel,
                if c.passed { "ok" } else { "FAIL" }
            )?;
        }
        write!(
            f,
            "{}",
            if self.passed() {
                "all quantities within tolerance"
            } else {
                "MISMATCH"
            }
        )
    }
}

/// Why a reference check could not run (a mismatch is not an error: it is in the report).
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// The fixture could not be read.
    #[error("cannot read reference file {path}: {source}")]
    Io {
        /// The fixture.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The fixture is not JSON of a known reference format.
    #[error(
        "{path} is not a known reference format (a causal-LM fixture has `label_ids` and \
         `cases[].last_logits_first16`; a masked-LM fixture has `cases[].mask_pos`, \
         `mask_logits_first16` and `word_ids`): {source}"
    )]
    Format {
        /// The fixture.
        path: PathBuf,
        /// What serde said.
        source: serde_json::Error,
    },
    /// The model could not be loaded.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// A causal-LM fixture (`smollm2_reference.json`, `gemma3_reference.json`).
#[derive(Deserialize)]
struct CausalReference {
    /// The label words' ids of every case (a case may name its own instead).
    label_ids: Option<Vec<u32>>,
    /// Texts whose ids are checked without running the model.
    #[serde(default)]
    tokenization_examples: Vec<TokenizationExample>,
    cases: Vec<CausalCase>,
}

#[derive(Deserialize)]
struct TokenizationExample {
    text: String,
    ids: Vec<u32>,
}

#[derive(Deserialize)]
struct CausalCase {
    text: String,
    ids: Vec<u32>,
    last_logits_first16: Vec<f64>,
    last_top10_ids: Vec<u32>,
    last_top10_logits: Vec<f64>,
    /// This case's label words' ids (else the fixture's).
    label_ids: Option<Vec<u32>>,
    label_logits: Vec<f64>,
    /// `prompt{k}` entries: a fixed k-row prompt prepended (see [`fixture_prompt`]); other
    /// fields describe the case and are not compared.
    #[serde(flatten)]
    rest: std::collections::BTreeMap<String, serde_json::Value>,
}

impl CausalCase {
    /// The prompt lengths `k` of the case's `prompt{k}` entries, with their reference values.
    fn prompts(&self) -> Result<Vec<(String, usize, PromptCase)>, serde_json::Error> {
        self.rest
            .iter()
            .filter_map(|(key, value)| {
                let k = key.strip_prefix("prompt")?.parse().ok()?;
                Some(serde_json::from_value(value.clone()).map(|case| (key.clone(), k, case)))
            })
            .collect()
    }
}

#[derive(Deserialize)]
struct PromptCase {
    label_logits: Vec<f64>,
    loss: f64,
    grad_norm: f64,
    grad_row0_first8: Vec<f64>,
}

/// A masked-LM fixture (`tiny_bert_reference.json`).
#[derive(Deserialize)]
struct MaskedReference {
    cases: Vec<MaskedCase>,
}

#[derive(Deserialize)]
struct MaskedCase {
    text: String,
    ids: Vec<u32>,
    mask_pos: usize,
    mask_logits_first16: Vec<f64>,
    word_ids: Vec<u32>,
    word_logits: Vec<f64>,
    /// `prompt{k}` entries: a fixed k-row prompt before `[CLS]` (see [`fixture_prompt`]).
    #[serde(flatten)]
    prompts: std::collections::BTreeMap<String, MaskedPromptCase>,
}

#[derive(Deserialize)]
struct MaskedPromptCase {
    word_logits: Vec<f64>,
    loss: f64,
    grad_norm: f64,
}

/// Runs `model` on the inputs of the fixture at `reference` and compares every quantity it
/// holds: a GGUF file for a causal-LM fixture, a Hugging Face directory for a masked-LM one
/// (a fixture whose cases have `mask_pos`). Gradients need autodiff, so the model runs on
/// `device.autodiff()`.
pub fn check_reference(
    reference: &Path,
    model: &Path,
    device: &Device,
    tolerances: Tolerances,
) -> Result<ReferenceReport, ReferenceError> {
    let text = std::fs::read_to_string(reference).map_err(|source| ReferenceError::Io {
        path: reference.to_path_buf(),
        source,
    })?;
    let format_error = |source| ReferenceError::Format {
        path: reference.to_path_buf(),
        source,
    };
    let fixture: serde_json::Value = serde_json::from_str(&text).map_err(format_error)?;
    let masked = fixture["cases"]
        .get(0)
        .is_some_and(|case| case.get("mask_pos").is_some());
    let mut report = ReferenceReport {
        reference: reference.to_path_buf(),
        model: model.to_path_buf(),
        tolerances,
        checks: Vec::new(),
    };
    let device = device.clone().autodiff();
    let loaded = crate::load(model, &device)?;
    if masked {
        let fixture = serde_json::from_value(fixture).map_err(format_error)?;
        check_masked(&fixture, &loaded, &device, &mut report)?;
    } else {
        let fixture: CausalReference = serde_json::from_value(fixture).map_err(format_error)?;
        let prompts = fixture
            .cases
            .iter()
            .map(CausalCase::prompts)
            .collect::<Result<Vec<_>, _>>()
            .map_err(format_error)?;
        check_causal(&fixture, &prompts, &loaded, &device, &mut report)?;
    }
    Ok(report)
}

/// Runs the causal fixture's cases; `prompts[i]` are case `i`'s `prompt{k}` entries.
fn check_causal(
    fixture: &CausalReference,
    prompts: &[Vec<(String, usize, PromptCase)>],
    loaded: &LoadedModel,
    device: &Device,
    report: &mut ReferenceReport,
) -> Result<(), ModelError> {
    let tolerance = Some(report.tolerances.values);
    let grad_tolerance = Some(report.tolerances.gradients);
    let (tokenizer, model) = (&loaded.tokenizer, &loaded.backbone);
    let as_f64 = |v: &[u32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    // The ids the tokenizer gives with its special tokens (`<bos>` where the model adds it).
    let encode = |text: &str| {
        tokenizer
            .encode(text, true)
            .map(|e| e.get_ids().to_vec())
            .unwrap_or_default()
    };
    for example in &fixture.tokenization_examples {
        let ids = encode(&example.text);
        report.compare("ids", &as_f64(&ids), &as_f64(&example.ids), None);
    }
    for ((case_index, case), prompts) in fixture.cases.iter().enumerate().zip(prompts) {
        let ids = encode(&case.text);
        report.compare("ids", &as_f64(&ids), &as_f64(&case.ids), None);
        let label_ids = case
            .label_ids
            .as_ref()
            .or(fixture.label_ids.as_ref())
            .cloned()
            .unwrap_or_default();
        let label_words: Vec<Vec<u32>> = label_ids.iter().map(|&id| vec![id]).collect();
        let classes = ClassTokens::new(
            &Verbalizer::from_ids(&label_words, MultiTokenPolicy::FirstToken)?,
            device,
        );

        // The model runs on the fixture's ids, so a tokenizer mismatch does not hide the rest.
        let len = case.ids.len();
        let input = Tensor::<2, Int>::from_data(
            TensorData::new(case.ids.iter().map(|&i| i as i64).collect(), [1, len]),
            device,
        );
        let mask = Tensor::<2, Bool>::full([1, len], true, device);
        let hidden = model.encode(model.embed_tokens(input.clone()), mask.clone());
        let last = hidden
            .narrow(1, len - 1, 1)
            .reshape([1, model.hidden_size()]);
        let logits = floats(model.full_logits(last.clone()));
        report.compare(
            "last_logits_first16",
            &logits[..16.min(logits.len())],
            &case.last_logits_first16,
            tolerance,
        );
        report.compare(
            "top10_ids",
            &as_f64(&top_ids(&logits, case.last_top10_ids.len())),
            &as_f64(&case.last_top10_ids),
            None,
        );
        let at_reference_top: Vec<f64> = case
            .last_top10_ids
            .iter()
            .map(|&i| logits.get(i as usize).copied().unwrap_or(f64::NAN))
            .collect();
        report.compare(
            "top10_logits",
            &at_reference_top,
            &case.last_top10_logits,
            tolerance,
        );
        let label = floats(model.vocab_logits(last, ids_tensor(&label_ids, device)));
        report.compare("label_logits", &label, &case.label_logits, tolerance);

        for (key, k, expected) in prompts {
            let prompt = SoftPrompt::from_tensor(fixture_prompt(
                *k,
                model.hidden_size(),
                case_index,
                device,
            ));
            let tuned = PromptTuned::new(model.clone(), prompt)?;
            let answer =
                Tensor::<1, Int>::from_data(TensorData::new(vec![len as i64 - 1], [1]), device);
            let scores = tuned.forward(input.clone(), mask.clone(), answer, &classes);
            let target = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64], [1]), device);
            let loss = PromptTuned::<AnyBackbone>::loss(scores.clone(), target);
            let grads = loss.clone().backward();
            let grad = tuned
                .prompt
                .embeddings
                .grad(&grads)
                .expect("the prompt requires a gradient");
            let grad = floats(grad);
            let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
            report.compare(
                &format!("{key}.label_logits"),
                &floats(scores),
                &expected.label_logits,
                tolerance,
            );
            report.compare(
                &format!("{key}.loss"),
                &floats(loss),
                &[expected.loss],
                tolerance,
            );
            report.compare(
                &format!("{key}.grad_norm"),
                &[norm],
                &[expected.grad_norm],
                grad_tolerance,
            );
            report.compare(
                &format!("{key}.grad_row0_first8"),
                &grad[..expected.grad_row0_first8.len().min(grad.len())],
                &expected.grad_row0_first8,
                grad_tolerance,
            );
        }
    }
    Ok(())
}

fn check_masked(
    fixture: &MaskedReference,
    loaded: &LoadedModel,
    device: &Device,
    report: &mut ReferenceReport,
) -> Result<(), ModelError> {
    let tolerance = Some(report.tolerances.values);
    let grad_tolerance = Some(report.tolerances.gradients);
    let mut tokenizer = loaded.tokenizer.clone();
    // A tokenizer.json may pad every input to a fixed length; the reference ids are unpadded.
    tokenizer.with_padding(None);
    let mask_id = tokenizer.token_to_id("[MASK]");
    let model = &loaded.backbone;
    let as_f64 = |v: &[u32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    for (case_index, case) in fixture.cases.iter().enumerate() {
        let ids = tokenizer
            .encode(case.text.as_str(), true)
            .map(|e| e.get_ids().to_vec())
            .unwrap_or_default();
        report.compare("ids", &as_f64(&ids), &as_f64(&case.ids), None);
        let mask_pos = ids
            .iter()
            .position(|&id| Some(id) == mask_id)
            .map_or(f64::NAN, |p| p as f64);
        report.compare("mask_pos", &[mask_pos], &[case.mask_pos as f64], None);

        // The model runs on the fixture's ids and mask position, so a tokenizer mismatch does
        // not hide the rest.
        let len = case.ids.len();
        let input = Tensor::<2, Int>::from_data(
            TensorData::new(case.ids.iter().map(|&i| i as i64).collect(), [1, len]),
            device,
        );
        let mask = Tensor::<2, Bool>::full([1, len], true, device);
        let hidden = model.encode(model.embed_tokens(input.clone()), mask.clone());
        let at_mask = hidden
            .narrow(1, case.mask_pos, 1)
            .reshape([1, model.hidden_size()]);
        let logits = floats(model.full_logits(at_mask.clone()));
        report.compare(
            "mask_logits_first16",
            &logits[..16.min(logits.len())],
            &case.mask_logits_first16,
            tolerance,
        );
        let words = floats(model.vocab_logits(at_mask, ids_tensor(&case.word_ids, device)));
        report.compare("word_logits", &words, &case.word_logits, tolerance);

        let word_ids: Vec<Vec<u32>> = case.word_ids.iter().map(|&id| vec![id]).collect();
        let classes = ClassTokens::new(
            &Verbalizer::from_ids(&word_ids, MultiTokenPolicy::FirstToken)?,
            device,
        );
        for (key, expected) in &case.prompts {
            let Some(k) = key.strip_prefix("prompt").and_then(|k| k.parse().ok()) else {
                continue;
            };
            let prompt =
                SoftPrompt::from_tensor(fixture_prompt(k, model.hidden_size(), case_index, device));
            let tuned = PromptTuned::new(model.clone(), prompt)?;
            let answer = Tensor::<1, Int>::from_data(
                TensorData::new(vec![case.mask_pos as i64], [1]),
                device,
            );
            let scores = tuned.forward(input.clone(), mask.clone(), answer, &classes);
            // The fixture's loss takes the first word as gold.
            let target = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64], [1]), device);
            let loss = PromptTuned::<AnyBackbone>::loss(scores.clone(), target);
            let grads = loss.clone().backward();
            let grad = tuned
                .prompt
                .embeddings
                .grad(&grads)
                .expect("the prompt requires a gradient");
            let norm = floats(grad).iter().map(|g| g * g).sum::<f64>().sqrt();
            report.compare(
                &format!("{key}.word_logits"),
                &floats(scores),
                &expected.word_logits,
                tolerance,
            );
            report.compare(
                &format!("{key}.loss"),
                &floats(loss),
                &[expected.loss],
                tolerance,
            );
            report.compare(
                &format!("{key}.grad_norm"),
                &[norm],
                &[expected.grad_norm],
                grad_tolerance,
            );
        }
    }
    Ok(())
}

/// The fixtures' fixed prompt: `P[i][j] = 0.05 * sin(0.37 * (i + 1) * (j + 1) + case_index)`.
pub fn fixture_prompt(k: usize, width: usize, case_index: usize, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = (0..k)
        .flat_map(|i| {
            (0..width).map(move |j| {
                (0.05 * (0.37 * ((i + 1) * (j + 1)) as f64 + case_index as f64).sin()) as f32
            })
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [k, width]), device)
}

fn ids_tensor(ids: &[u32], device: &Device) -> Tensor<1, Int> {
    let ids: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
    let n = ids.len();
    Tensor::from_data(TensorData::new(ids, [n]), device)
}

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .try_into_vec_as::<f32>()
        .expect("float tensors convert to f32")
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Indices of the `n` largest values, largest first.
fn top_ids(values: &[f64], n: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..values.len() as u32).collect();
    order.sort_by(|&a, &b| values[b as usize].total_cmp(&values[a as usize]));
    order.truncate(n);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_passes_within_either_tolerance_and_tracks_maxima() {
        let t = Some(Tolerance::default());
        let mut q = QuantityCheck::empty("x");
        // 2e-3 absolute is 1e-5 relative of 200: passes on the relative bound.
        q.add(&[200.002, 1.0005], &[200.0, 1.0], t);
        assert!(q.passed);
        assert_eq!(q.count, 2);
        assert!((q.max_abs - 2e-3).abs() < 1e-9);
        assert!((q.max_rel - 5e-4).abs() < 1e-9);
        q.add(&[1.01], &[1.0], t);
        assert!(!q.passed);
        let mut exact = QuantityCheck::empty("ids");
        exact.add(&[1.0, 2.0], &[1.0, 2.0], None);
        assert!(exact.passed);
        exact.add(&[1.0], &[1.0, 2.0], None);
        assert!(!exact.passed && exact.max_abs.is_infinite());
        let mut nan = QuantityCheck::empty("nan");
        nan.add(&[f64::NAN], &[1.0], t);
        assert!(!nan.passed);
    }

    #[test]
    fn top_ids_orders_largest_first() {
        assert_eq!(top_ids(&[0.5, 3.0, -1.0, 2.0], 2), vec![1, 3]);
    }

    #[test]
    fn fixture_prompt_follows_the_formula() {
        let p = floats(fixture_prompt(2, 3, 1, &Device::flex()));
        let expected = 0.05 * (0.37f64 * 2.0 * 3.0 + 1.0).sin();
        assert!((p[5] - expected).abs() < 1e-7);
        assert_eq!(p.len(), 6);
    }
}
