//! Cross-checks: whoport's listening set against `ss -tulpnH` (same sockets, same pids),
//! and the collection paths against each other.
//!
//! Other tests open and close sockets while these run, so each comparison takes the
//! reference twice around whoport's run and requires: every socket present (with the same
//! pids) in both reference snapshots is in whoport's answer with those pids, and whoport
//! reports nothing that neither snapshot had.

use std::collections::BTreeSet;
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::process::Command;

use crate::support::*;

/// `ss -tulpnH`, as (protocol, address, port, state) → pids.
fn ss_listening() -> Option<SocketSet> {
    let out = Command::new("ss").args(["-tulpnH"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let mut set = SocketSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 {
            continue;
        }
        let state = match f[1] {
            "LISTEN" => "listen",
            "UNCONN" => "unconnected",
            other => panic!("ss -l gave state {other}: {line}"),
        };
        let (addr, port) = f[4].rsplit_once(':').unwrap_or_else(|| panic!("{line}"));
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let addr = addr.split('%').next().unwrap_or(addr);
        // ss prints an IPv6 wildcard that also accepts IPv4 as "*".
        let addr = if addr == "*" { "::" } else { addr };
        let pids: BTreeSet<u64> = line
            .split("pid=")
            .skip(1)
            .filter_map(|rest| {
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            })
            .filter(|&pid| settled(pid))
            .collect();
        let key = (
            f[0].to_string(),
            addr.to_string(),
            port.parse().unwrap_or(0),
            state.to_string(),
        );
        set.entry(key).or_default().extend(pids);
    }
    Some(set)
}

/// whoport's listening set, as `ss -tulpn` and the portable path can see it: without
/// MPTCP and UDP-Lite sockets (neither lists them; MPTCP's TCP subflows stay), and with
/// no holders for a socket found only in a thread's own descriptor table (ss and
/// netstat2 read /proc/PID/fd only). tests/integration/truth.rs checks those.
fn listening(backend: &str) -> SocketSet {
    let (code, mut v) = json(&[], backend);
    assert!(code == 0 || code == 1, "{backend}: exit {code}");
    if let Some(all) = v["sockets"].as_array_mut() {
        all.retain(|s| s["protocol"] == "tcp" || s["protocol"] == "udp");
        for s in all.iter_mut() {
            let by_thread = s["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f == "held_by_thread"));
            if by_thread {
                s["processes"] = serde_json::json!([]);
            }
        }
    }
    socket_set(&v)
}

/// Checks `got` against two reference snapshots taken around it; returns what differs.
fn diff(before: &SocketSet, got: &SocketSet, after: &SocketSet) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, pids) in before {
        if after.get(key) == Some(pids) && got.get(key) != Some(pids) {
            problems.push(format!(
                "{key:?}: reference {pids:?}, whoport {:?}",
                got.get(key)
            ));
        }
    }
    for key in got.keys() {
        if !before.contains_key(key) && !after.contains_key(key) {
            problems.push(format!("{key:?}: only whoport has it"));
        }
    }
    problems
}

/// Sockets this test holds, so the comparison covers known pids on every kind.
fn own_sockets() -> (Vec<std::net::TcpListener>, Vec<std::net::UdpSocket>, Holder) {
    let tcp = vec![
        tcp_listener("127.0.0.1:0"),
        tcp_listener("[::1]:0"),
        tcp_listener("[::]:0"),
    ];
    let udp = vec![udp_socket("127.0.0.1:0"), udp_socket("[::1]:0")];
    let shared = tcp_listener("127.0.0.1:0");
    let holder = Holder::spawn(
        &sleep_path(),
        OwnedFd::from(shared.try_clone().unwrap_or_else(|e| panic!("{e}"))),
    );
    let mut tcp = tcp;
    tcp.push(shared);
    (tcp, udp, holder)
}

#[test]
fn listening_set_equals_ss() {
    hermetic();
    let Some(_) = ss_listening() else {
        skip("listening_set_equals_ss", "ss (iproute2) is not installed");
        return;
    };
    let (tcp, _udp, holder) = own_sockets();
    for backend in ["native", "procfs"] {
        let mut last = Vec::new();
        for _attempt in 0..5 {
            let before = ss_listening().unwrap_or_default();
            let got = listening(backend);
            let after = ss_listening().unwrap_or_default();
            last = diff(&before, &got, &after);
            // Our own sockets must be in the stable part, with the exact pids.
            let shared_port = tcp
                .last()
                .and_then(|l| l.local_addr().ok())
                .map(|a| a.port());
            let key = (
                "tcp".to_string(),
                "127.0.0.1".to_string(),
                u64::from(shared_port.unwrap_or(0)),
                "listen".to_string(),
            );
            let want: BTreeSet<u64> = [me(), holder.pid()].into();
            assert_eq!(got.get(&key), Some(&want), "{backend}: shared listener");
            assert_eq!(before.get(&key), Some(&want), "ss: shared listener");
            if last.is_empty() {
                break;
            }
        }
        assert!(
            last.is_empty(),
            "{backend} differs from ss -tulpnH:\n{}",
            last.join("\n")
        );
    }
}

#[test]
fn collection_paths_agree() {
    hermetic();
    let (_tcp, _udp, _holder) = own_sockets();
    // A connected UDP socket: the portable path cannot tell it from an unconnected one.
    let connected = udp_socket("127.0.0.1:0");
    let _ = connected.connect("127.0.0.1:9");
    let _conn = _tcp
        .first()
        .and_then(|l| TcpStream::connect(l.local_addr().ok()?).ok());
    let mut last = Vec::new();
    for _attempt in 0..5 {
        let before = listening("native");
        let procfs = listening("procfs");
        let portable = listening("portable");
        let every = socket_set(&json(&["-a", "-u"], "native").1);
        let after = listening("native");
        last = diff(&before, &procfs, &after);
        last.extend(
            diff(&before, &portable, &after)
                .into_iter()
                .filter(|problem| {
                    // Allowed: a UDP socket that the fast path shows as connected.
                    !every.iter().any(|(k, pids)| {
                        k.3 == "established"
                            && problem.starts_with(&format!(
                                "({:?}, {:?}, {}, \"unconnected\")",
                                k.0, k.1, k.2
                            ))
                            && problem.contains("only whoport")
                            && !pids.is_empty()
                    })
                }),
        );
        if last.is_empty() {
            break;
        }
    }
    assert!(last.is_empty(), "paths differ:\n{}", last.join("\n"));
    // The connected UDP socket is where the paths are known to differ.
    let port = u64::from(connected.local_addr().map(|a| a.port()).unwrap_or(0));
    let portable = listening("portable");
    // (By address too: other UDP sockets may share the port number on other addresses.)
    let ours =
        |k: &(String, String, u64, String)| k.0 == "udp" && k.1 == "127.0.0.1" && k.2 == port;
    assert!(portable.keys().any(ours), "portable shows it");
    assert!(
        !listening("native").keys().any(ours),
        "native knows it is connected"
    );
}

/// The pids `lsof` gives for one local port (`-F p`: one `pNNN` line per process).
fn lsof_pids(proto: &str, port: u16) -> Option<BTreeSet<u64>> {
    let spec = format!("-i{}:{port}", proto.to_uppercase());
    let out = Command::new("lsof")
        .args(["-nP", "-Fp", &spec])
        .output()
        .ok()?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix('p')?.parse().ok())
            .filter(|&pid| settled(pid))
            .collect(),
    )
}

#[test]
fn owners_equal_lsof() {
    hermetic();
    if lsof_pids("tcp", 1).is_none() {
        skip("owners_equal_lsof", "lsof is not installed");
        return;
    }
    let (tcp, udp, holder) = own_sockets();
    let mut cases: Vec<(&str, u16)> = tcp
        .iter()
        .filter_map(|l| Some(("tcp", l.local_addr().ok()?.port())))
        .collect();
    cases.extend(
        udp.iter()
            .filter_map(|u| Some(("udp", u.local_addr().ok()?.port()))),
    );
    for (proto, port) in cases {
        let flag = if proto == "tcp" { "-t" } else { "-u" };
        for backend in BACKENDS {
            let got: BTreeSet<u64> = sockets(&json(&[flag, &port.to_string()], backend).1)
                .iter()
                .flat_map(pids)
                .collect();
            assert_eq!(
                Some(got),
                lsof_pids(proto, port),
                "{backend} {proto} {port}"
            );
        }
    }
    let shared = tcp
        .last()
        .and_then(|l| l.local_addr().ok())
        .map_or(0, |a| a.port());
    let want: BTreeSet<u64> = [me(), holder.pid()].into();
    assert_eq!(lsof_pids("tcp", shared), Some(want));
}

/// As root every test runs in a network namespace of its own: whoport there sees this
/// test's listener and nothing of the host's (the host's own services, other tests).
#[test]
fn tests_run_in_their_own_network_namespace() {
    hermetic();
    if !is_root() {
        skip(
            "tests_run_in_their_own_network_namespace",
            "needs root for a network namespace",
        );
        return;
    }
    let listener = tcp_listener("127.0.0.1:0");
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let (code, v) = json(&[], "native");
    assert_eq!(code, 0, "{v}");
    let listed: Vec<u64> = sockets(&v)
        .iter()
        .filter_map(|s| s["local_port"].as_u64())
        .collect();
    assert_eq!(listed, [u64::from(port)], "{v}");
}
