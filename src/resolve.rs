//! From a raw snapshot to a report: decide each socket's owner honestly, add process
//! details, apply the filters that need owners (`--pid`, `--user`), and order the result.
//! Pure: the process details come from an injected [`ProcessSource`], user names from the
//! injected [`Host`].

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use crate::collect::ProcessSource;
use crate::host::Host;
use crate::model::{
    Filters, HiddenReason, Name, NetnsInfo, NoneReason, Owner, OwnerScan, PortArg, PortInfo,
    Process, RangeClass, RawSocket, Report, Snapshot, Socket, SocketContext, SocketFlag,
    SocketKnowledge,
};

/// Raw sockets turned into sockets at a time (see `build`).
const BLOCK: usize = 2048;

pub(crate) fn build(
    snapshot: Snapshot,
    filters: &Filters,
    details: &dyn ProcessSource,
    host: &dyn Host,
) -> Report {
    let Snapshot {
        sockets: mut raw,
        scan,
        mut warnings,
        processes: read_with_scan,
        namespaces,
        cgroups: _,
    } = snapshot;
    // Sorted before the sockets grow owners and names, through an order of indices: a
    // stable sort of the sockets themselves would copy as much again (its scratch
    // space), the index with the key makes the order as stable, and the sockets are
    // then put in that order in place.
    raw.shrink_to_fit();
    sort_in_place(&mut raw);
    let pids: Vec<u32> = raw
        .iter()
        .flat_map(|s| s.pids.iter().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Details the collector read with its scan; the rest from the process source. One
    // entry per holder, sorted by pid (looked up by binary search: no map of them all).
    let mut found: Vec<Process> = read_with_scan;
    found.sort_unstable_by_key(|p| p.pid);
    found.dedup_by_key(|p| p.pid);
    let has = |found: &[Process], pid: u32| found.binary_search_by_key(&pid, |p| p.pid).is_ok();
    let missing: Vec<u32> = pids.iter().copied().filter(|&p| !has(&found, p)).collect();
    if !missing.is_empty() {
        let mut read = details.processes(&missing);
        // A pid that exited meanwhile keeps only its number.
        found.extend(
            missing
                .iter()
                .map(|&pid| read.remove(&pid).unwrap_or_else(|| Process::unknown(pid))),
        );
        found.sort_unstable_by_key(|p| p.pid);
    }
    drop(missing);
    drop(pids);
    found.shrink_to_fit();
    let mut user_names: HashMap<u32, Option<Name>> = HashMap::new();
    let mut name_of = |uid: u32| {
        user_names
            .entry(uid)
            .or_insert_with(|| host.user_name(uid).as_deref().map(Name::from))
            .clone()
    };
    for p in found.iter_mut() {
        if p.user.is_none() {
            p.user = p.uid.and_then(&mut name_of);
        }
        p.context.argv0_is_exe = argv0_is_exe(p, host);
    }
    // One shared list per set of holders (a process with a thousand sockets is one copy),
    // each process moved into the first list that has it and copied only into the next.
    // By the holder's place in `found`: the list it was moved into, and the list of it
    // alone; lists of several holders by their pids.
    let mut placed: Vec<Option<(Arc<[Process]>, usize)>> = vec![None; found.len()];
    let mut alone: Vec<Option<Arc<[Process]>>> = vec![None; found.len()];
    let mut lists: HashMap<Box<[u32]>, Arc<[Process]>> = HashMap::new();
    // The pids of `found`, which keep their places as processes are moved out.
    let index: Vec<u32> = found.iter().map(|p| p.pid).collect();
    let at = |pid: u32| index.binary_search(&pid).ok();
    let mut resolve = |raw: RawSocket| {
        let owner = owner_of(&raw, &scan, &mut name_of, |pids| {
            let known = match pids {
                [one] => at(*one).and_then(|i| alone[i].as_ref()),
                _ => lists.get(pids),
            };
            if let Some(list) = known {
                return Arc::clone(list);
            }
            let list: Arc<[Process]> = pids
                .iter()
                .map(|&pid| match at(pid) {
                    Some(i) => match &placed[i] {
                        Some((list, j)) => list[*j].clone(),
                        None => std::mem::replace(&mut found[i], Process::unknown(pid)),
                    },
                    None => Process::unknown(pid),
                })
                .collect::<Vec<_>>()
                .into();
            for (j, &pid) in pids.iter().enumerate() {
                if let Some(i) = at(pid)
                    && placed[i].is_none()
                {
                    placed[i] = Some((Arc::clone(&list), j));
                }
            }
            match pids {
                [one] => {
                    if let Some(i) = at(*one) {
                        alone[i] = Some(Arc::clone(&list));
                    }
                }
                _ => {
                    lists.insert(pids.into(), Arc::clone(&list));
                }
            }
            list
        });
        let mut flags = raw.marks;
        if is_dual_stack(&raw) {
            flags.push(SocketFlag::DualStack);
        }
        if raw.is_ipv4_mapped() {
            flags.push(SocketFlag::Ipv4Mapped);
        }
        let user = raw.uid.and_then(&mut name_of);
        let netns = raw.netns.map(|inode| {
            let inode = inode.get();
            namespaces
                .iter()
                .find(|n| n.inode == inode)
                .cloned()
                .unwrap_or(NetnsInfo {
                    inode,
                    name: None,
                    current: false,
                })
        });
        Socket {
            user,
            raw,
            owner,
            flags,
            knowledge: SocketKnowledge::default(),
            context: netns.map(|n| {
                Box::new(SocketContext {
                    netns: Some(Box::new(n)),
                    ..SocketContext::default()
                })
            }),
        }
    };
    // Built from the back a block at a time, each block's memory handed back as it goes:
    // the raw sockets and the sockets are never both whole in memory (on a busy host,
    // with every socket asked for, that is megabytes).
    let mut sockets: Vec<Socket> = Vec::with_capacity(raw.len());
    while !raw.is_empty() {
        let block = raw.split_off(raw.len().saturating_sub(BLOCK));
        raw.shrink_to_fit();
        sockets.extend(block.into_iter().rev().map(&mut resolve));
    }
    sockets.reverse();
    // What the holders were looked up in, before the report grows further.
    drop(raw);
    drop((found, placed, alone, lists, index));
    sockets.retain(|s| keep(s, filters));
    warnings.extend(scan_warning(&scan, &sockets));
    let ports = port_infos(&filters.port_args, &sockets);
    Report {
        sockets,
        ports,
        warnings: std::mem::take(&mut warnings),
        scan,
        ..Report::default()
    }
}

/// Whether a process's argv\[0\], an absolute path that names another program than its
/// executable, leads to that very executable through symbolic links (`/sbin/init` →
/// `/usr/lib/systemd/systemd`). Asked only of processes whose argv\[0\] differs.
fn argv0_is_exe(p: &Process, host: &dyn Host) -> bool {
    let (Some(exe), Some(argv0)) = (p.exe.as_deref(), p.cmdline.as_ref().and_then(|a| a.first()))
    else {
        return false;
    };
    if !argv0.starts_with('/') || p.name_mismatch() != Some(true) || p.exe_deleted {
        return false;
    }
    host.real_path(std::path::Path::new(argv0))
        .is_some_and(|real| real.as_os_str() == std::ffi::OsStr::new(exe))
}

/// The owner of one socket, from what the scan saw.
pub(crate) fn owner_of(
    raw: &RawSocket,
    scan: &OwnerScan,
    user_name: impl FnOnce(u32) -> Option<Name>,
    processes: impl FnOnce(&[u32]) -> Arc<[Process]>,
) -> Owner {
    if !raw.pids.is_empty() {
        return Owner::Known(processes(&raw.pids));
    }
    let reason = if raw.marks.contains(&SocketFlag::AwaitingAccept) {
        // In an accept queue, but whose listener it is could not be told.
        HiddenReason::AwaitingAccept
    } else if raw.inode == Some(0) {
        return Owner::None {
            reason: NoneReason::NoFile,
        };
    } else if scan.complete() && raw.inode.is_some() {
        // Every process was read and none has it open. That is a kernel socket, or a
        // descriptor in flight in a UNIX socket's queue, which no process table shows:
        // not certain enough for "none". In a child pid namespace, "every process" is
        // every process of that namespace: one outside may hold it.
        if scan.child_pid_namespace {
            HiddenReason::OutsidePidNamespace
        } else {
            HiddenReason::NotInAnyProcess
        }
    } else if scan.privileged {
        HiddenReason::Unreadable
    } else {
        HiddenReason::NotPermitted
    };
    Owner::Hidden {
        reason,
        uid: raw.uid,
        user: raw.uid.and_then(user_name),
    }
}

/// What the user must know about processes the scan could not read: that some owners
/// are hidden, or (not root) that the owners listed may be incomplete.
fn scan_warning(scan: &OwnerScan, sockets: &[Socket]) -> Option<String> {
    if scan.inaccessible == 0 {
        return None;
    }
    let hidden = sockets
        .iter()
        .filter(|s| matches!(s.owner, Owner::Hidden { .. }))
        .count();
    let uids: Vec<String> = scan.inaccessible_uids.iter().map(u32::to_string).collect();
    let who = format!(
        "{} process{} (uid {}) could not be inspected{}",
        scan.inaccessible,
        if scan.inaccessible == 1 { "" } else { "es" },
        uids.join(", "),
        if scan.privileged { " even as root" } else { "" },
    );
    let advice = if scan.privileged {
        ""
    } else {
        "; run as root to see them"
    };
    if hidden > 0 {
        Some(format!(
            "{who}: the owner of {hidden} socket{} is hidden{advice}",
            if hidden == 1 { "" } else { "s" }
        ))
    } else if !scan.privileged && !sockets.is_empty() {
        Some(format!(
            "{who}: other owners may hold these sockets too{advice}"
        ))
    } else {
        None
    }
}

fn is_dual_stack(raw: &RawSocket) -> bool {
    match raw.local_address {
        IpAddr::V6(a) => a.is_unspecified() && raw.v6only == Some(false),
        IpAddr::V4(_) => false,
    }
}

fn keep(s: &Socket, filters: &Filters) -> bool {
    let pid_ok = filters
        .pid
        .is_none_or(|pid| s.owner.processes().iter().any(|p| p.pid == pid));
    let user_ok = filters.user.as_ref().is_none_or(|u| {
        s.raw.uid == Some(u.uid) || s.owner.processes().iter().any(|p| p.uid == Some(u.uid))
    });
    pid_ok && user_ok
}

/// Sorts the raw sockets by [`order_key`], equal keys in the order they came (as a stable
/// sort), without a second copy of them: an order of indices is sorted, then followed.
fn sort_in_place(raw: &mut [RawSocket]) {
    let Ok(n) = u32::try_from(raw.len()) else {
        raw.sort_by_key(order_key);
        return;
    };
    let mut order: Vec<u32> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| {
        order_key(&raw[a as usize])
            .cmp(&order_key(&raw[b as usize]))
            .then(a.cmp(&b))
    });
    // `order[i]` is where the socket that belongs at `i` is; each cycle of moves is
    // followed once, and marked done.
    const DONE: u32 = u32::MAX;
    for start in 0..order.len() {
        let mut at = start;
        loop {
            let from = order[at];
            if from == DONE {
                break;
            }
            order[at] = DONE;
            let from = from as usize;
            if from == start {
                break;
            }
            raw.swap(at, from);
            at = from;
        }
    }
}

type OrderKey = (u16, crate::model::Protocol, u8, IpAddr, IpAddr, u16, u64);

fn order_key(s: &RawSocket) -> OrderKey {
    (
        s.local_port,
        s.protocol,
        // Listeners first, then the rest by state.
        u8::from(!s.state.is_listening()),
        s.local_address,
        s.remote_address,
        s.remote_port,
        s.inode.unwrap_or(0),
    )
}

/// One entry per port asked about: each single port, and each port of a range that has
/// sockets (a range can hold 65535 ports).
fn port_infos(args: &[PortArg], sockets: &[Socket]) -> Vec<PortInfo> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    // The sockets are in port order (`order_key`): a port's are one run of them.
    let count = |port: u16| {
        let start = sockets.partition_point(|s| s.raw.local_port < port);
        sockets[start..].partition_point(|s| s.raw.local_port == port)
    };
    for arg in args {
        let ports: Vec<u16> = match *arg {
            PortArg::Single(p) | PortArg::Named(p) => vec![p],
            PortArg::Range(lo, hi) => sockets
                .iter()
                .map(|s| s.raw.local_port)
                .filter(|p| (lo..=hi).contains(p))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        };
        for port in ports {
            if seen.insert(port) {
                out.push(PortInfo {
                    port,
                    range: RangeClass::of(port),
                    sockets: count(port),
                    iana: Vec::new(),
                    notes: Vec::new(),
                    in_ephemeral_range: None,
                    left_out: None,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Protocol, State};
    use std::net::Ipv4Addr;

    fn raw(inode: Option<u64>, pids: Vec<u32>) -> RawSocket {
        RawSocket {
            protocol: Protocol::Tcp,
            local_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            local_port: 8080,
            remote_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            remote_port: 0,
            state: State::Listen,
            uid: Some(1001),
            inode,
            v6only: None,
            pids: pids.into(),
            fds: crate::model::Few::default(),
            marks: crate::model::Flags::default(),
            netns: None,
        }
    }

    fn bare(pids: &[u32]) -> Arc<[Process]> {
        pids.iter().map(|&pid| Process::unknown(pid)).collect()
    }

    #[test]
    fn sorting_in_place_is_a_stable_sort() {
        // Equal keys (same port, same inode) told apart by their pids: their order must
        // be the one they came in.
        let mut seed = 7u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            seed >> 16
        };
        for n in [0usize, 1, 2, 3, 10, 257] {
            let sockets: Vec<RawSocket> = (0..n)
                .map(|i| {
                    let mut s = raw(Some(u64::from(next() % 4)), vec![i as u32]);
                    s.local_port = (next() % 5) as u16;
                    s
                })
                .collect();
            let mut stable = sockets.clone();
            stable.sort_by_key(order_key);
            let mut ours = sockets;
            sort_in_place(&mut ours);
            assert_eq!(ours, stable, "{n} sockets");
        }
    }

    #[test]
    fn owners_are_honest() {
        let complete = OwnerScan {
            ran: true,
            privileged: true,
            ..OwnerScan::default()
        };
        let partial = OwnerScan {
            ran: true,
            inaccessible: 3,
            inaccessible_uids: vec![1001],
            inaccessible_identities: Vec::new(),
            unknown_coverage: false,
            privileged: false,
            restricted_proc: false,
            child_pid_namespace: false,
        };
        let unknown = OwnerScan {
            ran: true,
            unknown_coverage: true,
            ..OwnerScan::default()
        };
        // Holders found: known, whatever else the scan missed.
        assert_eq!(
            owner_of(&raw(Some(5), vec![7, 9]), &partial, |_| None, bare).kind(),
            "known"
        );
        assert_eq!(
            owner_of(&raw(Some(5), vec![7]), &partial, |_| None, bare)
                .processes()
                .len(),
            1
        );
        // No file: nobody can hold it.
        assert_eq!(
            owner_of(&raw(Some(0), vec![]), &partial, |_| None, bare),
            Owner::None {
                reason: NoneReason::NoFile
            }
        );
        // Everything was read and nobody holds it: a kernel socket, or a descriptor in
        // flight, which cannot be told apart: not "none".
        assert!(matches!(
            owner_of(&raw(Some(5), vec![]), &complete, |_| None, bare),
            Owner::Hidden {
                reason: HiddenReason::NotInAnyProcess,
                ..
            }
        ));
        // The same in a child pid namespace: a process outside it may hold it.
        let nested = OwnerScan {
            child_pid_namespace: true,
            ..complete.clone()
        };
        assert!(matches!(
            owner_of(&raw(Some(5), vec![]), &nested, |_| None, bare),
            Owner::Hidden {
                reason: HiddenReason::OutsidePidNamespace,
                ..
            }
        ));
        // In an accept queue, its listener not known: hidden, not "closed".
        let mut queued = raw(Some(0), vec![]);
        queued.marks.push(SocketFlag::AwaitingAccept);
        assert!(matches!(
            owner_of(&queued, &complete, |_| None, bare),
            Owner::Hidden {
                reason: HiddenReason::AwaitingAccept,
                ..
            }
        ));
        // Some processes could not be read: hidden, never "none", and the uid is kept.
        for scan in [&partial, &unknown] {
            match owner_of(&raw(Some(5), vec![]), scan, |_| None, bare) {
                Owner::Hidden { uid, .. } => assert_eq!(uid, Some(1001)),
                other => panic!("expected hidden, got {other:?}"),
            }
        }
        // As root, the reason says that root could not see it either.
        let as_root = OwnerScan {
            privileged: true,
            ..partial.clone()
        };
        assert!(matches!(
            owner_of(&raw(Some(5), vec![]), &as_root, |_| None, bare),
            Owner::Hidden {
                reason: HiddenReason::Unreadable,
                ..
            }
        ));
        // Without root nothing is certain: hidepid may hide processes from the scan.
        let unprivileged = OwnerScan {
            privileged: false,
            ..complete.clone()
        };
        assert_eq!(
            owner_of(&raw(Some(5), vec![]), &unprivileged, |_| None, bare).kind(),
            "hidden"
        );
        // No inode to look for (portable path elsewhere): not certain either.
        assert_eq!(
            owner_of(&raw(None, vec![]), &complete, |_| None, bare).kind(),
            "hidden"
        );
    }
}
