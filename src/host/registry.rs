//! The user's copy of the IANA registry, stored in the platform's data directory (or
//! `WHOPORT_DATA_DIR`), which takes precedence over the built-in copy once imported.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use super::Paths;
use crate::iana::{self, Copy, Registry};

/// The user copy's file name in the data directory.
pub(crate) const USER_COPY: &str = "iana-service-names-port-numbers.csv";

/// IANA's CSV is a few MiB; anything far larger is not it.
const MAX_CSV_BYTES: u64 = 64 << 20;

/// whoport's data directory: the override, or the platform's (`~/.local/share/whoport`,
/// `~/Library/Application Support/whoport`).
pub(crate) fn data_dir(paths: &Paths) -> Option<PathBuf> {
    paths
        .data_dir
        .clone()
        .or_else(|| dirs::data_dir().map(|d| d.join("whoport")))
}

pub(crate) fn user_copy_path(paths: &Paths) -> Option<PathBuf> {
    data_dir(paths).map(|d| d.join(USER_COPY))
}

/// The registry copy in use: the user's when there is one that reads, else the built-in
/// one (with a warning when a user copy is there but cannot be used).
pub(crate) fn active(paths: &Paths) -> (Registry, Option<String>) {
    let Some(path) = user_copy_path(paths).filter(|p| p.exists()) else {
        return (Registry::builtin(), None);
    };
    match load_user_copy(&path) {
        Ok(registry) => (registry, None),
        Err(e) => (
            Registry::builtin(),
            Some(format!(
                "the user copy of the IANA registry ({}) cannot be used ({e:#}); using the \
                 built-in copy",
                path.display()
            )),
        ),
    }
}

pub(crate) fn load_user_copy(path: &Path) -> Result<Registry> {
    let data = read_limited(path)?;
    let (rows, newest_date) = iana::parse_csv(&data)?;
    Ok(Registry::from_rows(
        rows,
        Copy::User {
            path: path.to_path_buf(),
            newest_date,
        },
    ))
}

pub(crate) fn read_limited(path: &Path) -> Result<Vec<u8>> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut data = Vec::new();
    file.take(MAX_CSV_BYTES + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if data.len() as u64 > MAX_CSV_BYTES {
        bail!(
            "{} is larger than {} MiB: not IANA's CSV",
            path.display(),
            MAX_CSV_BYTES >> 20
        );
    }
    Ok(data)
}

/// Stores checked CSV data as the user's copy: a temporary file in the data directory,
/// renamed over the copy, so that a reader sees the old copy or the new one, never half.
pub(crate) fn install(paths: &Paths, data: &[u8]) -> Result<PathBuf> {
    let dir = data_dir(paths)
        .ok_or_else(|| anyhow!("this user has no data directory: set WHOPORT_DATA_DIR to one"))?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let target = dir.join(USER_COPY);
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(data)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.persist(&target)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot replace {}", target.display()))?;
    Ok(target)
}
