//! Sockets from the kernel through netlink `sock_diag` (what `ss` uses), with the port
//! filter run in the kernel as `inet_diag` bytecode, so a query for one port costs a few
//! messages however many sockets the host has.
//!
//! The request and reply layouts are the kernel's (include/uapi/linux/inet_diag.h,
//! linux/netlink.h); they are fixed, and written and read here field by field.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;

use anyhow::{Context, Result, bail};
use rustix::net::{
    AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType, netlink, recv, send, socket_with,
};

use crate::model::{Family, Protocol, RawSocket, SocketFlag, State};
use crate::model::{PortSet, SocketQuery};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// The first `inet_diag` request (Linux 2.6), still served: it dumps TCP sockets of both
/// families in one walk of the kernel's tables, where `SOCK_DIAG_BY_FAMILY` walks them
/// once per family. `ss` uses it the same way.
const TCPDIAG_GETSOCK: u16 = 18;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDRLEN: usize = 16;
const INET_DIAG_REQ_BYTECODE: u16 = 1;
/// The protocol as a 32-bit attribute, for protocols above 255 (MPTCP).
const INET_DIAG_REQ_PROTOCOL: u16 = 3;
const INET_DIAG_SKV6ONLY: u16 = 11;
const INET_DIAG_BC_JMP: u8 = 1;
const INET_DIAG_BC_S_GE: u8 = 2;
const INET_DIAG_BC_S_LE: u8 = 3;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_UDPLITE: u8 = 136;
const IPPROTO_MPTCP: u32 = 262;
/// `struct inet_diag_msg`: family, state, timer, retrans, sockid (48), expires, rqueue,
/// wqueue, uid, inode.
const DIAG_MSG_LEN: usize = 72;

/// The most port ranges one kernel filter holds (20 bytes each, jumps of 16 bits).
const MAX_FILTER_RANGES: usize = 3000;

const TCP_LISTEN: u32 = 10;
const TCP_CLOSE: u32 = 7;
const TCP_NEW_SYN_RECV: u32 = 12;

/// The kernel state mask for a query.
fn state_mask(query: &SocketQuery, protocol: Protocol) -> u32 {
    if query.listening_only {
        match protocol.base() {
            Protocol::Tcp | Protocol::Mptcp => 1 << TCP_LISTEN,
            Protocol::Udp | Protocol::UdpLite => 1 << TCP_CLOSE,
        }
    } else {
        // Every state; half-open request sockets belong to their listener.
        !(1 << TCP_NEW_SYN_RECV)
    }
}

/// The `inet_diag` bytecode that accepts a socket whose local port is in one of the
/// ranges, compiled the way `ss` compiles `A || B`: each range is "sport >= lo, then
/// sport <= hi" (a true test falls through to the next op, a false one jumps to the next
/// range, or for the last range 4 bytes past the end, which rejects), and a `JMP` after
/// every range but the last jumps to the end (accept). The kernel's audit follows the
/// fall-through chain, so every op must stand on it.
pub(crate) fn port_filter(ports: &PortSet) -> Vec<u8> {
    let ranges = ports.ranges();
    let total = ranges.len() * 20 - 4;
    let mut code = Vec::with_capacity(total);
    for (i, &(lo, hi)) in ranges.iter().enumerate() {
        let at = i * 20;
        let last = i + 1 == ranges.len();
        let next = if last { total + 4 } else { at + 20 };
        // op: code, yes (jump when true), no (jump when false); then the port operand,
        // carried in the `no` field of a second op.
        push_op(&mut code, INET_DIAG_BC_S_GE, 8, next - at);
        push_op(&mut code, 0, 0, usize::from(lo));
        push_op(&mut code, INET_DIAG_BC_S_LE, 8, next - (at + 8));
        push_op(&mut code, 0, 0, usize::from(hi));
        if !last {
            push_op(&mut code, INET_DIAG_BC_JMP, 4, total - (at + 16));
        }
    }
    code
}

fn push_op(code: &mut Vec<u8>, op: u8, yes: usize, no: usize) {
    // A jump past u16 needs more than 3,000 ranges; `dump` refuses such a filter.
    code.push(op);
    code.push(u8::try_from(yes).unwrap_or(u8::MAX));
    code.extend_from_slice(&u16::try_from(no).unwrap_or(u16::MAX).to_ne_bytes());
}

/// The two requests this module sends.
#[derive(Clone, Copy)]
enum Request {
    /// `SOCK_DIAG_BY_FAMILY` with `struct inet_diag_req_v2`: one family, one protocol
    /// (above 255 as the `INET_DIAG_REQ_PROTOCOL` attribute).
    ByFamily { family: u8, protocol: u32 },
    /// `TCPDIAG_GETSOCK` with the older `struct inet_diag_req`: TCP, both families.
    TcpBothFamilies,
}

fn request(kind: Request, states: u32, bytecode: &[u8], seq: u32) -> Vec<u8> {
    let wide_protocol = match kind {
        Request::ByFamily { protocol, .. } if protocol > 255 => Some(protocol),
        _ => None,
    };
    let attr_len = if bytecode.is_empty() {
        0
    } else {
        4 + bytecode.len()
    } + if wide_protocol.is_some() { 8 } else { 0 };
    let (msg_type, body_len) = match kind {
        Request::ByFamily { .. } => (SOCK_DIAG_BY_FAMILY, 56),
        Request::TcpBothFamilies => (TCPDIAG_GETSOCK, 60),
    };
    let len = NLMSG_HDRLEN + body_len + attr_len;
    let mut msg = Vec::with_capacity(len);
    // struct nlmsghdr
    msg.extend_from_slice(&(len as u32).to_ne_bytes());
    msg.extend_from_slice(&msg_type.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    match kind {
        Request::ByFamily { family, protocol } => {
            // struct inet_diag_req_v2: family, protocol, ext, pad, states, sockid (48
            // zero bytes)
            // A protocol above 255 goes in the attribute, which the kernel reads instead.
            let narrow = u8::try_from(protocol).unwrap_or(IPPROTO_TCP);
            msg.extend_from_slice(&[family, narrow, 0, 0]);
            msg.extend_from_slice(&states.to_ne_bytes());
            msg.extend_from_slice(&[0u8; 48]);
        }
        Request::TcpBothFamilies => {
            // struct inet_diag_req: family (the kernel reads it as "any" here), src_len,
            // dst_len, ext, sockid (48 zero bytes), states, dbs
            msg.extend_from_slice(&[AF_INET, 0, 0, 0]);
            msg.extend_from_slice(&[0u8; 48]);
            msg.extend_from_slice(&states.to_ne_bytes());
            msg.extend_from_slice(&0u32.to_ne_bytes());
        }
    }
    if !bytecode.is_empty() {
        msg.extend_from_slice(&((4 + bytecode.len()) as u16).to_ne_bytes());
        msg.extend_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
        msg.extend_from_slice(bytecode);
    }
    if let Some(protocol) = wide_protocol {
        msg.extend_from_slice(&8u16.to_ne_bytes());
        msg.extend_from_slice(&INET_DIAG_REQ_PROTOCOL.to_ne_bytes());
        msg.extend_from_slice(&protocol.to_ne_bytes());
    }
    msg
}

/// Dumps every socket the query asks for: one request per (protocol, family). Where there
/// are two cores, TCP's requests go on a thread (and a socket) of their own beside the
/// others': for any connected state the kernel walks its whole established-connection
/// table, the longest part of a query for one port, and the UDP tables are walked meanwhile.
pub(crate) fn dump(query: &SocketQuery) -> Result<Vec<RawSocket>> {
    // Past MAX_FILTER_RANGES the jumps do not fit the op's 16 bits: filter here instead
    // (`retain` below runs in any case).
    let bytecode = match &query.ports {
        Some(p) if p.ranges().len() <= MAX_FILTER_RANGES => port_filter(p),
        _ => Vec::new(),
    };
    // MPTCP and UDP-Lite sockets are rare, and asking for MPTCP walks the whole TCP
    // listening table: they are asked for only when the kernel counts some in use here.
    let rare_in_use = rare_protocols_in_use();
    let protocols: Vec<(Protocol, u32)> = [
        (Protocol::Tcp, u32::from(IPPROTO_TCP)),
        (Protocol::Mptcp, IPPROTO_MPTCP),
        (Protocol::Udp, u32::from(IPPROTO_UDP)),
        (Protocol::UdpLite, u32::from(IPPROTO_UDPLITE)),
    ]
    .into_iter()
    .filter(|&(protocol, _)| {
        query.wants_protocol(protocol)
            && !rare_in_use.as_ref().is_some_and(|in_use| {
                matches!(protocol, Protocol::Mptcp | Protocol::UdpLite)
                    && !in_use.contains(&protocol)
            })
    })
    .collect();
    let (tcp, rest): (Vec<_>, Vec<_>) = protocols
        .iter()
        .copied()
        .partition(|&(protocol, _)| protocol == Protocol::Tcp);
    let mut out = if !tcp.is_empty() && !rest.is_empty() && super::parallel::cores() > 1 {
        std::thread::scope(|scope| {
            let beside = scope.spawn(|| dump_protocols(query, &bytecode, &tcp));
            let others = dump_protocols(query, &bytecode, &rest);
            let mut out = match beside.join() {
                Ok(tcp) => tcp?,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            out.extend(others?);
            anyhow::Ok(out)
        })?
    } else {
        dump_protocols(query, &bytecode, &protocols)?
    };
    mark_subflows(&mut out);
    out.retain(|s| query.matches(s));
    Ok(out)
}

/// The requests for some protocols, one after the other on one netlink socket.
fn dump_protocols(
    query: &SocketQuery,
    bytecode: &[u8],
    protocols: &[(Protocol, u32)],
) -> Result<Vec<RawSocket>> {
    let fd = socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        Some(netlink::SOCK_DIAG),
    )
    .context("opening a netlink sock_diag socket")?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut seq = 0;
    let mut ask = |kind: Request, protocol: Protocol, out: &mut Vec<RawSocket>| -> Result<()> {
        seq += 1;
        let req = request(kind, state_mask(query, protocol), bytecode, seq);
        send(&fd, &req, SendFlags::empty()).context("sending a sock_diag request")?;
        read_dump(&fd, &mut buf, protocol, seq, out)
    };
    for &(protocol, proto_num) in protocols {
        let (ipv4, ipv6) = (
            query.lists_family(Family::Ipv4),
            query.lists_family(Family::Ipv6),
        );
        if protocol == Protocol::Tcp && ipv4 && ipv6 {
            let before = out.len();
            match ask(Request::TcpBothFamilies, protocol, &mut out) {
                Ok(()) => continue,
                // A kernel without the old request: one request per family, below.
                Err(_) => out.truncate(before),
            }
        }
        // MPTCP and UDP-Lite may be missing from the kernel (or their diag module not
        // loaded): then there are no such sockets to list.
        let optional = matches!(protocol, Protocol::Mptcp | Protocol::UdpLite);
        for (wanted, family) in [(ipv4, AF_INET), (ipv6, AF_INET6)] {
            if wanted {
                let kind = Request::ByFamily {
                    family,
                    protocol: proto_num,
                };
                let before = out.len();
                match ask(kind, protocol, &mut out) {
                    Ok(()) => {}
                    Err(_) if optional => out.truncate(before),
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(out)
}

/// Which of MPTCP and UDP-Lite have sockets in use in this network namespace, from the
/// kernel's count per protocol (the `sockets` column of /proc/net/protocols, both
/// families); `None` when that cannot be read (then both are asked for).
fn rare_protocols_in_use() -> Option<Vec<Protocol>> {
    let text = std::fs::read_to_string("/proc/net/protocols").ok()?;
    let counts = parse_protocol_counts(&text)?;
    Some(
        [
            (Protocol::Mptcp, ["MPTCP", "MPTCPv6"]),
            (Protocol::UdpLite, ["UDP-Lite", "UDPLITEv6"]),
        ]
        .into_iter()
        .filter(|(_, names)| {
            // A name the kernel does not list: not known, so asked for.
            names.iter().any(|n| {
                counts
                    .iter()
                    .find(|(name, _)| name == n)
                    .is_none_or(|&(_, c)| c != 0)
            })
        })
        .map(|(p, _)| p)
        .collect(),
    )
}

/// (protocol name, sockets in use) of each line of /proc/net/protocols.
fn parse_protocol_counts(text: &str) -> Option<Vec<(String, i64)>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split_whitespace().collect();
    let column = header.iter().position(|&h| h == "sockets")?;
    Some(
        lines
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                Some((
                    fields.first()?.to_string(),
                    fields.get(column)?.parse().ok()?,
                ))
            })
            .collect(),
    )
}

/// An MPTCP socket's TCP subflows carry its inode (the kernel grafts them onto its
/// socket): each TCP socket with the inode of an MPTCP socket is marked as a subflow.
fn mark_subflows(sockets: &mut [RawSocket]) {
    let mut mptcp: Vec<u64> = sockets
        .iter()
        .filter(|s| s.protocol == Protocol::Mptcp)
        .filter_map(|s| s.inode)
        .filter(|&i| i != 0)
        .collect();
    if mptcp.is_empty() {
        return;
    }
    mptcp.sort_unstable();
    for s in sockets.iter_mut() {
        if s.protocol == Protocol::Tcp
            && s.inode
                .is_some_and(|i| i != 0 && mptcp.binary_search(&i).is_ok())
        {
            s.marks.push(SocketFlag::MptcpSubflow);
        }
    }
}

fn read_dump(
    fd: &OwnedFd,
    buf: &mut [u8],
    protocol: Protocol,
    seq: u32,
    out: &mut Vec<RawSocket>,
) -> Result<()> {
    loop {
        let (n, _) = recv(fd, &mut *buf, RecvFlags::empty()).context("reading sock_diag")?;
        if n == 0 {
            bail!("sock_diag: the kernel closed the dump early");
        }
        let mut at = 0;
        while at + NLMSG_HDRLEN <= n {
            let len = u32_at(buf, at) as usize;
            let kind = u16_at(buf, at + 4);
            let msg_seq = u32_at(buf, at + 8);
            if len < NLMSG_HDRLEN || at + len > n {
                bail!("sock_diag: malformed reply");
            }
            if msg_seq == seq {
                match kind {
                    NLMSG_DONE => return Ok(()),
                    NLMSG_ERROR => {
                        let errno = i32::from_ne_bytes(bytes4(buf, at + NLMSG_HDRLEN));
                        if errno != 0 {
                            bail!(
                                "sock_diag: {}",
                                std::io::Error::from_raw_os_error(errno.saturating_neg())
                            );
                        }
                    }
                    SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => {
                        if let Some(s) = parse(&buf[at + NLMSG_HDRLEN..at + len], protocol) {
                            out.push(s);
                        }
                    }
                    _ => {}
                }
            }
            at += (len + 3) & !3;
        }
    }
}

/// One `inet_diag_msg` and its attributes.
fn parse(msg: &[u8], protocol: Protocol) -> Option<RawSocket> {
    if msg.len() < DIAG_MSG_LEN {
        return None;
    }
    let family = msg[0];
    let state = msg[1];
    // sockid: sport, dport (big-endian), src[16], dst[16], if, cookie
    let sport = u16::from_be_bytes([msg[4], msg[5]]);
    let dport = u16::from_be_bytes([msg[6], msg[7]]);
    let addr = |at: usize| -> Option<IpAddr> {
        match family {
            AF_INET => Some(IpAddr::V4(Ipv4Addr::new(
                msg[at],
                msg[at + 1],
                msg[at + 2],
                msg[at + 3],
            ))),
            AF_INET6 => {
                let b: [u8; 16] = msg.get(at..at + 16)?.try_into().ok()?;
                Some(IpAddr::V6(Ipv6Addr::from(b)))
            }
            _ => None,
        }
    };
    let local = addr(8)?;
    let remote = addr(24)?;
    let uid = u32_at(msg, 64);
    let inode = u32_at(msg, 68);
    let mut v6only = None;
    let mut at = DIAG_MSG_LEN;
    while at + 4 <= msg.len() {
        let len = usize::from(u16_at(msg, at));
        let kind = u16_at(msg, at + 2);
        if len < 4 || at + len > msg.len() {
            break;
        }
        if kind == INET_DIAG_SKV6ONLY && len >= 5 {
            v6only = Some(msg[at + 4] != 0);
        }
        at += (len + 3) & !3;
    }
    Some(RawSocket {
        protocol,
        local_address: local,
        local_port: sport,
        remote_address: remote,
        remote_port: dport,
        state: State::from_kernel(protocol, state),
        uid: Some(uid),
        inode: Some(u64::from(inode)),
        v6only,
        pids: crate::model::Few::default(),
        fds: crate::model::Few::default(),
        marks: crate::model::Flags::default(),
        netns: None,
    })
}

fn bytes4(b: &[u8], at: usize) -> [u8; 4] {
    let mut out = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        out.copy_from_slice(s);
    }
    out
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(bytes4(b, at))
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    let mut out = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        out.copy_from_slice(s);
    }
    u16::from_ne_bytes(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's `inet_diag_bc_audit` and `valid_cc` (net/ipv4/inet_diag.c), for the
    /// ops used here: jumps are 4-aligned, at least one op (two for a port test) long,
    /// at most 4 bytes past the end, and a "no" target must lie on the "yes" chain.
    fn audit(code: &[u8]) -> bool {
        let op = |at: usize| {
            (
                code[at],
                code[at + 1] as isize,
                u16::from_ne_bytes([code[at + 2], code[at + 3]]) as isize,
            )
        };
        let valid_cc = |cc: isize| {
            let (mut at, mut len) = (0usize, code.len() as isize);
            while len >= 0 {
                if cc > len {
                    return false;
                }
                if cc == len {
                    return true;
                }
                let (_, yes, _) = op(at);
                if yes < 4 || yes % 4 != 0 {
                    return false;
                }
                len -= yes;
                at += yes as usize;
            }
            false
        };
        let (mut at, mut len) = (0usize, code.len() as isize);
        while len > 0 {
            let (c, yes, no) = op(at);
            let min = if c == INET_DIAG_BC_JMP { 4 } else { 8 };
            if no < min || no > len + 4 || no % 4 != 0 {
                return false;
            }
            if no < len && !valid_cc(len - no) {
                return false;
            }
            if yes < min || yes > len + 4 || yes % 4 != 0 {
                return false;
            }
            at += yes as usize;
            len -= yes;
        }
        len == 0
    }

    /// Runs bytecode the way the kernel's `inet_diag_bc_run` does.
    fn run(code: &[u8], sport: u16) -> bool {
        let mut at = 0usize;
        let mut len = code.len() as isize;
        while len > 0 {
            let op = code[at];
            let yes = code[at + 1] as isize;
            let no = u16::from_ne_bytes([code[at + 2], code[at + 3]]) as isize;
            let ok = match op {
                INET_DIAG_BC_JMP => false,
                INET_DIAG_BC_S_GE => sport >= u16::from_ne_bytes([code[at + 6], code[at + 7]]),
                INET_DIAG_BC_S_LE => sport <= u16::from_ne_bytes([code[at + 6], code[at + 7]]),
                _ => panic!("unexpected op {op}"),
            };
            let jump = if ok { yes } else { no };
            len -= jump;
            at += jump as usize;
        }
        len == 0
    }

    #[test]
    fn bytecode_matches_exactly_the_port_set() {
        let set = PortSet::new(vec![(22, 22), (8000, 8100), (60322, 60322), (65535, 65535)]);
        let code = port_filter(&set);
        assert_eq!(code.len(), 4 * 20 - 4);
        assert!(audit(&code), "the kernel would refuse this bytecode");
        for port in 0..=65535u16 {
            assert_eq!(run(&code, port), set.contains(port), "port {port}");
        }
        let one = port_filter(&PortSet::new(vec![(1, 1)]));
        assert!(audit(&one));
        assert!(run(&one, 1) && !run(&one, 0) && !run(&one, 2));
    }

    /// Both requests against the running kernel: TCP (both families in one request) and
    /// UDP (one per family) find this test's own sockets on 127.0.0.1 and ::1, and the
    /// kernel's port filter keeps out every other port.
    #[test]
    fn dumps_its_own_sockets() -> Result<()> {
        use std::net::{TcpListener, UdpSocket};
        let tcp4 = TcpListener::bind("127.0.0.1:0")?;
        let tcp6 = TcpListener::bind("[::1]:0")?;
        let udp4 = UdpSocket::bind("127.0.0.1:0")?;
        let udp6 = UdpSocket::bind("[::1]:0")?;
        let ports = [
            tcp4.local_addr()?.port(),
            tcp6.local_addr()?.port(),
            udp4.local_addr()?.port(),
            udp6.local_addr()?.port(),
        ];
        let query = SocketQuery {
            ports: Some(PortSet::new(ports.iter().map(|&p| (p, p)).collect())),
            tcp: true,
            udp: true,
            ipv4: true,
            ipv6: true,
            listening_only: false,
            owners: true,
        };
        let mut found: Vec<(Protocol, IpAddr, u16)> = dump(&query)?
            .iter()
            .map(|s| (s.protocol, s.local_address, s.local_port))
            .collect();
        found.sort_unstable();
        found.dedup();
        let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        for want in [
            (Protocol::Tcp, v4, ports[0]),
            (Protocol::Tcp, v6, ports[1]),
            (Protocol::Udp, v4, ports[2]),
            (Protocol::Udp, v6, ports[3]),
        ] {
            assert!(found.contains(&want), "{want:?} not in {found:?}");
        }
        assert!(found.iter().all(|f| ports.contains(&f.2)), "{found:?}");
        Ok(())
    }

    #[test]
    fn requests_are_laid_out_as_the_kernel_reads_them() {
        let code = port_filter(&PortSet::new(vec![(80, 80)]));
        let v2 = request(
            Request::ByFamily {
                family: AF_INET6,
                protocol: u32::from(IPPROTO_UDP),
            },
            1 << TCP_CLOSE,
            &code,
            7,
        );
        assert_eq!(v2.len(), NLMSG_HDRLEN + 56 + 4 + code.len());
        assert_eq!(u32_at(&v2, 0) as usize, v2.len());
        assert_eq!(u16_at(&v2, 4), SOCK_DIAG_BY_FAMILY);
        assert_eq!(u32_at(&v2, 8), 7);
        assert_eq!(&v2[16..18], &[AF_INET6, IPPROTO_UDP]);
        assert_eq!(u32_at(&v2, 20), 1 << TCP_CLOSE);
        let old = request(Request::TcpBothFamilies, 1 << TCP_LISTEN, &[], 8);
        assert_eq!(old.len(), NLMSG_HDRLEN + 60);
        assert_eq!(u16_at(&old, 4), TCPDIAG_GETSOCK);
        // struct inet_diag_req: the states follow the 4 leading bytes and the 48 of sockid.
        assert_eq!(u32_at(&old, NLMSG_HDRLEN + 52), 1 << TCP_LISTEN);
    }

    #[test]
    fn reads_the_protocol_counts() {
        let text = "protocol  size sockets  memory press maxhdr  slab module\n\
                    MPTCPv6   2048      0       0   no       0   yes  kernel\n\
                    UDPLITEv6 1472      1       0   NI       0   yes  kernel\n\
                    UDP-Lite  1280      0       0   NI       0   yes  kernel\n\
                    MPTCP     2048      0       0   no       0   yes  kernel\n";
        let counts = parse_protocol_counts(text).unwrap_or_default();
        assert_eq!(counts.len(), 4);
        assert!(counts.contains(&("UDPLITEv6".to_string(), 1)));
        assert!(counts.contains(&("MPTCP".to_string(), 0)));
        assert_eq!(
            parse_protocol_counts("nothing here\n").map(|c| c.len()),
            None
        );
    }

    #[test]
    fn parses_a_reply() {
        let mut msg = vec![0u8; DIAG_MSG_LEN];
        msg[0] = AF_INET6;
        msg[1] = 10;
        msg[4..6].copy_from_slice(&8080u16.to_be_bytes());
        msg[8..24].copy_from_slice(&Ipv6Addr::LOCALHOST.octets());
        msg[64..68].copy_from_slice(&1000u32.to_ne_bytes());
        msg[68..72].copy_from_slice(&4242u32.to_ne_bytes());
        msg.extend_from_slice(&5u16.to_ne_bytes());
        msg.extend_from_slice(&INET_DIAG_SKV6ONLY.to_ne_bytes());
        msg.extend_from_slice(&[0, 0, 0, 0]);
        let s = parse(&msg, Protocol::Tcp);
        let s = s.as_ref();
        assert_eq!(s.map(|s| s.local_port), Some(8080));
        assert_eq!(
            s.map(|s| s.local_address),
            Some(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
        assert_eq!(s.map(|s| s.state), Some(State::Listen));
        assert_eq!(s.and_then(|s| s.uid), Some(1000));
        assert_eq!(s.and_then(|s| s.inode), Some(4242));
        assert_eq!(s.and_then(|s| s.v6only), Some(false));
        assert!(parse(&msg[..40], Protocol::Tcp).is_none());
    }
}
