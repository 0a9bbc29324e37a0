//! Unpacking the official GLUE `SST-2.zip` into `<dest>/sst2/{train,dev}.tsv`, checking row
//! counts before anything is written.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::DataError;
use crate::reader::{ColumnMapping, parse_tsv};

/// Data rows per split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitCounts {
    /// Rows in `train.tsv`.
    pub train: usize,
    /// Rows in `dev.tsv`.
    pub dev: usize,
}

impl SplitCounts {
    /// The GLUE SST-2 release: 67,349 training and 872 validation rows.
    pub const GLUE_SST2: Self = Self {
        train: 67_349,
        dev: 872,
    };
}

/// Unpacks `SST-2/train.tsv` and `SST-2/dev.tsv` from the GLUE archive into
/// `dest_dir/sst2/`, after checking that each parses and has the `expected` number of rows
/// (pass [`SplitCounts::GLUE_SST2`] for the real archive). Nothing is written on error.
pub fn unpack_sst2_archive(
    zip_path: &Path,
    dest_dir: &Path,
    expected: SplitCounts,
) -> Result<SplitCounts, DataError> {
    let zip_error = |source| DataError::Zip {
        path: zip_path.to_path_buf(),
        source,
    };
    let file = File::open(zip_path).map_err(|source| DataError::Io {
        path: zip_path.to_path_buf(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(file).map_err(zip_error)?;
    let mut splits = Vec::new();
    for (name, want) in [("train", expected.train), ("dev", expected.dev)] {
        let entry = format!("SST-2/{name}.tsv");
        let mut bytes = Vec::new();
        let read = archive
            .by_name(&entry)
            .and_then(|mut file| Ok(file.read_to_end(&mut bytes)?));
        match read {
            Ok(_) => {}
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(DataError::ArchiveEntryMissing {
                    path: zip_path.to_path_buf(),
                    entry,
                    found: archive
                        .file_names()
                        .filter_map(Result::ok)
                        .map(|n| n.into_owned())
                        .collect(),
                });
            }
            Err(source) => return Err(zip_error(source)),
        }
        let source_name = PathBuf::from(format!("{}:{entry}", zip_path.display()));
        let found = parse_tsv(&bytes, &source_name, &ColumnMapping::sst2(), false)?
            .examples
            .len();
        if found != want {
            return Err(DataError::RowCountMismatch {
                source_name,
                expected: want,
                found,
            });
        }
        splits.push((name, bytes, found));
    }
    let folder = dest_dir.join("sst2");
    std::fs::create_dir_all(&folder).map_err(|source| DataError::Io {
        path: folder.clone(),
        source,
    })?;
    for (name, bytes, _) in &splits {
        write_atomically(&folder.join(format!("{name}.tsv")), bytes)?;
    }
    Ok(SplitCounts {
        train: splits[0].2,
        dev: splits[1].2,
    })
}

/// Writes through a temporary file and a rename, so a reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let partial = path.with_extension("tsv.partial");
    std::fs::write(&partial, bytes).map_err(|source| DataError::Io {
        path: partial.clone(),
        source,
    })?;
    std::fs::rename(&partial, path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}
