//! Everything whoport reads from the host that is not sockets or processes: user names
//! (the system's user database), the registry copy, the Xsan configuration, the ephemeral
//! port range, the terminal and `NO_COLOR`; and the files it writes. Read once, lazily
//! where it costs, behind the [`Host`] trait, so that everything above runs on a fake host
//! in tests (`host::fake`).
//!
//! OS-specific code is chosen here and in `collect`, with `#[cfg]` at module declarations
//! only.

use std::cell::OnceCell;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::iana::Registry;
use crate::model::{EphemeralRange, XsanHost};

pub(crate) mod atomic;
pub(crate) mod registry;
pub(crate) mod trust;
mod users;
pub(crate) mod xsan;

// The range the OS picks ephemeral (client) ports from.
#[cfg(target_os = "linux")]
#[path = "ephemeral_linux.rs"]
mod ephemeral;
#[cfg(target_os = "macos")]
#[path = "ephemeral_macos.rs"]
mod ephemeral;
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
#[path = "ephemeral_other.rs"]
mod ephemeral;

#[cfg(test)]
pub(crate) mod fake;

/// Where whoport's knowledge is read from; each can be overridden (for tests, or by an
/// administrator) through an option or its environment variable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Paths {
    /// Holds the user's copy of the IANA registry (`WHOPORT_DATA_DIR`); default: the
    /// platform's data directory plus `whoport`.
    pub(crate) data_dir: Option<PathBuf>,
    /// Replaces the Xsan configuration directories looked in (`WHOPORT_XSAN_CONFIG_DIR`).
    pub(crate) xsan_config_dir: Option<PathBuf>,
    /// Replaces the Xsan executable directories (`WHOPORT_XSAN_BIN_DIR`).
    pub(crate) xsan_bin_dir: Option<PathBuf>,
}

/// What whoport knows of the terminal it writes to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Terminal {
    /// Standard output is a terminal.
    pub(crate) is_terminal: bool,
    /// Its width in columns, when it is one and tells.
    pub(crate) width: Option<u16>,
    /// `NO_COLOR` is set to something.
    pub(crate) no_color: bool,
}

/// The host, as everything above `collect` sees it.
pub(crate) trait Host {
    /// The name of a uid, if the user database knows it.
    fn user_name(&self, uid: u32) -> Option<String>;
    /// The uid of a user name.
    fn user_uid(&self, name: &str) -> Option<u32>;
    /// The IANA registry copy in use (the user's, or the built-in one).
    fn registry(&self) -> &Registry;
    /// What the host says about Xsan.
    fn xsan(&self) -> &XsanHost;
    /// This OS's ephemeral port range, where it can be read.
    fn ephemeral(&self) -> Option<&EphemeralRange>;
    /// Problems met while reading the above (a user registry copy that cannot be used).
    fn warnings(&self) -> Vec<String>;
    /// The file a path names after symbolic links are followed, if it exists.
    fn real_path(&self, path: &Path) -> Option<PathBuf>;
    /// The terminal standard output is, if any.
    fn terminal(&self) -> Terminal;
}

/// The machine whoport runs on.
pub(crate) struct RealHost {
    paths: Paths,
    registry: OnceCell<(Registry, Option<String>)>,
    xsan: OnceCell<XsanHost>,
    ephemeral: OnceCell<Option<EphemeralRange>>,
}

impl RealHost {
    pub(crate) fn new(paths: Paths) -> RealHost {
        RealHost {
            paths,
            registry: OnceCell::new(),
            xsan: OnceCell::new(),
            ephemeral: OnceCell::new(),
        }
    }

    pub(crate) fn paths(&self) -> &Paths {
        &self.paths
    }

    fn registry_and_warning(&self) -> &(Registry, Option<String>) {
        self.registry.get_or_init(|| registry::active(&self.paths))
    }
}

impl Host for RealHost {
    fn user_name(&self, uid: u32) -> Option<String> {
        users::user_name(uid)
    }

    fn user_uid(&self, name: &str) -> Option<u32> {
        users::user_uid(name)
    }

    fn registry(&self) -> &Registry {
        &self.registry_and_warning().0
    }

    fn xsan(&self) -> &XsanHost {
        self.xsan.get_or_init(|| {
            xsan::detect(&xsan::XsanDirs::new(
                self.paths.xsan_config_dir.as_deref(),
                self.paths.xsan_bin_dir.as_deref(),
            ))
        })
    }

    fn ephemeral(&self) -> Option<&EphemeralRange> {
        self.ephemeral
            .get_or_init(ephemeral::ephemeral_range)
            .as_ref()
    }

    fn warnings(&self) -> Vec<String> {
        self.registry_and_warning().1.iter().cloned().collect()
    }

    fn real_path(&self, path: &Path) -> Option<PathBuf> {
        std::fs::canonicalize(path).ok()
    }

    fn terminal(&self) -> Terminal {
        let is_terminal = std::io::stdout().is_terminal();
        Terminal {
            is_terminal,
            width: if is_terminal { terminal_width() } else { None },
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        }
    }
}

/// The width of the terminal on standard output, in columns: the kernel's window size,
/// else `COLUMNS` (as ps and ls read it).
fn terminal_width() -> Option<u16> {
    match rustix::termios::tcgetwinsize(std::io::stdout()) {
        Ok(size) if size.ws_col > 0 => Some(size.ws_col),
        _ => std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<u16>().ok())
            .filter(|&c| c > 0),
    }
}

/// Two port numbers separated by white space (`32768\t60999`, or sysctl's two lines),
/// the first not above the second.
fn parse_port_pair(text: &str) -> Option<(u16, u16)> {
    let mut words = text.split_whitespace().map(str::parse::<u16>);
    match (words.next(), words.next(), words.next()) {
        (Some(Ok(first)), Some(Ok(last)), None) if first <= last => Some((first, last)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_port_pair;

    #[test]
    fn port_pairs() {
        assert_eq!(parse_port_pair("32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(parse_port_pair("49152\n65535\n"), Some((49152, 65535)));
        for bad in ["", "1", "5 4", "1 2 3", "a b", "1 70000"] {
            assert_eq!(parse_port_pair(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn this_os_range_reads() {
        // Linux and macOS (whoport's systems) always have one.
        let range = super::ephemeral::ephemeral_range();
        assert!(range.is_some_and(|r| r.first >= 1 && r.first <= r.last));
    }
}
