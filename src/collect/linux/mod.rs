//! The Linux fast path: sockets from netlink sock_diag (falling back to /proc/net), owners
//! from a parallel scan of /proc/*/fd that runs only when some socket matched.

use anyhow::{Result, bail};

use super::{Collector, ProcessSource, privileged};
use crate::model::{NetnsInfo, NetnsScope, OwnerScan, RawSocket, Snapshot, SocketQuery};

mod fdscan;
mod netlink;
mod netns;
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
}

pub(crate) fn collector() -> Box<dyn Collector> {
    Box::new(Linux {
        source: Source::Auto,
    })
}

/// Process details straight from /proc, in parallel.
pub(crate) fn process_source() -> Box<dyn ProcessSource> {
    Box::new(procs::ProcfsProcesses)
}

pub(crate) fn procfs_collector() -> Result<Box<dyn Collector>> {
    Ok(Box::new(Linux {
        source: Source::ProcNet,
    }))
}

impl Collector for Linux {
    fn collect(&self, query: &SocketQuery) -> Result<Snapshot> {
        let mut warnings = Vec::new();
        let mut sockets = match self.source {
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
        };
        let scan = owners(&mut sockets)?;
        Ok(Snapshot {
            sockets,
            scan,
            warnings,
            namespaces: Vec::new(),
        })
    }

    fn collect_in(&self, query: &SocketQuery, scope: &NetnsScope) -> Result<Snapshot> {
        if *scope == NetnsScope::Current {
            return self.collect(query);
        }
        if !privileged() {
            if *scope == NetnsScope::Others {
                return Ok(Snapshot::default());
            }
            let mut snapshot = self.collect(query)?;
            snapshot.warnings.push(
                "only this network namespace was read: entering another needs root \
                 (CAP_SYS_ADMIN)"
                    .to_string(),
            );
            return Ok(snapshot);
        }
        let (chosen, mut warnings) = netns::choose(scope)?;
        let read = netns::read_all(&chosen, query, self.source == Source::ProcNet);
        let mut sockets = Vec::new();
        let mut namespaces = Vec::with_capacity(chosen.len());
        for (ns, result) in chosen.iter().zip(read) {
            namespaces.push(NetnsInfo {
                inode: ns.id.inode,
                name: ns.names.first().cloned(),
                current: ns.current,
            });
            match result {
                Ok(found) => {
                    if let netns::ReadVia::ProcOf(pid) = found.via {
                        warnings.push(format!(
                            "network namespace {}: not allowed in; read /proc/{pid}/net instead",
                            ns.label()
                        ));
                    }
                    sockets.extend(found.sockets.into_iter().map(|mut s| {
                        s.netns = Some(ns.id.inode);
                        s
                    }));
                }
                // One namespace asked for by name: not reading it is the answer's failure.
                Err(e)
                    if matches!(
                        scope,
                        NetnsScope::Named(_) | NetnsScope::Pid(_) | NetnsScope::Path(_)
                    ) =>
                {
                    bail!("network namespace {}: {e}", ns.label())
                }
                Err(e) => warnings.push(format!("network namespace {}: {e}", ns.label())),
            }
        }
        // Socket inodes are one numbering for the whole kernel: one scan finds the
        // holders in every namespace.
        let scan = owners(&mut sockets)?;
        Ok(Snapshot {
            sockets,
            scan,
            warnings,
            namespaces,
        })
    }
}

/// Finds the holders of the sockets (a scan of /proc/*/fd, only when some socket has an
/// inode a process can hold).
fn owners(sockets: &mut [RawSocket]) -> Result<OwnerScan> {
    // Inode 0: no file refers to the socket any more; nobody can hold it.
    let mut wanted: Vec<u64> = Vec::with_capacity(sockets.len());
    wanted.extend(sockets.iter().filter_map(|s| s.inode).filter(|&i| i != 0));
    if wanted.is_empty() {
        return Ok(OwnerScan::default());
    }
    wanted.sort_unstable();
    wanted.dedup();
    let found = fdscan::scan(&wanted)?;
    attach(sockets, &found.holders);
    Ok(OwnerScan {
        ran: true,
        inaccessible: found.inaccessible,
        inaccessible_uids: found.inaccessible_uids,
        unknown_coverage: false,
        privileged: privileged(),
    })
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
