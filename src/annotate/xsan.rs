//! Apple Xsan (and Quantum StorNext, which it is built on): a separate layer, labelled
//! "Apple", never mixed into the IANA data.
//!
//! Apple documents (support article HT202944, "TCP and UDP ports used by Apple software
//! products") 311/tcp for secure server administration including Xsan Admin, 312/tcp for
//! Xsan Administration, 626/udp for serialnumberd (legacy Xsan) and the whole of
//! 49152-65535/tcp for Xsan Filesystem Access. IANA assigned none of that to Xsan: the
//! dynamic range is never assigned (RFC 6335 section 6).
//!
//! The rule (docs/ports-and-xsan.md): a LISTENING TCP socket on 311, 312 or in the host's
//! Xsan window must be held by Xsan processes, decided by the executable's real path, never
//! by the process name. The window is MinPort-MaxPort (+ AltPmap) from an fsports file;
//! without one, 49152-65535 when Xsan is configured here, or the ports asked about by
//! number. Everything here is pure: what the host says about Xsan is read once by
//! `host::xsan`.

use std::path::{Component, Path};

use crate::model::{
    Note, NoteSource, Owner, Process, Protocol, Socket, State, XsanCheck, XsanHost, XsanPort,
    XsanVerdict,
};

/// Where Apple documents the ports.
pub(crate) const APPLE_REFERENCE: &str = "Apple HT202944";

/// Apple's range for Xsan Filesystem Access (the whole IANA dynamic range).
pub(crate) const APPLE_XSAN_RANGE: (u16, u16) = (49152, 65535);

/// Whether a process is Xsan's: `Some(true)` when its executable lies under one of the
/// host's Xsan executable directories, `Some(false)` when it lies elsewhere, `None` when
/// its executable cannot be read. The name is never used: any program can be called
/// `fsm`. The path is the kernel's (`/proc/PID/exe`, `proc_pidpath`), which resolved every
/// symbolic link when the program started; it is not resolved again here, since a link
/// planted at that path later would then decide.
pub(crate) fn is_xsan_process(host: &XsanHost, process: &Process) -> Option<bool> {
    let exe = process.exe.as_deref()?;
    let exe = exe.strip_suffix(" (deleted)").unwrap_or(exe);
    let path = Path::new(exe);
    if !path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Some(false);
    }
    Some(host.bin_dirs.iter().any(|dir| path.starts_with(dir)))
}

/// Why a TCP port is an Xsan port on this host, if it is one.
pub(crate) fn xsan_port(host: &XsanHost, port: u16, asked_by_number: &[u16]) -> Option<XsanPort> {
    match port {
        311 => return Some(XsanPort::ServerAdmin),
        312 => return Some(XsanPort::XsanAdmin),
        _ => {}
    }
    if let Some(f) = &host.fsports {
        if f.alt_pmap == Some(port) {
            return Some(XsanPort::AltPmap);
        }
        return (f.min_port <= port && port <= f.max_port).then_some(XsanPort::FsportsWindow);
    }
    if port < APPLE_XSAN_RANGE.0 {
        None
    } else if host.configured_in.is_some() {
        Some(XsanPort::ConfiguredRange)
    } else if asked_by_number.contains(&port) {
        Some(XsanPort::AskedRange)
    } else {
        None
    }
}

/// The inclusive port ranges the audit looks at: 311, 312 and the window.
pub(crate) fn audit_ranges(host: &XsanHost, asked_by_number: &[u16]) -> Vec<(u16, u16)> {
    let mut out = vec![(311, 312)];
    match &host.fsports {
        Some(f) => {
            out.push((f.min_port, f.max_port));
            out.extend(f.alt_pmap.map(|p| (p, p)));
        }
        None if host.configured_in.is_some() => out.push(APPLE_XSAN_RANGE),
        None => out.extend(
            asked_by_number
                .iter()
                .filter(|&&p| p >= APPLE_XSAN_RANGE.0)
                .map(|&p| (p, p)),
        ),
    }
    out
}

/// The rule for one socket: `None` unless it is a TCP listener on an Xsan port.
/// Client-side sockets (any state but LISTEN) are never judged.
pub(crate) fn check(
    socket: &Socket,
    host: &XsanHost,
    asked_by_number: &[u16],
) -> Option<XsanCheck> {
    if socket.raw.protocol != Protocol::Tcp || socket.raw.state != State::Listen {
        return None;
    }
    let port = xsan_port(host, socket.raw.local_port, asked_by_number)?;
    let (verdict, reason) = match &socket.owner {
        Owner::Known(processes) => judge(host, processes),
        Owner::Hidden { reason, .. } => (
            XsanVerdict::CannotVerify,
            format!("cannot verify: {}", reason.describe()),
        ),
        Owner::None { reason } => (
            XsanVerdict::NotXsan,
            format!(
                "not Xsan: {}; Xsan's servers are processes (fsmpm, fsm)",
                reason.describe()
            ),
        ),
    };
    Some(XsanCheck {
        port,
        verdict,
        reason,
    })
}

fn judge(host: &XsanHost, processes: &[Process]) -> (XsanVerdict, String) {
    let label = |p: &Process| {
        format!(
            "pid {} ({})",
            p.pid,
            p.name.as_deref().unwrap_or("name unknown")
        )
    };
    let dirs = bin_dirs_text(host);
    if processes.is_empty() {
        return (
            XsanVerdict::CannotVerify,
            "cannot verify: no process".into(),
        );
    }
    let outside: Vec<String> = processes
        .iter()
        .filter(|p| is_xsan_process(host, p) == Some(false))
        .map(|p| format!("{} runs {}", label(p), p.exe.as_deref().unwrap_or("?")))
        .collect();
    if !outside.is_empty() {
        return (
            XsanVerdict::NotXsan,
            format!("not Xsan: {}, outside {dirs}", outside.join(", ")),
        );
    }
    if let Some(p) = processes
        .iter()
        .find(|p| is_xsan_process(host, p).is_none())
    {
        return (
            XsanVerdict::CannotVerify,
            format!(
                "cannot verify: the executable of {} cannot be read (run as root to see it)",
                label(p)
            ),
        );
    }
    let exes: Vec<&str> = processes.iter().filter_map(|p| p.exe.as_deref()).collect();
    (
        XsanVerdict::Xsan,
        format!("Xsan: runs {}, inside {dirs}", exes.join(", ")),
    )
}

fn bin_dirs_text(host: &XsanHost) -> String {
    let dirs: Vec<String> = host
        .bin_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    match dirs.len() {
        0 => "any Xsan executable directory".to_string(),
        1 => format!("the Xsan executable directory {}", dirs.join("")),
        _ => format!("the Xsan executable directories ({})", dirs.join(", ")),
    }
}

/// What Apple documents for a port and protocol (HT202944), as notes.
pub(crate) fn apple_notes(port: u16, tcp: bool, udp: bool) -> Vec<Note> {
    let mut texts: Vec<String> = Vec::new();
    if tcp {
        match port {
            311 => texts.push(format!(
                "311/tcp: secure server administration (Server app, Server Admin, Workgroup \
                 Manager, Server Monitor, Xsan Admin) ({APPLE_REFERENCE})"
            )),
            312 => texts.push(format!(
                "312/tcp: Xsan Administration (Xsan Admin, OS X 10.8 and later) \
                 ({APPLE_REFERENCE})"
            )),
            625 => texts.push(format!(
                "625/tcp: Open Directory proxy, not Xsan ({APPLE_REFERENCE})"
            )),
            p if p >= APPLE_XSAN_RANGE.0 => texts.push(format!(
                "Xsan Filesystem Access uses {}-{}/tcp ({APPLE_REFERENCE}): the whole dynamic \
                 range, so most sockets there are ordinary ephemeral ports, not Xsan",
                APPLE_XSAN_RANGE.0, APPLE_XSAN_RANGE.1
            )),
            _ => {}
        }
    }
    if udp && port == 626 {
        texts.push(format!(
            "626/udp: serialnumberd, Xsan on Mac OS X Server 10.3-10.6, legacy \
             ({APPLE_REFERENCE})"
        ));
    }
    texts
        .into_iter()
        .map(|text| Note {
            source: NoteSource::Apple,
            text,
        })
        .collect()
}

/// What this host says about Xsan, for a port that is an Xsan port or in Apple's range.
pub(crate) fn host_note(
    host: &XsanHost,
    port: u16,
    asked_by_number: &[u16],
    alarm: bool,
) -> Option<Note> {
    let role = xsan_port(host, port, asked_by_number);
    if role.is_none() && port < APPLE_XSAN_RANGE.0 {
        return None;
    }
    let configured = match &host.configured_in {
        Some(dir) => format!(
            "Xsan is configured here (fsnameservers in {})",
            dir.display()
        ),
        None => format!(
            "Xsan is not configured here (no fsnameservers in {})",
            host.config_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let window = match (&host.fsports, role) {
        (Some(f), _) => {
            let alt = f
                .alt_pmap
                .map(|a| format!(", AltPmap {a}"))
                .unwrap_or_default();
            let inside = if role.is_some() { "inside" } else { "outside" };
            format!(
                "; its port window is {}-{}/tcp{alt} ({}): {port} is {inside} it",
                f.min_port,
                f.max_port,
                f.path.display()
            )
        }
        (None, Some(XsanPort::ConfiguredRange)) => {
            "; no fsports file, so its window is Apple's 49152-65535/tcp".to_string()
        }
        (None, Some(XsanPort::AskedRange)) if alarm => {
            format!("; {port} was asked about by number, so a TCP listener here must be Xsan's")
        }
        (None, Some(XsanPort::AskedRange)) => format!(
            "; a listener on {port} is not judged as Xsan's here (whoport --xsan {port} or \
             check --expect xsan does)"
        ),
        _ => String::new(),
    };
    Some(Note {
        source: NoteSource::Host,
        text: format!("{configured}{window}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FsPorts, HiddenReason, NoneReason, RawSocket, SocketKnowledge};
    use std::net::{IpAddr, Ipv4Addr};

    fn process(pid: u32, name: &str, exe: Option<&str>) -> Process {
        Process {
            pid,
            name: Some(name.to_string()),
            user: None,
            uid: None,
            exe: exe.map(str::to_string),
            cmdline: None,
            exe_deleted: false,
            cmdline_raw: None,
            context: Default::default(),
        }
    }

    fn socket(protocol: Protocol, port: u16, state: State, owner: Owner) -> Socket {
        Socket {
            raw: RawSocket {
                protocol,
                local_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                local_port: port,
                remote_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                remote_port: 0,
                state,
                uid: Some(0),
                inode: Some(1),
                v6only: None,
                pids: crate::model::Few::default(),
                fds: crate::model::Few::default(),
                marks: crate::model::Flags::default(),
                netns: None,
            },
            user: None,
            owner,
            flags: crate::model::Flags::default(),
            knowledge: SocketKnowledge::default(),
            context: Default::default(),
        }
    }

    fn host(configured: bool, fsports: Option<(u16, u16, Option<u16>)>) -> XsanHost {
        XsanHost {
            config_dirs: vec!["/usr/cvfs/config".into()],
            configured_in: configured.then(|| "/usr/cvfs/config".into()),
            fsports: fsports.map(|(min_port, max_port, alt_pmap)| FsPorts {
                path: "/usr/cvfs/config/fsports".into(),
                min_port,
                max_port,
                alt_pmap,
            }),
            bin_dirs: vec!["/usr/cvfs/bin".into(), "/opt/xsan/bin".into()],
            alt_bin_dir: Some("/opt/xsan/bin".into()),
            warnings: Vec::new(),
            bin_dir_warnings: Vec::new(),
        }
    }

    #[test]
    fn xsan_processes_are_known_by_their_real_path() {
        let h = host(true, None);
        let cases = [
            (Some("/usr/cvfs/bin/fsm"), Some(true)),
            (Some("/usr/cvfs/bin/fsmpm (deleted)"), Some(true)),
            (Some("/opt/xsan/bin/fsmpm"), Some(true)),
            // The name alone proves nothing.
            (Some("/tmp/fsm"), Some(false)),
            (Some("/usr/cvfs/binx/fsm"), Some(false)),
            (Some("/usr/cvfs/bin/../../../tmp/fsm"), Some(false)),
            (Some("usr/cvfs/bin/fsm"), Some(false)),
            (None, None),
        ];
        for (exe, want) in cases {
            assert_eq!(
                is_xsan_process(&h, &process(1, "fsm", exe)),
                want,
                "{exe:?}"
            );
        }
    }

    type Case<'a> = (
        &'a str,
        &'a XsanHost,
        Socket,
        &'a [u16],
        Option<(XsanPort, XsanVerdict)>,
    );

    #[test]
    fn xsan_rule() {
        use Owner::{Hidden, Known};
        use XsanVerdict::{CannotVerify, NotXsan, Xsan};
        let xsan = || Known(vec![process(10, "fsm", Some("/usr/cvfs/bin/fsm"))].into());
        let fake = || Known(vec![process(20, "fsm", Some("/tmp/x/fsm"))].into());
        let mixed = || {
            Known(
                vec![
                    process(10, "fsm", Some("/usr/cvfs/bin/fsm")),
                    process(21, "sh", Some("/usr/bin/sh")),
                ]
                .into(),
            )
        };
        let unreadable = || Known(vec![process(30, "fsm", None)].into());
        let hidden = || Hidden {
            reason: HiddenReason::NotPermitted,
            uid: Some(0),
            user: None,
        };
        let kernel = || Owner::None {
            reason: NoneReason::NoFile,
        };
        let none_configured = host(false, None);
        let configured = host(true, None);
        let fsports = host(true, Some((52000, 52100, Some(52200))));
        let tcp = Protocol::Tcp;
        let listen = State::Listen;
        // (case, host, socket, asked by number, expected (port, verdict))
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            ("311 by Xsan", &none_configured, socket(tcp, 311, listen, xsan()), &[], Some((XsanPort::ServerAdmin, Xsan))),
            ("311 by another", &none_configured, socket(tcp, 311, listen, fake()), &[], Some((XsanPort::ServerAdmin, NotXsan))),
            ("312 by another", &none_configured, socket(tcp, 312, listen, fake()), &[], Some((XsanPort::XsanAdmin, NotXsan))),
            ("312 hidden", &none_configured, socket(tcp, 312, listen, hidden()), &[], Some((XsanPort::XsanAdmin, CannotVerify))),
            ("311/udp is not Apple's Xsan port", &configured, socket(Protocol::Udp, 311, State::Unconnected, fake()), &[], None),
            ("312 established: a client side", &configured, socket(tcp, 312, State::Established, fake()), &[], None),
            // fsports: its window, its AltPmap, nothing else.
            ("window by Xsan", &fsports, socket(tcp, 52000, listen, xsan()), &[], Some((XsanPort::FsportsWindow, Xsan))),
            ("window by another", &fsports, socket(tcp, 52100, listen, fake()), &[], Some((XsanPort::FsportsWindow, NotXsan))),
            ("AltPmap by another", &fsports, socket(tcp, 52200, listen, fake()), &[], Some((XsanPort::AltPmap, NotXsan))),
            ("outside the window", &fsports, socket(tcp, 52101, listen, fake()), &[], None),
            ("outside the window, even asked", &fsports, socket(tcp, 60322, listen, fake()), &[60322], None),
            ("window, mixed owners", &fsports, socket(tcp, 52050, listen, mixed()), &[], Some((XsanPort::FsportsWindow, NotXsan))),
            ("window, exe unreadable", &fsports, socket(tcp, 52050, listen, unreadable()), &[], Some((XsanPort::FsportsWindow, CannotVerify))),
            ("window, hidden owner", &fsports, socket(tcp, 52050, listen, hidden()), &[], Some((XsanPort::FsportsWindow, CannotVerify))),
            ("window, kernel socket", &fsports, socket(tcp, 52050, listen, kernel()), &[], Some((XsanPort::FsportsWindow, NotXsan))),
            ("window, client socket", &fsports, socket(tcp, 52050, State::Established, fake()), &[], None),
            ("window, UDP", &fsports, socket(Protocol::Udp, 52050, State::Unconnected, fake()), &[], None),
            // Configured, no fsports: Apple's whole range.
            ("configured, dynamic", &configured, socket(tcp, 60322, listen, fake()), &[], Some((XsanPort::ConfiguredRange, NotXsan))),
            ("configured, dynamic, Xsan", &configured, socket(tcp, 49152, listen, xsan()), &[], Some((XsanPort::ConfiguredRange, Xsan))),
            ("configured, user range", &configured, socket(tcp, 49151, listen, fake()), &[], None),
            ("configured, client", &configured, socket(tcp, 60322, State::TimeWait, fake()), &[], None),
            // Not configured: only ports asked about by number.
            ("not configured", &none_configured, socket(tcp, 60322, listen, fake()), &[], None),
            ("not configured, asked", &none_configured, socket(tcp, 60322, listen, fake()), &[60322], Some((XsanPort::AskedRange, NotXsan))),
            ("not configured, asked another", &none_configured, socket(tcp, 60322, listen, fake()), &[60323], None),
            ("not configured, asked user port", &none_configured, socket(tcp, 8080, listen, fake()), &[8080], None),
            ("not configured, asked, client", &none_configured, socket(tcp, 60322, State::Established, fake()), &[60322], None),
        ];
        for (name, h, s, asked, want) in cases {
            let got = check(&s, h, asked).map(|c| (c.port, c.verdict));
            assert_eq!(got, want, "{name}");
        }
        // The reason says which process and why, never just the name.
        let c = check(&socket(tcp, 52000, listen, fake()), &fsports, &[]);
        let reason = c.map(|c| c.reason).unwrap_or_default();
        assert!(
            reason.contains("pid 20") && reason.contains("/tmp/x/fsm"),
            "{reason}"
        );
        assert_eq!(
            XsanVerdict::NotXsan.flag().as_str(),
            "xsan_port_non_xsan_process"
        );
        assert_eq!(
            XsanVerdict::CannotVerify.flag().as_str(),
            "xsan_cannot_verify"
        );
        assert_eq!(XsanVerdict::Xsan.flag().as_str(), "xsan_verified");
    }

    #[test]
    fn the_verdict_names_every_holder_that_is_not_xsan() {
        let owners = Owner::Known(
            vec![
                process(10, "fsm", Some("/usr/cvfs/bin/fsm")),
                process(21, "sshd", Some("/usr/bin/perl")),
                process(22, "fsm", Some("/tmp/fsm")),
            ]
            .into(),
        );
        let c = check(
            &socket(Protocol::Tcp, 312, State::Listen, owners),
            &host(true, None),
            &[],
        );
        let reason = c.map(|c| c.reason).unwrap_or_default();
        assert_eq!(
            reason,
            "not Xsan: pid 21 (sshd) runs /usr/bin/perl, pid 22 (fsm) runs /tmp/fsm, outside \
             the Xsan executable directories (/usr/cvfs/bin, /opt/xsan/bin)"
        );
    }

    #[test]
    fn audit_ranges_follow_the_window() {
        assert_eq!(
            audit_ranges(&host(true, Some((52000, 52100, Some(40000)))), &[]),
            [(311, 312), (52000, 52100), (40000, 40000)]
        );
        assert_eq!(
            audit_ranges(&host(true, None), &[]),
            [(311, 312), (49152, 65535)]
        );
        assert_eq!(
            audit_ranges(&host(false, None), &[60322, 8080]),
            [(311, 312), (60322, 60322)]
        );
    }

    #[test]
    fn apple_and_host_notes() {
        let texts = |notes: Vec<Note>| notes.into_iter().map(|n| n.text).collect::<Vec<_>>();
        assert!(texts(apple_notes(60322, true, true))[0].contains("49152-65535/tcp"));
        assert!(apple_notes(60322, false, true).is_empty());
        assert!(texts(apple_notes(312, true, true))[0].contains("Xsan Administration"));
        assert!(texts(apple_notes(626, true, true))[0].contains("serialnumberd"));
        assert!(apple_notes(22, true, true).is_empty());
        assert!(apple_notes(49151, true, true).is_empty());
        let not_here = host_note(&host(false, None), 60322, &[], false).map(|n| n.text);
        assert!(not_here.is_some_and(|t| t.starts_with("Xsan is not configured here")));
        assert_eq!(host_note(&host(false, None), 22, &[22], false), None);
        let window = host_note(&host(true, Some((52000, 52100, None))), 52010, &[], true);
        assert!(window.is_some_and(
            |n| n.text.contains("52000-52100/tcp") && n.text.contains("52010 is inside it")
        ));
    }
}
