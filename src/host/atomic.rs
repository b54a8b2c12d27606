//! Writing a file so that a reader never sees half of it: a temporary file in the same
//! directory (same filesystem), flushed to disk, then renamed over the target.

use std::fs::Permissions;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

/// Replaces `path` with `contents` atomically; the file gets mode `mode`.
pub(crate) fn write(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let context = || format!("writing {}", path.display());
    // A name the textfile collector ignores (it reads only `*.prom`).
    let mut tmp = tempfile::Builder::new()
        .prefix(".whoport-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(context)?;
    tmp.write_all(contents).with_context(context)?;
    let file = tmp.as_file();
    file.set_permissions(Permissions::from_mode(mode))
        .with_context(context)?;
    file.sync_all().with_context(context)?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(context)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_with_their_mode() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("whoport.prom");
        std::fs::write(&path, "old contents, longer than the new ones\n")?;
        write(&path, b"new\n", 0o644)?;
        assert_eq!(std::fs::read_to_string(&path)?, "new\n");
        let mode = std::fs::metadata(&path)?.permissions().mode() & 0o7777;
        assert_eq!(mode, 0o644);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("whoport.prom")]);
        // A target that cannot be replaced is an error naming it, and is left alone.
        let sub = dir.path().join("a-directory");
        std::fs::create_dir(&sub)?;
        std::fs::write(sub.join("keep"), "x")?;
        let err = write(&sub, b"x", 0o644).err().map(|e| format!("{e:#}"));
        assert!(err.is_some_and(|e| e.contains("a-directory")));
        assert!(sub.join("keep").exists());
        let missing = dir.path().join("no-such-dir").join("f.prom");
        assert!(write(&missing, b"x", 0o644).is_err());
        Ok(())
    }
}
