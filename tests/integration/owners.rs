//! Real sockets on loopback, and the exact pids that hold them, on every collection path.

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::OwnedFd;

use crate::support::*;

fn only_socket(args: &[&str], backend: &str) -> serde_json::Value {
    let (code, v) = json(args, backend);
    let s = sockets(&v);
    assert_eq!(code, 0, "{backend} {args:?}: {v}");
    assert_eq!(s.len(), 1, "{backend} {args:?}: expected one socket: {v}");
    s[0].clone()
}

#[test]
fn tcp_ipv4_listener() -> TestResult {
    let l = tcp_listener("127.0.0.1:0");
    let port = l.local_addr()?.port().to_string();
    for backend in BACKENDS {
        let s = only_socket(&[&port], backend);
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
            let s = only_socket(&[flag, &port.to_string()], backend);
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
    assert_eq!(json(&["-4", &p6], "native").0, 1);
    assert_eq!(sockets(&json(&["-6", &p6], "native").1).len(), 1);
    Ok(())
}

#[test]
fn dual_stack_listener() -> TestResult {
    // Rust leaves IPV6_V6ONLY off: one socket that also accepts IPv4.
    let l = tcp_listener("[::]:0");
    let port = l.local_addr()?.port().to_string();
    for backend in BACKENDS {
        let s = only_socket(&[&port], backend);
        assert_eq!(
            (&s["family"], &s["local_address"]),
            (&"ipv6".into(), &"::".into())
        );
        assert_eq!(pids(&s), vec![me()], "{backend}");
    }
    // The fast path knows it is dual-stack (netlink reports IPV6_V6ONLY).
    let s = only_socket(&[&port], "native");
    assert!(
        s["flags"]
            .as_array()
            .is_some_and(|f| f.contains(&"dual_stack".into())),
        "{s}"
    );
    Ok(())
}

#[test]
fn listener_shared_by_parent_and_child() -> TestResult {
    let l = tcp_listener("127.0.0.1:0");
    let port = l.local_addr()?.port().to_string();
    let holder = Holder::spawn(&sleep_path(), OwnedFd::from(l.try_clone()?));
    let mut want = vec![me(), holder.pid()];
    want.sort_unstable();
    for backend in BACKENDS {
        let s = only_socket(&[&port], backend);
        assert_eq!(pids(&s), want, "{backend}: both holders, once each: {s}");
    }
    // --pid selects by any holder; another pid matches nothing.
    let child = holder.pid().to_string();
    assert_eq!(
        sockets(&json(&["--pid", &child, &port], "native").1).len(),
        1
    );
    assert_eq!(json(&["--pid", "1", &port], "native").0, 1);
    Ok(())
}

#[test]
fn established_loopback_connection() -> TestResult {
    let l = tcp_listener("127.0.0.1:0");
    let port = l.local_addr()?.port();
    let mut client = TcpStream::connect(("127.0.0.1", port))?;
    let (server, _) = l.accept()?;
    client.write_all(b"x")?;
    let client_port = client.local_addr()?.port();
    for backend in BACKENDS {
        let (_, v) = json(&[&port.to_string()], backend);
        let s = sockets(&v);
        assert_eq!(s.len(), 2, "{backend}: listener and accepted socket: {v}");
        assert_eq!(s[0]["state"], "listen", "{backend}");
        assert_eq!(s[1]["state"], "established", "{backend}");
        assert_eq!(s[1]["remote_port"], u64::from(client_port), "{backend}");
        assert!(s.iter().all(|x| pids(x) == vec![me()]), "{backend}: {v}");
        // The client end is found by its own local port.
        let c = only_socket(&[&client_port.to_string()], backend);
        assert_eq!(
            (&c["state"], &c["remote_port"]),
            (&"established".into(), &u64::from(port).into())
        );
        assert_eq!(pids(&c), vec![me()]);
        // -l leaves the connection out.
        assert_eq!(
            sockets(&json(&["-l", &port.to_string()], backend).1).len(),
            1
        );
    }
    drop(server);
    Ok(())
}

#[test]
fn free_port_exits_1() -> TestResult {
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
    let a = tcp_listener("127.0.0.1:0");
    let b = udp_socket("127.0.0.1:0");
    let (pa, pb) = (a.local_addr()?.port(), b.local_addr()?.port());
    let (lo, hi) = (pa.min(pb), pa.max(pb));
    let range = format!("{lo}-{hi}");
    for backend in BACKENDS {
        let (code, v) = json(&[&pa.to_string(), &pb.to_string()], backend);
        assert_eq!((code, sockets(&v).len()), (0, 2), "{backend}: {v}");
        let got = socket_set(&json(&[&range], backend).1);
        for port in [pa, pb] {
            assert!(
                got.keys().any(|k| k.2 == u64::from(port)),
                "{backend}: {port} not in {range}"
            );
        }
    }
    Ok(())
}

#[test]
fn escape_sequences_in_names_never_reach_the_terminal() -> TestResult {
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
    let s = only_socket(&[&port], "native");
    assert_eq!(s["processes"][0]["name"], "ev\u{1b}[31mil\u{7}");
    Ok(())
}

#[test]
fn user_filter() -> TestResult {
    let l = tcp_listener("127.0.0.1:0");
    let port = l.local_addr()?.port().to_string();
    let uid = rustix::process::geteuid().as_raw().to_string();
    assert_eq!(
        sockets(&json(&["--user", &uid, &port], "native").1).len(),
        1
    );
    let other = if uid == "0" { "65534" } else { "0" };
    assert_eq!(json(&["--user", other, &port], "native").0, 1);
    Ok(())
}

#[test]
fn default_lists_listeners_only_and_all_lists_every_state() -> TestResult {
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
    assert!(all.iter().any(|s| s["local_port"] == u64::from(port)));
    let every = sockets(&json(&["-a"], "native").1);
    let ours = every
        .iter()
        .filter(|s| s["local_port"] == u64::from(port))
        .count();
    assert_eq!(ours, 2, "listener and accepted connection");
    // The same socket never appears twice.
    let mut inodes: Vec<u64> = every
        .iter()
        .filter_map(|s| s["inode"].as_u64())
        .filter(|&i| i != 0)
        .collect();
    let n = inodes.len();
    inodes.sort_unstable();
    inodes.dedup();
    assert_eq!(inodes.len(), n);
    Ok(())
}
