//! A sweep end to end on the real SmolLM2 and a few SST-2 rows: every cell trained and
//! recorded with its learning curve, the ensemble of the seeds scored, the report and figures
//! written; then, with the training runs deleted (a new machine with only the committed
//! results), the sweep trains nothing and writes the same report.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use prompt_eval::{ResultsDir, SweepConfig, run_sweep};

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The first `rows` data rows of the shared SST-2 file `name`, with its header, in `dir`.
fn sst2_head(dir: &Path, name: &str, rows: usize) -> PathBuf {
    let shared = std::env::var_os("PROMPT_TUNING_SHARED")
        .map_or_else(|| workspace_root().join("../shared"), PathBuf::from);
    let source = shared.join("assets/sst2").join(name);
    let text = std::fs::read_to_string(&source)
        .unwrap_or_else(|e| panic!("{}: {e}; set PROMPT_TUNING_SHARED", source.display()));
    let head: Vec<&str> = text.lines().take(rows + 1).collect();
    let path = dir.join(name);
    std::fs::write(&path, head.join("\n") + "\n").unwrap();
    path
}

fn write_sweep(dir: &Path) -> PathBuf {
    let train = sst2_head(dir, "train.tsv", 40);
    let dev = sst2_head(dir, "dev.tsv", 12);
    let set = [
        format!("data.train=\"{}\"", train.display()),
        format!("data.dev=\"{}\"", dev.display()),
        "train.steps=2".into(),
        "train.batch_size=4".into(),
        "train.eval_batch_size=12".into(),
        "train.eval_every=1".into(),
        "train.checkpoint_every=1".into(),
        "train.log_every=1".into(),
        "train.patience=0".into(),
    ];
    let set: Vec<String> = set.iter().map(|s| format!("{s:?}")).collect();
    let text = format!(
        "base = {base:?}\noutput = {output:?}\nresults = {results:?}\nlengths = [1, 3]\n\
         inits = [{{ kind = \"class_label\" }}]\nseeds = [0, 1]\nensemble_lengths = [3]\n\
         set = [{set}]\n\n[[cell_set]]\nlengths = [3]\nset = [\"optimizer.lr=0.01\"]\n",
        base = workspace_root().join("configs/sst2.toml"),
        output = dir.join("runs"),
        results = dir.join("results"),
        set = set.join(", "),
    );
    let path = dir.join("sweep.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_sweep_records_every_cell_and_resumes_from_the_records_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = SweepConfig::load(&write_sweep(dir.path())).unwrap();
    let device = Device::flex();
    let outputs = run_sweep(&sweep, &device).unwrap();
    assert_eq!((outputs.finished, outputs.cells), (4, 4));

    let results = ResultsDir::new(dir.path().join("results"));
    for cell in sweep.cells() {
        let record = results.cell(&cell.name()).unwrap().unwrap();
        let steps: Vec<usize> = record.curve.iter().map(|p| p.step).collect();
        assert_eq!(steps, [1, 2], "{}", cell.name());
        assert_eq!(record.steps, 2);
        assert!(record.curve.contains(&record.best));
        // Only the ensemble's length keeps its prompts.
        assert_eq!(results.prompt(&cell.name()).is_dir(), cell.length == 3);
    }
    let lr = |k| sweep.cell_config(&sweep.cells()[k]).unwrap().optimizer.lr;
    assert_eq!((lr(0), lr(1)), (0.03, 0.01));

    let ensemble = results.ensemble("class_label", 3).unwrap().unwrap();
    assert_eq!(ensemble.seeds, [0, 1]);
    for (seed, member) in ensemble.seeds.iter().zip(&ensemble.members) {
        let cell = results
            .cell(&format!("class_label-k3-s{seed}"))
            .unwrap()
            .unwrap();
        // The predictor scores a member's best prompt as its training run did.
        assert_eq!(*member, cell.best.accuracy, "seed {seed}");
    }
    let zero = results.zero_shot().unwrap().unwrap();
    assert_eq!(zero.examples, 12);

    let report = std::fs::read_to_string(&outputs.report).unwrap();
    assert!(report.contains("| class_label | "), "{report}");
    assert!(report.contains("| class_label-k3-s1 | "), "{report}");
    assert!(
        report.contains("| class_label | 3 | majority vote | 0: "),
        "{report}"
    );
    for [svg, png] in [
        &outputs.figures.by_length,
        &outputs.figures.by_init,
        &outputs.figures.curves,
    ] {
        assert!(svg.is_file() && png.is_file());
    }

    // A new machine: the committed results only.
    std::fs::remove_dir_all(dir.path().join("runs")).unwrap();
    let again = run_sweep(&sweep, &device).unwrap();
    assert_eq!(again.finished, 4);
    assert!(
        !dir.path().join("runs").exists(),
        "a recorded cell was trained again"
    );
    assert_eq!(std::fs::read_to_string(&again.report).unwrap(), report);
}
