//! Where sockets and the processes holding them come from. With `host`, the only code that
//! knows the operating system: `#[cfg]` appears at module declarations here and nowhere
//! else in this layer.
//!
//! Every collector returns the same plain [`Snapshot`]; process details come from one
//! [`ProcessSource`]. [`Sources`] bundles the two that one run uses, so the entry point
//! chooses them and tests hand in fakes.

use std::collections::HashMap;

use anyhow::{Result, bail};

use crate::model::{
    NetnsScope, Process, Protocol, RawSocket, Snapshot, SocketFlag, SocketQuery, State,
};

pub(crate) use context::{ContextSource, Runtimes};

// The platform's own fast path. On Linux: netlink sock_diag (or /proc/net) plus a
// parallel scan of /proc/*/fd. Elsewhere the portable path stands in for it.
#[cfg(target_os = "linux")]
#[path = "linux/mod.rs"]
pub(crate) mod native;
#[cfg(not(target_os = "linux"))]
#[path = "native_portable.rs"]
pub(crate) mod native;

// netstat2's socket record has Linux-only fields (inode, uid).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[path = "netstat2_linux.rs"]
mod netstat2_ext;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[path = "netstat2_other.rs"]
mod netstat2_ext;

pub(crate) mod containers;
pub(crate) mod context;
mod details;
mod portable;

#[cfg(test)]
pub(crate) mod fake;

/// Gives the sockets that match a query, with the pids that hold each.
pub(crate) trait Collector {
    fn collect(&self, query: &SocketQuery) -> Result<Snapshot>;

    /// The same in the network namespaces `scope` names (`--netns`). A collector that
    /// sees only its own namespace answers `Current`, finds nothing in `Others`, and
    /// refuses the rest.
    fn collect_in(&self, query: &SocketQuery, scope: &NetnsScope) -> Result<Snapshot> {
        match scope {
            NetnsScope::Current => self.collect(query),
            NetnsScope::Others => Ok(Snapshot::default()),
            _ => bail!(
                "--netns: this collection path reads only its own network namespace (others \
                 need Linux's native or procfs path)"
            ),
        }
    }

    /// Says that `collect_in(_, &NetnsScope::Others)` is likely to follow the next
    /// `collect` (the free-port hint): a collector may look for the other namespaces
    /// meanwhile, on a thread of its own. Nothing by default.
    fn look_ahead_to_others(&self) {}

    /// The sockets alone, without looking for the processes holding them, where the
    /// platform can tell them apart (`wait` and `watch` read the socket table every
    /// interval; Linux: sock_diag only). Elsewhere, a whole collection.
    fn sockets(&self, query: &SocketQuery) -> Result<Vec<RawSocket>> {
        Ok(self.collect(query)?.sockets)
    }
}

/// Gives process details for pids.
pub(crate) trait ProcessSource {
    /// Details of each pid that can still be read; a pid that exited is left out.
    fn processes(&self, pids: &[u32]) -> HashMap<u32, Process>;

    /// Whether a process with this pid exists (in this pid namespace): signal 0 is
    /// checked, not sent; another user's process exists too ("not permitted").
    fn exists(&self, pid: u32) -> bool {
        let Ok(raw) = i32::try_from(pid) else {
            return false;
        };
        rustix::process::Pid::from_raw(raw).is_some_and(|p| {
            !matches!(
                rustix::process::test_kill_process(p),
                Err(rustix::io::Errno::SRCH)
            )
        })
    }
}

/// Which collection path to use (`--backend`, hidden; for tests and comparisons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// The platform's fastest path (netlink + /proc on Linux).
    Native,
    /// Linux: sockets from /proc/net instead of netlink.
    Procfs,
    /// netstat2 + sysinfo, the macOS path.
    Portable,
}

/// How the Linux fast path finds the processes holding sockets (`--owner-scan`, hidden).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OwnerPath {
    /// The BPF task_file iterator where it can run (root, or CAP_BPF + CAP_PERFMON; kernel
    /// BTF; Linux 5.8+), else the /proc/*/fd scan.
    Auto,
    /// The BPF iterator only; an error where it cannot run.
    Bpf,
    /// The /proc/*/fd scan only.
    Procfs,
}

/// How one run collects: the path, how owners are found, and whether to note on standard
/// error how it went (`--debug`, hidden).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Choice {
    pub(crate) backend: Backend,
    pub(crate) owners: OwnerPath,
    pub(crate) debug: bool,
}

/// Whether a TCP socket is a connection in a listener's accept queue: established (or
/// already closed by the peer) with no file yet. A connection its process has closed
/// moves on to FIN_WAIT or LAST_ACK, so these states without a file mean "not accepted".
fn awaits_accept(s: &RawSocket) -> bool {
    s.protocol == Protocol::Tcp
        && s.inode == Some(0)
        && matches!(
            s.state,
            State::Established | State::CloseWait | State::SynRecv
        )
}

/// Gives each connection waiting in an accept queue its listener's holders (flagged
/// `awaiting_accept`): the listener on its port with the most specific address that
/// accepts it (its own address, else the wildcard of its family). When several such
/// listeners (`SO_REUSEPORT`) have different holders, or the listener's are not known,
/// it is only marked: which process will accept it is not known.
fn attribute_accept_queue(sockets: &mut [RawSocket], listeners: &[&RawSocket]) {
    for s in sockets.iter_mut().filter(|s| awaits_accept(s)) {
        let on_port = || {
            listeners.iter().filter(|l| {
                l.protocol == Protocol::Tcp
                    && l.state == State::Listen
                    && l.local_port == s.local_port
                    && l.family() == s.family()
            })
        };
        let exact: Vec<&&RawSocket> = on_port()
            .filter(|l| l.local_address == s.local_address)
            .collect();
        let candidates = if exact.is_empty() {
            on_port()
                .filter(|l| l.local_address.is_unspecified())
                .collect()
        } else {
            exact
        };
        let Some(first) = candidates.first() else {
            // No listener any more: the connection is being reset.
            continue;
        };
        s.marks.push(SocketFlag::AwaitingAccept);
        if !first.pids.is_empty() && candidates.iter().all(|l| l.pids == first.pids) {
            s.pids = first.pids.clone();
        }
    }
}

/// The collector and process source of one run.
pub(crate) struct Sources {
    pub(crate) sockets: Box<dyn Collector>,
    pub(crate) processes: Box<dyn ProcessSource>,
    /// Containers, units and parents of the holders found.
    pub(crate) context: Box<dyn ContextSource>,
}

impl Sources {
    /// The real ones a choice stands for. (The portable path finds owners its own way.)
    pub(crate) fn new(choice: Choice) -> Result<Sources> {
        Ok(match choice.backend {
            Backend::Native => Sources {
                sockets: native::collector(choice.owners, choice.debug)?,
                processes: native::process_source(),
                context: Box::new(Runtimes::default()),
            },
            Backend::Procfs => Sources {
                sockets: native::procfs_collector(choice.owners, choice.debug)?,
                processes: native::process_source(),
                context: Box::new(Runtimes::default()),
            },
            Backend::Portable => Sources {
                sockets: Box::new(portable::Portable),
                processes: Box::new(details::SysinfoProcesses),
                context: Box::new(Runtimes::default()),
            },
        })
    }
}

/// Whether this process may read every other process's descriptors.
fn privileged() -> bool {
    rustix::process::geteuid().is_root()
}
