//! Killed runs: a training process is SIGKILLed at named fault points (between steps, with a
//! checkpoint half written, before its rename, before old checkpoints are pruned, mid metrics
//! line, between the renames that swap in a new best prompt), then resumed. After every kill
//! each checkpoint file on disk reads back intact, and the resumed run ends with the same
//! prompt, best prompt and metrics as a run that was never interrupted.
//!
//! Training runs in child processes: this binary started again on the ignored `child` test.

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::{env, fs};

use prompt_train::checkpoint::{Checkpoint, CheckpointDir};
use prompt_train::metrics::read_metrics;

const OUTPUT: &str = "KILL_TEST_OUTPUT";
const RESUME: &str = "KILL_TEST_RESUME";
/// `fault-point:n`: die on the n-th time the process reaches the point.
const KILL_AT: &str = "KILL_TEST_AT";

/// The training process. Without the test's environment it has nothing to do.
#[test]
#[ignore = "the child process of the kill tests; they start it"]
fn child() {
    let output = env::var(OUTPUT).expect("started by a kill test");
    if let Ok(spec) = env::var(KILL_AT) {
        let (point, nth) = spec.rsplit_once(':').expect("point:n");
        let nth: usize = nth.parse().expect("a count");
        let reached = AtomicUsize::new(0);
        fail::cfg_callback(point, move || {
            if reached.fetch_add(1, Ordering::SeqCst) + 1 == nth {
                // SAFETY: sending a signal to this process has no memory-safety preconditions.
                unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
            }
        })
        .unwrap();
    }
    common::train_tiny(Path::new(&output), env::var(RESUME).is_ok()).unwrap();
}

fn start_child(output: &Path, resume: bool, kill_at: Option<&str>) -> Output {
    let mut command = Command::new(env::current_exe().unwrap());
    command
        .args([
            "child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(OUTPUT, output);
    if resume {
        command.env(RESUME, "1");
    }
    if let Some(spec) = kill_at {
        command.env(KILL_AT, spec);
    }
    command.output().unwrap()
}

fn assert_succeeded(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What a finished run leaves that must not depend on interruptions.
#[derive(Debug, PartialEq)]
struct Outcome {
    final_prompt: Vec<f32>,
    best_prompt: Vec<u8>,
    /// `(step, split, loss, accuracy)` of every metrics line, in order.
    metrics: Vec<String>,
}

fn outcome(output: &Path) -> Outcome {
    let checkpoint = output.join("checkpoints/step-00000008.ckpt");
    let bytes = fs::read(&checkpoint).unwrap();
    let metrics = read_metrics(&output.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|r| format!("{} {:?} {} {}", r.step, r.split, r.loss, r.accuracy))
        .collect();
    Outcome {
        final_prompt: Checkpoint::decode(&bytes, &checkpoint).unwrap().prompt,
        best_prompt: fs::read(output.join("best/adapter_model.safetensors")).unwrap(),
        metrics,
    }
}

/// Every checkpoint file present reads back intact; returns the steps.
fn intact_checkpoints(output: &Path) -> Vec<usize> {
    let dir = CheckpointDir::new(output.join("checkpoints"), 2);
    let steps = dir.steps().unwrap();
    for &step in &steps {
        let path = dir.file_for(step);
        Checkpoint::decode(&fs::read(&path).unwrap(), &path)
            .unwrap_or_else(|e| panic!("a kill left a bad checkpoint: {e}"));
    }
    steps
}

/// Runs training to the end without interruption in `<tmp>/uninterrupted`.
fn uninterrupted(tmp: &Path) -> Outcome {
    let dir = tmp.join("uninterrupted");
    assert_succeeded(&start_child(&dir, false, None), "the uninterrupted run");
    outcome(&dir)
}

#[test]
fn runs_killed_anywhere_resume_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = uninterrupted(tmp.path());
    assert_eq!(
        reference.metrics.len(),
        8 + 2,
        "8 train lines, dev at steps 4 and 8"
    );

    // Training 8 steps of 4, checkpoints every 2 steps (the 2 newest kept), dev every 4. The
    // first atomic write of a run is its config.toml, then one per checkpoint.
    // (fault point and its n-th visit, checkpoint steps on disk right after the kill)
    let kills: [(&str, &[usize]); 6] = [
        ("train::after_step:3", &[2]),
        ("write_atomic::half_written:3", &[2]),
        ("write_atomic::before_rename:4", &[2, 4]),
        ("checkpoint::before_pruning:3", &[2, 4, 6]),
        ("metrics::half_a_line:6", &[2, 4]),
        ("replace_folder::between_renames:1", &[2]),
    ];
    let mut steps_after_kill = BTreeMap::new();
    for (point, expected_steps) in kills {
        let dir = tmp.path().join(point.replace(':', "-"));
        let killed = start_child(&dir, false, Some(point));
        assert_eq!(
            killed.status.signal(),
            Some(libc::SIGKILL),
            "{point}: the child was not killed: {}",
            String::from_utf8_lossy(&killed.stderr)
        );
        steps_after_kill.insert(point, intact_checkpoints(&dir));
        assert_eq!(steps_after_kill[point], expected_steps, "{point}");
        assert_succeeded(&start_child(&dir, true, None), point);
        assert_eq!(outcome(&dir), reference, "resumed after a kill at {point}");
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .chain(fs::read_dir(dir.join("checkpoints")).unwrap())
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp") || n.ends_with(".old") || n.ends_with(".partial"))
            .collect();
        assert!(leftovers.is_empty(), "{point}: {leftovers:?}");
    }
}

#[test]
fn a_run_killed_again_while_resuming_still_ends_with_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = uninterrupted(tmp.path());
    let dir = tmp.path().join("chain");
    let first = start_child(&dir, false, Some("write_atomic::half_written:3"));
    assert_eq!(first.status.signal(), Some(libc::SIGKILL));
    // Resuming rewrites metrics.jsonl and config.toml atomically (visits 1 and 2), then
    // checkpoint 4 (visit 3): kill it half written once more.
    let second = start_child(&dir, true, Some("write_atomic::half_written:3"));
    assert_eq!(second.status.signal(), Some(libc::SIGKILL));
    assert_eq!(intact_checkpoints(&dir), [2]);
    assert_succeeded(&start_child(&dir, true, None), "the second resume");
    assert_eq!(outcome(&dir), reference);
}
