//! The Linux fast path: sockets from netlink sock_diag (falling back to /proc/net), owners
//! — only when some socket matched — from a BPF iterator over every task's descriptors
//! where it can run, else from a parallel scan of /proc/*/fd.

use std::cell::{OnceCell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};

use super::{Collector, OwnerPath, ProcessSource, privileged};
use crate::model::{
    NetnsInfo, NetnsScope, OwnerScan, PortSet, Process, Protocol, RawSocket, Snapshot, SocketFlag,
    SocketQuery,
};

mod bpf;
mod fdscan;
mod hidepid;
mod netlink;
mod netns;
mod parallel;
mod procnet;
mod procs;

// The parser of a `/proc/PID/fd` link, for `act`, which checks a holder again before it
// signals it.
pub(crate) use fdscan::socket_inode;

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
    /// The BPF iterators, loaded at the first owner scan and kept for the next ones
    /// (`watch`); or why they cannot be used.
    bpf: OnceCell<Result<bpf::SocketIter, String>>,
    /// The pids /proc listed while the iterators were being loaded, for the BPF scan
    /// that follows (which lists them itself otherwise).
    listed: RefCell<Option<Vec<u32>>>,
    /// The other network namespaces, being found on a thread of their own while the
    /// sockets are dumped (`look_ahead_to_others`), for the free-port hint.
    census: RefCell<Option<Census>>,
}

/// The other namespaces being found on a thread of their own (`look_ahead_to_others`).
struct Census {
    thread: std::thread::JoinHandle<Option<netns::Enumeration>>,
    /// Set when the sockets dumped show that no port asked about is free: the hint will
    /// not be wanted, and the thread stops where it is.
    stop: Arc<AtomicBool>,
}

impl Linux {
    fn boxed(source: Source, owners: OwnerPath, debug: bool) -> Box<dyn Collector> {
        Box::new(Linux {
            source,
            owners,
            debug,
            bpf: OnceCell::new(),
            listed: RefCell::new(None),
            census: RefCell::new(None),
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
    /// The census of the other namespaces (a readlink of every process's
    /// `/proc/PID/ns/net`) costs about what the kernel's walk of its TCP table does for
    /// a dump filtered by port: the two run side by side, and a free port's answer waits
    /// for the longer one instead of both. Root only (only then are others looked at).
    fn look_ahead_to_others(&self) {
        // One left from an earlier pass (`watch`) is stale: stopped, and never used.
        if let Some(old) = self.census.take() {
            old.stop.store(true, Ordering::Relaxed);
        }
        if privileged() {
            let stop = Arc::new(AtomicBool::new(false));
            let stop_here = Arc::clone(&stop);
            // One thread: the other core is the kernel's, walking its socket tables for
            // this thread's caller.
            let started = std::thread::Builder::new()
                .name("netns census".into())
                .spawn(move || netns::enumerate_on(1, &stop_here));
            // Without a thread the census runs when it is needed, as it did before.
            *self.census.borrow_mut() = started.ok().map(|thread| Census { thread, stop });
        }
    }

    /// sock_diag (or /proc/net) alone: no owner scan (`wait`, `watch`).
    fn sockets(&self, query: &SocketQuery) -> Result<Vec<RawSocket>> {
        self.dump(query, &mut Vec::new())
    }

    fn collect(&self, query: &SocketQuery) -> Result<Snapshot> {
        let mut warnings = Vec::new();
        // Listing every port, owners are as good as certain to be needed: the iterators
        // are loaded (the kernel's BTF read, the programs verified) before the sockets are
        // dumped, so that the walk follows the dump at once (a socket that lives a few
        // milliseconds is then still there to be found: loading while dumping put the
        // loading's time between the two, and a test of listeners that live 0–20 ms saw
        // none). For given ports they are loaded only if some socket matched (a free port
        // costs no scan at all). While they load, this thread lists the processes there
        // are before the walk.
        if query.owners
            && query.ports.is_none()
            && self.owners != OwnerPath::Procfs
            && self.bpf.get().is_none()
        {
            let loaded = std::thread::scope(|scope| {
                let loading = scope.spawn(|| bpf::SocketIter::load().map_err(|e| format!("{e:#}")));
                *self.listed.borrow_mut() = fdscan::list_pids_now().ok();
                loading.join()
            });
            let loaded = match loaded {
                Ok(loaded) => loaded,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            // Set only here (the cell was empty): a second set cannot happen.
            let _ = self.bpf.set(loaded);
        }
        let sockets = self.dump(query, &mut warnings)?;
        // Every port asked about has a socket: none is free, the hint will not be wanted.
        if let Some(census) = self.census.borrow().as_ref()
            && let Some(ports) = &query.ports
            && every_port_has_a_socket(ports, &sockets)
        {
            census.stop.store(true, Ordering::Relaxed);
        }
        let snapshot = finish(
            sockets,
            query,
            warnings,
            Vec::new(),
            &|q| self.dump(q, &mut Vec::new()),
            &|wanted| self.owners(wanted),
        );
        // Good for this scan only.
        self.listed.borrow_mut().take();
        snapshot
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
        let ahead = match scope {
            // A thread that panicked only loses the head start.
            NetnsScope::Others => self
                .census
                .take()
                .and_then(|census| census.thread.join().ok().flatten()),
            _ => None,
        };
        let (chosen, mut warnings) = netns::choose(scope, ahead)?;
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
                        s.netns = std::num::NonZeroU64::new(ns.id.inode);
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
        let procfs = self.source == Source::ProcNet;
        finish(
            sockets,
            query,
            warnings,
            namespaces,
            &|q| {
                let mut again = Vec::new();
                for (ns, result) in chosen.iter().zip(netns::read_all(&chosen, q, procfs)) {
                    if let Ok(found) = result {
                        again.extend(found.sockets.into_iter().map(|mut s| {
                            s.netns = std::num::NonZeroU64::new(ns.id.inode);
                            s
                        }));
                    }
                }
                Ok(again)
            },
            &|wanted| self.owners(wanted),
        )
    }
}

/// Whether every port of a (small) set has one of the sockets; `false` for a set of more
/// than 64 ports, not looked at one by one.
fn every_port_has_a_socket(ports: &PortSet, sockets: &[RawSocket]) -> bool {
    let count: usize = ports
        .ranges()
        .iter()
        .map(|&(low, high)| usize::from(high.saturating_sub(low)) + 1)
        .sum();
    count <= 64
        && ports
            .ranges()
            .iter()
            .flat_map(|&(low, high)| low..=high)
            .all(|port| sockets.iter().any(|s| s.local_port == port))
}

/// An owner scan: the holders of the wanted sockets.
type OwnerScanFn<'a> = &'a dyn Fn(&[u64]) -> Result<fdscan::FdScan>;

impl Linux {
    /// The holders of the wanted sockets (inodes, sorted), from the BPF iterators where
    /// they can run, else from the /proc scan.
    fn owners(&self, wanted: &[u64]) -> Result<fdscan::FdScan> {
        if self.owners != OwnerPath::Procfs {
            let iter = self
                .bpf
                .get_or_init(|| bpf::SocketIter::load().map_err(|e| format!("{e:#}")));
            let found = match iter {
                Ok(iter) => bpf_owners(iter, wanted, self.listed.borrow_mut().take())
                    .map_err(|e| format!("{e:#}")),
                Err(why) => Err(why.clone()),
            };
            match found {
                Ok(found) => {
                    if let Ok(iter) = iter {
                        self.note(&format!("owners from {}", iter.describe()));
                    }
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
        fdscan::scan(wanted)
    }

    /// A debug note on standard error (`--debug`): how the answer was found. Never part
    /// of the answer, which is the same either way.
    fn note(&self, what: &str) {
        if self.debug {
            eprintln!("whoport: debug: {what}");
        }
    }

    fn dump(&self, query: &SocketQuery, warnings: &mut Vec<String>) -> Result<Vec<RawSocket>> {
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
    }
}

/// From the sockets read to the snapshot: their holders (a scan of /proc/*/fd, only when
/// some socket has an inode a process can hold), connections in accept queues given to
/// their listeners', and the sockets without a holder looked up again (`dump` reads what
/// a query asks for in the namespaces read).
fn finish(
    mut sockets: Vec<RawSocket>,
    query: &SocketQuery,
    mut warnings: Vec<String>,
    namespaces: Vec<NetnsInfo>,
    dump: &dyn Fn(&SocketQuery) -> Result<Vec<RawSocket>>,
    owners: OwnerScanFn,
) -> Result<Snapshot> {
    // Connections waiting in an accept queue have no descriptor yet: they belong to
    // their listener's holders, so the listeners are needed even where the query
    // leaves them out (`-a` with a family filter, a state the query excludes).
    let children_ports: Vec<(u16, u16)> = sockets
        .iter()
        .filter(|s| super::awaits_accept(s))
        .map(|s| (s.local_port, s.local_port))
        .collect();
    let mut listeners = Vec::new();
    if !children_ports.is_empty() {
        let listener_query = SocketQuery {
            ports: Some(PortSet::new(children_ports)),
            tcp: true,
            udp: false,
            ipv4: true,
            ipv6: true,
            listening_only: true,
            owners: true,
        };
        listeners = dump(&listener_query)?;
        listeners.retain(|l| l.protocol == Protocol::Tcp);
    }
    let mut scan = OwnerScan::default();
    let mut processes = Vec::new();
    let mut cgroups = Vec::new();
    // Inode 0: no file refers to the socket any more; nobody can hold it.
    let mut wanted: Vec<u64> = Vec::with_capacity(sockets.len() + listeners.len());
    wanted.extend(
        sockets
            .iter()
            .chain(&listeners)
            .filter_map(|s| s.inode)
            .filter(|&i| i != 0),
    );
    if !wanted.is_empty() && query.owners {
        wanted.sort_unstable();
        wanted.dedup();
        let found = owners(&wanted)?;
        attach(&mut sockets, &found.holders, &found.thread_held);
        attach(&mut listeners, &found.holders, &found.thread_held);
        // A process that could not be read only because it was exiting hid nothing.
        let mut inaccessible = found.inaccessible;
        inaccessible.retain(|&(pid, _, _)| fdscan::still_holds_files(pid));
        let mut inaccessible_uids: Vec<u32> =
            inaccessible.iter().filter_map(|&(_, uid, _)| uid).collect();
        inaccessible_uids.sort_unstable();
        inaccessible_uids.dedup();
        let privileged = privileged();
        let restricted = if privileged {
            None
        } else {
            hidepid::restricted()
        };
        if let Some(how) = &restricted {
            warnings.push(format!(
                "/proc is mounted with {how}: other users' processes are invisible to \
                     this run, so the process list is incomplete and the owners of their \
                     sockets are hidden (they cannot even be counted); run as root to see them"
            ));
        }
        scan = OwnerScan {
            ran: true,
            inaccessible: u32::try_from(inaccessible.len()).unwrap_or(u32::MAX),
            inaccessible_uids,
            inaccessible_identities: inaccessible
                .into_iter()
                .map(|(pid, uid, name)| Process {
                    name,
                    uid,
                    ..Process::unknown(pid)
                })
                .collect(),
            unknown_coverage: false,
            privileged,
            restricted_proc: restricted.is_some(),
            child_pid_namespace: in_child_pid_namespace(),
        };
        processes = found.details;
        cgroups = found.cgroups;
    }
    let all_listeners: Vec<&RawSocket> = listeners.iter().collect();
    super::attribute_accept_queue(&mut sockets, &all_listeners);
    // A socket closed while the processes were read has no holder any more: look
    // again, and leave out those that are gone rather than call them hidden.
    if query.owners
        && sockets
            .iter()
            .any(|s| s.pids.is_empty() && s.inode.is_some_and(|i| i != 0))
    {
        // Only their ports and protocols: a query for one port costs a few messages.
        let unowned = || {
            sockets
                .iter()
                .filter(|s| s.pids.is_empty() && s.inode.is_some_and(|i| i != 0))
        };
        let again = SocketQuery {
            ports: Some(PortSet::new(
                unowned().map(|s| (s.local_port, s.local_port)).collect(),
            )),
            tcp: unowned().any(|s| s.protocol.base() == Protocol::Tcp),
            udp: unowned().any(|s| s.protocol.base() == Protocol::Udp),
            ..query.clone()
        };
        let now = dump(&again)?;
        let mut alive: Vec<(Protocol, u64)> = now
            .iter()
            .filter_map(|s| Some((s.protocol, s.inode?)))
            .collect();
        alive.sort_unstable();
        sockets.retain(|s| match s.inode {
            Some(i) if i != 0 && s.pids.is_empty() => alive.binary_search(&(s.protocol, i)).is_ok(),
            _ => true,
        });
    }
    Ok(Snapshot {
        sockets,
        scan,
        warnings,
        namespaces,
        processes,
        cgroups,
    })
}

/// The inode of the initial pid namespace (`PROC_PID_INIT_INO` in the kernel's
/// `include/linux/proc_ns.h`, fixed since 3.8).
const INITIAL_PID_NAMESPACE: &[u8] = b"pid:[4026531836]";

/// Whether this process runs in a pid namespace other than the initial one, from its
/// `/proc/self/ns/pid` link (which `NSpid` cannot tell inside a container with a /proc
/// of its own). Unreadable: not known to be, so not said.
fn in_child_pid_namespace() -> bool {
    rustix::fs::readlinkat(rustix::fs::CWD, c"/proc/self/ns/pid", Vec::new())
        .is_ok_and(|link| link.as_bytes() != INITIAL_PID_NAMESPACE)
}

/// Gives each socket the pids (and descriptors) found holding its inode.
fn attach(sockets: &mut [RawSocket], holders: &[(u64, u32, u32)], thread_held: &[u64]) {
    for s in sockets {
        let Some(inode) = s.inode.filter(|&i| i != 0) else {
            continue;
        };
        let start = holders.partition_point(|&(i, _, _)| i < inode);
        let found = holders[start..].iter().take_while(|&&(i, _, _)| i == inode);
        s.fds = found.clone().map(|&(_, pid, fd)| (pid, fd)).collect();
        let mut pids: Vec<u32> = found.map(|&(_, pid, _)| pid).collect();
        pids.dedup();
        s.pids = pids.into();
        if thread_held.binary_search(&inode).is_ok() {
            s.marks.push(SocketFlag::HeldByThread);
        }
    }
}

/// Owners from the BPF iterators, as the /proc scan gives them (`fdscan::FdScan`). The
/// iterators walk every task of this pid namespace whoever owns it (they run only with
/// CAP_BPF + CAP_PERFMON or as root, and not in a child pid namespace), as a /proc scan
/// as root reads every process; but a kernel may keep a task from them (sandboxes hide
/// their own agent), and its sockets would then look unowned. So the processes /proc
/// lists are compared with those the iterators saw, and one they did not see — and that
/// has not exited meanwhile — is counted as not inspected, as the /proc scan counts a
/// process it cannot read. A thread with a descriptor table of its own (not the leader's)
/// is reported by the program, marked; as the /proc scan does, its descriptors count only
/// for sockets no process's own table holds. No /proc/PID/fd is opened.
fn bpf_owners(
    iter: &bpf::SocketIter,
    wanted: &[u64],
    listed: Option<Vec<u32>>,
) -> Result<fdscan::FdScan> {
    let proc_dir = rustix::fs::openat(
        rustix::fs::CWD,
        c"/proc",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .context("opening /proc")?;
    // Listed first (here, or while the iterators were loaded): a process that starts
    // later is not missed by the walks after.
    let listed = match listed {
        Some(listed) => listed,
        None => fdscan::list_pids(&proc_dir).context("listing /proc")?,
    };
    let bpf::Scan {
        holders: found,
        processes: seen,
        idents,
    } = iter.scan(wanted)?;
    let mut out = fdscan::FdScan::default();
    // (inode, pid, fd), sorted; those of threads' own tables only where no process's
    // table holds the inode. Read from `found` in place (one holder per wanted socket:
    // on a busy host, tens of thousands), not split into two copies.
    let threads = || found.iter().filter(|h| h.thread);
    out.holders.reserve_exact(found.len() - threads().count());
    out.holders.extend(
        found
            .iter()
            .filter(|h| !h.thread)
            .map(|h| (h.inode, h.pid, h.fd)),
    );
    for h in threads() {
        let at = out.holders.partition_point(|&(i, _, _)| i < h.inode);
        if out.holders.get(at).is_none_or(|&(i, _, _)| i != h.inode) {
            out.thread_held.push(h.inode);
        }
    }
    out.thread_held.sort_unstable();
    out.thread_held.dedup();
    out.holders.extend(
        threads()
            .filter(|h| out.thread_held.binary_search(&h.inode).is_ok())
            .map(|h| (h.inode, h.pid, h.fd)),
    );
    drop(found);
    out.holders.sort_unstable();
    out.holders.dedup();
    // The holders' details, as the /proc scan reads them; a holder gone meanwhile held
    // nothing any more.
    let mut pids: Vec<u32> = out.holders.iter().map(|&(_, pid, _)| pid).collect();
    pids.sort_unstable();
    pids.dedup();
    let parts = parallel::for_each(&pids, 32, Vec::new, |details: &mut Vec<_>, &pid| {
        let known = idents
            .binary_search_by_key(&pid, |i| i.pid)
            .ok()
            .and_then(|at| Some((idents[at].comm(), idents[at].uid?)));
        details.extend(fdscan::details_with(&proc_dir, pid, known));
    });
    let mut details = Vec::with_capacity(pids.len());
    for (process, cgroup) in parts.into_iter().flatten() {
        out.cgroups.extend(cgroup.map(|c| (process.pid, c)));
        details.push(process);
    }
    details.sort_by_key(|p| p.pid);
    out.holders
        .retain(|&(_, pid, _)| details.binary_search_by_key(&pid, |p| p.pid).is_ok());
    out.details = details;
    for pid in listed {
        if seen.binary_search(&pid).is_err() {
            fdscan::unseen(&proc_dir, pid, &mut out);
        }
    }
    out.inaccessible.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::every_port_has_a_socket;
    use crate::model::{NoneReason, Owner, PortSet, Protocol, RawSocket, State, testing};

    fn on(port: u16) -> RawSocket {
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let owner = Owner::None {
            reason: NoneReason::NoFile,
        };
        testing::socket(Protocol::Tcp, any, port, State::Listen, owner).raw
    }

    #[test]
    fn the_hint_is_given_up_only_when_every_port_asked_has_a_socket() {
        let sockets = [on(80), on(443)];
        let set = |ranges: &[(u16, u16)]| PortSet::new(ranges.to_vec());
        assert!(every_port_has_a_socket(&set(&[(80, 80)]), &sockets));
        assert!(every_port_has_a_socket(
            &set(&[(80, 80), (443, 443)]),
            &sockets
        ));
        // 8080 is free: its hint may be wanted.
        assert!(!every_port_has_a_socket(
            &set(&[(80, 80), (8080, 8080)]),
            &sockets
        ));
        assert!(!every_port_has_a_socket(&set(&[(80, 81)]), &sockets));
        // A wide range is not looked at port by port.
        let wide: Vec<RawSocket> = (1000..1100).map(on).collect();
        assert!(!every_port_has_a_socket(&set(&[(1000, 1099)]), &wide));
    }
}
