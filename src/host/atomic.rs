//! Writing `--output FILE` (and the registry copy) so that a reader never sees half of it,
//! and so that whoport, often run as root, cannot be made to damage what is at FILE.
//!
//! What is at the path decides (looked at without following a symbolic link):
//! - **nothing**: a new file, its mode from the umask (0666 minus the umask, as any
//!   program's new file), created whole in one step;
//! - **a regular file**: replaced atomically (a complete copy renamed over it); the new
//!   file keeps the old one's mode, owner and group;
//! - **a character device or a FIFO** (`/dev/null`, `/dev/stdout` on a terminal or pipe, a
//!   named pipe): written through, never replaced; a symbolic link to one is followed;
//! - **anything else** is refused with an error naming it and what it is: a directory, a
//!   socket, a block device, a symbolic link to a regular file (replacing the link would
//!   leave the file it names as it was; writing through it would not be atomic).
//!
//! On Linux the copy is first an unnamed file (`O_TMPFILE`), written and flushed to disk,
//! then given a name (`linkat`): a write killed at any point before that leaves nothing
//! behind. Replacing an existing file needs a name to rename from, so the complete copy
//! is linked as `.whoport-PID-N.tmp` and renamed over the file at once (two system calls
//! with no data written in between). A SIGKILL landing exactly there leaves that name
//! behind (seen under heavy load in the tests); every write first removes such copies of
//! whoport processes that no longer run. Where `O_TMPFILE` is not available (another OS,
//! an old filesystem), the copy is a named temporary file from the start.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::sanitize::bytes_safe;

/// A path as an error message shows it.
fn shown(path: &Path) -> String {
    bytes_safe(path.as_os_str().as_bytes())
}

/// Writes `contents` to `path` by the rules of the module's documentation.
pub(crate) fn write(path: &Path, contents: &[u8]) -> Result<()> {
    let (dir_path, name) = split(path)?;
    let dir = rustix::fs::open(
        dir_path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(std::io::Error::from)
    .with_context(|| format!("writing {}: cannot open its directory", shown(path)))?;
    write_at(dir.as_fd(), path, name, contents, Devices::WriteThrough)
}

/// The directory and the file name of a path to write; `.`, `..` and a trailing `/` name
/// no file.
fn split(path: &Path) -> Result<(&Path, &OsStr)> {
    let name = match path.components().next_back() {
        Some(Component::Normal(name)) if !path.as_os_str().as_bytes().ends_with(b"/") => name,
        _ => bail!("cannot write {}: it names no file", shown(path)),
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Ok((dir, name))
}

/// What to do with a character device or FIFO at the path (or a link to one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Devices {
    /// `--output`: write through it.
    WriteThrough,
    /// A file of whoport's own (the registry copy): a device or FIFO there is refused, and
    /// a symbolic link is replaced by the file, never followed.
    Refuse,
}

/// [`write`] for `name` in an open directory (`path` is how messages name it).
pub(crate) fn write_at(
    dir: BorrowedFd,
    path: &Path,
    name: &OsStr,
    contents: &[u8],
    devices: Devices,
) -> Result<()> {
    let context = || format!("writing {}", shown(path));
    remove_stale_copies(dir);
    // Another process may create or remove the file between our look and our write; each
    // step below notices (O_EXCL-like link, O_NOFOLLOW open) and the look is taken again.
    for _ in 0..3 {
        let stat = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Some(st),
            Err(Errno::NOENT) => None,
            Err(e) => return Err(std::io::Error::from(e)).with_context(context),
        };
        let Some(stat) = stat else {
            match create(dir, name, contents).with_context(context)? {
                Done::Yes => return Ok(()),
                Done::Raced => continue,
            }
        };
        let kind = FileType::from_raw_mode(stat.st_mode);
        let done = match kind {
            FileType::RegularFile => replace(dir, name, &stat, contents).with_context(context)?,
            FileType::CharacterDevice | FileType::Fifo if devices == Devices::WriteThrough => {
                write_through(dir, name, false, contents).with_context(context)?
            }
            FileType::Symlink if devices == Devices::Refuse => {
                replace_link(dir, name, contents).with_context(context)?
            }
            FileType::Symlink => {
                let target = rustix::fs::statat(dir, name, AtFlags::empty())
                    .map(|st| FileType::from_raw_mode(st.st_mode));
                match target {
                    Ok(FileType::CharacterDevice | FileType::Fifo) => {
                        write_through(dir, name, true, contents).with_context(context)?
                    }
                    Ok(t) => bail!(
                        "cannot write {}: it is a symbolic link to {}; whoport replaces only \
                         a regular file, atomically, and does not write through a link to one \
                         (give the file's own path)",
                        shown(path),
                        kind_text(t)
                    ),
                    Err(_) => bail!(
                        "cannot write {}: it is a symbolic link to nothing that exists; \
                         whoport does not create files through a link (give the file's own \
                         path)",
                        shown(path)
                    ),
                }
            }
            other => bail!(
                "cannot write {}: it is {}; whoport writes only a regular file (replaced \
                 atomically), a new file{}",
                shown(path),
                kind_text(other),
                match devices {
                    Devices::WriteThrough => ", a character device or a FIFO",
                    Devices::Refuse => " here",
                }
            ),
        };
        if done == Done::Yes {
            return Ok(());
        }
    }
    bail!(
        "cannot write {}: it keeps changing under whoport (another program is creating and \
         removing it)",
        shown(path)
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Done {
    Yes,
    /// What was at the path changed between the look and the write: look again.
    Raced,
}

fn kind_text(t: FileType) -> &'static str {
    match t {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "a file of unknown type",
    }
}

fn io(e: Errno) -> std::io::Error {
    std::io::Error::from(e)
}

/// A new file, complete before it has a name.
fn create(dir: BorrowedFd, name: &OsStr, contents: &[u8]) -> Result<Done> {
    let tmp = Temp::new(dir, Mode::from_raw_mode(0o666))?;
    tmp.fill(contents)?;
    match tmp.link(dir, name) {
        Ok(()) => {}
        Err(Errno::EXIST) => return Ok(Done::Raced),
        Err(e) => return Err(io(e)).context("cannot give the new file its name"),
    }
    sync_dir(dir);
    Ok(Done::Yes)
}

/// A complete copy with the old file's owner and mode, renamed over it.
fn replace(dir: BorrowedFd, name: &OsStr, old: &rustix::fs::Stat, contents: &[u8]) -> Result<Done> {
    let tmp = Temp::new(dir, Mode::from_raw_mode(0o600))?;
    let (uid, gid) = (old.st_uid, old.st_gid);
    if uid != rustix::process::geteuid().as_raw() || gid != rustix::process::getegid().as_raw() {
        let owner = rustix::fs::Uid::from_raw(uid);
        let group = rustix::fs::Gid::from_raw(gid);
        rustix::fs::fchown(tmp.fd.as_fd(), Some(owner), Some(group))
            .map_err(io)
            .with_context(|| {
                format!(
                    "cannot keep its owner (uid {uid}, gid {gid}) on the new copy: run as \
                     root or as its owner"
                )
            })?;
    }
    rustix::fs::fchmod(tmp.fd.as_fd(), Mode::from_raw_mode(old.st_mode & 0o7777))
        .map_err(io)
        .context("cannot keep its mode on the new copy")?;
    tmp.fill(contents)?;
    let tmp_name = tmp.named(dir)?;
    if let Err(e) = rustix::fs::renameat(dir, &tmp_name, dir, name) {
        let _ = rustix::fs::unlinkat(dir, &tmp_name, AtFlags::empty());
        return Err(io(e)).context("cannot rename the new copy over it");
    }
    sync_dir(dir);
    Ok(Done::Yes)
}

/// A new file renamed over a symbolic link (the link is replaced, never followed).
fn replace_link(dir: BorrowedFd, name: &OsStr, contents: &[u8]) -> Result<Done> {
    let tmp = Temp::new(dir, Mode::from_raw_mode(0o666))?;
    tmp.fill(contents)?;
    let tmp_name = tmp.named(dir)?;
    if let Err(e) = rustix::fs::renameat(dir, &tmp_name, dir, name) {
        let _ = rustix::fs::unlinkat(dir, &tmp_name, AtFlags::empty());
        return Err(io(e)).context("cannot rename the new copy over it");
    }
    sync_dir(dir);
    Ok(Done::Yes)
}

/// Writes into a character device or a FIFO; never creates or truncates anything.
fn write_through(dir: BorrowedFd, name: &OsStr, follow: bool, contents: &[u8]) -> Result<Done> {
    let mut flags = OFlags::WRONLY | OFlags::NOCTTY | OFlags::CLOEXEC;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::LOOP) => return Ok(Done::Raced),
        Err(e) => return Err(io(e)).context("cannot open it for writing"),
    };
    let st = rustix::fs::fstat(&fd).map_err(io)?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::CharacterDevice | FileType::Fifo => {}
        // Replaced by something else since we looked: look again.
        _ => return Ok(Done::Raced),
    }
    let mut file = File::from(fd);
    file.write_all(contents)?;
    file.flush()?;
    Ok(Done::Yes)
}

/// Removes `.whoport-PID-*.tmp` copies left in `dir` by a whoport that no longer runs: one
/// killed in the microseconds between naming its complete copy and renaming it over the
/// file (on Linux the only moment a copy has a name), or one that had no `O_TMPFILE`. A
/// copy of a process that still runs (another whoport writing now) is left alone.
fn remove_stale_copies(dir: BorrowedFd) {
    let Ok(entries) = rustix::fs::Dir::read_from(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_bytes();
        let Some(pid) = name
            .strip_prefix(b".whoport-")
            .filter(|rest| rest.ends_with(b".tmp"))
            .and_then(|rest| rest.split(|&b| b == b'-').next())
            .and_then(|pid| std::str::from_utf8(pid).ok())
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        let gone = rustix::process::Pid::from_raw(pid)
            .is_some_and(|p| matches!(rustix::process::test_kill_process(p), Err(Errno::SRCH)));
        if gone && pid != std::process::id() as i32 {
            let _ = rustix::fs::unlinkat(dir, entry.file_name(), AtFlags::empty());
        }
    }
}

/// Flushes a directory's entries (the new name) to disk; a failure only loses durability.
fn sync_dir(dir: BorrowedFd) {
    let _ = rustix::fs::fsync(dir);
}

/// The copy being written: unnamed (`O_TMPFILE`) where the system allows it, else a
/// `.whoport-*.tmp` file, removed again if whoport fails before it is renamed.
struct Temp<'d> {
    fd: OwnedFd,
    /// Where the copy has a name: the directory and the name.
    name: Option<(BorrowedFd<'d>, OsString)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh temporary name (`.whoport-PID-N.tmp`: node_exporter's textfile collector
/// reads only `*.prom`).
fn temp_name() -> OsString {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    OsString::from(format!(
        ".whoport-{}-{:08x}.tmp",
        std::process::id(),
        nanos.wrapping_add(n.wrapping_mul(0x9e37_79b9))
    ))
}

impl<'d> Temp<'d> {
    fn new(dir: BorrowedFd<'d>, mode: Mode) -> Result<Temp<'d>> {
        if let Some(fd) = unnamed(dir, mode)? {
            return Ok(Temp { fd, name: None });
        }
        for _ in 0..100 {
            let name = temp_name();
            let flags =
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            match rustix::fs::openat(dir, &name, flags, mode) {
                Ok(fd) => {
                    return Ok(Temp {
                        fd,
                        name: Some((dir, name)),
                    });
                }
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(io(e)).context("cannot create a file in its directory"),
            }
        }
        Err(anyhow!(
            "cannot find a free temporary name in its directory"
        ))
    }

    /// Writes the contents and flushes them to disk.
    fn fill(&self, contents: &[u8]) -> Result<()> {
        let mut file = File::from(self.fd.try_clone()?);
        file.write_all(contents)?;
        file.sync_all()?;
        Ok(())
    }

    /// Gives the copy `name` in `dir`; fails with `EXIST` if that name is taken.
    fn link(self, dir: BorrowedFd, name: &OsStr) -> rustix::io::Result<()> {
        match &self.name {
            None => link_unnamed(&self.fd, dir, name),
            Some((tdir, tmp)) => rustix::fs::linkat(*tdir, tmp, dir, name, AtFlags::empty()),
        }
        // Drop removes the temporary name.
    }

    /// The copy's name in `dir`, giving an unnamed copy one; the caller renames it.
    fn named(mut self, dir: BorrowedFd) -> Result<OsString> {
        if let Some((_, name)) = self.name.take() {
            return Ok(name);
        }
        for _ in 0..100 {
            let name = temp_name();
            match link_unnamed(&self.fd, dir, &name) {
                Ok(()) => return Ok(name),
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(io(e)).context("cannot give the new copy a name"),
            }
        }
        Err(anyhow!(
            "cannot find a free temporary name in its directory"
        ))
    }
}

impl Drop for Temp<'_> {
    fn drop(&mut self) {
        if let Some((dir, name)) = &self.name {
            let _ = rustix::fs::unlinkat(*dir, name, AtFlags::empty());
        }
    }
}

/// An unnamed file in `dir` (Linux `O_TMPFILE`), or `None` where there is none.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn unnamed(dir: BorrowedFd, mode: Mode) -> Result<Option<OwnedFd>> {
    match rustix::fs::openat(
        dir,
        ".",
        OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC,
        mode,
    ) {
        Ok(fd) => Ok(Some(fd)),
        // The filesystem or kernel does not support it.
        Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL | Errno::NOSYS) => Ok(None),
        Err(e) => Err(io(e)).context("cannot create a file in its directory"),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn unnamed(_dir: BorrowedFd, _mode: Mode) -> Result<Option<OwnedFd>> {
    Ok(None)
}

/// Names an unnamed file: through `/proc/self/fd` (any user), else `AT_EMPTY_PATH` (needs
/// `CAP_DAC_READ_SEARCH`).
fn link_unnamed(fd: &OwnedFd, dir: BorrowedFd, name: &OsStr) -> rustix::io::Result<()> {
    let proc_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(fd));
    match rustix::fs::linkat(
        rustix::fs::CWD,
        proc_path.as_str(),
        dir,
        name,
        AtFlags::SYMLINK_FOLLOW,
    ) {
        Err(Errno::NOENT) if !Path::new("/proc/self/fd").exists() => {
            rustix::fs::linkat(fd, "", dir, name, AtFlags::EMPTY_PATH)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    fn names(dir: &Path) -> Result<Vec<OsString>> {
        let mut names: Vec<_> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort();
        Ok(names)
    }

    /// The process's umask, from /proc (reading it with umask(2) would change it).
    fn umask() -> Option<u32> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("Umask:"))?;
        u32::from_str_radix(line.trim_start_matches("Umask:").trim(), 8).ok()
    }

    #[test]
    fn replaces_regular_files_keeping_their_mode() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("whoport.prom");
        std::fs::write(&path, "old contents, longer than the new ones\n")?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640))?;
        write(&path, b"new\n")?;
        assert_eq!(std::fs::read_to_string(&path)?, "new\n");
        let mode = std::fs::metadata(&path)?.permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        // No temporary file is left behind.
        assert_eq!(names(dir.path())?, vec![OsString::from("whoport.prom")]);
        Ok(())
    }

    #[test]
    fn new_files_get_their_mode_from_the_umask() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("new.prom");
        write(&path, b"x\n")?;
        assert_eq!(std::fs::read(&path)?, b"x\n");
        if let Some(mask) = umask() {
            let mode = std::fs::metadata(&path)?.permissions().mode() & 0o7777;
            assert_eq!(mode, 0o666 & !mask);
        }
        assert_eq!(names(dir.path())?, vec![OsString::from("new.prom")]);
        Ok(())
    }

    #[test]
    fn refuses_what_it_must_not_replace() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let err = |p: &Path| write(p, b"x").err().map(|e| format!("{e:#}"));
        // A directory: an error naming it, and left alone.
        let sub = dir.path().join("a-directory");
        std::fs::create_dir(&sub)?;
        std::fs::write(sub.join("keep"), "x")?;
        let e = err(&sub).unwrap_or_default();
        assert!(
            e.contains("a-directory") && e.contains("is a directory"),
            "{e}"
        );
        assert!(sub.join("keep").exists());
        // A symbolic link to a regular file: refused, the file untouched.
        let file = dir.path().join("file");
        std::fs::write(&file, "keep")?;
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link)?;
        let e = err(&link).unwrap_or_default();
        assert!(e.contains("symbolic link to a regular file"), "{e}");
        assert_eq!(std::fs::read_to_string(&file)?, "keep");
        assert!(std::fs::symlink_metadata(&link)?.file_type().is_symlink());
        // A dangling link: refused, nothing created.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling)?;
        assert!(err(&dangling).is_some_and(|e| e.contains("link to nothing")));
        assert!(!dir.path().join("nowhere").exists());
        // A socket.
        let sock = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock)?;
        assert!(err(&sock).is_some_and(|e| e.contains("is a socket")));
        assert!(std::fs::symlink_metadata(&sock)?.file_type().is_socket());
        // Names that are no file.
        assert!(err(&dir.path().join("x/")).is_some_and(|e| e.contains("names no file")));
        assert!(write(&dir.path().join("no-such-dir").join("f.prom"), b"x").is_err());
        Ok(())
    }

    #[test]
    fn copies_left_by_a_killed_whoport_are_removed() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let mut dead = 4_000_000u32;
        while Path::new(&format!("/proc/{dead}")).exists() {
            dead += 1;
        }
        let stale = format!(".whoport-{dead}-1234abcd.tmp");
        let alive = format!(".whoport-{}-1234abcd.tmp", std::process::id());
        for name in [&stale, &alive, &"other.tmp".to_string()] {
            std::fs::write(dir.path().join(name), "x")?;
        }
        write(&dir.path().join("out.prom"), b"new\n")?;
        let left = names(dir.path())?;
        assert!(!left.contains(&OsString::from(&stale)), "{left:?}");
        assert!(left.contains(&OsString::from(&alive)), "{left:?}");
        assert!(left.contains(&OsString::from("other.tmp")), "{left:?}");
        Ok(())
    }

    #[test]
    fn writes_through_character_devices() -> Result<()> {
        write(Path::new("/dev/null"), b"nothing\n")?;
        let meta = std::fs::symlink_metadata("/dev/null")?;
        assert!(meta.file_type().is_char_device());
        Ok(())
    }
}
