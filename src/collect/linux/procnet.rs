//! Sockets from /proc/net/{tcp,udp}{,6}: the fallback when netlink sock_diag is not
//! available (an old or restricted kernel). Slower, since every socket is read.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use anyhow::{Context, Result};

use crate::model::SocketQuery;
use crate::model::{Family, Protocol, RawSocket, State};

pub(crate) fn read(query: &SocketQuery) -> Result<Vec<RawSocket>> {
    read_from(Path::new("/proc/net"), query)
}

/// The same from another directory of these tables: `/proc/PID/net` (another process's
/// network namespace) or `/proc/thread-self/net`.
pub(crate) fn read_from(dir: &Path, query: &SocketQuery) -> Result<Vec<RawSocket>> {
    let mut out = Vec::new();
    for (protocol, name) in [
        (Protocol::Tcp, "tcp"),
        (Protocol::Tcp, "tcp6"),
        (Protocol::Udp, "udp"),
        (Protocol::Udp, "udp6"),
        (Protocol::UdpLite, "udplite"),
        (Protocol::UdpLite, "udplite6"),
    ] {
        let v6 = name.ends_with('6');
        if !query.wants_protocol(protocol)
            || !query.lists_family(if v6 { Family::Ipv6 } else { Family::Ipv4 })
        {
            continue;
        }
        let path = dir.join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            // A kernel without IPv6 has no tcp6/udp6, one without UDP-Lite no udplite.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        out.extend(
            parse_table(&text, protocol)
                .with_context(|| format!("parsing {}", path.display()))?
                .into_iter()
                .filter(|s| query.matches(s)),
        );
    }
    Ok(out)
}

/// Parses one /proc/net table (its header line first).
pub(crate) fn parse_table(text: &str, protocol: Protocol) -> Result<Vec<RawSocket>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        out.push(parse_line(line, protocol).with_context(|| format!("line {}", n + 1))?);
    }
    Ok(out)
}

fn parse_line(line: &str, protocol: Protocol) -> Result<RawSocket> {
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    let f: Vec<&str> = line.split_whitespace().collect();
    let field = |i: usize| {
        f.get(i)
            .copied()
            .with_context(|| format!("missing field {i}"))
    };
    let (local_address, local_port) = endpoint(field(1)?)?;
    let (remote_address, remote_port) = endpoint(field(2)?)?;
    let state = u8::from_str_radix(field(3)?, 16).context("state")?;
    let uid = field(7)?.parse::<u32>().context("uid")?;
    let inode = field(9)?.parse::<u64>().context("inode")?;
    Ok(RawSocket {
        protocol,
        local_address,
        local_port,
        remote_address,
        remote_port,
        state: State::from_kernel(protocol, state),
        uid: Some(uid),
        inode: Some(inode),
        v6only: None,
        pids: crate::model::Few::default(),
        fds: crate::model::Few::default(),
        marks: crate::model::Flags::default(),
        netns: None,
    })
}

/// `0100007F:1F90`: the address as the kernel's 32-bit words printed in host order.
fn endpoint(text: &str) -> Result<(IpAddr, u16)> {
    let (addr, port) = text.split_once(':').context("endpoint without ':'")?;
    let port = u16::from_str_radix(port, 16).context("port")?;
    let word = |i: usize| -> Result<[u8; 4]> {
        let hex = addr.get(i * 8..i * 8 + 8).context("short address")?;
        Ok(u32::from_str_radix(hex, 16)
            .context("address")?
            .to_ne_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => anyhow::bail!("address of {} hex digits", addr.len()),
    };
    Ok((ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tables() {
        let words = |b: [u8; 4]| format!("{:08X}", u32::from_ne_bytes(b));
        let v4 = words([127, 0, 0, 1]);
        let v6 = format!(
            "{}{}{}{}",
            words([0; 4]),
            words([0; 4]),
            words([0; 4]),
            words([0, 0, 0, 1])
        );
        let text = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
             0: {v4}:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 100 0 0 10 0\n"
        );
        let s = parse_table(&text, Protocol::Tcp).unwrap_or_default();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].local_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(
            (s[0].local_port, s[0].state, s[0].uid, s[0].inode),
            (8080, State::Listen, Some(1000), Some(4242))
        );
        let text6 = format!("hdr\n 0: {v6}:0035 {v6}:0000 07 0:0 0:0 0 0 0 77 2 0\n");
        let s = parse_table(&text6, Protocol::Udp).unwrap_or_default();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].local_address, IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!((s[0].local_port, s[0].state), (53, State::Unconnected));
        assert!(parse_table("hdr\n 0: zz:1 00:0 0A\n", Protocol::Tcp).is_err());
    }
}
