//! `whoport check`: the Nagios plugin API end to end, every exit code, on real sockets.

use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;

use crate::support::*;

/// Runs `whoport check ARGS`: exit code and the one line of stdout (asserted to be one).
fn check(args: &[&str]) -> (i32, String) {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    let out = run_settled(&all);
    plugin_output(&all, &out)
}

/// Runs whoport until its answer names no passing fork of this test process (another test
/// thread's child holds every descriptor of ours between its fork and exec, and whoport
/// rightly counts it for that instant; see support::settled).
fn run_settled(args: &[&str]) -> std::process::Output {
    let mut out = run(args, "native");
    for _ in 0..30 {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let unsettled = text
            .split("pid ")
            .skip(1)
            .filter_map(|rest| {
                let end = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                rest[..end].parse::<u64>().ok()
            })
            .any(|pid| !settled(pid));
        if !unsettled {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        out = run(args, "native");
    }
    out
}

fn plugin_output(args: &[&str], out: &std::process::Output) -> (i32, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        stdout.lines().count(),
        1,
        "{args:?}: not one line: {stdout:?} (stderr {:?})",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.ends_with('\n'));
    (
        out.status.code().unwrap_or(-1),
        stdout.trim_end().to_string(),
    )
}

/// A TCP listener on 127.0.0.1 whose port holds no other socket (on a busy host another
/// program may use the same port number elsewhere: pick another then).
fn lone_listener() -> TcpListener {
    for _ in 0..50 {
        let l = tcp_listener("127.0.0.1:0");
        let port = l.local_addr().map(|a| a.port()).unwrap_or(0).to_string();
        if is_lone_port(&port, |s| pids(s) == vec![me()]) {
            return l;
        }
    }
    panic!("no port without other sockets found")
}

fn port_of(l: &TcpListener) -> String {
    l.local_addr().map(|a| a.port()).unwrap_or(0).to_string()
}

/// `sockets=1;;;0 listening=1;;;0 owners=1;;;0 hidden=0;;;0 time=…s;;;0`
fn assert_perfdata(line: &str, sockets: u32, listening: u32, owners: u32, hidden: u32) {
    let (_, perf) = line
        .split_once(" | ")
        .unwrap_or_else(|| panic!("no performance data: {line}"));
    let want = format!(
        "sockets={sockets};;;0 listening={listening};;;0 owners={owners};;;0 hidden={hidden};;;0 time="
    );
    assert!(perf.starts_with(&want), "{line}");
    let time = perf.rsplit("time=").next().unwrap_or("");
    let secs = time
        .strip_suffix("s;;;0")
        .and_then(|t| t.parse::<f64>().ok());
    assert!(secs.is_some_and(|s| s >= 0.0), "{line}");
    assert_eq!(line.matches('|').count(), 1, "{line}");
}

#[test]
fn ok_and_critical() -> TestResult {
    hermetic();
    let l = lone_listener();
    let port = port_of(&l);
    let me_pid = me().to_string();
    let held_by = format!("(pid {me_pid}, ");

    let (code, line) = check(&[&port, "-t", "--expect", &format!("pid={me_pid}")]);
    assert_eq!(code, 0, "{line}");
    assert!(
        line.starts_with(&format!("WHOPORT OK - {port}/tcp listening, held by ")),
        "{line}"
    );
    assert!(line.contains(&held_by), "{line}");
    assert_perfdata(&line, 1, 1, 1, 0);
    // No --expect: listening.
    let (code, line) = check(&[&port]);
    assert_eq!(code, 0, "{line}");

    let (code, line) = check(&[&port, "--expect", "free"]);
    assert_eq!(code, 2, "{line}");
    assert!(
        line.starts_with(&format!(
            "WHOPORT CRITICAL - {port}/tcp listening, held by "
        )),
        "{line}"
    );
    assert!(line.contains(": expected free | "), "{line}");

    // Another pid: CRITICAL when every process was inspected, UNKNOWN (saying why) when
    // some could not be (not root, or a process even root may not read).
    let other = format!("pid={}", me() + 1_000_000);
    let (code, line) = check(&[&port, "--expect", &other]);
    match code {
        2 => assert!(line.contains(&format!("expected {other}")), "{line}"),
        3 => assert!(
            line.contains(&format!("not {other}, but")) && line.contains("may hold it too"),
            "{line}"
        ),
        _ => panic!("{line}"),
    }

    // A child holding the same socket: pid= matches either holder.
    let holder = Holder::spawn(&sleep_path(), OwnedFd::from(l.try_clone()?));
    let (code, line) = check(&[&port, "--expect", &format!("pid={}", holder.pid())]);
    assert_eq!(code, 0, "{line}");
    assert_perfdata(&line, 1, 1, 2, 0);
    assert!(line.contains(&format!("(pid {}, ", holder.pid())), "{line}");
    drop(holder);

    // The listener gone: nothing listening.
    drop(l);
    let (code, line) = check(&[&port, "-t"]);
    if code == 2 {
        assert_eq!(
            line.split(" | ").next(),
            Some(format!("WHOPORT CRITICAL - {port}/tcp free: expected listening").as_str())
        );
    } else {
        // Someone else took the port in the meantime: then it is theirs, not ours.
        assert!(!line.contains(&held_by), "{line}");
    }
    Ok(())
}

#[test]
fn free_and_held_ports() -> TestResult {
    hermetic();
    // A free port: OK for `free`, CRITICAL for the default `listening`. (Retried: on a busy
    // host another program may take a port between its release and the check.)
    let mut seen = Vec::new();
    let free_ok = (0..5).any(|_| {
        let port = unused_port();
        let (code, line) = check(&[&port, "--expect", "free"]);
        let (code2, line2) = check(&[&port]);
        seen.push(format!("{line} / {line2}"));
        code == 0
            && line.starts_with(&format!("WHOPORT OK - {port} free | "))
            && code2 == 2
            && line2.contains(&format!("{port} free: expected listening"))
    });
    assert!(free_ok, "{seen:?}");

    // A client's end of a connection: held, not listening.
    let l = lone_listener();
    let client = TcpStream::connect(l.local_addr()?)?;
    let _server = l.accept()?;
    let client_port = client.local_addr()?.port().to_string();
    let (code, line) = check(&[&client_port, "-t", "--expect", "held"]);
    assert_eq!(code, 0, "{line}");
    assert!(line.contains("in use (established)"), "{line}");
    let (code, line) = check(&[&client_port, "-t", "--expect", "listening"]);
    assert_eq!(code, 2, "{line}");
    let (code, line) = check(&[&client_port, "-t", "--expect", "free"]);
    assert_eq!(code, 2, "{line}");
    Ok(())
}

#[test]
fn bad_input_is_unknown_on_one_line() {
    hermetic();
    let cases: &[(&[&str], &str)] = &[
        (&["70000"], "'70000'"),
        (&["x-y"], "'x-y'"),
        (&["9000-8000"], "9000-8000"),
        (&[], "PORT"),
        (&["22", "--expect", "nope"], "'nope'"),
        (&["22", "--expect", "pid=abc"], "'pid=abc'"),
        (
            &["22", "--expect", "user=no-such-user-here"],
            "no-such-user-here",
        ),
        (&["22", "--expect", "exe=relative"], "exe=relative"),
        (
            &["22", "--expect", "free", "--expect", "listening"],
            "contradictory",
        ),
        (&["22", "--expect"], "--expect"),
        (&["22", "--warn-on", "sometimes"], "sometimes"),
        (&["22", "--bogus"], "--bogus"),
    ];
    for (args, named) in cases {
        let mut all = vec!["check"];
        all.extend_from_slice(args);
        let out = run(&all, "native");
        let (code, line) = plugin_output(&all, &out);
        assert_eq!(code, 3, "{args:?}: {line}");
        assert!(line.starts_with("WHOPORT UNKNOWN - "), "{args:?}: {line}");
        assert!(
            line.contains(named),
            "{args:?}: does not name {named}: {line}"
        );
        assert!(!line.contains('|'), "{args:?}: no performance data: {line}");
        assert!(out.stderr.is_empty(), "{args:?}");
    }
    // The same as JSON, when asked for.
    let out = run(&["check", "70000", "--json"], "native");
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(v["status"], "unknown", "{v}");
    assert_eq!(v["status_code"], 3);
    assert!(v["summary"].as_str().is_some_and(|s| s.contains("70000")));
    // `check` names a subcommand only in the first place: elsewhere it is a PORT.
    let out = run(&["22", "check"], "native");
    assert_eq!(out.status.code(), Some(2));
    // Help is not an error.
    let out = run(&["check", "--help"], "native");
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in ["--expect", "process=NAME", "3  UNKNOWN", "--warn-on"] {
        assert!(help.contains(needle), "check --help lacks {needle}");
    }
}

#[test]
fn names_cannot_forge_performance_data() -> TestResult {
    hermetic();
    let dir = tempfile::tempdir()?;
    let program = dir.path().join("x|y=1 \x1b[2J");
    std::fs::copy(sleep_path(), &program)?;
    let l = lone_listener();
    let port = port_of(&l);
    let holder = Holder::spawn(&program, OwnedFd::from(l.try_clone()?));
    drop(l);
    let out = run_settled(&["check", &port, "--expect", "free"]);
    let (code, line) = plugin_output(&["check"], &out);
    assert_eq!(code, 2, "{line}");
    assert!(!out.stdout.contains(&0x1b), "raw ESC: {line}");
    assert!(
        line.contains(&format!("x\\x7cy=1 \\x1b[2J (pid {}, ", holder.pid())),
        "{line}"
    );
    assert_perfdata(&line, 1, 1, 1, 0);
    Ok(())
}

#[test]
fn json_verdict() -> TestResult {
    hermetic();
    let l = lone_listener();
    let port = port_of(&l);
    let pid = format!("pid={}", me());
    let out = run(&["check", &port, "--json", "--expect", &pid], "native");
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(v["schema_version"], 1);
    assert_eq!((&v["status"], &v["status_code"]), (&"ok".into(), &0.into()));
    assert!(
        v["line"]
            .as_str()
            .is_some_and(|l| l.starts_with("WHOPORT OK - "))
    );
    assert_eq!(v["expectations"], serde_json::json!([pid]));
    assert_eq!(v["reasons"][0]["port"], format!("{port}/tcp"));
    assert_eq!(v["reasons"][0]["status"], "ok");
    assert_eq!(
        v["perfdata"][0],
        serde_json::json!({"label": "sockets", "value": 1, "uom": "", "min": 0})
    );
    let s = sockets(&v);
    assert_eq!(s.len(), 1, "{v}");
    assert_eq!(pids(&s[0]), vec![me()]);
    assert_eq!(s[0]["local_address"], "127.0.0.1");
    Ok(())
}

#[test]
fn hidden_owner_is_unknown() -> TestResult {
    hermetic();
    let Some(listener) = foreign_listener_or_skip("hidden_owner_is_unknown") else {
        return Ok(());
    };
    let port = listener.port.to_string();
    let exe = shared_whoport();
    let as_daemon = |args: &[&str]| {
        let mut all = vec!["check", &port];
        all.extend_from_slice(args);
        let out = run_as(&exe, 1, &all, "native");
        plugin_output(&all, &out)
    };
    // Who holds it decides: UNKNOWN, saying why and what to run instead.
    let (code, line) = as_daemon(&["--expect", "process=python3"]);
    assert_eq!(code, 3, "{line}");
    assert!(
        line.starts_with(&format!(
            "WHOPORT UNKNOWN - {port}/tcp listening, owner hidden (socket of nobody): cannot \
             tell whether it is held by process=python3: "
        )),
        "{line}"
    );
    assert!(line.contains("sudo whoport"), "{line}");
    assert_perfdata(&line, 1, 1, 0, 1);
    // Whether it listens does not depend on who holds it.
    let (code, line) = as_daemon(&["--expect", "listening"]);
    assert_eq!(code, 0, "{line}");
    let (code, line) = as_daemon(&["--expect", "free"]);
    assert_eq!(code, 2, "{line}");
    // Root sees the owner and decides.
    let pid = format!("pid={}", listener.pid());
    let (code, line) = check(&[
        &port,
        "--expect",
        "process=python3",
        "--expect",
        "user=nobody",
        "--expect",
        &pid,
    ]);
    assert_eq!(code, 0, "{line}");
    assert!(
        line.contains(&format!("held by python3 (pid {}, nobody)", listener.pid())),
        "{line}"
    );
    Ok(())
}
