//! Golden output: every format, rendered from fake hosts through the whole pipeline
//! (collect → resolve → annotate → render / check), held to snapshots in `snapshots/`.
//! Any visible change to an output fails here; review it, then accept it with
//! `INSTA_UPDATE=always cargo test` (or `cargo insta review`).
//!
//! The fake host covers every owner kind (known, hidden, none for a closed socket and for
//! a kernel socket), a dual-stack listener, a listener shared by a forked master and
//! worker, a REUSEPORT group, a connection with its remote end, Xsan verdicts, and
//! hostile process names and command lines.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::check;
use crate::collect::fake;
use crate::config::parse_expectations;
use crate::host::fake::FakeHost;
use crate::model::{
    CheckSpec, Filters, FsPorts, Kinds, OwnerScan, PortArg, PortSet, Process, Protocol, RawSocket,
    Report, Snapshot, SocketQuery, State, XsanHost,
};
use crate::pipeline;
use crate::render::{self, Render};

const ANY4: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
const ANY6: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
const LO4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LO6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

fn process(pid: u32, comm: &str, uid: u32, exe: &str, argv: &[&str]) -> Process {
    Process {
        pid,
        name: Some(comm.to_string()),
        user: None,
        uid: Some(uid),
        exe: Some(exe.to_string()),
        cmdline: Some(argv.iter().map(|a| a.to_string()).collect()),
        exe_deleted: false,
        cmdline_raw: None,
        context: Default::default(),
    }
}

#[allow(clippy::too_many_arguments)]
fn raw(
    protocol: Protocol,
    local: (IpAddr, u16),
    remote: (IpAddr, u16),
    state: State,
    uid: u32,
    inode: u64,
    v6only: Option<bool>,
    pids: &[u32],
) -> RawSocket {
    RawSocket {
        protocol,
        local_address: local.0,
        local_port: local.1,
        remote_address: remote.0,
        remote_port: remote.1,
        state,
        uid: Some(uid),
        inode: Some(inode),
        v6only,
        pids: pids.to_vec().into(),
        fds: crate::model::Few::default(),
        marks: crate::model::Flags::default(),
        netns: None,
    }
}

/// The processes of the busy fake host.
fn processes() -> Vec<Process> {
    let long_arg = format!("--config={}", "x".repeat(300));
    vec![
        process(611, "sshd", 0, "/usr/sbin/sshd", &["/usr/sbin/sshd", "-D"]),
        process(
            812,
            "nginx",
            0,
            "/usr/sbin/nginx",
            &["nginx: master process /usr/sbin/nginx"],
        ),
        process(
            813,
            "nginx",
            33,
            "/usr/sbin/nginx",
            &["nginx: worker process"],
        ),
        process(
            900,
            "envoy",
            33,
            "/usr/local/bin/envoy",
            &["/usr/local/bin/envoy", "-c", "/etc/envoy.yaml"],
        ),
        process(
            901,
            "envoy",
            33,
            "/usr/local/bin/envoy",
            &["/usr/local/bin/envoy", "-c", "/etc/envoy.yaml"],
        ),
        process(
            1200,
            "python3",
            1000,
            "/usr/bin/python3.11",
            &["python3", "-m", "http.server", &long_arg],
        ),
        // Hostile: an escape sequence, a bidi override and a zero-width space in its name.
        process(
            1300,
            "ev\u{1b}[31mil\u{202e}gnp.exe",
            1000,
            "/tmp/evil",
            &["ss\u{200b}hd", "-D\u{7}"],
        ),
        process(
            300,
            "fsm",
            0,
            "/usr/cvfs/bin/fsm",
            &["/usr/cvfs/bin/fsm", "snfs1"],
        ),
        process(301, "fsm", 1000, "/tmp/fsm", &["fsm", "rogue"]),
        process(
            1500,
            "curl",
            1000,
            "/usr/bin/curl",
            &["curl", "http://127.0.0.1:8080/"],
        ),
        // A perl script calling itself sshd (comm and argv[0]), with an argument that is
        // not UTF-8.
        Process {
            cmdline_raw: Some(vec![
                b"sshd: /usr/sbin/sshd -D [listener]".to_vec(),
                b"\xff\xfe".to_vec(),
            ]),
            ..process(
                1400,
                "sshd",
                1000,
                "/usr/bin/perl",
                &["sshd: /usr/sbin/sshd -D [listener]", "\u{fffd}\u{fffd}"],
            )
        },
        // A server whose executable was deleted (upgraded) since it started.
        Process {
            exe_deleted: true,
            ..process(
                1600,
                "haproxy",
                0,
                "/usr/sbin/haproxy",
                &["/usr/sbin/haproxy", "-f", "/etc/haproxy/haproxy.cfg"],
            )
        },
    ]
}

/// Every socket of the busy fake host.
fn sockets() -> Vec<RawSocket> {
    use Protocol::{Tcp, Udp};
    use State::{Established, Listen, TimeWait, Unconnected};
    let none = (ANY4, 0);
    let none6 = (ANY6, 0);
    vec![
        raw(Tcp, (ANY4, 22), none, Listen, 0, 101, None, &[611]),
        raw(Tcp, (ANY6, 22), none6, Listen, 0, 102, Some(true), &[611]),
        // Dual stack, shared by a forked master and worker.
        raw(
            Tcp,
            (ANY6, 80),
            none6,
            Listen,
            0,
            103,
            Some(false),
            &[812, 813],
        ),
        // A REUSEPORT group: one socket per process.
        raw(Tcp, (ANY4, 8443), none, Listen, 33, 104, None, &[900]),
        raw(Tcp, (ANY4, 8443), none, Listen, 33, 105, None, &[901]),
        raw(Tcp, (LO4, 8080), none, Listen, 1000, 106, None, &[1200]),
        // Both ends of a connection to it, and an old one in TIME_WAIT.
        raw(
            Tcp,
            (LO4, 8080),
            (LO4, 51000),
            Established,
            1000,
            107,
            None,
            &[1200],
        ),
        raw(
            Tcp,
            (LO4, 51000),
            (LO4, 8080),
            Established,
            1000,
            108,
            None,
            &[1500],
        ),
        raw(Tcp, (LO4, 8080), (LO4, 50999), TimeWait, 0, 0, None, &[]),
        // Hidden: its holder could not be read.
        raw(Tcp, (LO6, 5432), none6, Listen, 65534, 109, Some(true), &[]),
        // The hostile process.
        raw(Tcp, (ANY4, 2222), none, Listen, 1000, 110, None, &[1300]),
        raw(Udp, (ANY4, 53), none, Unconnected, 0, 111, None, &[]),
        raw(Udp, (LO4, 323), none, Unconnected, 0, 112, None, &[611]),
        // Xsan: a verified fsm on 312, an impostor on 311.
        raw(Tcp, (ANY4, 312), none, Listen, 0, 113, None, &[300]),
        raw(Tcp, (ANY4, 311), none, Listen, 1000, 114, None, &[301]),
        raw(Tcp, (ANY4, 2022), none, Listen, 1000, 115, None, &[1400]),
        raw(Tcp, (ANY4, 8404), none, Listen, 0, 116, None, &[1600]),
    ]
}

/// A scan as root that could not read one process (uid 65534): the owner of 5432 is
/// hidden, and that of the UDP socket on 53 too.
fn busy_scan() -> OwnerScan {
    OwnerScan {
        ran: true,
        inaccessible: 1,
        inaccessible_uids: vec![65534],
        inaccessible_identities: Vec::new(),
        unknown_coverage: false,
        privileged: true,
        restricted_proc: false,
        child_pid_namespace: false,
    }
}

fn xsan_host() -> XsanHost {
    XsanHost {
        config_dirs: vec!["/usr/cvfs/config".into()],
        configured_in: Some("/usr/cvfs/config".into()),
        fsports: Some(FsPorts {
            path: "/usr/cvfs/config/fsports".into(),
            min_port: 52000,
            max_port: 52100,
            alt_pmap: None,
        }),
        bin_dirs: vec!["/usr/cvfs/bin".into()],
        alt_bin_dir: None,
        warnings: Vec::new(),
        bin_dir_warnings: Vec::new(),
    }
}

/// A host; `complete` makes the scan see every process (so a socket nobody holds is a
/// kernel socket).
struct World {
    host: FakeHost,
    snapshot: Snapshot,
}

impl World {
    fn busy() -> World {
        World {
            host: FakeHost {
                xsan: xsan_host(),
                ..FakeHost::default()
            },
            snapshot: Snapshot {
                sockets: sockets(),
                scan: busy_scan(),
                warnings: vec![
                    "netlink sock_diag unavailable (test); read /proc/net instead".into(),
                ],
                processes: Vec::new(),
                namespaces: Vec::new(),
                cgroups: Vec::new(),
            },
        }
    }

    /// Every process read: the UDP socket on 53 is a kernel socket.
    fn complete() -> World {
        let mut w = World::busy();
        w.snapshot.scan = OwnerScan {
            ran: true,
            privileged: true,
            ..OwnerScan::default()
        };
        w.snapshot.sockets.retain(|s| s.local_port != 5432);
        w.host.xsan = XsanHost::default();
        w
    }

    fn report(&self, query: &SocketQuery, ports: &[PortArg], audit: bool) -> Report {
        let sources = fake::sources(self.snapshot.clone(), processes());
        let filters = Filters {
            port_args: ports.to_vec(),
            ..Filters::default()
        };
        match pipeline::report(
            &sources,
            &self.host,
            query,
            &filters,
            audit,
            audit,
            &pipeline::Namespaces::default(),
        ) {
            Ok(r) => r,
            Err(e) => panic!("pipeline: {e:#}"),
        }
    }
}

fn listening() -> SocketQuery {
    SocketQuery::new(None, Kinds::default(), true)
}

fn all() -> SocketQuery {
    SocketQuery::new(None, Kinds::default(), false)
}

fn ports(args: &[PortArg]) -> SocketQuery {
    let set = PortSet::new(args.iter().map(PortArg::bounds).collect());
    SocketQuery::new(Some(set), Kinds::default(), false)
}

fn text(render: &dyn Render, report: &Report) -> String {
    let mut out = Vec::new();
    if let Err(e) = render.render(report, &mut out) {
        panic!("render: {e}");
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn table(width: Option<u16>) -> render::Table {
    render::Table {
        color: false,
        width,
    }
}

#[test]
fn table_plain() {
    let w = World::busy();
    insta::assert_snapshot!(
        "table_listening",
        text(&table(None), &w.report(&listening(), &[], false))
    );
    insta::assert_snapshot!(
        "table_all",
        text(&table(None), &w.report(&all(), &[], false))
    );
    insta::assert_snapshot!(
        "table_kernel_socket",
        text(
            &table(None),
            &World::complete().report(&listening(), &[], false)
        )
    );
}

#[test]
fn table_at_terminal_widths() {
    let w = World::busy();
    let report = w.report(&all(), &[], false);
    for width in [50, 80, 160] {
        insta::assert_snapshot!(
            format!("table_width_{width}"),
            text(&table(Some(width)), &report)
        );
    }
    // The default view (listening sockets) as a terminal of each width shows it.
    let listening = w.report(&listening(), &[], false);
    for width in [50, 80, 160] {
        insta::assert_snapshot!(
            format!("table_listening_width_{width}"),
            text(&table(Some(width)), &listening)
        );
    }
}

/// `-w/--wide` in a terminal writes what a pipe gets: whole values, one line per row.
#[test]
fn table_wide_is_the_pipe_table() {
    let w = World::busy();
    let report = w.report(&all(), &[], false);
    let pipe = text(&table(None), &report);
    let rows = report
        .sockets
        .iter()
        .map(|s| s.owner.processes().len().max(1))
        .sum::<usize>();
    let verdicts = pipe.lines().filter(|l| l.starts_with("!! ")).count();
    assert_eq!(pipe.lines().count(), 1 + rows + verdicts, "{pipe}");
    assert!(pipe.contains(&"x".repeat(300)), "{pipe}");
}

#[test]
fn port_notes() {
    let w = World::busy();
    let asked = [
        PortArg::Single(8080),
        PortArg::Single(60322),
        PortArg::Named(22),
        PortArg::Range(6000, 6063),
    ];
    insta::assert_snapshot!(
        "table_ports",
        text(&table(None), &w.report(&ports(&asked), &asked, false))
    );
}

#[test]
fn xsan_audit() {
    let w = World::busy();
    let query = SocketQuery {
        udp: false,
        ..SocketQuery::new(
            Some(PortSet::new(vec![(311, 312), (52000, 52100)])),
            Kinds::default(),
            true,
        )
    };
    let report = w.report(&query, &[], true);
    insta::assert_snapshot!("table_xsan_audit", text(&table(None), &report));
    insta::assert_snapshot!("json_xsan_audit", text(&render::Json, &report));
}

#[test]
fn json() {
    let w = World::busy();
    let asked = [PortArg::Single(8080)];
    insta::assert_snapshot!(
        "json_port",
        text(&render::Json, &w.report(&ports(&asked), &asked, false))
    );
    insta::assert_snapshot!(
        "json_listening",
        text(&render::Json, &w.report(&listening(), &[], false))
    );
}

#[test]
fn prometheus() {
    let w = World::busy();
    let metrics = render::Prometheus {
        scan_seconds: 0.0125,
        protocols: vec![Protocol::Tcp, Protocol::Udp],
    };
    insta::assert_snapshot!(
        "prometheus",
        text(&metrics, &w.report(&listening(), &[], false))
    );
}

#[test]
fn nagios() {
    let w = World::busy();
    let cases: [(&str, &[PortArg], &[&str]); 5] = [
        ("ok", &[PortArg::Single(22)], &["process=sshd"]),
        ("critical", &[PortArg::Single(8443)], &["process=nginx"]),
        ("unknown", &[PortArg::Single(5432)], &["user=postgres"]),
        ("free", &[PortArg::Single(60322)], &["free"]),
        (
            "xsan",
            &[PortArg::Single(311), PortArg::Single(312)],
            &["xsan"],
        ),
    ];
    for (name, asked, expect) in cases {
        let texts: Vec<String> = expect.iter().map(|e| e.to_string()).collect();
        let expectations = match parse_expectations(&texts, &w.host) {
            Ok(e) => e,
            Err(e) => panic!("{e:#}"),
        };
        let spec = CheckSpec {
            expectations,
            warn_on: Vec::new(),
        };
        let query = ports(asked);
        let report = w.report(&query, asked, false);
        let verdict = check::evaluate(&report, asked, &query, &spec, Duration::from_micros(1500));
        let mut line = Vec::new();
        let mut json = Vec::new();
        if let Err(e) = render::nagios::write_line(&verdict, &mut line)
            .and_then(|()| render::nagios::write_json(&verdict, &report, &mut json))
        {
            panic!("{e}");
        }
        insta::assert_snapshot!(format!("nagios_{name}"), String::from_utf8_lossy(&line));
        insta::assert_snapshot!(
            format!("nagios_{name}_json"),
            String::from_utf8_lossy(&json)
        );
    }
}
