//! The user's copy of the IANA registry, stored in the platform's data directory (or
//! `WHOPORT_DATA_DIR`), which takes precedence over the built-in copy once imported.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use rustix::fs::OFlags;

use super::Paths;
use super::trust::{others_may_change, root_may_trust};
use crate::iana::{self, Copy, Registry};
use crate::sanitize::terminal_safe;

/// A path as the terminal may show it.
fn shown(path: &Path) -> String {
    terminal_safe(&path.display().to_string()).into_owned()
}

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
    let Some(path) = user_copy_path(paths).filter(|p| p.symlink_metadata().is_ok()) else {
        return (Registry::builtin(), None);
    };
    match load_user_copy(&path) {
        Ok(registry) => (registry, None),
        Err(e) => (
            Registry::builtin(),
            Some(format!(
                "the user copy of the IANA registry ({}) cannot be used ({e:#}); using the \
                 built-in copy",
                shown(&path)
            )),
        ),
    }
}

/// The user's copy: a regular file no larger than IANA's CSV can be, owned by root and
/// in directories only root can change when whoport runs as root.
pub(crate) fn load_user_copy(path: &Path) -> Result<Registry> {
    if running_as_root() {
        root_may_trust(path)?;
    }
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

fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Reads a regular file of at most [`MAX_CSV_BYTES`]. The open does not block (a FIFO
/// planted at the path would otherwise hang every command), and anything that is not a
/// regular file (a FIFO, /dev/zero, a directory) is refused before a byte is read.
pub(crate) fn read_limited(path: &Path) -> Result<Vec<u8>> {
    let context = || format!("cannot read {}", shown(path));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_flags())
        .open(path)
        .with_context(context)?;
    let meta = file.metadata().with_context(context)?;
    if !meta.is_file() {
        bail!(
            "{} is not a regular file (it is {}): not IANA's CSV",
            shown(path),
            file_kind(&meta)
        );
    }
    if meta.len() > MAX_CSV_BYTES {
        bail!(
            "{} is larger than {} MiB: not IANA's CSV",
            shown(path),
            MAX_CSV_BYTES >> 20
        );
    }
    let mut data = Vec::new();
    file.take(MAX_CSV_BYTES + 1)
        .read_to_end(&mut data)
        .with_context(context)?;
    if data.len() as u64 > MAX_CSV_BYTES {
        bail!(
            "{} is larger than {} MiB: not IANA's CSV",
            shown(path),
            MAX_CSV_BYTES >> 20
        );
    }
    Ok(data)
}

/// `O_NONBLOCK | O_NOCTTY`, as `open(2)` flags.
fn libc_flags() -> i32 {
    (OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Stores checked CSV data as the user's copy, atomically (`host::atomic`): a reader sees
/// the old copy or the new one, never half. The data directory is opened without
/// following a symbolic link and the copy written relative to it, so a link planted there
/// or at the copy's name is never followed (one at the name is replaced, as `rename`
/// does). As root, every directory on the way must be root's alone (`trust`).
pub(crate) fn install(paths: &Paths, data: &[u8]) -> Result<PathBuf> {
    let dir = data_dir(paths)
        .ok_or_else(|| anyhow!("this user has no data directory: set WHOPORT_DATA_DIR to one"))?;
    let target = dir.join(USER_COPY);
    let root = running_as_root();
    if root {
        // Before creating anything: the directories that exist must be root's alone.
        root_may_trust(&target)?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", shown(&dir)))?;
    let dirfd = rustix::fs::open(
        &dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => anyhow!(
            "cannot write in {}: it is a symbolic link, and whoport does not write through one",
            shown(&dir)
        ),
        e => anyhow!(std::io::Error::from(e)).context(format!("cannot open {}", shown(&dir))),
    })?;
    if root {
        let meta = File::from(dirfd.try_clone()?).metadata()?;
        if let Some(why) = others_may_change(&meta, false) {
            bail!(
                "running as root, whoport writes only in directories root alone can change, \
                 and {} {why}",
                shown(&dir)
            );
        }
    }
    super::atomic::write_at(
        dirfd.as_fd(),
        &target,
        std::ffi::OsStr::new(USER_COPY),
        data,
        super::atomic::Devices::Refuse,
    )?;
    Ok(target)
}
