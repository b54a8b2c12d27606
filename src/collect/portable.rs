//! The portable path: sockets and their pids from netstat2 (the macOS and Windows
//! collector), filtered here. Compiled and tested on Linux too, against the fast path.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{Context, Result};
use netstat2::{
    AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, SocketInfo, TcpState, get_sockets_info,
};

use super::{Collector, netstat2_ext, privileged};
use crate::model::SocketQuery;
use crate::model::{Family, OwnerScan, Protocol, RawSocket, Snapshot, State};

pub(crate) struct Portable;

impl Collector for Portable {
    fn collect(&self, query: &SocketQuery) -> Result<Snapshot> {
        let mut families = AddressFamilyFlags::empty();
        if query.lists_family(Family::Ipv4) {
            families |= AddressFamilyFlags::IPV4;
        }
        if query.lists_family(Family::Ipv6) {
            families |= AddressFamilyFlags::IPV6;
        }
        let mut protocols = ProtocolFlags::empty();
        if query.tcp {
            protocols |= ProtocolFlags::TCP;
        }
        if query.udp {
            protocols |= ProtocolFlags::UDP;
        }
        let infos = get_sockets_info(families, protocols).context("listing sockets (netstat2)")?;
        let mut sockets = merge(infos.iter().map(convert));
        // A connection in a listener's accept queue belongs to the listener's holders
        // (the listener may be outside the query: another state).
        let listeners: Vec<RawSocket> = sockets
            .iter()
            .filter(|s| s.state == State::Listen && s.protocol == Protocol::Tcp)
            .cloned()
            .collect();
        let listeners: Vec<&RawSocket> = listeners.iter().collect();
        super::attribute_accept_queue(&mut sockets, &listeners);
        sockets.retain(|s| query.matches(s));
        let ran = !sockets.is_empty();
        let mut warnings = Vec::new();
        let unprivileged = !privileged();
        if unprivileged {
            warnings.push(
                "not running as root: the owners of other users' sockets cannot be seen \
                 (and on macOS their sockets may not be listed at all); run with sudo"
                    .to_string(),
            );
        }
        Ok(Snapshot {
            sockets,
            scan: OwnerScan {
                ran,
                // netstat2 does not say which processes it could not read, even as root
                // (a process of another pid namespace, one a security module guards): a
                // socket it found no holder for is never certainly held by none.
                unknown_coverage: true,
                privileged: !unprivileged,
                ..OwnerScan::default()
            },
            warnings,
            // Details come later, from sysinfo: a pid reused in between cannot be told
            // apart on this path.
            processes: Vec::new(),
            namespaces: Vec::new(),
            cgroups: Vec::new(),
        })
    }
}

fn convert(info: &SocketInfo) -> RawSocket {
    let (inode, uid) = netstat2_ext::inode_and_uid(info);
    let mut pids = info.associated_pids.clone();
    pids.sort_unstable();
    pids.dedup();
    match &info.protocol_socket_info {
        ProtocolSocketInfo::Tcp(t) => RawSocket {
            protocol: Protocol::Tcp,
            local_address: t.local_addr,
            local_port: t.local_port,
            remote_address: t.remote_addr,
            remote_port: t.remote_port,
            state: tcp_state(&t.state),
            uid,
            inode,
            v6only: None,
            pids: pids.into(),
            fds: crate::model::Few::default(),
            marks: crate::model::Flags::default(),
            netns: None,
        },
        // netstat2 reports neither the peer nor the state of a UDP socket: every UDP
        // socket is shown as unconnected.
        ProtocolSocketInfo::Udp(u) => RawSocket {
            protocol: Protocol::Udp,
            local_address: u.local_addr,
            local_port: u.local_port,
            remote_address: unspecified_like(&u.local_addr),
            remote_port: 0,
            state: State::Unconnected,
            uid,
            inode,
            v6only: None,
            pids: pids.into(),
            fds: crate::model::Few::default(),
            marks: crate::model::Flags::default(),
            netns: None,
        },
    }
}

fn unspecified_like(addr: &IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

fn tcp_state(s: &TcpState) -> State {
    match s {
        TcpState::Closed => State::Close,
        TcpState::Listen => State::Listen,
        TcpState::SynSent => State::SynSent,
        TcpState::SynReceived => State::SynRecv,
        TcpState::Established => State::Established,
        TcpState::FinWait1 => State::FinWait1,
        TcpState::FinWait2 => State::FinWait2,
        TcpState::CloseWait => State::CloseWait,
        TcpState::Closing => State::Closing,
        TcpState::LastAck => State::LastAck,
        TcpState::TimeWait => State::TimeWait,
        TcpState::DeleteTcb | TcpState::Unknown => State::Unknown,
    }
}

/// One entry per socket. On macOS netstat2 gives one entry per (pid, descriptor), so the
/// same socket comes once per holder: merge by inode where there is one, otherwise by
/// (protocol, local, remote, state), and union the pids.
fn merge(sockets: impl Iterator<Item = RawSocket>) -> Vec<RawSocket> {
    let mut by_key: BTreeMap<_, RawSocket> = BTreeMap::new();
    for s in sockets {
        // Inode 0 means "no file" (TIME_WAIT): such sockets are distinct by address.
        let key = match s.inode {
            Some(i) if i != 0 => (Some(i), None),
            _ => (None, Some(s.key())),
        };
        match by_key.get_mut(&key) {
            Some(existing) => {
                let mut pids = existing.pids.to_vec();
                pids.extend_from_slice(&s.pids);
                pids.sort_unstable();
                pids.dedup();
                existing.pids = pids.into();
            }
            None => {
                by_key.insert(key, s);
            }
        }
    }
    by_key.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sock(port: u16, inode: Option<u64>, pids: Vec<u32>) -> RawSocket {
        RawSocket {
            protocol: Protocol::Tcp,
            local_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            local_port: port,
            remote_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            remote_port: 0,
            state: State::Listen,
            uid: None,
            inode,
            v6only: None,
            pids: pids.into(),
            fds: crate::model::Few::default(),
            marks: crate::model::Flags::default(),
            netns: None,
        }
    }

    #[test]
    fn merges_one_entry_per_holder_into_one_socket() {
        // macOS shape: no inode, one entry per (pid, fd).
        let merged = merge(
            vec![
                sock(80, None, vec![12]),
                sock(80, None, vec![10]),
                sock(80, None, vec![12]),
                sock(81, None, vec![10]),
            ]
            .into_iter(),
        );
        assert_eq!(merged.len(), 2);
        assert_eq!(
            merged
                .iter()
                .find(|s| s.local_port == 80)
                .map(|s| s.pids.clone()),
            Some(vec![10, 12].into())
        );
        // Linux shape: distinct inodes on the same address stay distinct (SO_REUSEPORT).
        let merged =
            merge(vec![sock(80, Some(5), vec![1]), sock(80, Some(6), vec![2])].into_iter());
        assert_eq!(merged.len(), 2);
    }
}
