//! `whoport registry`: the user's copy of the IANA registry, stored in the platform's
//! data directory (or `WHOPORT_DATA_DIR`), which takes precedence over the built-in copy
//! once imported.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};

use crate::annotate::iana::{self, Copy, Registry, Stats};
use crate::cli::RegistryCommand;
use crate::config::Paths;
use crate::sanitize::terminal_safe;
use crate::trust::{others_may_change, root_may_trust};

/// A path as the terminal may show it.
fn shown(path: &Path) -> String {
    terminal_safe(&path.display().to_string()).into_owned()
}

/// The user copy's file name in the data directory.
pub const USER_COPY: &str = "iana-service-names-port-numbers.csv";

/// IANA's CSV is a few MiB; anything far larger is not it.
const MAX_CSV_BYTES: u64 = 64 << 20;

/// whoport's data directory: the override, or the platform's (`~/.local/share/whoport`,
/// `~/Library/Application Support/whoport`).
pub fn data_dir(paths: &Paths) -> Option<PathBuf> {
    paths
        .data_dir
        .clone()
        .or_else(|| dirs::data_dir().map(|d| d.join("whoport")))
}

pub fn user_copy_path(paths: &Paths) -> Option<PathBuf> {
    data_dir(paths).map(|d| d.join(USER_COPY))
}

/// The registry copy in use: the user's when there is one that reads, else the built-in
/// one (with a warning when a user copy is there but cannot be used).
pub fn active(paths: &Paths) -> (Registry, Option<String>) {
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
pub fn load_user_copy(path: &Path) -> Result<Registry> {
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
fn read_limited(path: &Path) -> Result<Vec<u8>> {
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
    (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32
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

/// `whoport registry [status | import FILE.csv]`.
pub fn run(command: Option<&RegistryCommand>, paths: &Paths, out: &mut dyn Write) -> Result<()> {
    match command {
        Some(RegistryCommand::Import { file }) => import(paths, file, out),
        Some(RegistryCommand::Status) | None => status(paths, out),
    }
}

/// Checks the whole file first, then replaces the user copy atomically (`atomic`): a bad
/// file leaves the installed copy as it was.
pub fn import(paths: &Paths, file: &Path, out: &mut dyn Write) -> Result<()> {
    let data = read_limited(file)?;
    let (rows, newest_date) =
        iana::parse_csv(&data).with_context(|| format!("{} was not imported", file.display()))?;
    let dir = data_dir(paths)
        .ok_or_else(|| anyhow!("this user has no data directory: set WHOPORT_DATA_DIR to one"))?;
    let target = dir.join(USER_COPY);
    let root = running_as_root();
    if root {
        // Before creating anything: the directories that exist must be root's alone.
        root_may_trust(&target)?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", shown(&dir)))?;
    // The data directory itself is opened without following a symbolic link, and the copy
    // is written relative to it: a link planted there or at the file's name is never
    // followed (a link at the name is replaced, as `rename` does).
    let dirfd = rustix::fs::open(
        &dir,
        rustix::fs::OFlags::RDONLY
            | rustix::fs::OFlags::DIRECTORY
            | rustix::fs::OFlags::NOFOLLOW
            | rustix::fs::OFlags::CLOEXEC,
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
                "running as root, whoport writes only in directories root alone can change, and \
                 {} {why}",
                shown(&dir)
            );
        }
    }
    crate::atomic::write_at(
        std::os::fd::AsFd::as_fd(&dirfd),
        &target,
        std::ffi::OsStr::new(USER_COPY),
        &data,
        crate::atomic::Devices::Refuse,
    )?;
    let registry = Registry::from_rows(
        rows,
        Copy::User {
            path: target.clone(),
            newest_date: newest_date.clone(),
        },
    );
    writeln!(
        out,
        "imported {} into {}\n  data as of {}\n  {}\nThis copy now takes precedence over the \
         built-in one.",
        shown(file),
        shown(&target),
        newest_date.as_deref().unwrap_or("an unknown date"),
        stats_line(registry.stats()),
    )?;
    Ok(())
}

/// Which copy is in use, its date and its size; and what the built-in copy is.
pub fn status(paths: &Paths, out: &mut dyn Write) -> Result<()> {
    let path = user_copy_path(paths);
    let existing = path.as_ref().filter(|p| p.symlink_metadata().is_ok());
    match existing.map(|p| (p, load_user_copy(p))) {
        Some((p, Ok(registry))) => {
            let newest_date = match registry.copy() {
                Copy::User { newest_date, .. } => newest_date.as_deref(),
                Copy::BuiltIn { .. } => None,
            };
            let imported = std::fs::metadata(p)
                .and_then(|m| m.modified())
                .map(utc_minutes)
                .unwrap_or_else(|_| "at an unknown time".to_string());
            writeln!(
                out,
                "in use: your copy, {}\n  data as of {} (the newest registration or \
                 modification date in it); imported {imported}\n  {}",
                shown(p),
                newest_date.unwrap_or("an unknown date"),
                stats_line(registry.stats()),
            )?;
        }
        Some((p, Err(e))) => writeln!(
            out,
            "in use: the built-in copy (your copy {} cannot be used: {})",
            shown(p),
            terminal_safe(&format!("{e:#}"))
        )?,
        None => writeln!(
            out,
            "in use: the built-in copy (no user copy{}; `whoport registry import FILE.csv` \
             makes one)",
            path.map(|p| format!(" at {}", shown(&p)))
                .unwrap_or_default()
        )?,
    }
    let builtin = Registry::builtin();
    if let Copy::BuiltIn { generated, sources } = builtin.copy() {
        writeln!(
            out,
            "built-in copy: generated {generated} by scripts/gen-iana.py from"
        )?;
        for s in *sources {
            writeln!(out, "    {s}")?;
        }
        writeln!(out, "  {}", stats_line(builtin.stats()))?;
    }
    Ok(())
}

fn stats_line(s: Stats) -> String {
    format!(
        "{} rows: {} single ports, {} ranges, {} names without a port; {} service names",
        s.rows, s.single_ports, s.ranges, s.without_port, s.names
    )
}

/// `2026-11-21 23:50 UTC`.
fn utc_minutes(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const HEADER: &str = "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes";

    fn paths(dir: &Path) -> Paths {
        Paths {
            data_dir: Some(dir.to_path_buf()),
            ..Paths::default()
        }
    }

    #[test]
    fn import_replaces_atomically_and_keeps_the_old_copy_on_error() -> Result<()> {
        let tmp = tempfile::tempdir()?;
        let data = tmp.path().join("data");
        let p = paths(&data);
        // No user copy yet: the built-in one.
        assert!(matches!(active(&p).0.copy(), Copy::BuiltIn { .. }));
        let mut status_text = Vec::new();
        status(&p, &mut status_text)?;
        assert!(String::from_utf8(status_text)?.starts_with("in use: the built-in copy"));

        let good = tmp.path().join("good.csv");
        std::fs::write(
            &good,
            format!(
                "{HEADER}\nmyservice,4711,tcp,\"Mine, all mine\",,,2025-01-02,,,,,\n\
                 ssh,22,tcp,SSH,,,,2026-03-04,,,,\n"
            ),
        )?;
        let mut out = Vec::new();
        import(&p, &good, &mut out)?;
        let said = String::from_utf8(out)?;
        assert!(
            said.contains("data as of 2026-03-04") && said.contains("2 rows"),
            "{said}"
        );
        let installed = data.join(USER_COPY);
        let before = std::fs::read(&installed)?;
        let (registry, warning) = active(&p);
        assert_eq!(warning, None);
        assert_eq!(registry.ports_for("myservice"), Ok(vec![(4711, 4711)]));
        // The user copy replaces the built-in one: https is not in it.
        assert!(registry.ports_for("https").is_err());

        // A bad file: an error naming its line, and the installed copy untouched.
        let bad = tmp.path().join("bad.csv");
        std::fs::write(&bad, format!("{HEADER}\nok,1,tcp,x\nbroken,99999,tcp,x\n"))?;
        let err = import(&p, &bad, &mut Vec::new())
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(
            err.contains("bad.csv was not imported: line 3: invalid port number \"99999\""),
            "{err}"
        );
        assert_eq!(std::fs::read(&installed)?, before);
        // No temporary file is left behind either.
        assert_eq!(std::fs::read_dir(&data)?.count(), 1);

        let mut out = Vec::new();
        status(&p, &mut out)?;
        let text = String::from_utf8(out)?;
        assert!(
            text.starts_with(&format!("in use: your copy, {}", installed.display())),
            "{text}"
        );
        assert!(
            text.contains("data as of 2026-03-04") && text.contains("2 rows"),
            "{text}"
        );
        assert!(text.contains("built-in copy: generated"), "{text}");

        // A user copy broken by hand: a warning, and the built-in copy.
        std::fs::write(&installed, "not a csv")?;
        let (registry, warning) = active(&p);
        assert!(matches!(registry.copy(), Copy::BuiltIn { .. }));
        assert!(warning.is_some_and(|w| w.contains("cannot be used")));
        Ok(())
    }

    #[test]
    fn dates() {
        let at = |s: u64| utc_minutes(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01 00:00 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(at(1_795_305_000), "2026-11-21 23:50 UTC");
    }
}
