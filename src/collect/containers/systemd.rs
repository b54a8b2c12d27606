//! systemd's `.socket` units on disk: which one a socket that the service manager holds
//! (socket activation) belongs to. Parsing is pure; `Attributor::socket_unit` reads the
//! files.

use std::net::IpAddr;

use crate::model::Protocol;

/// Where system units live, highest priority first (systemd.unit(5)); transient units
/// (`systemd-run --socket-property`, …) are in `/run/systemd/transient`.
pub(crate) const UNIT_DIRS: [&str; 6] = [
    "/etc/systemd/system",
    "/run/systemd/transient",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// One `ListenStream=`/`ListenDatagram=` of a socket unit that is an IP port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Listen {
    pub(crate) protocol: Protocol,
    /// `None`: every address (`ListenStream=8080`).
    pub(crate) address: Option<IpAddr>,
    pub(crate) port: u16,
}

impl Listen {
    /// Whether a socket bound to `address:port` is this one.
    pub(crate) fn matches(&self, protocol: Protocol, address: IpAddr, port: u16) -> bool {
        self.protocol == protocol
            && self.port == port
            && match self.address {
                Some(a) => a == address,
                None => address.is_unspecified(),
            }
    }
}

/// The IP listens of a unit's text and its drop-ins, in order (systemd.socket(5)): an
/// empty `ListenStream=` resets the list; paths, abstract and vsock sockets, netlink and
/// FIFOs are not IP ports and are left out.
pub(crate) fn listens<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<Listen> {
    let mut out = Vec::new();
    for text in texts {
        let mut in_socket = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                in_socket = line == "[Socket]";
                continue;
            }
            if !in_socket || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let protocol = match key.trim() {
                "ListenStream" => Protocol::Tcp,
                "ListenDatagram" => Protocol::Udp,
                _ => continue,
            };
            let value = value.trim();
            if value.is_empty() {
                out.clear();
                continue;
            }
            if let Some((address, port)) = ip_port(value) {
                out.push(Listen {
                    protocol,
                    address,
                    port,
                });
            }
        }
    }
    out
}

/// `8080`, `0.0.0.0:8080`, `127.0.0.1:8080`, `[::1]:8080`; a port alone means every
/// address. Not `/path`, `@abstract`, `vsock:…`.
fn ip_port(value: &str) -> Option<(Option<IpAddr>, u16)> {
    if let Ok(port) = value.parse::<u16>() {
        return (port != 0).then_some((None, port));
    }
    let (address, port) = if let Some(rest) = value.strip_prefix('[') {
        let (a, p) = rest.split_once("]:")?;
        // A scope (`%eth0`) does not change the address.
        (a.split('%').next()?, p)
    } else {
        value.rsplit_once(':')?
    };
    let address: IpAddr = address.parse().ok()?;
    let port: u16 = port.parse().ok().filter(|&p| p != 0)?;
    Some((Some(address).filter(|a| !a.is_unspecified()), port))
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn listen(protocol: Protocol, address: Option<&str>, port: u16) -> Listen {
        Listen {
            protocol,
            address: address.and_then(|a| a.parse().ok()),
            port,
        }
    }

    #[test]
    fn unit_texts() {
        let unit = "[Unit]\nDescription=web\nListenStream=1\n\n[Socket]\n\
                    ListenStream=8080\n# ListenStream=9\nListenStream=127.0.0.1:8081\n\
                    ListenStream=[::1]:8082\nListenStream=[fe80::1%eth0]:8083\n\
                    ListenDatagram=0.0.0.0:5353\nListenStream=/run/web.sock\n\
                    ListenStream=@abstract\nListenStream=vsock:2:1234\nListenStream=0\n\
                    ListenSequentialPacket=9000\nAccept=no\n\n[Install]\nWantedBy=sockets.target\n";
        assert_eq!(
            listens([unit]),
            vec![
                listen(Protocol::Tcp, None, 8080),
                listen(Protocol::Tcp, Some("127.0.0.1"), 8081),
                listen(Protocol::Tcp, Some("::1"), 8082),
                listen(Protocol::Tcp, Some("fe80::1"), 8083),
                listen(Protocol::Udp, None, 5353),
            ]
        );
        // A drop-in resets the list and sets its own.
        let drop_in = "[Socket]\nListenStream=\nListenStream=9090\n";
        assert_eq!(
            listens([unit, drop_in]),
            vec![listen(Protocol::Tcp, None, 9090)]
        );
        assert_eq!(listens(["ListenStream=80"]), vec![]);
    }

    #[test]
    fn matching() {
        let any = listen(Protocol::Tcp, None, 8080);
        let lo = listen(Protocol::Tcp, Some("127.0.0.1"), 8080);
        let v4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let v6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert!(any.matches(Protocol::Tcp, v6, 8080));
        assert!(any.matches(Protocol::Tcp, v4, 8080));
        assert!(!any.matches(Protocol::Tcp, local, 8080));
        assert!(!any.matches(Protocol::Udp, v6, 8080));
        assert!(!any.matches(Protocol::Tcp, v6, 8081));
        assert!(lo.matches(Protocol::Tcp, local, 8080));
        assert!(!lo.matches(Protocol::Tcp, v4, 8080));
    }
}
