//! `whoport watch`: a line per change of the sockets asked about — added, removed, or
//! changed (state, holders). Pure: [`diff`] compares two looks; [`SocketSide`] is the
//! cheap part of a look (the socket table alone, no process scan), so a watch that runs
//! for hours scans processes only when the socket side changed or a holder exited.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::model::{Owner, Protocol, RawSocket, Socket, State};

/// What happened to a socket between two looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Added,
    Removed,
    /// Same socket, another state or other holders.
    Changed,
}

impl Change {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        }
    }
}

/// A socket's identity from one look to the next: its protocol and endpoints, and its
/// inode where the platform gives one (a listener closed and opened again on the same
/// address is another socket).
type Identity = (Protocol, IpAddr, u16, IpAddr, u16, u64);

fn identity(s: &RawSocket) -> Identity {
    (
        s.protocol,
        s.local_address,
        s.local_port,
        s.remote_address,
        s.remote_port,
        s.inode.unwrap_or(0),
    )
}

/// The socket side of a look, sorted: what is compared before deciding to scan
/// processes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SocketSide(Vec<(Identity, State)>);

impl SocketSide {
    pub(crate) fn of(sockets: &[RawSocket]) -> SocketSide {
        let mut v: Vec<(Identity, State)> =
            sockets.iter().map(|s| (identity(s), s.state)).collect();
        v.sort_unstable();
        v.dedup();
        SocketSide(v)
    }
}

/// The holders' pids, or what stands for them.
fn holders(owner: &Owner) -> (&'static str, Vec<u32>) {
    (
        owner.kind(),
        owner.processes().iter().map(|p| p.pid).collect(),
    )
}

/// The changes from `old` to `new`, removed first, then changed, then added, each in
/// the order of the look.
pub(crate) fn diff(old: &[Socket], new: &[Socket]) -> Vec<(Change, Socket)> {
    let before: HashMap<Identity, &Socket> = old.iter().map(|s| (identity(&s.raw), s)).collect();
    let after: HashMap<Identity, &Socket> = new.iter().map(|s| (identity(&s.raw), s)).collect();
    let mut out = Vec::new();
    for s in old {
        if !after.contains_key(&identity(&s.raw)) {
            out.push((Change::Removed, s.clone()));
        }
    }
    for s in new {
        if let Some(was) = before.get(&identity(&s.raw))
            && (was.raw.state != s.raw.state || holders(&was.owner) != holders(&s.owner))
        {
            out.push((Change::Changed, s.clone()));
        }
    }
    for s in new {
        if !before.contains_key(&identity(&s.raw)) {
            out.push((Change::Added, s.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    use super::*;
    use crate::model::testing;

    fn listener(inode: u64, pids: &[u32]) -> Socket {
        let procs: Vec<_> = pids
            .iter()
            .map(|&p| testing::process(p, "srv", Some("alice"), 1000, "/bin/srv"))
            .collect();
        let mut s = testing::socket(
            Protocol::Tcp,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            8080,
            State::Listen,
            Owner::Known(Arc::from(procs)),
        );
        s.raw.inode = Some(inode);
        s
    }

    fn kinds(events: &[(Change, Socket)]) -> Vec<(Change, u64)> {
        events
            .iter()
            .map(|(c, s)| (*c, s.raw.inode.unwrap_or(0)))
            .collect()
    }

    #[test]
    fn added_removed_changed() {
        let a = listener(1, &[10]);
        let b = listener(2, &[20, 21]);
        assert_eq!(
            kinds(&diff(&[], std::slice::from_ref(&a))),
            vec![(Change::Added, 1)]
        );
        assert_eq!(
            kinds(&diff(std::slice::from_ref(&a), &[])),
            vec![(Change::Removed, 1)]
        );
        assert!(diff(&[a.clone(), b.clone()], &[a.clone(), b.clone()]).is_empty());
        // A worker exited: the holders changed.
        let b2 = listener(2, &[20]);
        assert_eq!(
            kinds(&diff(&[a.clone(), b.clone()], &[a.clone(), b2])),
            vec![(Change::Changed, 2)]
        );
        // Closed and opened again on the same address: another socket.
        let a2 = listener(3, &[10]);
        assert_eq!(
            kinds(&diff(&[a], &[a2])),
            vec![(Change::Removed, 1), (Change::Added, 3)]
        );
    }

    #[test]
    fn socket_side_ignores_holders_and_order() {
        let a = listener(1, &[10]);
        let b = listener(2, &[20]);
        let one = SocketSide::of(&[a.raw.clone(), b.raw.clone()]);
        let two = SocketSide::of(&[b.raw.clone(), listener(1, &[99]).raw]);
        assert_eq!(one, two);
        let mut closing = a.raw.clone();
        closing.state = State::Close;
        assert_ne!(one, SocketSide::of(&[closing, b.raw]));
    }
}
