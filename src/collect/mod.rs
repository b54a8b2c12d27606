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

mod details;
mod portable;
mod users;

pub use details::SysinfoProcesses;
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
