//! Where sockets and their processes come from. This is the only module that knows the
//! operating system: `#[cfg]` appears here, at module declarations, and nowhere else.
//!
//! Every collector returns the same plain [`Snapshot`]; process details come from one
//! [`ProcessSource`]. Tests inject fakes of both.

use std::collections::HashMap;

use anyhow::Result;

use crate::config::{Backend, SocketQuery};
use crate::model::{Process, Snapshot};

// The platform's own fast path. On Linux: netlink sock_diag (or /proc/net) plus a
// parallel scan of /proc/*/fd. Elsewhere the portable path stands in for it.
#[cfg(target_os = "linux")]
#[path = "linux/mod.rs"]
mod native;
#[cfg(not(target_os = "linux"))]
#[path = "native_portable.rs"]
mod native;

// netstat2's socket record has Linux-only fields (inode, uid).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[path = "netstat2_linux.rs"]
mod netstat2_ext;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[path = "netstat2_other.rs"]
mod netstat2_ext;

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

pub mod containers;
mod details;
mod portable;
mod users;

pub use details::SysinfoProcesses;
pub use ephemeral::ephemeral_range;
pub use users::{user_name, user_uid};

/// Gives the sockets that match a query, with the pids that hold each.
pub trait Collector {
    fn collect(&self, query: &SocketQuery) -> Result<Snapshot>;
}

/// Gives process details for pids.
pub trait ProcessSource {
    /// Details of each pid that can still be read; a pid that exited is left out.
    fn processes(&self, pids: &[u32]) -> HashMap<u32, Process>;
}

/// The collector a backend choice stands for.
pub fn collector(backend: Backend) -> Result<Box<dyn Collector>> {
    match backend {
        Backend::Native => Ok(native::collector()),
        Backend::Procfs => native::procfs_collector(),
        Backend::Portable => Ok(Box::new(portable::Portable)),
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

/// Where a backend's process details come from: the platform's own reader on the fast
/// path, sysinfo on the portable one.
pub fn process_source(backend: Backend) -> Box<dyn ProcessSource> {
    match backend {
        Backend::Native | Backend::Procfs => native::process_source(),
        Backend::Portable => Box::new(SysinfoProcesses),
    }
}

/// Whether this process may read every other process's descriptors.
pub fn privileged() -> bool {
    rustix::process::geteuid().is_root()
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
        let range = super::ephemeral_range();
        assert!(range.is_some_and(|r| r.first >= 1 && r.first <= r.last));
    }
}
