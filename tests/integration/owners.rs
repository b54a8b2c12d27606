//! Real sockets on loopback, and the exact pids that hold them, on every collection path.

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::OwnedFd;

use crate::support::*;

/// The one socket of `whoport ARGS` that is ours: this protocol, local address and port.
/// (On a busy host other sockets may share the port number on another address, or as the
/// local end of someone else's connection.)
fn our_socket(args: &[&str], backend: &str, proto: &str, addr: &str) -> serde_json::Value {
    let (code, v) = json(args, backend);
    assert_eq!(code, 0, "{backend} {args:?}: {v}");
    let port = args.last().and_then(|p| p.parse::<u64>().ok());
    let ours: Vec<_> = sockets(&v)
        .into_iter()
        .filter(|s| {
            s["protocol"] == proto && s["local_address"] == addr && s["local_port"].as_u64() == port
        })
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "{backend} {args:?}: expected one {proto} socket on {addr}: {v}"
    );
    ours[0].clone()
}

#[test]
fn tcp_ipv4_listener() -> TestResult {
    hermetic();
    let l = tcp_listener("127.0.0.1:0");
    let port = l.local_addr()?.port().to_string();
    for backend in BACKENDS {
        let s = our_socket(&[&port], backend, "tcp", "127.0.0.1");
        assert_eq!(s["protocol"], "tcp");
        assert_eq!(s["family"], "ipv4");
        assert_eq!(s["local_address"], "127.0.0.1");
        assert_eq!(s["state"], "listen");
        assert_eq!(s["owner"], "known");
        assert_eq!(pids(&s), vec![me()], "{backend}");
        let p = &s["processes"][0];
        assert!(p["name"].as_str().is_some_and(|n| !n.is_empty()), "{p}");
        assert!(p["exe"].as_str().is_some_and(|e| e.starts_with('/')), "{p}");
        assert!(
            p["cmdline"].as_array().is_some_and(|c| !c.is_empty()),
            "{p}"
        );
        assert_eq!(p["uid"], s["uid"]);
    }
    Ok(())
}

#[test]
fn tcp_ipv6_and_udp_both_families() -> TestResult {
    hermetic();
    let t6 = tcp_listener("[::1]:0");
    let u4 = udp_socket("127.0.0.1:0");
    let u6 = udp_socket("[::1]:0");
    let cases = [
        (t6.local_addr()?.port(), "tcp", "ipv6", "::1", "listen"),
        (
            u4.local_addr()?.port(),
            "udp",
            "ipv4",
            "127.0.0.1",
            "unconnected",
        ),
        (u6.local_addr()?.port(), "udp", "ipv6", "::1", "unconnected"),
    ];
    for backend in BACKENDS {
        for (port, proto, family, addr, state) in cases {
            let flag = if proto == "tcp" { "-t" } else { "-u" };
            let s = our_socket(&[flag, &port.to_string()], backend, proto, addr);
            assert_eq!(
                (
                    &s["protocol"],
                    &s["family"],
                    &s["local_address"],
                    &s["state"]
                ),
                (&proto.into(), &family.into(), &addr.into(), &state.into()),
                "{backend}: {s}"
            );
            assert_eq!(pids(&s), vec![me()], "{backend}: {s}");
        }
    }
    // The family filters select by family.
    let p6 = t6.local_addr()?.port().to_string();
    let families = |flag: &str| -> Vec<serde_json::Value> {
        sockets(&json(&[flag, &p6], "native").1)
            .iter()
            .map(|s| s["family"].clone())
            .collect()
    };
    assert!(families("-4").iter().all(|f| f == "ipv4"));
    assert!(families("-6").iter().all(|f| f == "ipv6") && !families("-6").is_empty());
    Ok(())
}

#[test]
fn dual_stack_listener() -> TestResult {
    hermetic();
    // Rust leaves IPV6_V6ONLY off: one socket that also accepts IPv4.
    let l = tcp_listener("[::]:0");
    let port = l.local_addr()?.port().to_string();
    for backend in BACKENDS {
        let s = our_socket(&[&port], backend, "tcp", "::");
        assert_eq!(s["family"], "ipv6");
        assert_eq!(pids(&s), vec![me()], "{backend}");
    }
    // The fast path knows it is dual-stack (netlink reports IPV6_V6ONLY).
    let s = our_socket(&[&port], "native", "tcp", "::");
    let flags = s["flags"].as_array().cloned().unwrap_or_default();
    assert!(flags.contains(&"dual_stack".into()), "{s}");
    // An IPv4-only or v6only socket is not marked.
    let v4 = tcp_listener("127.0.0.1:0");
    let p4 = v4.local_addr()?.port().to_string();
    let s = our_socket(&[&p4], "native", "tcp", "127.0.0.1");
    assert_eq!(s["flags"], serde_json::json!([]));
    Ok(())
}

#[test]
fn listener_shared_by_parent_and_child() -> TestResult {
    hermetic();
    let l = tcp_listener("127.0.0.1:0");
    let port = l.local_addr()?.port().to_string();
    let holder = Holder::spawn(&sleep_path(), OwnedFd::from(l.try_clone()?));
    let mut want = vec![me(), holder.pid()];
    want.sort_unstable();
    for backend in BACKENDS {
        let s = our_socket(&[&port], backend, "tcp", "127.0.0.1");
        assert_eq!(pids(&s), want, "{backend}: both holders, once each: {s}");
    }
    // --pid selects sockets by any of their holders.
    let child = holder.pid().to_string();
    let by_pid = sockets(&json(&["--pid", &child, &port], "native").1);
    assert_eq!(by_pid.len(), 1, "{by_pid:?}");
    assert_eq!(pids(&by_pid[0]), want);
    // A process that holds nothing here: nothing matches. One that does not exist: an
    // error saying so.
    assert_eq!(json(&["--pid", "1", &port], "native").0, 1);
    let other = holder.pid() + 1_000_000;
    let out = run(&["--json", "--pid", &other.to_string(), &port], "native");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("no process with pid {other}")),
        "{err}"
    );
    Ok(())
}

#[test]
fn established_loopback_connection() -> TestResult {
    hermetic();
    let l = tcp_listener("127.0.0.1:0");
    let port = l.local_addr()?.port();
    let mut client = TcpStream::connect(("127.0.0.1", port))?;
    let (server, _) = l.accept()?;
    client.write_all(b"x")?;
    let client_port = client.local_addr()?.port();
    let mine = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        sockets(v)
            .into_iter()
            .filter(|s| s["protocol"] == "tcp" && s["local_address"] == "127.0.0.1")
            .filter(|s| pids(s).contains(&me()))
            .collect()
    };
    for backend in BACKENDS {
        let (_, v) = json(&[&port.to_string()], backend);
        let s = mine(&v);
        assert_eq!(s.len(), 2, "{backend}: listener and accepted socket: {v}");
        assert_eq!(s[0]["state"], "listen", "{backend}");
        assert_eq!(s[1]["state"], "established", "{backend}");
        assert_eq!(s[1]["remote_port"], u64::from(client_port), "{backend}");
        assert!(s.iter().all(|x| pids(x) == vec![me()]), "{backend}: {v}");
        // The client end is found by its own local port.
        // (Another connection may share its local port, towards another peer.)
        let (_, v) = json(&[&client_port.to_string()], backend);
        let c: Vec<_> = mine(&v)
            .into_iter()
            .filter(|s| s["remote_port"] == u64::from(port))
            .collect();
        assert_eq!(c.len(), 1, "{backend}: the client end: {v}");
        assert_eq!(c[0]["state"], "established");
        assert_eq!(c[0]["local_port"], u64::from(client_port));
        assert_eq!(pids(&c[0]), vec![me()]);
        // -l leaves the connection out.
        let listening = sockets(&json(&["-l", &port.to_string()], backend).1);
        assert!(
            listening
                .iter()
                .all(|s| s["state"] == "listen" || s["state"] == "unconnected")
        );
        assert_eq!(mine(&json(&["-l", &port.to_string()], backend).1).len(), 1);
    }
    drop(server);
    Ok(())
}

#[test]
fn free_port_exits_1() -> TestResult {
    hermetic();
    let port = free_port().to_string();
    for backend in BACKENDS {
        let (code, v) = json(&[&port], backend);
        assert_eq!(code, 1, "{backend}: {v}");
        assert!(sockets(&v).is_empty());
        assert_eq!(
            v["ports"][0]["port"].as_u64().map(|p| p.to_string()),
            Some(port.clone())
        );
    }
    let out = run(&[&port], "native");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("free"));
    assert!(run(&["-q", &port], "native").stdout.is_empty());
    Ok(())
}

#[test]
fn ranges_and_several_ports() -> TestResult {
    hermetic();
    let a = tcp_listener("127.0.0.1:0");
    let b = udp_socket("127.0.0.1:0");
    let (pa, pb) = (a.local_addr()?.port(), b.local_addr()?.port());
    let (lo, hi) = (pa.min(pb), pa.max(pb));
    let range = format!("{lo}-{hi}");
    let has_ours = |set: &SocketSet| {
        [("tcp", pa), ("udp", pb)].iter().all(|&(proto, port)| {
            set.iter().any(|(k, pids)| {
                k.0 == proto && k.1 == "127.0.0.1" && k.2 == u64::from(port) && pids.contains(&me())
            })
        })
    };
    for backend in BACKENDS {
        let (code, v) = json(&[&pa.to_string(), &pb.to_string()], backend);
        let set = socket_set(&v);
        assert_eq!(code, 0);
        assert!(has_ours(&set), "{backend}: {v}");
        let asked = [u64::from(pa), u64::from(pb)];
        assert!(set.keys().all(|k| asked.contains(&k.2)), "{backend}: {v}");
        let ranged = socket_set(&json(&[&range], backend).1);
        assert!(has_ours(&ranged), "{backend}: {range}");
        let span = u64::from(lo)..=u64::from(hi);
        assert!(ranged.keys().all(|k| span.contains(&k.2)), "{backend}");
    }
    Ok(())
}

#[test]
fn escape_sequences_in_names_never_reach_the_terminal() -> TestResult {
    hermetic();
    let dir = tempfile::tempdir()?;
    let evil = dir.path().join("ev\x1b[31mil\x07");
    std::fs::copy(sleep_path(), &evil)?;
    let l = tcp_listener("127.0.0.1:0");
    let port = l.local_addr()?.port().to_string();
    let holder = Holder::spawn(&evil, OwnedFd::from(l.try_clone()?));
    drop(l);
    let out = run(&["--color", "never", &port], "native");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !out.stdout.contains(&0x1b),
        "raw ESC in {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!out.stdout.contains(&0x07), "raw BEL in the table");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ev\\x1b[31mil\\x07"),
        "name not shown escaped: {text}"
    );
    assert!(text.contains(&holder.pid().to_string()));
    // JSON keeps the exact name, escaped by JSON's own rules.
    let s = our_socket(&[&port], "native", "tcp", "127.0.0.1");
    assert_eq!(s["processes"][0]["name"], "ev\u{1b}[31mil\u{7}");
    Ok(())
}

#[test]
fn user_filter() -> TestResult {
    hermetic();
    let l = tcp_listener("127.0.0.1:0");
    let port = l.local_addr()?.port().to_string();
    let uid = u64::from(rustix::process::geteuid().as_raw());
    let with_user = |u: u64| sockets(&json(&["--user", &u.to_string(), &port], "native").1);
    let is_ours =
        |s: &serde_json::Value| s["local_address"] == "127.0.0.1" && pids(s) == vec![me()];
    let held_by = |s: &serde_json::Value, u: u64| {
        s["uid"] == u
            || s["processes"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["uid"] == u))
    };
    let mine = with_user(uid);
    assert!(mine.iter().any(is_ours));
    assert!(mine.iter().all(|s| held_by(s, uid)));
    let other = if uid == 0 { 65534 } else { 0 };
    let theirs = with_user(other);
    assert!(!theirs.iter().any(is_ours));
    assert!(theirs.iter().all(|s| held_by(s, other)));
    Ok(())
}

#[test]
fn default_lists_listeners_only_and_all_lists_every_state() -> TestResult {
    hermetic();
    let l = tcp_listener("127.0.0.1:0");
    let port = l.local_addr()?.port();
    let _client = TcpStream::connect(("127.0.0.1", port))?;
    let _server = l.accept()?;
    let (code, v) = json(&[], "native");
    assert_eq!(code, 0);
    let all = sockets(&v);
    assert!(
        all.iter()
            .all(|s| s["state"] == "listen" || s["state"] == "unconnected"),
        "{v}"
    );
    assert!(
        all.iter()
            .any(|s| s["local_port"] == u64::from(port) && pids(s) == vec![me()])
    );
    let every = sockets(&json(&["-a"], "native").1);
    let ours = every
        .iter()
        .filter(|s| s["local_port"] == u64::from(port) && s["local_address"] == "127.0.0.1")
        .filter(|s| s["protocol"] == "tcp" && pids(s) == vec![me()])
        .count();
    assert_eq!(ours, 2, "listener and accepted connection");
    // The same socket never appears twice (an MPTCP socket's TCP subflows carry its
    // inode, and are flagged).
    let mut inodes: Vec<u64> = every
        .iter()
        .filter(|s| {
            !s["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f == "mptcp_subflow"))
        })
        .filter_map(|s| s["inode"].as_u64())
        .filter(|&i| i != 0)
        .collect();
    let n = inodes.len();
    inodes.sort_unstable();
    inodes.dedup();
    assert_eq!(inodes.len(), n);
    Ok(())
}
