//! Whether a file whoport relies on could have been put there by someone other than root.
//! Used where whoport, run as root, reads a file that decides what it answers (the
//! user's copy of the IANA registry) or trusts a directory (Xsan's executables).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::sanitize::bytes_safe;

fn shown(path: &Path) -> String {
    bytes_safe(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
}

/// Whether a file or directory could have been changed by a user other than root: owned by
/// another user, or writable by group or others (a directory with the sticky bit, as
/// /tmp, only lets others add names of their own, so it is safe as an ancestor).
pub(crate) fn others_may_change(meta: &std::fs::Metadata, ancestor: bool) -> Option<String> {
    let mode = meta.mode();
    if meta.uid() != 0 {
        return Some(format!("is owned by uid {}, not root", meta.uid()));
    }
    let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
    if mode & 0o022 != 0 && !(ancestor && sticky_dir) && !meta.file_type().is_symlink() {
        return Some(format!(
            "is writable by users other than root (mode {:04o})",
            mode & 0o7777
        ));
    }
    None
}

/// As root, whoport uses a file of its own (the registry copy) only when no other user
/// could have put it there: the file, every directory above it as written, and every
/// directory of its real path, are owned by root and writable by root alone. Otherwise a
/// `sudo -E` run with another user's HOME would take that user's word for what a port is.
pub(crate) fn root_may_trust(path: &Path) -> Result<()> {
    let mut checked: Vec<PathBuf> = Vec::new();
    let real_parent = path.parent().and_then(|p| {
        std::fs::canonicalize(if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        })
        .ok()
    });
    let ancestors = path.ancestors().skip(1).map(Path::to_path_buf).chain(
        real_parent
            .iter()
            .flat_map(|p| p.ancestors().map(Path::to_path_buf)),
    );
    for dir in ancestors {
        if dir.as_os_str().is_empty() || checked.contains(&dir) {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&dir) else {
            checked.push(dir);
            continue;
        };
        if let Some(why) = others_may_change(&meta, true) {
            bail!(
                "running as root, whoport trusts only files that root alone can change, and \
                 {} {why} (HOME or WHOPORT_DATA_DIR may name another user's directory: use \
                 sudo -H, or a directory of root's)",
                shown(&dir)
            );
        }
        checked.push(dir);
    }
    if let Ok(meta) = std::fs::metadata(path)
        && let Some(why) = others_may_change(&meta, false)
    {
        bail!(
            "running as root, whoport trusts only files that root alone can change, and {} \
             {why} (HOME or WHOPORT_DATA_DIR may name another user's directory: use sudo -H, \
             or a directory of root's)",
            shown(path)
        );
    }
    Ok(())
}

/// The first directory of `dir` and above it (as written, and of its real path) that a
/// user other than root could change, and why: `None` when only root can change any.
/// `dir` itself counts even with the sticky bit (anyone may add a file to /tmp).
pub(crate) fn writable_by_others(dir: &Path) -> Option<(PathBuf, String)> {
    let meta = std::fs::symlink_metadata(dir).ok()?;
    if let Some(why) = others_may_change(&std::fs::metadata(dir).unwrap_or(meta), false) {
        return Some((dir.to_path_buf(), why));
    }
    let real = std::fs::canonicalize(dir).ok();
    let ancestors = dir
        .ancestors()
        .skip(1)
        .chain(real.iter().flat_map(|r| r.ancestors()));
    for a in ancestors {
        if a.as_os_str().is_empty() {
            continue;
        }
        if let Ok(meta) = std::fs::symlink_metadata(a)
            && let Some(why) = others_may_change(&meta, true)
        {
            return Some((a.to_path_buf(), why));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn directories_others_can_write() -> std::io::Result<()> {
        if !rustix::process::geteuid().is_root() {
            eprintln!("SKIP: directories_others_can_write needs root (files owned by root)");
            return Ok(());
        }
        let dir = tempfile::tempdir()?;
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin)?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))?;
        assert_eq!(writable_by_others(&bin), None);
        // /tmp is sticky and world-writable: fine above, not as the directory itself.
        assert!(writable_by_others(Path::new("/tmp")).is_some());
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o775))?;
        let found = writable_by_others(&bin);
        assert!(found.is_some_and(|(d, why)| d == bin && why.contains("0775")));
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))?;
        std::os::unix::fs::chown(dir.path(), Some(65534), None)?;
        let found = writable_by_others(&bin);
        assert!(found.is_some_and(|(d, why)| d == dir.path() && why.contains("uid 65534")));
        let file = bin.join("copy.csv");
        std::fs::write(&file, "x")?;
        assert!(root_may_trust(&file).is_err());
        std::os::unix::fs::chown(dir.path(), Some(0), None)?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))?;
        assert!(root_may_trust(&file).is_ok());
        Ok(())
    }
}
