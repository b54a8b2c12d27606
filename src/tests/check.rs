//! The check's policy, case by case, on reports built by hand (the Xsan verdicts set
//! here as the Xsan annotation sets them).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::check::*;
use crate::config::parse_expectations;
use crate::host::fake::FakeHost;
use crate::model::{
    CheckSpec, Family, HiddenReason, LeftOut, NoneReason, Owner, OwnerScan, PortArg, PortInfo,
    Process, Protocol, RangeClass, Report, Socket, SocketQuery, State, WarnOn, XsanVerdict,
};

/// The fake host of these cases: its users, and one symbolic link.
fn host() -> FakeHost {
    let mut host = FakeHost::default();
    host.links.insert(
        "/usr/local/sbin/server".into(),
        "/opt/server-1.2/server".into(),
    );
    host
}

const V4: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
const LOOP6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

fn process(pid: u32, name: &str, user: &str, uid: u32, exe: &str) -> Process {
    crate::model::testing::process(pid, name, Some(user), uid, exe)
}

fn sshd() -> Process {
    process(611, "sshd", "root", 0, "/usr/sbin/sshd")
}

use crate::model::testing::socket;

/// A second listener on the port, on [::1], held by someone else.
fn squatter(port: u16) -> Socket {
    socket(
        Protocol::Tcp,
        LOOP6,
        port,
        State::Listen,
        Owner::Known(vec![process(7, "python3", "alice", 1000, "/usr/bin/python3")].into()),
    )
}

fn listener(port: u16, holders: Vec<Process>) -> Socket {
    socket(
        Protocol::Tcp,
        V4,
        port,
        State::Listen,
        Owner::Known(holders.into()),
    )
}

fn hidden(port: u16) -> Socket {
    socket(
        Protocol::Tcp,
        V4,
        port,
        State::Listen,
        Owner::Hidden {
            reason: HiddenReason::NotPermitted,
            uid: Some(65534),
            user: Some("nobody".into()),
        },
    )
}

fn flagged(s: Socket, verdict: XsanVerdict) -> Socket {
    crate::model::testing::with_xsan_verdict(s, verdict)
}

fn complete() -> OwnerScan {
    OwnerScan {
        ran: true,
        privileged: true,
        ..OwnerScan::default()
    }
}

fn unprivileged() -> OwnerScan {
    OwnerScan {
        ran: true,
        inaccessible: 12,
        inaccessible_uids: vec![0],
        inaccessible_identities: Vec::new(),
        unknown_coverage: false,
        privileged: false,
        restricted_proc: false,
        child_pid_namespace: false,
    }
}

struct Case {
    sockets: Vec<Socket>,
    scan: OwnerScan,
    ports: Vec<PortArg>,
    tcp_only: bool,
    warn_on: Vec<WarnOn>,
    /// What is on an empty port that the filters left out (as the pipeline finds it).
    left_out: Vec<LeftOut>,
}

impl Case {
    fn new(ports: &[u16], sockets: Vec<Socket>) -> Case {
        Case {
            sockets,
            scan: complete(),
            ports: ports.iter().map(|&p| PortArg::Single(p)).collect(),
            tcp_only: false,
            warn_on: Vec::new(),
            left_out: Vec::new(),
        }
    }

    fn check(&self, expect: &[&str]) -> Verdict {
        let texts: Vec<String> = expect.iter().map(|e| e.to_string()).collect();
        let expectations = parse_expectations(&texts, &host())
            .unwrap_or_else(|e| panic!("bad expectations {expect:?}: {e}"));
        let ports = self
            .ports
            .iter()
            .filter_map(|p| match *p {
                PortArg::Single(port) if !self.sockets.iter().any(|s| s.raw.local_port == port) => {
                    Some(PortInfo {
                        port,
                        range: RangeClass::of(port),
                        sockets: 0,
                        iana: Vec::new(),
                        notes: Vec::new(),
                        in_ephemeral_range: None,
                        left_out: Some(self.left_out.clone()),
                    })
                }
                _ => None,
            })
            .collect();
        let report = Report {
            sockets: self.sockets.clone(),
            scan: self.scan.clone(),
            ports,
            ..Report::default()
        };
        let query = SocketQuery {
            ports: None,
            tcp: true,
            udp: !self.tcp_only,
            ipv4: true,
            ipv6: true,
            listening_only: false,
            owners: true,
        };
        let spec = CheckSpec {
            expectations,
            warn_on: self.warn_on.clone(),
        };
        evaluate(
            &report,
            &self.ports,
            &query,
            &spec,
            Duration::from_micros(1500),
        )
    }

    /// The status, with the summary for the failure message.
    fn status(&self, expect: &[&str]) -> (Status, String) {
        let v = self.check(expect);
        (v.status, v.summary)
    }
}

#[track_caller]
fn assert_status(case: &Case, expect: &[&str], want: Status, says: &[&str]) {
    let (status, summary) = case.status(expect);
    assert_eq!(status, want, "{expect:?}: {summary}");
    for s in says {
        assert!(summary.contains(s), "{expect:?}: {summary:?} lacks {s:?}");
    }
}

#[test]
fn free_held_listening() {
    let empty = Case::new(&[60322], vec![]);
    assert_status(&empty, &["free"], Status::Ok, &["60322 free"]);
    assert_status(&empty, &["held"], Status::Critical, &["expected held"]);
    assert_status(&empty, &[], Status::Critical, &["expected listening"]);
    assert_status(&empty, &["listening"], Status::Critical, &["free"]);

    let ssh = Case::new(&[22], vec![listener(22, vec![sshd()])]);
    assert_status(
        &ssh,
        &[],
        Status::Ok,
        &["22/tcp listening, held by sshd (pid 611, root)"],
    );
    assert_status(&ssh, &["held"], Status::Ok, &[]);
    assert_status(&ssh, &["free"], Status::Critical, &["expected free"]);

    // A closing connection: held (the port is not free), but nobody listens.
    let closing = Case::new(
        &[8080],
        vec![socket(
            Protocol::Tcp,
            V4,
            8080,
            State::TimeWait,
            Owner::None {
                reason: NoneReason::NoFile,
            },
        )],
    );
    assert_status(&closing, &["held"], Status::Ok, &["in use (time_wait)"]);
    assert_status(
        &closing,
        &["free"],
        Status::Critical,
        &["no process holds it"],
    );
    assert_status(&closing, &["listening"], Status::Critical, &[]);
    assert_status(
        &closing,
        &["process=nginx"],
        Status::Critical,
        &["expected held by process=nginx"],
    );

    // A hidden owner does not change whether the port is free or listening.
    let h = Case::new(&[8080], vec![hidden(8080)]);
    assert_status(
        &h,
        &["free"],
        Status::Critical,
        &["owner hidden (socket of nobody)"],
    );
    assert_status(&h, &["listening"], Status::Ok, &[]);
}

#[test]
fn owner_expectations() {
    let master = process(100, "nginx", "root", 0, "/usr/sbin/nginx");
    let worker = process(101, "nginx", "www-data", 33, "/usr/sbin/nginx");
    let web = Case::new(&[80], vec![listener(80, vec![master, worker.clone()])]);
    assert_status(&web, &["process=nginx"], Status::Ok, &[]);
    assert_status(&web, &["pid=100"], Status::Ok, &[]);
    assert_status(&web, &["pid=101", "process=nginx"], Status::Ok, &[]);
    assert_status(&web, &["user=0"], Status::Ok, &[]);
    assert_status(&web, &["exe=/usr/sbin/nginx"], Status::Ok, &[]);
    assert_status(
        &web,
        &["process=apache2"],
        Status::Critical,
        &["expected process=apache2"],
    );
    assert_status(&web, &["pid=99"], Status::Critical, &["pid=99"]);
    assert_status(&web, &["exe=/opt/nginx"], Status::Critical, &[]);
    // Every owner clause must hold for one and the same process.
    let mixed = Case::new(
        &[80],
        vec![listener(
            80,
            vec![
                process(100, "nginx", "root", 0, "/usr/sbin/nginx"),
                process(200, "python3", "daemon", 1, "/usr/bin/python3"),
            ],
        )],
    );
    assert_status(&mixed, &["process=nginx", "user=1"], Status::Critical, &[]);
    assert_status(&mixed, &["process=python3", "user=1"], Status::Ok, &[]);

    // An executable deleted or replaced on disk (an upgrade) after the start: the file at
    // the path may now be another, so exe= cannot pass; the check says why.
    let mut old_nginx = process(5, "nginx", "root", 0, "/usr/sbin/nginx");
    old_nginx.exe_deleted = true;
    let upgraded = Case::new(&[80], vec![listener(80, vec![old_nginx])]);
    assert_status(
        &upgraded,
        &["exe=/usr/sbin/nginx"],
        Status::Unknown,
        &["pid 5 runs a deleted executable that was at /usr/sbin/nginx"],
    );
    // A name is not proof: a perl script calling itself sshd is not sshd.
    let mut fake = process(6, "sshd", "root", 0, "/usr/bin/perl");
    fake.cmdline = Some(vec!["sshd: /usr/sbin/sshd -D [listener]".to_string()]);
    let spoofed = Case::new(&[22], vec![listener(22, vec![fake])]);
    assert_status(
        &spoofed,
        &["process=sshd"],
        Status::Critical,
        &["expected process=sshd: pid 6 is named sshd but runs /usr/bin/perl"],
    );
    assert_status(&spoofed, &["exe=/usr/bin/perl"], Status::Ok, &[]);
    // The status line says what it runs, whatever is expected.
    assert_status(
        &spoofed,
        &["listening"],
        Status::Ok,
        &["held by sshd (pid 6, root, runs /usr/bin/perl)"],
    );
    // A symbolic link names the file it points to (the kernel reports the real path; the
    // fake host links /usr/local/sbin/server to /opt/server-1.2/server).
    let linked = Case::new(
        &[80],
        vec![listener(
            80,
            vec![process(5, "server", "root", 0, "/opt/server-1.2/server")],
        )],
    );
    assert_status(&linked, &["exe=/usr/local/sbin/server"], Status::Ok, &[]);

    // Every listener of the port must be held by the expected process.
    let squatter = Case::new(&[8080], vec![listener(8080, vec![worker]), squatter(8080)]);
    assert_status(
        &squatter,
        &["process=nginx"],
        Status::Critical,
        &["[::1]:8080/tcp held by python3 (pid 7, alice): expected process=nginx"],
    );
    assert!(
        !squatter
            .status(&["process=nginx"])
            .1
            .contains("0.0.0.0:8080/tcp:")
    );
    // Connections accepted by a listener are not judged, the listener is.
    let mut with_client = Case::new(&[22], vec![listener(22, vec![sshd()])]);
    with_client.sockets.push(socket(
        Protocol::Tcp,
        V4,
        22,
        State::Established,
        Owner::Known(
            vec![process(
                900,
                "sshd-session",
                "alice",
                1000,
                "/usr/lib/openssh/sshd-session",
            )]
            .into(),
        ),
    ));
    assert_status(&with_client, &["process=sshd"], Status::Ok, &[]);
}

#[test]
fn unknown_when_the_answer_depends_on_an_unseen_owner() {
    let h = Case::new(&[22], vec![hidden(22)]);
    assert_status(
        &h,
        &["process=sshd"],
        Status::Unknown,
        &[
            "cannot tell whether it is held by process=sshd",
            "sudo whoport",
        ],
    );
    // Without root, a holder that does not match may have a co-holder whoport did not
    // see: no CRITICAL, but UNKNOWN saying so.
    let mut partial = Case::new(&[22], vec![listener(22, vec![sshd()])]);
    partial.scan = unprivileged();
    assert_status(&partial, &["process=sshd"], Status::Ok, &[]);
    assert_status(
        &partial,
        &["process=dropbear"],
        Status::Unknown,
        &["not process=dropbear", "run whoport as root"],
    );
    // A detail that could not be read.
    let mut anonymous = sshd();
    anonymous.exe = None;
    let unreadable = Case::new(&[22], vec![listener(22, vec![anonymous])]);
    assert_status(
        &unreadable,
        &["exe=/usr/sbin/sshd"],
        Status::Unknown,
        &["executable of pid 611 could not be read"],
    );
    // …unless another clause already rules the process out.
    assert_status(
        &unreadable,
        &["exe=/usr/sbin/sshd", "process=dropbear"],
        Status::Critical,
        &[],
    );
    // UNKNOWN on one listener, CRITICAL on the other: CRITICAL.
    let both = Case::new(&[22], vec![hidden(22), squatter(22)]);
    assert_status(&both, &["process=sshd"], Status::Critical, &["python3"]);
}

#[test]
fn xsan_expectation_from_the_flags() {
    let fsm = process(300, "fsm", "root", 0, "/usr/cvfs/bin/fsm");
    let rogue = process(301, "fsm", "alice", 1000, "/tmp/fsm");
    let verified = Case::new(
        &[312],
        vec![flagged(listener(312, vec![fsm.clone()]), XsanVerdict::Xsan)],
    );
    assert_status(
        &verified,
        &["xsan"],
        Status::Ok,
        &["312/tcp listening, held by fsm"],
    );
    assert_status(&verified, &["xsan", "user=0"], Status::Ok, &[]);
    let conflict = Case::new(
        &[312],
        vec![flagged(listener(312, vec![rogue]), XsanVerdict::NotXsan)],
    );
    assert_status(
        &conflict,
        &["xsan"],
        Status::Critical,
        &["312/tcp listening, held by fsm (pid 301, alice): not an Xsan process"],
    );
    let unverifiable = Case::new(
        &[312],
        vec![flagged(hidden(312), XsanVerdict::CannotVerify)],
    );
    assert_status(
        &unverifiable,
        &["xsan"],
        Status::Unknown,
        &["cannot verify", "run whoport as root"],
    );
    // No Xsan verdict at all: whoport does not know it as an Xsan port.
    let plain = Case::new(&[8080], vec![listener(8080, vec![fsm])]);
    assert_status(&plain, &["xsan"], Status::Unknown, &["not an Xsan port"]);
    // One of two listeners is not Xsan: that one is named.
    let mut shared = Case::new(
        &[312],
        vec![
            flagged(
                listener(
                    312,
                    vec![process(300, "fsm", "root", 0, "/usr/cvfs/bin/fsm")],
                ),
                XsanVerdict::Xsan,
            ),
            flagged(squatter(312), XsanVerdict::NotXsan),
        ],
    );
    assert_status(
        &shared,
        &["xsan"],
        Status::Critical,
        &["[::1]:312/tcp held by python3 (pid 7, alice): not an Xsan process"],
    );
    shared.warn_on = vec![WarnOn::XsanConflict];
    assert_status(
        &shared,
        &["listening"],
        Status::Warning,
        &[
            "[::1]:312/tcp held by python3 (pid 7, alice): Xsan port held by a process that is not Xsan",
        ],
    );
    let nothing = Case::new(&[312], vec![]);
    assert_status(
        &nothing,
        &["xsan"],
        Status::Critical,
        &["expected listening, by Xsan"],
    );
}

#[test]
fn warning_only_when_asked_for() {
    let conflict = |warn_on: Vec<WarnOn>| {
        let mut c = Case::new(
            &[60322],
            vec![flagged(
                listener(60322, vec![process(9, "myapp", "app", 500, "/opt/myapp")]),
                XsanVerdict::NotXsan,
            )],
        );
        c.warn_on = warn_on;
        c
    };
    // The expectation holds; the Xsan conflict is no problem unless asked for.
    assert_status(&conflict(vec![]), &["process=myapp"], Status::Ok, &[]);
    assert_status(
        &conflict(vec![WarnOn::XsanConflict]),
        &["process=myapp"],
        Status::Warning,
        &["held by myapp (pid 9, app): Xsan port held by a process that is not Xsan"],
    );
    // A failed expectation outranks the warning.
    assert_status(
        &conflict(vec![WarnOn::XsanConflict]),
        &["process=nginx"],
        Status::Critical,
        &[
            "expected process=nginx",
            "Xsan port held by a process that is not Xsan",
        ],
    );
    // A hidden owner on an Xsan port leaves the warning question open.
    let mut hidden_case = Case::new(
        &[312],
        vec![flagged(hidden(312), XsanVerdict::CannotVerify)],
    );
    hidden_case.warn_on = vec![WarnOn::XsanConflict];
    assert_status(
        &hidden_case,
        &["listening"],
        Status::Unknown,
        &["cannot verify"],
    );
    // Verified Xsan: nothing to warn about.
    let mut fine = Case::new(
        &[312],
        vec![flagged(
            listener(
                312,
                vec![process(300, "fsm", "root", 0, "/usr/cvfs/bin/fsm")],
            ),
            XsanVerdict::Xsan,
        )],
    );
    fine.warn_on = vec![WarnOn::XsanConflict];
    assert_status(&fine, &["listening"], Status::Ok, &[]);
    let v = fine.check(&["listening"]);
    assert!(
        v.reasons
            .iter()
            .any(|r| r.expectation.to_string() == "warn-on=xsan-conflict" && r.status == Status::Ok)
    );
}

#[test]
fn several_ports_worst_first() {
    let mut case = Case::new(
        &[22, 8080, 312],
        vec![
            listener(22, vec![sshd()]),
            hidden(8080),
            flagged(
                listener(312, vec![process(9, "myapp", "app", 500, "/opt/myapp")]),
                XsanVerdict::NotXsan,
            ),
        ],
    );
    // OK + UNKNOWN: UNKNOWN; the doubtful port first.
    case.ports.truncate(2);
    let v = case.check(&["process=sshd"]);
    assert_eq!(v.status, Status::Unknown, "{}", v.summary);
    assert!(v.summary.starts_with("8080/tcp"), "{}", v.summary);
    assert!(v.summary.contains("; 22/tcp listening"), "{}", v.summary);
    // WARNING outranks UNKNOWN, CRITICAL outranks both.
    case.ports.push(PortArg::Single(312));
    case.warn_on = vec![WarnOn::XsanConflict];
    assert_status(&case, &["listening"], Status::Warning, &[]);
    let v = case.check(&["process=sshd"]);
    assert_eq!(v.status, Status::Critical, "{}", v.summary);
    assert!(v.summary.starts_with("312/tcp"), "{}", v.summary);
    // One reason per (port, expectation), each with its own status.
    let statuses: Vec<(&str, Status)> = v
        .reasons
        .iter()
        .map(|r| (r.port.as_str(), r.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("22/tcp", Status::Ok),
            ("22/tcp", Status::Ok),
            ("8080/tcp", Status::Unknown),
            ("8080/tcp", Status::Ok),
            ("312/tcp", Status::Critical),
            ("312/tcp", Status::Warning),
        ]
    );
}

#[test]
fn labels_name_the_protocols_seen_or_asked() {
    let empty = Case::new(&[60322], vec![]);
    assert_status(&empty, &["free"], Status::Ok, &["60322 free"]);
    let mut tcp = Case::new(&[60322], vec![]);
    tcp.tcp_only = true;
    assert_status(&tcp, &["free"], Status::Ok, &["60322/tcp free"]);
    // "Free" only when nothing at all is there: a UDP socket that -t left out is named.
    tcp.left_out = vec![LeftOut {
        protocol: Protocol::Udp,
        family: Family::Ipv4,
        state: State::Unconnected,
        sockets: 1,
    }];
    assert_status(
        &tcp,
        &["free"],
        Status::Ok,
        &["60322/tcp: no socket matched the filters, which left out 1 udp ipv4 unconnected"],
    );
    assert_status(&tcp, &["listening"], Status::Critical, &["left out 1 udp"]);
    let dns = Case::new(
        &[53],
        vec![
            listener(
                53,
                vec![process(5, "named", "bind", 106, "/usr/sbin/named")],
            ),
            socket(
                Protocol::Udp,
                V4,
                53,
                State::Unconnected,
                Owner::Known(vec![process(5, "named", "bind", 106, "/usr/sbin/named")].into()),
            ),
        ],
    );
    assert_status(
        &dns,
        &[],
        Status::Ok,
        &["53/tcp+udp listening, held by named (pid 5, bind)"],
    );
    let mut range = Case::new(&[], vec![listener(8081, vec![sshd()])]);
    range.ports = vec![PortArg::Range(8000, 8100)];
    assert_status(
        &range,
        &["free"],
        Status::Critical,
        &["8000-8100/tcp listening"],
    );
    let many: Vec<Process> = (1..=5)
        .map(|i| process(i, "worker", "www-data", 33, "/usr/bin/worker"))
        .collect();
    let crowd = Case::new(&[80], vec![listener(80, many)]);
    assert_status(
        &crowd,
        &[],
        Status::Ok,
        &["worker (pid 3, www-data), 2 more"],
    );
}

#[test]
fn untrusted_names_stay_on_one_line_without_performance_data() {
    let evil = process(66, "ev|l\x1b[31m\nname", "root", 0, "/tmp/x|y");
    let case = Case::new(&[4444], vec![listener(4444, vec![evil])]);
    for expect in [&["free"][..], &["process=sshd"], &["exe=/a|b"]] {
        let v = case.check(expect);
        for text in std::iter::once(&v.summary).chain(v.reasons.iter().map(|r| &r.text)) {
            assert!(!text.contains('|'), "{text}");
            assert!(!text.chars().any(char::is_control), "{text:?}");
        }
        assert!(
            v.summary.contains("ev\\x7cl\\x1b[31m\\x0aname"),
            "{}",
            v.summary
        );
        assert!(
            v.reasons
                .iter()
                .all(|r| serde_json::to_string(&r.expectation).is_ok_and(|j| !j.contains('|')))
        );
    }
}

#[test]
fn performance_data_counts_each_socket_once() {
    let case = Case {
        ports: vec![PortArg::Range(20, 30), PortArg::Single(22)],
        ..Case::new(
            &[],
            vec![
                listener(
                    22,
                    vec![sshd(), process(612, "sshd", "root", 0, "/usr/sbin/sshd")],
                ),
                hidden(25),
                socket(
                    Protocol::Tcp,
                    V4,
                    22,
                    State::Established,
                    Owner::Known(vec![sshd()].into()),
                ),
            ],
        )
    };
    let v = case.check(&["held"]);
    let perf: Vec<(&str, f64, &str)> = v
        .perfdata
        .iter()
        .map(|p| (p.label, p.value, p.uom))
        .collect();
    assert_eq!(
        perf,
        vec![
            ("sockets", 3.0, ""),
            ("listening", 2.0, ""),
            ("owners", 2.0, ""),
            ("hidden", 1.0, ""),
            ("time", 0.0015, "s"),
        ]
    );
}

/// Root could not read one process (pid 1 of a sandbox), but its name and uid are known:
/// an owner expectation is ruled in or out by them; only what they cannot settle stays
/// UNKNOWN.
#[test]
fn an_unreadable_process_is_judged_by_its_identity() {
    let scan = |name: &str| OwnerScan {
        ran: true,
        inaccessible: 1,
        inaccessible_uids: vec![0],
        inaccessible_identities: vec![Process {
            name: Some(name.to_string()),
            uid: Some(0),
            ..Process::unknown(1)
        }],
        unknown_coverage: false,
        privileged: true,
        restricted_proc: false,
        child_pid_namespace: false,
    };
    let python = process(4225, "python3", "alice", 1000, "/usr/bin/python3");
    let mut case = Case::new(&[8080], vec![listener(8080, vec![python])]);
    case.scan = scan("process_api");
    assert_status(
        &case,
        &["process=nginx"],
        Status::Critical,
        &["expected process=nginx", "process_api (pid 1, uid 0)"],
    );
    assert_status(&case, &["process=python3"], Status::Ok, &[]);
    // It may be the one: pid 1, or a process of that name, or of its user.
    for expect in ["pid=1", "process=process_api", "user=root"] {
        assert_status(&case, &[expect], Status::Unknown, &["may hold it too"]);
    }
    // A name the kernel may have cut to 15 bytes cannot rule it out.
    case.scan = scan("very-long-daemo");
    assert_status(&case, &["process=very-long-daemon"], Status::Unknown, &[]);
    // Held only by an unreadable process: ruled out by identity too.
    let mut only = Case::new(
        &[8080],
        vec![socket(
            Protocol::Tcp,
            V4,
            8080,
            State::Listen,
            Owner::Hidden {
                reason: HiddenReason::Unreadable,
                uid: Some(0),
                user: None,
            },
        )],
    );
    only.scan = scan("process_api");
    assert_status(&only, &["process=nginx"], Status::Critical, &["one of"]);
    assert_status(&only, &["pid=1"], Status::Unknown, &[]);
    // Without root the unreadable ones are not all known: UNKNOWN as before.
    let mut unprivileged_case = Case::new(
        &[8080],
        vec![listener(
            8080,
            vec![process(4225, "python3", "root", 0, "/usr/bin/python3")],
        )],
    );
    unprivileged_case.scan = OwnerScan {
        privileged: false,
        ..scan("process_api")
    };
    assert_status(&unprivileged_case, &["process=nginx"], Status::Unknown, &[]);
}
