//! One writer per output folder: a run holds an advisory lock (`flock`) on `<output>/.lock`
//! from before it touches the folder until it ends. The kernel releases the lock when the
//! process exits, however it exits, so a killed run never blocks the `--resume` that follows.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::TrainError;

/// The lock file inside an output folder; it holds the pid of the process that has the lock.
pub const LOCK_FILE: &str = ".lock";

/// The held lock of one output folder; dropping it (or exiting) releases it.
#[derive(Debug)]
pub struct OutputLock {
    _file: File,
}

impl OutputLock {
    /// Creates `dir` if needed and locks it, or says which process holds it.
    pub fn acquire(dir: &Path) -> Result<Self, TrainError> {
        let path = dir.join(LOCK_FILE);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TrainError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        // SAFETY: flock on a descriptor this function owns; no memory is shared with the call.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::WouldBlock {
                return Err(io(&path)(error));
            }
            return Err(TrainError::OutputLocked {
                dir: dir.to_path_buf(),
                pid: lock_holder(dir),
            });
        }
        let pid = format!("{}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(pid.as_bytes()))
            .map_err(io(&path))?;
        Ok(Self { _file: file })
    }
}

/// The pid in the lock file of output folder `dir`, if it holds one. It names the holder in
/// messages only: a missing or half-written pid leaves the holder unnamed.
pub fn lock_holder(dir: &Path) -> Option<u32> {
    fs::read_to_string(dir.join(LOCK_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_folder_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = OutputLock::acquire(dir.path()).unwrap();
        assert_eq!(lock_holder(dir.path()), Some(std::process::id()));
        // flock locks belong to the open file, so a second open in this process conflicts too.
        let err = OutputLock::acquire(dir.path()).unwrap_err();
        assert!(
            matches!(err, TrainError::OutputLocked { pid: Some(pid), .. } if pid == std::process::id()),
            "{err}"
        );
        drop(first);
        OutputLock::acquire(dir.path()).unwrap();
    }
}
