//! `whoport wait`: until a port is listening, held or free, from the local socket table
//! only. Nothing is sent to the port: a server listening on 127.0.0.1 only is seen when
//! `localhost` resolves to ::1 (and the other way round), and a server is not disturbed
//! by probe connections.
//!
//! The conditions are pure functions of the sockets on a port; the loop takes the scan
//! and the clock from outside, so that it is tested on scripted scans.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::model::{RawSocket, State};

/// What `--until` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Until {
    /// A listening socket: TCP LISTEN or a bound, unconnected UDP socket; any address
    /// family (the default).
    Listening,
    /// Any socket on the port, in any state.
    Held,
    /// No socket at all on the port (TIME_WAIT included: a new listener without
    /// SO_REUSEADDR could not bind yet).
    Free,
}

impl Until {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Until::Listening => "listening",
            Until::Held => "held",
            Until::Free => "free",
        }
    }

    /// Whether the sockets on one port meet the condition.
    pub(crate) fn met(self, sockets: &[&RawSocket]) -> bool {
        match self {
            Until::Listening => sockets.iter().any(|s| s.state.is_listening()),
            Until::Held => !sockets.is_empty(),
            Until::Free => sockets.is_empty(),
        }
    }

    /// Whether the condition needs sockets in every state (or only listeners).
    pub(crate) fn every_state(self) -> bool {
        !matches!(self, Until::Listening)
    }
}

/// What one port looked like, for the timeout message: `nothing listening`, or the
/// sockets by protocol and state (`tcp listen on [::1]; tcp time_wait ×2`).
pub(crate) fn describe(sockets: &[&RawSocket]) -> String {
    if sockets.is_empty() {
        return "no socket".to_string();
    }
    let mut parts: Vec<(String, usize)> = Vec::new();
    for s in sockets {
        let what = if s.state.is_listening() {
            format!(
                "{} {} on {}",
                s.protocol,
                s.state,
                crate::model::endpoint(&s.local_address, s.local_port)
            )
        } else {
            format!("{} {}", s.protocol, s.state)
        };
        match parts.iter_mut().find(|(w, _)| *w == what) {
            Some((_, n)) => *n += 1,
            None => parts.push((what, 1)),
        }
    }
    let listening = sockets.iter().any(|s| s.state.is_listening());
    let list = parts
        .into_iter()
        .map(|(w, n)| if n > 1 { format!("{w} ×{n}") } else { w })
        .collect::<Vec<_>>()
        .join("; ");
    if listening {
        list
    } else {
        format!("nothing listening ({list})")
    }
}

/// The state of every port waited for, at one look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Look {
    /// (port, met, what was seen).
    pub(crate) ports: Vec<(u16, bool, String)>,
}

impl Look {
    pub(crate) fn all_met(&self) -> bool {
        self.ports.iter().all(|(_, met, _)| *met)
    }
}

/// Judges one scan for every port waited for.
pub(crate) fn look(until: Until, ports: &[u16], sockets: &[RawSocket]) -> Look {
    let mut by_port: HashMap<u16, Vec<&RawSocket>> = HashMap::new();
    for s in sockets.iter().filter(|s| s.state != State::NewSynRecv) {
        by_port.entry(s.local_port).or_default().push(s);
    }
    Look {
        ports: ports
            .iter()
            .map(|&port| {
                let on = by_port.get(&port).map_or(&[][..], Vec::as_slice);
                (port, until.met(on), describe(on))
            })
            .collect(),
    }
}

/// How the wait ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Waited {
    Met { after: Duration, look: Look },
    TimedOut { after: Duration, last: Look },
}

/// Looks every `interval` until every port meets `until`, or `timeout` passes.
pub(crate) fn run(
    until: Until,
    ports: &[u16],
    timeout: Option<Duration>,
    interval: Duration,
    scan: &mut dyn FnMut() -> Result<Vec<RawSocket>>,
    clock: &mut dyn Clock,
) -> Result<Waited> {
    let start = clock.now();
    let deadline = timeout.and_then(|t| super::duration::deadline(start, t));
    loop {
        let seen = look(until, ports, &scan()?);
        let now = clock.now();
        let after = now.saturating_duration_since(start);
        if seen.all_met() {
            return Ok(Waited::Met { after, look: seen });
        }
        match deadline {
            Some(d) if now >= d => return Ok(Waited::TimedOut { after, last: seen }),
            Some(d) => clock.sleep(interval.min(d.saturating_duration_since(now))),
            None => clock.sleep(interval),
        }
    }
}

/// Time, from outside (the real one in use, a stepped one in tests).
pub(crate) trait Clock {
    fn now(&self) -> Instant;
    fn sleep(&mut self, duration: Duration);
}

/// The real clock.
pub(crate) struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&mut self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::model::testing;
    use crate::model::{NoneReason, Owner, Protocol};

    fn raw(protocol: Protocol, addr: IpAddr, port: u16, state: State) -> RawSocket {
        let owner = Owner::None {
            reason: NoneReason::NoFile,
        };
        let mut raw = testing::socket(protocol, addr, port, state, owner).raw;
        raw.remote_address = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        raw.remote_port = 0;
        raw
    }

    const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

    #[test]
    fn conditions() {
        let listen6 = raw(Protocol::Tcp, V6, 5432, State::Listen);
        let udp4 = raw(Protocol::Udp, V4, 5432, State::Unconnected);
        let tw = raw(Protocol::Tcp, V4, 5432, State::TimeWait);
        assert!(Until::Listening.met(&[&listen6]));
        assert!(Until::Listening.met(&[&udp4]));
        assert!(!Until::Listening.met(&[&tw]));
        assert!(!Until::Listening.met(&[]));
        assert!(Until::Held.met(&[&tw]));
        assert!(!Until::Held.met(&[]));
        assert!(Until::Free.met(&[]));
        assert!(!Until::Free.met(&[&tw]), "TIME_WAIT still holds the port");
    }

    #[test]
    fn described() {
        let listen6 = raw(Protocol::Tcp, V6, 5432, State::Listen);
        let tw = raw(Protocol::Tcp, V4, 5432, State::TimeWait);
        assert_eq!(describe(&[]), "no socket");
        assert_eq!(
            describe(&[&tw, &tw]),
            "nothing listening (tcp time_wait ×2)"
        );
        assert_eq!(
            describe(&[&listen6, &tw]),
            "tcp listen on [::1]:5432; tcp time_wait"
        );
    }

    struct Stepped {
        base: Instant,
        t: Duration,
    }

    impl Clock for Stepped {
        fn now(&self) -> Instant {
            self.base + self.t
        }
        fn sleep(&mut self, d: Duration) {
            self.t += d;
        }
    }

    #[test]
    fn waits_for_every_port_then_meets() -> Result<()> {
        let mut clock = Stepped {
            base: Instant::now(),
            t: Duration::ZERO,
        };
        let mut n = 0;
        let mut scan = || -> Result<Vec<RawSocket>> {
            n += 1;
            Ok(match n {
                1 => vec![],
                2 => vec![raw(Protocol::Tcp, V4, 8001, State::Listen)],
                _ => vec![
                    raw(Protocol::Tcp, V4, 8001, State::Listen),
                    raw(Protocol::Udp, V6, 8002, State::Unconnected),
                ],
            })
        };
        let got = run(
            Until::Listening,
            &[8001, 8002],
            None,
            Duration::from_millis(100),
            &mut scan,
            &mut clock,
        )?;
        assert!(
            matches!(&got, Waited::Met { after, .. } if *after == Duration::from_millis(200)),
            "{got:?}"
        );
        Ok(())
    }

    #[test]
    fn times_out_saying_what_it_saw() -> Result<()> {
        let mut clock = Stepped {
            base: Instant::now(),
            t: Duration::ZERO,
        };
        let mut scan = || -> Result<Vec<RawSocket>> {
            Ok(vec![raw(Protocol::Tcp, V4, 8080, State::Established)])
        };
        let got = run(
            Until::Free,
            &[8080],
            Some(Duration::from_millis(250)),
            Duration::from_millis(100),
            &mut scan,
            &mut clock,
        )?;
        let Waited::TimedOut { after, last } = got else {
            panic!("met")
        };
        assert_eq!(after, Duration::from_millis(250));
        assert_eq!(
            last.ports,
            vec![(
                8080,
                false,
                "nothing listening (tcp established)".to_string()
            )]
        );
        Ok(())
    }
}
