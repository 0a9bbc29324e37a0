//! Crash-safe writes: a process killed at any moment leaves either the old file (or folder) or
//! the new one, never a mix, and what a killed write left behind is tidied on the next start.
//!
//! The `fail::fail_point!` lines are where the kill tests stop the process; they compile to
//! nothing unless the `failpoints` feature is on.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename,
/// fsync of the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temporary_for(path);
    let mut file = File::create(&tmp)?;
    // Written in two halves so a test can kill the process with half the bytes on disk.
    let (first, rest) = bytes.split_at(bytes.len() / 2);
    file.write_all(first)?;
    fail::fail_point!("write_atomic::half_written");
    file.write_all(rest)?;
    file.sync_all()?;
    drop(file);
    fail::fail_point!("write_atomic::before_rename");
    fs::rename(&tmp, path)?;
    sync_folder(parent(path))
}

/// Replaces the folder `target` with the complete folder `staged` (same parent): `target` is
/// first moved aside to `<target>.old`, so a kill between the two renames leaves the old
/// version there for [`recover_folder`] to restore.
pub fn replace_folder(staged: &Path, target: &Path) -> io::Result<()> {
    let old = aside(target);
    if old.exists() {
        fs::remove_dir_all(&old)?;
    }
    if target.exists() {
        fs::rename(target, &old)?;
    }
    fail::fail_point!("replace_folder::between_renames");
    fs::rename(staged, target)?;
    sync_folder(parent(target))?;
    if old.exists() {
        fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// Undoes what a killed [`replace_folder`] or [`write_atomic`] left in `target`'s folder:
/// restores `<target>.old` when `target` is missing, deletes it otherwise, and deletes
/// temporary files (`.<name>.tmp`). Returns what it restored or deleted.
pub fn recover_folder(target: &Path) -> io::Result<Vec<PathBuf>> {
    let mut touched = Vec::new();
    let old = aside(target);
    if old.exists() {
        if target.exists() {
            fs::remove_dir_all(&old)?;
        } else {
            fs::rename(&old, target)?;
        }
        touched.push(old);
    }
    touched.extend(remove_temporaries(parent(target))?);
    Ok(touched)
}

/// Deletes the temporary files a killed [`write_atomic`] left in `dir`; returns their paths.
pub fn remove_temporaries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_some_and(|n| n.starts_with('.') && n.ends_with(".tmp")) && path.is_file() {
            fs::remove_file(&path)?;
            removed.push(path);
        }
    }
    Ok(removed)
}

fn temporary_for(path: &Path) -> PathBuf {
    sibling(path, ".", ".tmp")
}

fn aside(target: &Path) -> PathBuf {
    sibling(target, "", ".old")
}

/// `<prefix><name><suffix>` next to `path`.
fn sibling(path: &Path, prefix: &str, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    parent(path).join(format!("{prefix}{name}{suffix}"))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn sync_folder(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_the_file_and_leaves_no_temporary() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.bin");
        fs::write(&path, b"old").unwrap();
        write_atomic(&path, b"new bytes").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new bytes");
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn recovery_restores_a_folder_moved_aside_and_removes_temporaries() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("best");
        // What a kill between the two renames of `replace_folder` leaves.
        fs::create_dir(tmp.path().join("best.old")).unwrap();
        fs::write(tmp.path().join("best.old/p.txt"), b"previous").unwrap();
        fs::write(tmp.path().join(".metrics.jsonl.tmp"), b"half").unwrap();
        let touched = recover_folder(&target).unwrap();
        assert_eq!(touched.len(), 2, "{touched:?}");
        assert_eq!(fs::read(target.join("p.txt")).unwrap(), b"previous");
        assert!(!tmp.path().join(".metrics.jsonl.tmp").exists());
        assert!(!tmp.path().join("best.old").exists());

        // With the new folder in place, the old one is just deleted.
        let staged = tmp.path().join("best.partial");
        fs::create_dir(&staged).unwrap();
        fs::write(staged.join("p.txt"), b"newer").unwrap();
        replace_folder(&staged, &target).unwrap();
        assert_eq!(fs::read(target.join("p.txt")).unwrap(), b"newer");
        assert!(!staged.exists() && !tmp.path().join("best.old").exists());
    }
}
