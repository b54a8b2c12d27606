use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::model::testing::socket;
use crate::model::{HiddenReason, NoneReason, Process, State, XsanVerdict};

fn process(pid: u32, name: &str, user: Option<&str>, uid: u32) -> Process {
    crate::model::testing::process(pid, name, user, uid, "/usr/bin/x")
}

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn render(report: &Report, protocols: Vec<Protocol>) -> String {
    // What annotate gives a TCP socket on 22: its IANA service name.
    let mut report = report.clone();
    for s in &mut report.sockets {
        if s.raw.protocol == Protocol::Tcp && s.raw.local_port == 22 {
            s.knowledge.set_service(Some("ssh".into()));
        }
    }
    let mut out = Vec::new();
    let r = Prometheus {
        scan_seconds: 0.25,
        protocols,
    }
    .render(&report, &mut out);
    assert!(r.is_ok());
    String::from_utf8(out).unwrap_or_default()
}

#[test]
fn label_values_are_escaped_and_safe() {
    assert_eq!(label_value("nginx"), "nginx");
    assert_eq!(label_value("a\"b\\c"), "a\\\"b\\\\c");
    // Control characters become visible text first (its backslash then escaped).
    assert_eq!(label_value("x\ny"), "x\\\\x0ay");
    assert_eq!(label_value("\x1b[31m"), "\\\\x1b[31m");
    assert!(
        !label_value("a\u{7}\u{9b}\r\t")
            .chars()
            .any(char::is_control)
    );
}

#[test]
fn series_and_counts() {
    // Two sockets of one SO_REUSEPORT group held by one process: one series, 2.
    let reuse = socket(
        Protocol::Udp,
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        5353,
        State::Unconnected,
        Owner::Known(vec![process(7, "od\"d\\name\n", Some("alice"), 1000)].into()),
    );
    let report = Report {
        sockets: vec![
            // A listener held by a master and a worker: one series each.
            socket(
                Protocol::Tcp,
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                22,
                State::Listen,
                Owner::Known(
                    vec![
                        process(611, "sshd", Some("root"), 0),
                        process(612, "sshd", None, 74),
                    ]
                    .into(),
                ),
            ),
            reuse.clone(),
            reuse,
            crate::model::testing::with_xsan_verdict(
                socket(
                    Protocol::Tcp,
                    LO,
                    312,
                    State::Listen,
                    Owner::Hidden {
                        reason: HiddenReason::NotPermitted,
                        uid: Some(65534),
                        user: Some("nobody".into()),
                    },
                ),
                XsanVerdict::NotXsan,
            ),
            socket(
                Protocol::Tcp,
                LO,
                2049,
                State::Listen,
                Owner::None {
                    reason: NoneReason::NoFile,
                },
            ),
            // A connection: counted, never a series of its own.
            socket(
                Protocol::Tcp,
                LO,
                22,
                State::Established,
                Owner::Known(vec![process(611, "sshd", Some("root"), 0)].into()),
            ),
        ],
        ..Report::default()
    };
    let text = render(&report, vec![Protocol::Tcp, Protocol::Udp]);
    let want = r#"# HELP whoport_socket_info A listening socket and one process holding it (pid, process and user empty when the owner is hidden or none). 1, or the number of sockets sharing every label.
# TYPE whoport_socket_info gauge
whoport_socket_info{protocol="tcp",family="ipv4",local_address="0.0.0.0",port="22",state="listen",pid="611",process="sshd",user="root",owner="known",service="ssh",xsan=""} 1
whoport_socket_info{protocol="tcp",family="ipv4",local_address="0.0.0.0",port="22",state="listen",pid="612",process="sshd",user="74",owner="known",service="ssh",xsan=""} 1
whoport_socket_info{protocol="udp",family="ipv6",local_address="::1",port="5353",state="unconnected",pid="7",process="od\"d\\name\\x0a",user="alice",owner="known",service="",xsan=""} 2
whoport_socket_info{protocol="tcp",family="ipv4",local_address="127.0.0.1",port="312",state="listen",pid="",process="",user="nobody",owner="hidden",service="",xsan="not_xsan"} 1
whoport_socket_info{protocol="tcp",family="ipv4",local_address="127.0.0.1",port="2049",state="listen",pid="",process="",user="alice",owner="none",service="",xsan=""} 1
# HELP whoport_sockets Sockets seen, by protocol and state.
# TYPE whoport_sockets gauge
whoport_sockets{protocol="tcp",state="established"} 1
whoport_sockets{protocol="tcp",state="listen"} 3
whoport_sockets{protocol="udp",state="unconnected"} 2
# HELP whoport_listening_sockets Listening sockets (TCP LISTEN, bound unconnected UDP) by protocol.
# TYPE whoport_listening_sockets gauge
whoport_listening_sockets{protocol="tcp"} 3
whoport_listening_sockets{protocol="udp"} 2
# HELP whoport_hidden_owner_sockets Sockets whose holding process whoport could not inspect (run it as root).
# TYPE whoport_hidden_owner_sockets gauge
whoport_hidden_owner_sockets 1
# HELP whoport_xsan_sockets Listening sockets on Xsan ports by verdict: not_xsan (held by a process that is not Xsan), cannot_verify (owner hidden), xsan (held only by Xsan processes).
# TYPE whoport_xsan_sockets gauge
whoport_xsan_sockets{verdict="not_xsan"} 1
whoport_xsan_sockets{verdict="cannot_verify"} 0
whoport_xsan_sockets{verdict="xsan"} 0
# HELP whoport_scan_duration_seconds How long collecting the sockets and their owners took.
# TYPE whoport_scan_duration_seconds gauge
whoport_scan_duration_seconds 0.25
"#;
    assert_eq!(text, want);
    // Bounded labels: no command line, no remote end.
    for leak in ["secret-token", "10.1.2.3", "51515"] {
        assert!(!text.contains(leak), "{leak}");
    }
}

#[test]
fn nothing_matched_still_says_so() {
    let text = render(&Report::default(), vec![Protocol::Tcp]);
    assert!(text.contains("# TYPE whoport_socket_info gauge\n# HELP whoport_sockets"));
    assert!(text.contains("whoport_listening_sockets{protocol=\"tcp\"} 0\n"));
    assert!(!text.contains("protocol=\"udp\""), "-t asks for TCP only");
    assert!(text.contains("whoport_hidden_owner_sockets 0\n"));
}
