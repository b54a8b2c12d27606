//! `whoport registry`: which copy of the IANA registry is in use, or import IANA's CSV as
//! the user's copy (stored by `host::registry`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::host::{Paths, registry};
use crate::iana::{self, Copy, Registry, Stats};
use crate::sanitize::terminal_safe;

/// What `whoport registry` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RegistryAction {
    /// Which copy is in use (the default).
    Status,
    /// Check this CSV and make it the user's copy.
    Import(PathBuf),
}

/// A path as the terminal may show it.
fn shown(path: &Path) -> String {
    terminal_safe(&path.display().to_string()).into_owned()
}

/// `whoport registry [status | import FILE.csv]`.
pub(crate) fn run(action: &RegistryAction, paths: &Paths, out: &mut dyn Write) -> Result<()> {
    match action {
        RegistryAction::Import(file) => import(paths, file, out),
        RegistryAction::Status => status(paths, out),
    }
}

/// Checks the whole file first, then replaces the user copy atomically (a temporary file
/// in the same directory, renamed over it): a bad file leaves the installed copy as it was.
pub(crate) fn import(paths: &Paths, file: &Path, out: &mut dyn Write) -> Result<()> {
    let data = registry::read_limited(file)?;
    let (rows, newest_date) =
        iana::parse_csv(&data).with_context(|| format!("{} was not imported", file.display()))?;
    let target = registry::install(paths, &data)?;
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
pub(crate) fn status(paths: &Paths, out: &mut dyn Write) -> Result<()> {
    let path = registry::user_copy_path(paths);
    let existing = path.as_ref().filter(|p| p.symlink_metadata().is_ok());
    match existing.map(|p| (p, registry::load_user_copy(p))) {
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
    use crate::host::registry::{USER_COPY, active};
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
