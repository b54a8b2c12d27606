//! The Linux fast path: sockets from netlink sock_diag (falling back to /proc/net), owners
//! — only when some socket matched — from a BPF iterator over every task's descriptors
//! where it can run, else from a parallel scan of /proc/*/fd.

use std::cell::OnceCell;

use anyhow::{Context, Result};

use super::{Collector, OwnerPath, ProcessSource, privileged};
use crate::model::SocketQuery;
use crate::model::{OwnerScan, RawSocket, Snapshot};

mod bpf;
mod fdscan;
mod netlink;
mod parallel;
mod procnet;
mod procs;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// netlink, and /proc/net if netlink fails.
    Auto,
    /// /proc/net only.
    ProcNet,
}

struct Linux {
    source: Source,
    owners: OwnerPath,
    debug: bool,
    /// The BPF iterator, loaded at the first owner scan and kept for the next ones; or
    /// why it cannot be used.
    bpf: OnceCell<Result<bpf::SocketIter, String>>,
}

impl Linux {
    fn boxed(source: Source, owners: OwnerPath, debug: bool) -> Box<dyn Collector> {
        Box::new(Linux {
            source,
            owners,
            debug,
            bpf: OnceCell::new(),
        })
    }
}

pub(crate) fn collector(owners: OwnerPath, debug: bool) -> Result<Box<dyn Collector>> {
    Ok(Linux::boxed(Source::Auto, owners, debug))
}

/// Process details straight from /proc, in parallel.
pub(crate) fn process_source() -> Box<dyn ProcessSource> {
    Box::new(procs::ProcfsProcesses)
}

pub(crate) fn procfs_collector(owners: OwnerPath, debug: bool) -> Result<Box<dyn Collector>> {
    Ok(Linux::boxed(Source::ProcNet, owners, debug))
}

impl Collector for Linux {
    fn collect(&self, query: &SocketQuery) -> Result<Snapshot> {
        let mut warnings = Vec::new();
        let mut dump = || -> Result<Vec<RawSocket>> {
            Ok(match self.source {
                Source::ProcNet => procnet::read(query)?,
                Source::Auto => match netlink::dump(query) {
                    Ok(s) => s,
                    Err(e) => {
                        warnings.push(format!(
                            "netlink sock_diag unavailable ({e:#}); read /proc/net instead"
                        ));
                        procnet::read(query)?
                    }
                },
            })
        };
        // Listing every port, owners are as good as certain to be needed: the iterators
        // are loaded (the kernel's BTF read, the programs verified) on the other core
        // while the kernel dumps the sockets. For given ports they are loaded only if
        // some socket matched (a free port costs no scan at all).
        let early =
            self.owners != OwnerPath::Procfs && query.ports.is_none() && self.bpf.get().is_none();
        let mut sockets = if early {
            let (sockets, loaded) = std::thread::scope(|scope| {
                let loading = scope.spawn(|| bpf::SocketIter::load().map_err(|e| format!("{e:#}")));
                (dump(), loading.join())
            });
            // A loader that panicked is tried again when the owners are looked for.
            if let Ok(loaded) = loaded {
                let _ = self.bpf.set(loaded);
            }
            sockets?
        } else {
            dump()?
        };
        let mut scan = OwnerScan::default();
        // Inode 0: no file refers to the socket any more; nobody can hold it.
        let mut wanted: Vec<u64> = Vec::with_capacity(sockets.len());
        wanted.extend(sockets.iter().filter_map(|s| s.inode).filter(|&i| i != 0));
        if !wanted.is_empty() {
            wanted.sort_unstable();
            wanted.dedup();
            let (holders, owner_scan) = self.owners(&wanted, &mut warnings)?;
            attach(&mut sockets, &holders);
            scan = owner_scan;
        }
        Ok(Snapshot {
            sockets,
            scan,
            warnings,
        })
    }
}

impl Linux {
    /// (inode, pid) for every wanted socket found held, sorted, without repeats; and how
    /// complete the search was.
    fn owners(
        &self,
        wanted: &[u64],
        warnings: &mut Vec<String>,
    ) -> Result<(Vec<(u64, u32)>, OwnerScan)> {
        // Whether the iterators showed that this process is in a child pid namespace, whose
        // /proc does not list the processes outside it.
        let mut other_pid_namespace = false;
        if self.owners != OwnerPath::Procfs {
            let iter = self
                .bpf
                .get_or_init(|| bpf::SocketIter::load().map_err(|e| format!("{e:#}")));
            let found = match iter {
                Ok(iter) => bpf_owners(iter, wanted).map_err(|e| {
                    other_pid_namespace = e.is::<bpf::ChildPidNamespace>();
                    format!("{e:#}")
                }),
                Err(why) => Err(why.clone()),
            };
            match found {
                Ok(found) => {
                    self.note("owners from the BPF task_file iterator");
                    return Ok(found);
                }
                Err(why) if self.owners == OwnerPath::Bpf => {
                    return Err(anyhow::anyhow!(why)).context("the BPF owner scan");
                }
                Err(why) => self.note(&format!(
                    "owners from /proc/*/fd: the BPF iterator cannot run here ({why})"
                )),
            }
        }
        let found = fdscan::scan(wanted)?;
        let scan = OwnerScan {
            ran: true,
            inaccessible: found.inaccessible,
            inaccessible_uids: found.inaccessible_uids,
            // Processes outside the namespace may hold these sockets: none found is not
            // "no holder".
            unknown_coverage: other_pid_namespace,
            privileged: privileged(),
        };
        if other_pid_namespace {
            warnings.push(
                "whoport runs in a child pid namespace: processes outside it cannot be seen, \
                 so a socket with no holder found here may be held by one of them"
                    .to_string(),
            );
        }
        Ok((found.holders, scan))
    }

    /// A debug note on standard error (`--debug`): how the answer was found. Never part
    /// of the answer, which is the same either way.
    fn note(&self, what: &str) {
        if self.debug {
            eprintln!("whoport: debug: {what}");
        }
    }
}

/// Owners from the BPF iterators. They walk every task of this pid namespace whoever
/// owns it (they run only with CAP_BPF + CAP_PERFMON or as root, and not in a child pid
/// namespace), as a /proc scan as root reads every process; but a kernel may keep a task
/// from them (sandboxes hide their own agent), and its sockets would then look unowned.
/// So the processes /proc lists are compared with those the iterators saw, and one they
/// did not see — and that has not exited meanwhile — is counted as not inspected, as the
/// /proc scan counts a process it cannot read. No /proc/PID/fd is opened.
fn bpf_owners(iter: &bpf::SocketIter, wanted: &[u64]) -> Result<(Vec<(u64, u32)>, OwnerScan)> {
    let proc_dir = rustix::fs::openat(
        rustix::fs::CWD,
        c"/proc",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .context("opening /proc")?;
    // Listed first: a process that starts later is not missed by the walks after.
    let listed = fdscan::list_pids(&proc_dir).context("listing /proc")?;
    let seen = iter.processes()?;
    let found = iter.holders(wanted)?;
    let mut unseen = fdscan::FdScan::default();
    for pid in listed {
        if seen.binary_search(&pid).is_err() {
            fdscan::inaccessible(&proc_dir, pid, &mut unseen);
        }
    }
    unseen.inaccessible_uids.sort_unstable();
    unseen.inaccessible_uids.dedup();
    let scan = OwnerScan {
        ran: true,
        inaccessible: unseen.inaccessible,
        inaccessible_uids: unseen.inaccessible_uids,
        unknown_coverage: false,
        privileged: true,
    };
    Ok((by_inode(&found), scan))
}

/// (inode, pid, fd) → (inode, pid), sorted, without repeats: a process holding a socket
/// in several descriptors holds it once. (The descriptor numbers are there for whoever
/// wants them.)
fn by_inode(found: &[(u64, u32, u32)]) -> Vec<(u64, u32)> {
    let mut out: Vec<(u64, u32)> = found.iter().map(|&(inode, pid, _)| (inode, pid)).collect();
    out.dedup();
    out
}

/// Gives each socket the pids found holding its inode.
fn attach(sockets: &mut [RawSocket], holders: &[(u64, u32)]) {
    for s in sockets {
        let Some(inode) = s.inode.filter(|&i| i != 0) else {
            continue;
        };
        let start = holders.partition_point(|&(i, _)| i < inode);
        s.pids = holders[start..]
            .iter()
            .take_while(|&&(i, _)| i == inode)
            .map(|&(_, pid)| pid)
            .collect();
    }
}
