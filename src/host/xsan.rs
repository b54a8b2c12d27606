//! What this host says about Apple Xsan (and Quantum StorNext): whether it is configured
//! (`fsnameservers`), its port window (`fsports`) and its executable directories (the
//! standard ones plus `.xsanrc`'s `XSAN_ALT_BINDIR`). Read once per run; the rules that
//! judge listeners with it are `annotate::xsan`.

use std::path::{Path, PathBuf};

use crate::model::{FsPorts, XsanHost};

/// Where Xsan and StorNext keep their configuration (`fsnameservers`, `fsports`,
/// `.xsanrc`): macOS 10.7 and later, the Xsan 1.x/2.x add-on, Linux StorNext.
pub(crate) const CONFIG_DIRS: [&str; 3] = [
    "/Library/Preferences/Xsan",
    "/Library/Filesystems/Xsan/config",
    "/usr/cvfs/config",
];

/// Where their executables (fsmpm, fsm, xsand, …) live, in the same order.
pub(crate) const BIN_DIRS: [&str; 3] = [
    "/System/Library/Filesystems/acfs.fs/Contents/bin",
    "/Library/Filesystems/Xsan/bin",
    "/usr/cvfs/bin",
];

/// The directories to look in: the standard ones, or the overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct XsanDirs {
    pub(crate) config: Vec<PathBuf>,
    pub(crate) bin: Vec<PathBuf>,
}

impl XsanDirs {
    pub(crate) fn new(config_override: Option<&Path>, bin_override: Option<&Path>) -> XsanDirs {
        let or_standard = |o: Option<&Path>, standard: &[&str]| match o {
            Some(dir) => vec![dir.to_path_buf()],
            None => standard.iter().map(PathBuf::from).collect(),
        };
        XsanDirs {
            config: or_standard(config_override, &CONFIG_DIRS),
            bin: or_standard(bin_override, &BIN_DIRS),
        }
    }
}

/// Reads what the host says about Xsan: `fsnameservers` (configured?), `fsports` (the
/// port window) and `.xsanrc` (`XSAN_ALT_BINDIR`). The only I/O of this module.
pub(crate) fn detect(dirs: &XsanDirs) -> XsanHost {
    let mut host = XsanHost {
        config_dirs: dirs.config.clone(),
        ..XsanHost::default()
    };
    host.configured_in = dirs
        .config
        .iter()
        .find(|d| d.join("fsnameservers").is_file())
        .cloned();
    // The configured directory first, then the others.
    let mut order: Vec<&PathBuf> = host.configured_in.iter().collect();
    order.extend(
        dirs.config
            .iter()
            .filter(|d| Some(*d) != host.configured_in.as_ref()),
    );
    match read_first(&order, "fsports", parse_fsports) {
        Some((path, Ok((min_port, max_port, alt_pmap)))) => {
            host.fsports = Some(FsPorts {
                path,
                min_port,
                max_port,
                alt_pmap,
            });
        }
        Some((path, Err(e))) => host.warnings.push(format!(
            "Xsan: ignored {}: {e}; using Apple's 49152-65535/tcp instead",
            path.display()
        )),
        None => {}
    }
    let mut bin: Vec<PathBuf> = dirs.bin.clone();
    match read_first(&order, ".xsanrc", parse_xsanrc) {
        Some((_, Ok(Some(alt)))) => {
            host.alt_bin_dir = Some(canonical(&alt));
            bin.push(alt);
        }
        Some((path, Err(e))) => host
            .warnings
            .push(format!("Xsan: ignored {}: {e}", path.display())),
        Some((_, Ok(None))) | None => {}
    }
    host.bin_dirs = bin.iter().map(|d| canonical(d)).collect();
    host.bin_dirs.dedup();
    for dir in &host.bin_dirs {
        if let Some((writable, why)) = super::trust::writable_by_others(dir) {
            let via = if writable == *dir {
                String::new()
            } else {
                format!(" (through {})", writable.display())
            };
            host.bin_dir_warnings.push(format!(
                "Xsan: the executable directory {} can be changed by users other than \
                 root{via}: it {why}, so any program put there passes for Xsan's",
                dir.display(),
            ));
        }
    }
    host
}

/// The first of the directories holding a file of this name, and what `parse` makes of it.
fn read_first<T>(
    dirs: &[&PathBuf],
    name: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Option<(PathBuf, Result<T, String>)> {
    let path = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())?;
    let parsed = std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|text| parse(&text));
    Some((path, parsed))
}

/// A directory's real path where it exists (macOS /tmp is /private/tmp), else as given.
fn canonical(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// fsports(4): `MinPort N`, `MaxPort N` (both required), `AltPmap N` (optional); lines
/// starting with `#` are comments.
pub(crate) fn parse_fsports(text: &str) -> Result<(u16, u16, Option<u16>), String> {
    let (mut min, mut max, mut alt) = (None, None, None);
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(key), Some(value), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!("line {}: expected `Key value`", n + 1));
        };
        let slot = match key.to_ascii_lowercase().as_str() {
            "minport" => &mut min,
            "maxport" => &mut max,
            "altpmap" => &mut alt,
            _ => continue,
        };
        match value.parse::<u16>() {
            Ok(port) if port > 0 => *slot = Some(port),
            _ => return Err(format!("line {}: {key} {value:?} is not a port", n + 1)),
        }
    }
    match (min, max) {
        (Some(a), Some(b)) if a <= b => Ok((a, b, alt)),
        (Some(a), Some(b)) => Err(format!("MinPort {a} is above MaxPort {b}")),
        _ => Err("MinPort and MaxPort are both required".to_string()),
    }
}

/// `.xsanrc`: the `XSAN_ALT_BINDIR` setting, written `XSAN_ALT_BINDIR=/dir` (shell style,
/// `export` and quotes allowed) or `XSAN_ALT_BINDIR /dir`. It must be an absolute path.
pub(crate) fn parse_xsanrc(text: &str) -> Result<Option<PathBuf>, String> {
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        let line = line
            .strip_prefix("export ")
            .or_else(|| line.strip_prefix("setenv "))
            .unwrap_or(line)
            .trim_start();
        let Some(rest) = line.strip_prefix("XSAN_ALT_BINDIR") else {
            continue;
        };
        let value = match rest.strip_prefix('=') {
            Some(v) => v,
            None if rest.starts_with([' ', '\t']) => rest,
            None => continue,
        };
        let value = value.trim().trim_matches(['"', '\'']);
        if value.is_empty() {
            continue;
        }
        let path = PathBuf::from(value);
        if !path.is_absolute() {
            return Err(format!("XSAN_ALT_BINDIR {value:?} is not an absolute path"));
        }
        found = Some(path);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsports_files() {
        let ok = [
            ("MinPort 52000\nMaxPort 52100\n", (52000, 52100, None)),
            (
                "# Example:\n#\n# MinPort 1\nMinPort 52000\n  \nMaxPort 52100\nAltPmap 52200\n",
                (52000, 52100, Some(52200)),
            ),
            ("minport 5\nmaxport 5\n", (5, 5, None)),
        ];
        for (text, want) in ok {
            assert_eq!(parse_fsports(text), Ok(want), "{text:?}");
        }
        let bad = [
            ("", "required"),
            ("MinPort 52000\n", "required"),
            ("MinPort 52100\nMaxPort 52000\n", "above"),
            ("MinPort 70000\nMaxPort 52000\n", "not a port"),
            ("MinPort\nMaxPort 52000\n", "Key value"),
            ("MinPort 0\nMaxPort 52000\n", "not a port"),
        ];
        for (text, word) in bad {
            let err = parse_fsports(text).err().unwrap_or_default();
            assert!(err.contains(word), "{text:?}: {err:?}");
        }
    }

    #[test]
    fn xsanrc_files() {
        let cases: [(&str, Result<Option<PathBuf>, ()>); 7] = [
            (
                "XSAN_ALT_BINDIR=/opt/x/bin\n",
                Ok(Some("/opt/x/bin".into())),
            ),
            (
                "export XSAN_ALT_BINDIR=\"/opt/x y/bin\"\n",
                Ok(Some("/opt/x y/bin".into())),
            ),
            (
                "# comment\nXSAN_ALT_BINDIR /opt/z\n",
                Ok(Some("/opt/z".into())),
            ),
            ("XSAN_ALT_BINDIRX=/nope\nOTHER=1\n", Ok(None)),
            ("XSAN_ALT_BINDIR=\n", Ok(None)),
            ("", Ok(None)),
            ("XSAN_ALT_BINDIR=relative/bin\n", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(parse_xsanrc(text).map_err(|_| ()), want, "{text:?}");
        }
    }

    #[test]
    fn detection_reads_the_directories() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("config");
        let bin = dir.path().join("bin");
        let alt = dir.path().join("alt");
        for d in [&config, &bin, &alt] {
            std::fs::create_dir(d)?;
        }
        let dirs = XsanDirs::new(Some(&config), Some(&bin));
        let empty = detect(&dirs);
        assert_eq!(empty.configured_in, None);
        assert_eq!(empty.fsports, None);
        assert_eq!(empty.bin_dirs, [std::fs::canonicalize(&bin)?]);

        std::fs::write(config.join("fsnameservers"), "10.0.0.1\n")?;
        std::fs::write(config.join("fsports"), "MinPort 52000\nMaxPort 52100\n")?;
        std::fs::write(
            config.join(".xsanrc"),
            format!("XSAN_ALT_BINDIR={}\n", alt.display()),
        )?;
        let found = detect(&dirs);
        assert_eq!(found.configured_in.as_deref(), Some(config.as_path()));
        assert_eq!(
            found.fsports.as_ref().map(|f| (f.min_port, f.max_port)),
            Some((52000, 52100))
        );
        assert_eq!(
            found.bin_dirs,
            [std::fs::canonicalize(&bin)?, std::fs::canonicalize(&alt)?]
        );
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);

        std::fs::write(config.join("fsports"), "MaxPort 52100\n")?;
        let broken = detect(&dirs);
        assert_eq!(broken.fsports, None);
        assert!(
            broken.warnings[0].contains("MinPort"),
            "{:?}",
            broken.warnings
        );
        Ok(())
    }
}
