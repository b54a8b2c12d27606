//! Builders of model values for unit tests.

use std::net::{IpAddr, Ipv4Addr};

use super::{
    Owner, Process, Protocol, RawSocket, Socket, SocketKnowledge, State, XsanCheck, XsanPort,
    XsanVerdict,
};

/// A process with every detail known; its command line carries a secret that must never
/// reach a label or a status line.
pub(crate) fn process(pid: u32, name: &str, user: Option<&str>, uid: u32, exe: &str) -> Process {
    Process {
        pid,
        name: Some(name.to_string()),
        user: user.map(crate::model::Name::from),
        uid: Some(uid),
        exe: Some(exe.to_string()),
        cmdline: Some(vec![exe.to_string(), "--secret-token=abc".to_string()]),
        exe_deleted: false,
        cmdline_raw: None,
        context: Default::default(),
    }
}

/// A socket of uid 1000 (`alice`) with this owner; connected or not, its remote end is
/// 10.1.2.3:51515 (which must not reach a label either).
pub(crate) fn socket(
    protocol: Protocol,
    addr: IpAddr,
    port: u16,
    state: State,
    owner: Owner,
) -> Socket {
    Socket {
        raw: RawSocket {
            protocol,
            local_address: addr,
            local_port: port,
            remote_address: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
            remote_port: 51515,
            state,
            uid: Some(1000),
            inode: Some(42),
            v6only: None,
            pids: owner.processes().iter().map(|p| p.pid).collect(),
            fds: crate::model::Few::default(),
            marks: crate::model::Flags::default(),
            netns: None,
        },
        user: Some("alice".into()),
        owner,
        flags: crate::model::Flags::default(),
        knowledge: SocketKnowledge::default(),
        context: Default::default(),
    }
}

/// A socket with this Xsan verdict (and its flag), as `annotate` sets it.
pub(crate) fn with_xsan_verdict(mut s: Socket, verdict: XsanVerdict) -> Socket {
    s.set_xsan(XsanCheck {
        port: XsanPort::XsanAdmin,
        verdict,
        reason: "test".to_string(),
    });
    s
}
