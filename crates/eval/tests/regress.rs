//! The regression checks against the real model: the committed prompt scores well, and
//! deliberate regressions fail: a zeroed prompt and a template that lost the sentence fail the
//! committed-prompt check, a prompt that does not move (a learning rate of 1e-9) fails the
//! short-training check against the committed baseline.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use prompt_eval::{CommittedCheck, Measurement, RegressConfig, TrainingCheck, Verdict};
use prompt_model::{SavedPrompt, SoftPrompt, save_prompt};
use prompt_train::Override;

/// Examples scored per measurement: enough for the drops below to be far outside noise.
const EXAMPLES: usize = 160;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The CI config's committed check, its paths taken from the workspace root, on a subset.
fn committed_check() -> CommittedCheck {
    let root = workspace_root();
    let config = RegressConfig::load(&root.join("configs/sst2_ci.toml")).unwrap();
    let mut check = config.committed;
    check.config = root.join(&check.config);
    check.prompt = root.join(&check.prompt);
    check.limit = Some(EXAMPLES);
    check
}

/// A copy of the prompt folder `from` in `to` with every value set to zero.
fn zeroed_copy(from: &Path, to: &Path) {
    let saved = SavedPrompt::load(from).unwrap();
    let zeros = SoftPrompt::from_tensor(Tensor::zeros(
        [saved.num_tokens(), saved.config.token_dim],
        &Device::default(),
    ));
    save_prompt(to, &zeros, &saved.config, saved.task.as_ref().unwrap()).unwrap();
}

fn verdict(good: Measurement, measured: Measurement) -> Verdict {
    Verdict::new(
        "committed",
        good,
        measured,
        committed_check().tolerance.max(0.02),
        committed_check().loss_tolerance,
    )
}

#[test]
fn deliberate_regressions_fail_the_committed_prompt_check() {
    let device = Device::default();
    let check = committed_check();
    let good = check.measure(&[], &device).unwrap();
    assert_eq!(good.examples, EXAMPLES);
    assert!(good.accuracy > 0.8, "the committed prompt scored {good:?}");
    assert!(verdict(good, good).passed);

    let folder = tempfile::tempdir().unwrap();
    zeroed_copy(&check.prompt, folder.path());
    let zeroed = CommittedCheck {
        prompt: folder.path().to_path_buf(),
        ..check.clone()
    }
    .measure(&[], &device)
    .unwrap();
    let v = verdict(good, zeroed);
    assert!(!v.passed, "a zeroed prompt passed: {v:?}");

    let broken = CommittedCheck {
        set: vec!["template=The sentiment of this review is{mask}".to_string()],
        ..check
    }
    .measure(&[], &device)
    .unwrap();
    let v = verdict(good, broken);
    assert!(!v.passed, "a template without the sentence passed: {v:?}");
}

/// The CI config's training check and its committed baseline, paths from the workspace root.
fn training_check() -> (TrainingCheck, Measurement) {
    let root = workspace_root();
    let mut config = RegressConfig::load(&root.join("configs/sst2_ci.toml")).unwrap();
    config.baseline = root.join(&config.baseline);
    let baseline = config.read_baseline().unwrap().training;
    let mut check = config.training;
    check.config = root.join(&check.config);
    (check, baseline)
}

#[test]
fn a_prompt_that_does_not_learn_fails_the_training_check() {
    let (check, baseline) = training_check();
    // A rate of 1e-9 leaves the prompt where it started, so 8 steps measure the same as the
    // check's 40, at a fifth of the training time.
    let frozen = check
        .measure(
            &Override::parse_all([
                "optimizer.lr=1e-9",
                "train.steps=8",
                "train.eval_every=8",
                "train.checkpoint_every=8",
            ])
            .unwrap(),
            &Device::default(),
        )
        .unwrap();
    let v = Verdict::new(
        "training",
        baseline,
        frozen,
        check.tolerance,
        check.loss_tolerance,
    );
    assert!(!v.passed, "a frozen prompt passed: {v:?}");
    assert!(v.reason.contains("loss rose"), "{v:?}");
}
