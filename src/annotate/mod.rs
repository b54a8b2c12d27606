//! What is known about ports, with its source: the IANA registry, RFC 6335 range
//! classes, this OS's ephemeral range, and Apple's Xsan layer (`xsan`).
//!
//! Pure: [`annotate`] is a function of the report and a [`Context`] made from what the
//! host says (read once, by `host`).

pub(crate) mod xsan;

use std::collections::HashMap;

use crate::host::Host;
use crate::iana::{Copy, Registry, Transport};
use crate::model::{
    EphemeralRange, IanaEntry, Name, Note, NoteSource, PortInfo, RangeClass, RegistryCopy,
    RegistryInfo, Report, Socket, XsanAudit, XsanHost, XsanVerdict,
};

/// What one annotation pass works from.
pub(crate) struct Context<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) xsan: &'a XsanHost,
    pub(crate) ephemeral: Option<&'a EphemeralRange>,
    /// Single ports the user gave by number (not by service name, not as a range).
    pub(crate) asked_by_number: &'a [u16],
    pub(crate) warnings: Vec<String>,
    /// The user asked for the Xsan audit (`--xsan`, `--expect xsan`, `--warn-on
    /// xsan-conflict`).
    pub(crate) xsan_asked: bool,
}

impl<'a> Context<'a> {
    pub(crate) fn new(host: &'a dyn Host, asked_by_number: &'a [u16]) -> Context<'a> {
        Context {
            registry: host.registry(),
            xsan: host.xsan(),
            ephemeral: host.ephemeral(),
            asked_by_number,
            warnings: host.warnings(),
            xsan_asked: false,
        }
    }

    /// Whether listeners on Xsan ports are judged, with the alarm that goes with a bad
    /// verdict (`!!`, the `xsan_*` flags, the check's WARNING): only where Xsan is
    /// configured or the user asked. Elsewhere a port asked about gets a plain note.
    pub(crate) fn xsan_alarm(&self) -> bool {
        self.xsan_asked || self.xsan.is_configured()
    }
}

/// The Xsan audit view: the host's configuration and the ranges it looks at.
pub(crate) fn xsan_audit(host: &XsanHost, asked_by_number: &[u16]) -> XsanAudit {
    XsanAudit {
        host: host.clone(),
        window: xsan::audit_ranges(host, asked_by_number),
    }
}

/// Adds what is known to every socket (service names, the Xsan verdict and its flag)
/// and to every port asked about (registry rows, range class notes, Apple, this host).
pub(crate) fn annotate(report: &mut Report, ctx: &Context) {
    // Verdicts that raise no alarm here, as notes on the ports asked about.
    let mut quiet: Vec<(u16, String)> = Vec::new();
    // One copy of each service name, shared by the sockets that bear it.
    let mut names: HashMap<&str, Name> = HashMap::new();
    for s in &mut report.sockets {
        if let Some(reason) = annotate_socket(s, ctx, &mut names) {
            quiet.push((s.raw.local_port, reason));
        }
    }
    for p in &mut report.ports {
        annotate_port(p, ctx);
        for (_, reason) in quiet.iter().filter(|(port, _)| *port == p.port) {
            p.notes.push(Note {
                source: NoteSource::Host,
                text: format!(
                    "{reason}; no alarm, since Xsan is not configured here (whoport --xsan {} \
                     judges it as an Xsan port)",
                    p.port
                ),
            });
        }
    }
    report.registry = Some(registry_info(ctx.registry));
    report.ephemeral = ctx.ephemeral.cloned();
    report.warnings.extend(ctx.warnings.iter().cloned());
    report.warnings.extend(ctx.xsan.warnings.iter().cloned());
    // A verdict relies on the executable directories: say when others can write there.
    if report.sockets.iter().any(|s| s.knowledge.xsan.is_some()) || ctx.xsan_asked {
        report
            .warnings
            .extend(ctx.xsan.bin_dir_warnings.iter().cloned());
    }
}

/// Whether a port is one this OS hands out to clients (IANA's dynamic range when the
/// OS's own range is not known).
fn ephemeral(ctx: &Context, port: u16) -> bool {
    match ctx.ephemeral {
        Some(range) => range.contains(port),
        None => RangeClass::of(port) == RangeClass::Dynamic,
    }
}

/// Annotates one socket; returns the reason of an Xsan verdict that raises no alarm here
/// (a listener that is not Xsan's, on a host without Xsan).
fn annotate_socket<'r>(
    s: &mut Socket,
    ctx: &Context<'r>,
    names: &mut HashMap<&'r str, Name>,
) -> Option<String> {
    let t = Transport::from(s.raw.protocol);
    // A client's local port was picked by the OS: its registry name would be chance.
    let client_side = !s.raw.state.is_listening() && ephemeral(ctx, s.raw.local_port);
    let mut shared = |name: &'r str| -> Name {
        names
            .entry(name)
            .or_insert_with(|| Name::from(name))
            .clone()
    };
    if client_side {
        s.knowledge.set_remote_service(
            ctx.registry
                .service_name(s.raw.remote_port, t)
                .map(&mut shared),
        );
    } else {
        s.knowledge.set_service(
            ctx.registry
                .service_name(s.raw.local_port, t)
                .map(&mut shared),
        );
    }
    let check = xsan::check(s, ctx.xsan, ctx.asked_by_number)?;
    if ctx.xsan_alarm() || check.verdict == XsanVerdict::Xsan {
        s.set_xsan(check);
        None
    } else {
        Some(check.reason)
    }
}

fn annotate_port(p: &mut PortInfo, ctx: &Context) {
    let rows = ctx.registry.at(p.port);
    p.iana = rows
        .iter()
        .map(|r| {
            let (first_port, last_port) = r.ports.unwrap_or((p.port, p.port));
            IanaEntry {
                service: r.service().map(str::to_string),
                protocol: r.transport.as_str(),
                description: r.description.to_string(),
                first_port,
                last_port,
            }
        })
        .collect();
    let mut notes = Vec::new();
    let iana = |text: String| Note {
        source: NoteSource::Iana,
        text,
    };
    if p.range == RangeClass::Dynamic {
        notes.push(iana(
            "dynamic range, nothing assigned: IANA never assigns ports 49152-65535 \
             (RFC 6335 section 6)"
                .to_string(),
        ));
    } else if rows.is_empty() {
        notes.push(iana(format!("no registry row for {}: unassigned", p.port)));
    }
    notes.extend(xsan::apple_notes(p.port, true, true));
    if let Some(range) = ctx.ephemeral {
        let inside = if range.contains(p.port) {
            "inside it: a client may hold it for a while"
        } else {
            "outside it"
        };
        notes.push(Note {
            source: NoteSource::Host,
            text: format!(
                "this OS picks ephemeral client ports from {}-{} ({}): {} is {inside}",
                range.first, range.last, range.source, p.port
            ),
        });
    }
    notes.extend(xsan::host_note(
        ctx.xsan,
        p.port,
        ctx.asked_by_number,
        ctx.xsan_alarm(),
    ));
    p.notes = notes;
    p.in_ephemeral_range = ctx.ephemeral.map(|r| r.contains(p.port));
}

/// Which copy of the registry answers, for reports.
pub(crate) fn registry_info(registry: &Registry) -> RegistryInfo {
    let rows = registry.rows().len();
    match registry.copy() {
        Copy::BuiltIn { generated, .. } => RegistryInfo {
            copy: RegistryCopy::BuiltIn,
            path: None,
            date: Some(generated.to_string()),
            rows,
        },
        Copy::User { path, newest_date } => RegistryInfo {
            copy: RegistryCopy::User,
            path: Some(path.clone()),
            date: newest_date.clone(),
            rows,
        },
    }
}

/// A plain explanation of an RFC 6335 range class.
pub(crate) fn range_explanation(range: RangeClass) -> &'static str {
    match range {
        RangeClass::System => "system port (0-1023): assigned by IETF review",
        RangeClass::User => "user port (1024-49151): assigned by IANA on request",
        RangeClass::Dynamic => {
            "dynamic port (49152-65535): never assigned by IANA; used for ephemeral ports"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        FsPorts, Owner, Process, Protocol, RawSocket, SocketFlag, SocketKnowledge, State,
        XsanVerdict,
    };
    use std::net::{IpAddr, Ipv4Addr};

    fn port(n: u16) -> PortInfo {
        PortInfo {
            port: n,
            range: RangeClass::of(n),
            sockets: 0,
            iana: Vec::new(),
            notes: Vec::new(),
            in_ephemeral_range: None,
            left_out: None,
        }
    }

    fn socket(state: State, local: u16, remote: u16, exe: &str) -> Socket {
        Socket {
            raw: RawSocket {
                protocol: Protocol::Tcp,
                local_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                local_port: local,
                remote_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                remote_port: remote,
                state,
                uid: Some(0),
                inode: Some(7),
                v6only: None,
                pids: vec![42].into(),
                fds: crate::model::Few::default(),
                marks: crate::model::Flags::default(),
                netns: None,
            },
            user: None,
            owner: Owner::Known(
                vec![Process {
                    pid: 42,
                    name: Some("fsm".into()),
                    user: None,
                    uid: None,
                    exe: Some(exe.into()),
                    cmdline: None,
                    exe_deleted: false,
                    cmdline_raw: None,
                    context: Default::default(),
                }]
                .into(),
            ),
            flags: crate::model::Flags::default(),
            knowledge: SocketKnowledge::default(),
            context: Default::default(),
        }
    }

    fn linux_range() -> EphemeralRange {
        EphemeralRange {
            first: 32768,
            last: 60999,
            source: "/proc/sys/net/ipv4/ip_local_port_range",
        }
    }

    fn context<'a>(
        registry: &'a Registry,
        host: &'a XsanHost,
        ephemeral: Option<&'a EphemeralRange>,
        asked_by_number: &'a [u16],
    ) -> Context<'a> {
        Context {
            registry,
            xsan: host,
            ephemeral,
            asked_by_number,
            warnings: Vec::new(),
            xsan_asked: false,
        }
    }

    fn notes_of(p: &PortInfo) -> Vec<(&'static str, &str)> {
        p.notes
            .iter()
            .map(|n| (n.source.as_str(), n.text.as_str()))
            .collect()
    }

    #[test]
    fn xsan_alarm_only_where_configured_or_asked() {
        let registry = Registry::builtin();
        let unconfigured = XsanHost {
            config_dirs: vec!["/usr/cvfs/config".into()],
            bin_dirs: vec!["/usr/cvfs/bin".into()],
            bin_dir_warnings: vec!["Xsan: the executable directory /tmp can be changed".into()],
            ..XsanHost::default()
        };
        let run = |host: &XsanHost, asked: bool| {
            let mut report = Report {
                sockets: vec![socket(State::Listen, 60322, 0, "/tmp/fsm")],
                ports: vec![port(60322)],
                ..Report::default()
            };
            let mut ctx = context(&registry, host, None, &[60322]);
            ctx.xsan_asked = asked;
            annotate(&mut report, &ctx);
            report
        };
        // A host without Xsan, nothing asked: no verdict, no flag; a plain note.
        let quiet = run(&unconfigured, false);
        assert_eq!(quiet.sockets[0].xsan(), None);
        assert!(quiet.sockets[0].flags.is_empty());
        let notes = notes_of(&quiet.ports[0]);
        assert!(
            notes.iter().any(|(source, text)| *source == "host"
                && text.starts_with("not Xsan: pid 42 (fsm) runs /tmp/fsm")
                && text.contains("no alarm, since Xsan is not configured here")),
            "{notes:?}"
        );
        assert!(quiet.warnings.is_empty(), "{:?}", quiet.warnings);
        // Asked (--xsan, --expect xsan): the alarm, and the directory warning with it.
        let asked = run(&unconfigured, true);
        assert_eq!(asked.sockets[0].xsan(), Some(XsanVerdict::NotXsan));
        assert_eq!(asked.sockets[0].flags, [SocketFlag::XsanConflict].into());
        assert_eq!(asked.warnings.len(), 1, "{:?}", asked.warnings);
        // Configured: the alarm without asking.
        let configured = XsanHost {
            configured_in: Some("/usr/cvfs/config".into()),
            ..unconfigured.clone()
        };
        let alarm = run(&configured, false);
        assert_eq!(alarm.sockets[0].xsan(), Some(XsanVerdict::NotXsan));
    }

    #[test]
    fn port_60322_states_both_truths() {
        let registry = Registry::builtin();
        let host = XsanHost {
            config_dirs: vec!["/usr/cvfs/config".into()],
            ..XsanHost::default()
        };
        let range = linux_range();
        let ctx = context(&registry, &host, Some(&range), &[60322]);
        let mut p = port(60322);
        annotate_port(&mut p, &ctx);
        assert!(p.iana.is_empty(), "{:?}", p.iana);
        let notes = notes_of(&p);
        assert_eq!(notes[0].0, "IANA");
        assert!(notes[0].1.starts_with("dynamic range, nothing assigned"));
        assert_eq!(notes[1].0, "Apple");
        assert!(
            notes[1]
                .1
                .starts_with("Xsan Filesystem Access uses 49152-65535/tcp")
        );
        assert_eq!(notes[2].0, "host");
        assert!(notes[2].1.contains("32768-60999") && notes[2].1.contains("inside"));
        assert_eq!(notes[3].0, "host");
        assert!(notes[3].1.starts_with("Xsan is not configured here"));
        assert_eq!(notes.len(), 4);
        assert_eq!(p.in_ephemeral_range, Some(true));
        // Nowhere does IANA claim the port for Xsan.
        assert!(
            !p.notes
                .iter()
                .any(|n| n.source == NoteSource::Iana && n.text.to_lowercase().contains("xsan"))
        );
    }

    #[test]
    fn ports_get_their_registry_rows() {
        let registry = Registry::builtin();
        let host = XsanHost::default();
        let ctx = context(&registry, &host, None, &[]);
        let rows = |n: u16| {
            let mut p = port(n);
            annotate_port(&mut p, &ctx);
            p
        };
        let p = rows(625);
        let services: Vec<(Option<&str>, Option<&str>)> = p
            .iana
            .iter()
            .map(|e| (e.service.as_deref(), e.protocol))
            .collect();
        assert_eq!(
            services,
            [
                (Some("dec-dlm"), Some("tcp")),
                (Some("dec_dlm"), Some("tcp")),
                (Some("dec-dlm"), Some("udp")),
                (Some("dec_dlm"), Some("udp")),
            ]
        );
        assert!(
            notes_of(&p)
                .iter()
                .any(|(s, t)| *s == "Apple" && t.contains("Open Directory"))
        );
        let x = rows(6010);
        assert_eq!(
            (
                x.iana[0].service.as_deref(),
                x.iana[0].first_port,
                x.iana[0].last_port
            ),
            (Some("x11"), 6000, 6063)
        );
        let unassigned = rows(275);
        assert_eq!(unassigned.iana[0].service, None);
        assert_eq!(unassigned.iana[0].protocol, None);
        assert_eq!(
            (unassigned.iana[0].first_port, unassigned.iana[0].last_port),
            (272, 279)
        );
        assert_eq!(unassigned.iana[0].description, "Unassigned");
        let apple = rows(312);
        assert_eq!(apple.iana[0].service.as_deref(), Some("vslmp"));
        assert!(
            notes_of(&apple)
                .iter()
                .any(|(s, t)| *s == "Apple" && t.contains("Xsan Administration"))
        );
    }

    #[test]
    fn sockets_get_services_and_the_xsan_flag() {
        let registry = Registry::builtin();
        let host = XsanHost {
            configured_in: Some("/usr/cvfs/config".into()),
            fsports: Some(FsPorts {
                path: "/usr/cvfs/config/fsports".into(),
                min_port: 52000,
                max_port: 52100,
                alt_pmap: None,
            }),
            bin_dirs: vec!["/usr/cvfs/bin".into()],
            ..XsanHost::default()
        };
        let range = linux_range();
        let ctx = context(&registry, &host, Some(&range), &[]);
        // (socket, service, remote service, flags)
        let cases = [
            (
                socket(State::Listen, 22, 0, "/usr/sbin/sshd"),
                Some("ssh"),
                None,
                vec![],
            ),
            (
                socket(State::Established, 22, 40000, "/usr/sbin/sshd"),
                Some("ssh"),
                None,
                vec![],
            ),
            // A client: the local port is the OS's pick, the remote one tells the service.
            (
                socket(State::Established, 40000, 443, "/usr/bin/curl"),
                None,
                Some("https"),
                vec![],
            ),
            (
                socket(State::Listen, 52010, 0, "/tmp/fsm"),
                None,
                None,
                vec![SocketFlag::XsanConflict],
            ),
            (
                socket(State::Listen, 52011, 0, "/usr/cvfs/bin/fsm"),
                None,
                None,
                vec![SocketFlag::XsanVerified],
            ),
            // Inside the window but not listening: a client, never flagged.
            (
                socket(State::Established, 52012, 443, "/tmp/fsm"),
                None,
                Some("https"),
                vec![],
            ),
        ];
        for (mut s, service, remote, flags) in cases {
            annotate_socket(&mut s, &ctx, &mut HashMap::new());
            let port = s.raw.local_port;
            assert_eq!(s.knowledge.service().map(|n| &**n), service, "{port}");
            assert_eq!(s.knowledge.remote_service().map(|n| &**n), remote, "{port}");
            assert_eq!(s.flags.iter().collect::<Vec<_>>(), flags, "{port}");
            assert_eq!(
                s.knowledge.xsan.as_ref().map(|c| c.verdict),
                match flags.first() {
                    Some(SocketFlag::XsanVerified) => Some(XsanVerdict::Xsan),
                    Some(_) => Some(XsanVerdict::NotXsan),
                    None => None,
                },
                "{port}"
            );
        }
    }
}
