//! What is asked: which sockets (ports, protocols, families, states) and which owners.

use super::{Family, Protocol, RawSocket, State};

/// Inclusive port ranges, sorted and merged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PortSet {
    ranges: Vec<(u16, u16)>,
}

impl PortSet {
    pub(crate) fn new(mut ranges: Vec<(u16, u16)>) -> PortSet {
        ranges.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        PortSet { ranges: merged }
    }

    pub(crate) fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    pub(crate) fn contains(&self, port: u16) -> bool {
        self.ranges
            .binary_search_by(|&(lo, hi)| {
                if hi < port {
                    std::cmp::Ordering::Less
                } else if lo > port {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }
}

/// One PORT argument as the user wrote it, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PortArg {
    /// A single port, by number.
    Single(u16),
    /// An inclusive range, by numbers (or a service name registered for a range: x11).
    Range(u16, u16),
    /// A single port, by service name (ssh).
    Named(u16),
}

impl PortArg {
    /// The inclusive range of ports it stands for.
    pub(crate) fn bounds(&self) -> (u16, u16) {
        match *self {
            PortArg::Single(p) | PortArg::Named(p) => (p, p),
            PortArg::Range(lo, hi) => (lo, hi),
        }
    }
}

/// The single ports among the PORT arguments that were given by number.
pub(crate) fn asked_by_number(args: &[PortArg]) -> Vec<u16> {
    args.iter()
        .filter_map(|a| match *a {
            PortArg::Single(p) => Some(p),
            PortArg::Range(..) | PortArg::Named(_) => None,
        })
        .collect()
}

/// A user given to `--user` or `user=`, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UserFilter {
    pub(crate) uid: u32,
    pub(crate) name: Option<String>,
}

/// Which protocols and families were asked for (`-t`, `-u`, `-4`, `-6`); none of a pair
/// means both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Kinds {
    pub(crate) tcp: bool,
    pub(crate) udp: bool,
    pub(crate) ipv4: bool,
    pub(crate) ipv6: bool,
}

/// Both sets of flags (given before and after a subcommand).
impl std::ops::BitOr for Kinds {
    type Output = Kinds;
    fn bitor(self, other: Kinds) -> Kinds {
        Kinds {
            tcp: self.tcp || other.tcp,
            udp: self.udp || other.udp,
            ipv4: self.ipv4 || other.ipv4,
            ipv6: self.ipv6 || other.ipv6,
        }
    }
}

/// What the collector is asked for. The port filter is applied in the kernel where the
/// platform allows it; `matches` is the same test for everyone else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SocketQuery {
    pub(crate) ports: Option<PortSet>,
    pub(crate) tcp: bool,
    pub(crate) udp: bool,
    pub(crate) ipv4: bool,
    pub(crate) ipv6: bool,
    pub(crate) listening_only: bool,
    /// Whether to look for the processes holding the sockets (not when only counting
    /// what is on a port).
    pub(crate) owners: bool,
}

impl SocketQuery {
    /// The query for these ports (`None`: every port) and socket kinds; without `-t`/`-u`
    /// both protocols, without `-4`/`-6` both families.
    pub(crate) fn new(ports: Option<PortSet>, kinds: Kinds, listening_only: bool) -> SocketQuery {
        let both_protocols = !kinds.tcp && !kinds.udp;
        let both_families = !kinds.ipv4 && !kinds.ipv6;
        SocketQuery {
            ports,
            tcp: kinds.tcp || both_protocols,
            udp: kinds.udp || both_protocols,
            ipv4: kinds.ipv4 || both_families,
            ipv6: kinds.ipv6 || both_families,
            listening_only,
            owners: true,
        }
    }

    /// `-t` covers MPTCP, `-u` UDP-Lite.
    pub(crate) fn wants_protocol(&self, p: Protocol) -> bool {
        match p.base() {
            Protocol::Tcp | Protocol::Mptcp => self.tcp,
            Protocol::Udp | Protocol::UdpLite => self.udp,
        }
    }

    pub(crate) fn wants_family(&self, f: Family) -> bool {
        match f {
            Family::Ipv4 => self.ipv4,
            Family::Ipv6 => self.ipv6,
        }
    }

    /// Whether a collector must list this family's sockets: IPv6 ones for `-4` too, since
    /// an IPv6 socket may accept IPv4 (see [`RawSocket::accepts_ipv4`]).
    pub(crate) fn lists_family(&self, f: Family) -> bool {
        match f {
            Family::Ipv4 => self.ipv4,
            Family::Ipv6 => self.ipv6 || self.ipv4,
        }
    }

    /// Whether only `-4` brings this socket in: an IPv6 socket that accepts IPv4.
    pub(crate) fn only_as_ipv4(&self, s: &RawSocket) -> bool {
        !self.wants_family(s.family()) && self.ipv4 && s.accepts_ipv4()
    }

    /// Whether nothing narrows the sockets asked about: every protocol, family and state.
    pub(crate) fn is_widest(&self) -> bool {
        self.tcp && self.udp && self.ipv4 && self.ipv6 && !self.listening_only
    }

    pub(crate) fn wants_state(&self, s: State) -> bool {
        if self.listening_only {
            s.is_listening()
        } else {
            // Half-open request sockets belong to their listener; ss leaves them out too.
            s != State::NewSynRecv
        }
    }

    pub(crate) fn matches(&self, s: &RawSocket) -> bool {
        self.wants_protocol(s.protocol)
            && (self.wants_family(s.family()) || self.only_as_ipv4(s))
            && self.wants_state(s.state)
            && self.ports.as_ref().is_none_or(|p| p.contains(s.local_port))
    }
}

/// The filters applied once owners are known (`--pid`, `--user`), and the ports asked
/// about (for the per-port notes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Filters {
    /// The PORT arguments, resolved, in the order given.
    pub(crate) port_args: Vec<PortArg>,
    pub(crate) pid: Option<u32>,
    pub(crate) user: Option<UserFilter>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_sets_merge_and_match() {
        let set = PortSet::new(vec![(10, 20), (5, 9), (30, 30), (15, 25)]);
        assert_eq!(set.ranges(), &[(5, 25), (30, 30)]);
        for (p, want) in [
            (4, false),
            (5, true),
            (25, true),
            (26, false),
            (30, true),
            (31, false),
        ] {
            assert_eq!(set.contains(p), want, "{p}");
        }
        let edge = PortSet::new(vec![(65535, 65535), (1, 1)]);
        assert!(edge.contains(65535) && edge.contains(1) && !edge.contains(2));
    }
}
