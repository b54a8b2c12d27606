//! From a raw snapshot to a report: decide each socket's owner honestly, add process
//! details, apply the filters that need owners (`--pid`, `--user`), and order the result.
//! Pure: the process details come from an injected [`ProcessSource`].

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::collect::{ProcessSource, user_name};
use crate::config::{Config, PortArg};
use crate::model::{
    HiddenReason, NoneReason, Owner, OwnerScan, PortInfo, Process, RangeClass, RawSocket, Report,
    Snapshot, Socket, SocketKnowledge,
};

pub fn build(snapshot: Snapshot, config: &Config, details: &dyn ProcessSource) -> Report {
    let Snapshot {
        sockets: raw,
        scan,
        mut warnings,
    } = snapshot;
    let pids: Vec<u32> = raw
        .iter()
        .flat_map(|s| s.pids.iter().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let processes = details.processes(&pids);
    let mut sockets: Vec<Socket> = raw
        .into_iter()
        .map(|raw| {
            let owner = owner_of(&raw, &scan, |pid| {
                processes
                    .get(&pid)
                    .cloned()
                    .unwrap_or_else(|| Process::unknown(pid))
            });
            let mut flags = Vec::new();
            if is_dual_stack(&raw) {
                flags.push("dual_stack".to_string());
            }
            Socket {
                user: raw.uid.and_then(user_name),
                raw,
                owner,
                flags,
                knowledge: SocketKnowledge::default(),
            }
        })
        .filter(|s| keep(s, config))
        .collect();
    sockets.sort_by_key(|s| order_key(&s.raw));
    warnings.extend(scan_warning(&scan, &sockets));
    let ports = port_infos(&config.port_args, &sockets);
    Report {
        sockets,
        ports,
        warnings: std::mem::take(&mut warnings),
        scan,
        ..Report::default()
    }
}

/// The owner of one socket, from what the scan saw.
pub fn owner_of(raw: &RawSocket, scan: &OwnerScan, process: impl Fn(u32) -> Process) -> Owner {
    if !raw.pids.is_empty() {
        return Owner::Known(raw.pids.iter().map(|&p| process(p)).collect());
    }
    if raw.inode == Some(0) {
        return Owner::None {
            reason: NoneReason::NoFile,
        };
    }
    if scan.complete() && raw.inode.is_some() {
        return Owner::None {
            reason: NoneReason::NoProcess,
        };
    }
    Owner::Hidden {
        reason: if scan.privileged {
            HiddenReason::Unreadable
        } else {
            HiddenReason::NotPermitted
        },
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

fn keep(s: &Socket, config: &Config) -> bool {
    let pid_ok = config
        .pid
        .is_none_or(|pid| s.owner.processes().iter().any(|p| p.pid == pid));
    let user_ok = config.user.as_ref().is_none_or(|u| {
        s.raw.uid == Some(u.uid) || s.owner.processes().iter().any(|p| p.uid == Some(u.uid))
    });
    pid_ok && user_ok
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
    let count = |port: u16| sockets.iter().filter(|s| s.raw.local_port == port).count();
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
            pids,
        }
    }

    fn bare(pid: u32) -> Process {
        Process::unknown(pid)
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
            unknown_coverage: false,
            privileged: false,
        };
        let unknown = OwnerScan {
            ran: true,
            unknown_coverage: true,
            ..OwnerScan::default()
        };
        // Holders found: known, whatever else the scan missed.
        assert_eq!(
            owner_of(&raw(Some(5), vec![7, 9]), &partial, bare).kind(),
            "known"
        );
        assert_eq!(
            owner_of(&raw(Some(5), vec![7]), &partial, bare)
                .processes()
                .len(),
            1
        );
        // No file: nobody can hold it.
        assert_eq!(
            owner_of(&raw(Some(0), vec![]), &partial, bare),
            Owner::None {
                reason: NoneReason::NoFile
            }
        );
        // Everything was read and nobody holds it: a kernel socket.
        assert_eq!(
            owner_of(&raw(Some(5), vec![]), &complete, bare),
            Owner::None {
                reason: NoneReason::NoProcess
            }
        );
        // Some processes could not be read: hidden, never "none", and the uid is kept.
        for scan in [&partial, &unknown] {
            match owner_of(&raw(Some(5), vec![]), scan, bare) {
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
            owner_of(&raw(Some(5), vec![]), &as_root, bare),
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
            owner_of(&raw(Some(5), vec![]), &unprivileged, bare).kind(),
            "hidden"
        );
        // No inode to look for (portable path elsewhere): not certain either.
        assert_eq!(
            owner_of(&raw(None, vec![]), &complete, bare).kind(),
            "hidden"
        );
    }
}
