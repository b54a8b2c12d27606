//! The Linux fast path: sockets from netlink sock_diag (falling back to /proc/net), owners
//! from a parallel scan of /proc/*/fd that runs only when some socket matched.

use anyhow::Result;

use super::{Collector, ProcessSource, privileged};
use crate::config::SocketQuery;
use crate::model::{OwnerScan, RawSocket, Snapshot};

mod fdscan;
mod netlink;
// Used by `--netns` (wired in after the restructure of main).
#[allow(dead_code)]
pub mod netns;
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

pub fn collector() -> Box<dyn Collector> {
    Box::new(Linux {
        source: Source::Auto,
    })
}

/// Process details straight from /proc, in parallel.
pub fn process_source() -> Box<dyn ProcessSource> {
    Box::new(procs::ProcfsProcesses)
}

pub fn procfs_collector() -> Result<Box<dyn Collector>> {
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
        let mut scan = OwnerScan::default();
        // Inode 0: no file refers to the socket any more; nobody can hold it.
        let mut wanted: Vec<u64> = Vec::with_capacity(sockets.len());
        wanted.extend(sockets.iter().filter_map(|s| s.inode).filter(|&i| i != 0));
        if !wanted.is_empty() {
            wanted.sort_unstable();
            wanted.dedup();
            let found = fdscan::scan(&wanted)?;
            attach(&mut sockets, &found.holders);
            scan = OwnerScan {
                ran: true,
                inaccessible: found.inaccessible,
                inaccessible_uids: found.inaccessible_uids,
                unknown_coverage: false,
                privileged: privileged(),
            };
        }
        Ok(Snapshot {
            sockets,
            scan,
            warnings,
        })
    }
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
