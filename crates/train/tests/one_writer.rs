//! One writer per output folder, with two real processes: while a training process is running
//! (held mid-run at a fault point), a second run on the same folder is refused with the
//! holder's pid; once the first is SIGKILLed, its lock never blocks the `--resume`.
//!
//! The first process is this binary started again on the ignored `child` test.

mod common;

use std::env;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use prompt_train::TrainError;
use prompt_train::lock_holder;

const OUTPUT: &str = "ONE_WRITER_OUTPUT";

/// A training run that stops after its third step (its step-2 checkpoint written), says so,
/// and waits for its stdin to close.
#[test]
#[ignore = "the first process of the one-writer test; the test starts it"]
fn child() {
    let output = env::var(OUTPUT).expect("started by the one-writer test");
    let steps = AtomicUsize::new(0);
    fail::cfg_callback("train::after_step", move || {
        if steps.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
            println!("training");
            let mut rest = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut rest);
        }
    })
    .unwrap();
    common::train_tiny(Path::new(&output), false).unwrap();
}

#[test]
fn a_second_process_is_refused_and_a_killed_one_does_not_block_resume() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("run");
    let mut first = Command::new(env::current_exe().unwrap())
        .args(["child", "--exact", "--ignored", "--nocapture"])
        .env(OUTPUT, &output)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(first.stdout.take().unwrap());
    let started = stdout
        .lines()
        .map(Result::unwrap)
        .any(|line| line == "training");
    assert!(started, "the first process ended before its first step");
    assert_eq!(lock_holder(&output), Some(first.id()));

    let err = common::train_tiny(&output, false).unwrap_err();
    assert!(
        matches!(err, TrainError::OutputLocked { pid: Some(pid), .. } if pid == first.id()),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{} is in use by another training process (pid {}); wait for it or choose another \
             output (`--set output=...`)",
            output.display(),
            first.id()
        )
    );
    assert!(
        common::train_tiny(&output, true).is_err(),
        "a resume must wait as well"
    );

    first.kill().unwrap();
    first.wait().unwrap();
    // The dead process's pid is still in the lock file, but its lock went with it.
    assert_eq!(lock_holder(&output), Some(first.id()));
    let resumed = common::train_tiny(&output, true).unwrap();
    assert_eq!(resumed.resumed_from, Some(2));
    assert_eq!(lock_holder(&output), Some(std::process::id()));
}
