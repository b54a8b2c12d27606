//! `whoport kill`, `wait` and `watch` on real processes this test starts. Nothing else is
//! ever signalled: the kill tests run only as root, each in a network namespace of its
//! own (`hermetic`), where the only listeners are the test's; as another user they skip.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// Python, or a skip (with `CI=true` a failure) naming what is missing.
fn python_or_skip(test: &str) -> Option<&'static std::path::Path> {
    let python = system_python();
    if python.is_none() {
        skip(test, "/usr/bin/python3 is not installed");
    }
    python
}

/// The scene for a kill test: root (a namespace of the test's own), and python.
fn kill_scene_or_skip(test: &str) -> Option<&'static std::path::Path> {
    if !is_root() {
        skip(
            test,
            "needs root: whoport kill is tested only in a network namespace of the test's own",
        );
        return None;
    }
    hermetic();
    python_or_skip(test)
}

/// A python program of this test, its first output line read (the script prints what it
/// made: ports, pids).
struct Script {
    child: Child,
    first_line: Vec<String>,
}

impl Script {
    fn start(python: &std::path::Path, code: &str, args: &[&str]) -> Script {
        let mut child = Command::new(python)
            .arg("-c")
            .arg(code)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start python: {e}"));
        register_holder(u64::from(child.id()));
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let first_line = line.split_whitespace().map(str::to_string).collect();
        Script { child, first_line }
    }

    fn field(&self, n: usize) -> String {
        self.first_line
            .get(n)
            .cloned()
            .unwrap_or_else(|| panic!("the script printed {:?}", self.first_line))
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pre-forking server: the master binds a listener on 127.0.0.1, forks a worker that
/// accepts on it; on SIGTERM the master stops its worker and exits. Prints
/// `PORT MASTER WORKER`.
const PREFORK: &str = r#"
import os, signal, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
worker = os.fork()
if worker == 0:
    kept = []
    while True:
        c, _ = s.accept()
        kept.append(c)
def stop(sig, frame):
    os.kill(worker, signal.SIGTERM)
    os.waitpid(worker, 0)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print(s.getsockname()[1], os.getpid(), worker, flush=True)
while True:
    time.sleep(1)
"#;

/// A client connected to the port in argv[1], holding its connection; prints its pid.
const CLIENT: &str = r#"
import os, socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print(os.getpid(), flush=True)
sys.stdin.read()
"#;

/// A listener that ignores SIGTERM. Prints `PORT`.
const STUBBORN: &str = r#"
import signal, socket, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
while True:
    time.sleep(1)
"#;

/// A socket of the protocol in argv[1] bound to 127.0.0.1, port argv[2] (0: any); a TCP
/// one listens. Prints `PORT`; exits when its standard input closes.
const BOUND: &str = r#"
import socket, sys
kind = socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind)
s.bind(("127.0.0.1", int(sys.argv[2])))
if kind == socket.SOCK_STREAM:
    s.listen()
print(s.getsockname()[1], flush=True)
sys.stdin.read()
"#;

fn kill_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["kill", "--json"];
    all.extend_from_slice(args);
    let out = whoport()
        .args(&all)
        .output()
        .unwrap_or_else(|e| panic!("whoport {all:?}: {e}"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "whoport {all:?} gave no JSON ({e}): {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

fn action_pids(v: &Value) -> Vec<(u64, String, String)> {
    v["actions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x["pid"].as_u64().unwrap_or(0),
                        x["signal"].as_str().unwrap_or("").to_string(),
                        x["result"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kill_signals_the_master_first_and_spares_a_connected_client() -> TestResult {
    let test = "kill_signals_the_master_first_and_spares_a_connected_client";
    let Some(python) = kill_scene_or_skip(test) else {
        return Ok(());
    };
    let mut server = Script::start(python, PREFORK, &[]);
    let (port, master, worker) = (server.field(0), server.field(1), server.field(2));
    let master: u64 = master.parse()?;
    let worker: u64 = worker.parse()?;
    register_holder(worker);
    let mut client = Script::start(python, CLIENT, &[&port]);
    let client_pid: u64 = client.field(0).parse()?;

    // Both hold the listener: the master and its forked worker.
    let (_, v) = json(&["-l", &port], "native");
    let listener = sockets(&v)
        .into_iter()
        .find(|s| s["state"] == "listen")
        .ok_or("no listener")?;
    assert_eq!(pids(&listener), vec![master, worker]);

    let (code, v) = kill_json(&[&port]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["outcome"], "killed", "{v}");
    assert_eq!(v["free"], true);
    let actions = action_pids(&v);
    assert_eq!(
        actions.first(),
        Some(&(master, "TERM".to_string(), "sent".to_string())),
        "the master first: {v}"
    );
    assert_eq!(v["actions"][0]["role"], "master");
    assert!(
        actions.iter().all(|(p, _, _)| *p == master || *p == worker),
        "only the listener's holders: {v}"
    );
    assert!(
        actions.iter().all(|(_, s, _)| s == "TERM"),
        "no escalation needed: {v}"
    );
    // The master stopped its worker and exited; the client was never a target.
    let status = server.child.wait()?;
    assert_eq!(status.code(), Some(0), "the master exited on its own terms");
    assert!(client.alive(), "the connected client survives");
    assert!(!actions.iter().any(|(p, _, _)| *p == client_pid));
    let (code, v) = json(&["-l", &port], "native");
    assert_eq!(code, 1, "no listener left: {v}");
    Ok(())
}

#[test]
fn kill_escalates_to_sigkill_when_sigterm_is_ignored() -> TestResult {
    let test = "kill_escalates_to_sigkill_when_sigterm_is_ignored";
    let Some(python) = kill_scene_or_skip(test) else {
        return Ok(());
    };
    let mut holder = Script::start(python, STUBBORN, &[]);
    let port = holder.field(0);
    let pid = u64::from(holder.child.id());

    // --no-escalate: it stays, and whoport says so (exit 1).
    let started = Instant::now();
    let (code, v) = kill_json(&[&port, "--timeout", "300ms", "--no-escalate"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["outcome"], "still_held");
    assert_eq!(
        action_pids(&v),
        vec![(pid, "TERM".to_string(), "sent".to_string())]
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(holder.alive());
    assert_eq!(v["after"][0]["processes"][0]["pid"], pid);

    // By default: SIGKILL after the timeout.
    let (code, v) = kill_json(&[&port, "--timeout", "300ms"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["outcome"], "killed");
    assert_eq!(
        action_pids(&v),
        vec![
            (pid, "TERM".to_string(), "sent".to_string()),
            (pid, "KILL".to_string(), "sent".to_string())
        ]
    );
    assert!(v["actions"][1]["at_ms"].as_u64() >= Some(300), "{v}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(holder.child.wait()?.signal(), Some(9));
    Ok(())
}

#[test]
fn kill_an_already_free_port() -> TestResult {
    let test = "kill_an_already_free_port";
    if kill_scene_or_skip(test).is_none() {
        return Ok(());
    }
    let port = unused_port();
    let out = whoport().args(["kill", &port]).output()?;
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("already free"), "{text}");
    let (code, v) = kill_json(&[&port]);
    assert_eq!((code, &v["outcome"]), (0, &"already_free".into()));
    assert!(v["actions"].as_array().is_some_and(Vec::is_empty));
    Ok(())
}

#[test]
fn kill_udp_only_spares_the_tcp_listener() -> TestResult {
    let test = "kill_udp_only_spares_the_tcp_listener";
    let Some(python) = kill_scene_or_skip(test) else {
        return Ok(());
    };
    let mut tcp = Script::start(python, BOUND, &["tcp", "0"]);
    let port = tcp.field(0);
    let mut udp = Script::start(python, BOUND, &["udp", &port]);
    assert_eq!(udp.field(0), port);
    let udp_pid = u64::from(udp.child.id());
    // Dry run: the plan, nothing sent.
    let (code, v) = kill_json(&[&port, "-u", "-s", "HUP", "--dry-run"]);
    assert_eq!((code, &v["outcome"]), (0, &"dry_run".into()), "{v}");
    assert_eq!(v["plan"][0]["pid"], udp_pid);
    assert_eq!(v["plan"][0]["signal"], "HUP");
    assert!(tcp.alive() && udp.alive());

    let (code, v) = kill_json(&[&port, "-u", "-s", "HUP"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        action_pids(&v),
        vec![(udp_pid, "HUP".to_string(), "sent".to_string())]
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(udp.child.wait()?.signal(), Some(1));
    assert!(tcp.alive(), "-u: the TCP listener is not a target");
    Ok(())
}

#[test]
fn kill_refuses_another_users_listener_when_unprivileged() -> TestResult {
    hermetic();
    let Some(listener) =
        foreign_listener_or_skip("kill_refuses_another_users_listener_when_unprivileged")
    else {
        return Ok(());
    };
    let port = listener.port.to_string();
    let exe = shared_whoport();
    // uid 1 (daemon) sees a listener of uid 65534 it may not inspect.
    let out = run_as(&exe, 1, &["kill", "--json", &port], "native");
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(v["outcome"], "refused", "{v}");
    assert_eq!(v["refusals"][0]["rule"], "hidden");
    assert!(
        v["refusals"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("sudo whoport kill {port}"))),
        "{v}"
    );
    assert!(v["actions"].as_array().is_some_and(Vec::is_empty));
    let text = run_as(&exe, 1, &["kill", &port], "native");
    assert_eq!(text.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&text.stdout).contains("refused, nothing signalled"));
    // Nothing was signalled: the listener is still there, held by the same process.
    let (code, v) = json(&[&port], "native");
    assert_eq!(code, 0);
    assert_eq!(pids(&sockets(&v)[0]), vec![listener.pid()]);
    Ok(())
}

/// A listener that appears after argv[2] seconds on argv[1] (an address: 127.0.0.1 or
/// ::1, IPv6 only), port argv[3], and goes after argv[4] seconds more.
const LATE: &str = r#"
import socket, sys, time
addr, delay, port, hold = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
print("started", flush=True)
time.sleep(delay)
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(family)
if family == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind((addr, port))
s.listen()
time.sleep(hold)
"#;

fn wait_for(args: &[&str]) -> (i32, String, Duration) {
    let started = Instant::now();
    let out = whoport()
        .arg("wait")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("whoport wait {args:?}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

fn wait_sees_listener_come_and_go(test: &str, addr: &str, shown: &str) -> TestResult {
    hermetic();
    let Some(python) = python_or_skip(test) else {
        return Ok(());
    };
    let port = unused_port();
    let mut late = Script::start(python, LATE, &[addr, "0.4", &port, "0.8"]);
    let (code, err, took) = wait_for(&[&port, "--timeout", "10s"]);
    assert_eq!(code, 0, "{err}");
    assert!(took >= Duration::from_millis(300), "it waited: {took:?}");
    assert!(
        err.contains(&format!("tcp listen on {shown}:{port}")),
        "{err}"
    );
    let (code, err, _) = wait_for(&[&port, "--until", "free", "--timeout", "10s"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("free"), "{err}");
    assert_eq!(late.child.wait()?.code(), Some(0));
    Ok(())
}

#[test]
fn wait_sees_an_ipv6_only_listener_come_and_go() -> TestResult {
    wait_sees_listener_come_and_go(
        "wait_sees_an_ipv6_only_listener_come_and_go",
        "::1",
        "[::1]",
    )
}

#[test]
fn wait_sees_an_ipv4_only_listener_come_and_go() -> TestResult {
    wait_sees_listener_come_and_go(
        "wait_sees_an_ipv4_only_listener_come_and_go",
        "127.0.0.1",
        "127.0.0.1",
    )
}

#[test]
fn wait_times_out_saying_what_it_last_saw() -> TestResult {
    hermetic();
    let l = tcp_listener("127.0.0.1:0");
    let port = l.local_addr()?.port().to_string();
    let (code, err, took) = wait_for(&[&port, "--until", "free", "--timeout", "300ms"]);
    assert_eq!(code, 1, "{err}");
    assert!(took >= Duration::from_millis(300));
    assert!(
        err.contains("timed out after") && err.contains(&format!("tcp listen on 127.0.0.1:{port}")),
        "{err}"
    );
    // UDP only: nothing listens there.
    let (code, err, _) = wait_for(&[&port, "-u", "--timeout", "200ms", "--interval", "50ms"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no socket"), "{err}");
    // Bad input: exit 2, naming it.
    let (code, err, _) = wait_for(&[&port, "--timeout", "10"]);
    assert_eq!(code, 2);
    assert!(err.contains("'10'"), "{err}");
    Ok(())
}

#[test]
fn wait_runs_the_command_and_takes_its_exit_code() -> TestResult {
    hermetic();
    let l = tcp_listener("[::1]:0");
    let port = l.local_addr()?.port().to_string();
    let (code, err, _) = wait_for(&[&port, "-q", "--", "sh", "-c", "exit 7"]);
    assert_eq!(code, 7, "{err}");
    assert!(err.is_empty(), "-q: {err}");
    let (code, err, _) = wait_for(&[&port, "--", "/nonexistent/command"]);
    assert_eq!(code, 127, "{err}");
    Ok(())
}

/// Lines of a child's standard output, read on a thread, so that a test can give up.
fn lines(out: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Starts `whoport watch ARGS` and waits until its first look is done (its message on
/// standard error).
fn start_watch(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = whoport()
        .arg("watch")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("whoport watch: {e}"));
    if let Some(err) = child.stderr.take() {
        let mut line = String::new();
        let _ = BufReader::new(err).read_line(&mut line);
        assert!(line.contains("watching"), "{line}");
    }
    let rx = match child.stdout.take() {
        Some(out) => lines(out),
        None => panic!("no stdout"),
    };
    (child, rx)
}

#[test]
fn watch_reports_a_listener_that_comes_and_goes() -> TestResult {
    hermetic();
    let test = "watch_reports_a_listener_that_comes_and_goes";
    let Some(python) = python_or_skip(test) else {
        return Ok(());
    };
    let port = unused_port();
    let (mut watch, rx) = start_watch(&[&port, "--json", "--count", "2", "--interval", "50ms"]);
    let mut holder = Script::start(python, BOUND, &["tcp", &port]);
    let pid = u64::from(holder.child.id());
    let next = |what: &str| {
        rx.recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("no '{what}' event within 15 s"))
    };
    let added: Value = serde_json::from_str(&next("added"))?;
    assert_eq!(added["event"], "added", "{added}");
    assert_eq!(added["socket"]["local_port"].as_u64(), port.parse().ok());
    assert_eq!(added["socket"]["state"], "listen");
    assert_eq!(added["socket"]["processes"][0]["pid"], pid);
    assert!(added["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    // The holder exits.
    drop(holder.child.stdin.take());
    holder.child.wait()?;
    let removed: Value = serde_json::from_str(&next("removed"))?;
    assert_eq!(removed["event"], "removed", "{removed}");
    assert_eq!(removed["socket"]["processes"][0]["pid"], pid);
    // --count 2: done, exit 0.
    let status = watch.wait()?;
    assert_eq!(status.code(), Some(0));
    Ok(())
}

#[test]
fn watch_exits_0_when_interrupted() -> TestResult {
    hermetic();
    let port = unused_port();
    let (mut watch, rx) = start_watch(&[&port, "--interval", "50ms"]);
    // A text line for a listener of this test process.
    let l = tcp_listener(&format!("127.0.0.1:{port}"));
    let line = rx
        .recv_timeout(Duration::from_secs(15))
        .map_err(|_| "no event within 15 s")?;
    assert!(
        line.contains(" added ") && line.contains(&format!("tcp 127.0.0.1:{port} listen")),
        "{line}"
    );
    assert!(line.contains(&format!("pid {}", me())), "{line}");
    drop(l);
    // Interrupt it (our own child).
    let pid = rustix::process::Pid::from_raw(i32::try_from(watch.id())?).ok_or("pid")?;
    rustix::process::kill_process(pid, rustix::process::Signal::INT)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = watch.try_wait()? {
            assert_eq!(status.code(), Some(0), "interrupted: exit 0");
            break;
        }
        if Instant::now() > deadline {
            let _ = watch.kill();
            let _ = watch.wait();
            panic!("watch did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::io::stderr().flush();
    Ok(())
}

#[test]
fn kill_refuses_container_plumbing_unless_forced() -> TestResult {
    let test = "kill_refuses_container_plumbing_unless_forced";
    if kill_scene_or_skip(test).is_none() {
        return Ok(());
    }
    // A process of ours named like Docker's proxy, holding a listener (the rule goes by
    // the name of the process and of its executable).
    let dir = tempfile::tempdir()?;
    let proxy = dir.path().join("docker-proxy");
    std::fs::copy(sleep_path(), &proxy)?;
    let l = tcp_listener("127.0.0.1:0");
    let port = l.local_addr()?.port().to_string();
    let mut holder = Holder::spawn(&proxy, std::os::fd::OwnedFd::from(l));
    let pid = holder.pid();
    let (code, v) = kill_json(&[&port]);
    assert_eq!((code, &v["outcome"]), (1, &"refused".into()), "{v}");
    assert_eq!(v["refusals"][0]["rule"], "container");
    assert_eq!(v["refusals"][0]["pid"], pid);
    assert_eq!(v["refusals"][0]["forcible"], true);
    let message = v["refusals"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains(&format!("docker ps --filter publish={port}"))
            && message.contains("docker stop"),
        "{message}"
    );
    assert!(matches!(holder.child.try_wait(), Ok(None)), "not signalled");
    let (code, v) = kill_json(&[&port, "--force"]);
    assert_eq!((code, &v["outcome"]), (0, &"killed".into()), "{v}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(holder.child.wait()?.signal(), Some(15));
    Ok(())
}

/// `strace -f -c -e trace=getdents64` of whoport ARGS (stopped with SIGINT after
/// `seconds`, when given): how many directory reads it made. Each look at the owners
/// reads `/proc` and every process's `fd` directory.
fn directory_reads(
    args: &[&str],
    seconds: Option<&str>,
) -> Result<u64, Box<dyn std::error::Error>> {
    let report = tempfile::NamedTempFile::new()?;
    let out_path = report.path().to_string_lossy().into_owned();
    let bin = assert_cmd::cargo::cargo_bin("whoport");
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-c", "-e", "trace=getdents64", "-o", &out_path]);
    if let Some(s) = seconds {
        cmd.args(["timeout", "-s", "INT", "--preserve-status", s]);
    }
    let status = cmd
        .arg(&bin)
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    assert!(status.success(), "whoport {args:?} under strace: {status}");
    let text = std::fs::read_to_string(report.path())?;
    Ok(text
        .lines()
        .find(|l| l.trim_end().ends_with("getdents64"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

#[test]
fn watch_scans_no_processes_while_nothing_changes() -> TestResult {
    hermetic();
    let test = "watch_scans_no_processes_while_nothing_changes";
    if Command::new("strace").arg("-V").output().is_err() {
        skip(test, "strace is not installed");
        return Ok(());
    }
    let l = tcp_listener("127.0.0.1:0");
    let port = l.local_addr()?.port().to_string();
    // One listing of the port: one owner scan.
    let one = directory_reads(&[&port], None)?;
    assert!(one > 0, "a listing reads /proc");
    // Watching it for 1.5 s at 20 ms is some 70 looks at the socket table; only the first
    // scans processes (a few more reads for a process that starts meanwhile are allowed).
    let watched = directory_reads(&["watch", &port, "--interval", "20ms"], Some("1.5"))?;
    assert!(
        watched < 2 * one + 50,
        "watch read {watched} directories in 1.5 s; one listing reads {one}"
    );
    drop(l);
    Ok(())
}

/// A master and a forked worker sharing a listener; a line on standard input makes the
/// master stop the worker. Prints `PORT MASTER WORKER`.
const SHARED: &str = r#"
import os, signal, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
worker = os.fork()
if worker == 0:
    signal.pause()
    os._exit(0)
print(s.getsockname()[1], os.getpid(), worker, flush=True)
sys.stdin.readline()
os.kill(worker, signal.SIGTERM)
os.waitpid(worker, 0)
sys.stdin.read()
"#;

#[test]
fn watch_reports_changed_holders() -> TestResult {
    hermetic();
    let test = "watch_reports_changed_holders";
    let Some(python) = python_or_skip(test) else {
        return Ok(());
    };
    let mut server = Script::start(python, SHARED, &[]);
    let (port, master, worker) = (server.field(0), server.field(1), server.field(2));
    let master: u64 = master.parse()?;
    register_holder(worker.parse()?);
    let (mut watch, rx) = start_watch(&[&port, "--json", "--count", "1", "--interval", "50ms"]);
    // The worker goes; the listener stays, held by the master alone. The socket table
    // does not change: watch notices through the worker's pidfd.
    if let Some(stdin) = server.child.stdin.as_mut() {
        stdin.write_all(b"stop the worker\n")?;
        stdin.flush()?;
    }
    let line = rx
        .recv_timeout(Duration::from_secs(15))
        .map_err(|_| "no 'changed' event within 15 s")?;
    let event: Value = serde_json::from_str(&line)?;
    assert_eq!(event["event"], "changed", "{event}");
    assert_eq!(event["socket"]["state"], "listen");
    assert_eq!(pids(&event["socket"]), vec![master], "{event}");
    assert_eq!(watch.wait()?.code(), Some(0));
    Ok(())
}

#[test]
fn wait_for_several_ports_waits_for_all() -> TestResult {
    hermetic();
    let test = "wait_for_several_ports_waits_for_all";
    let Some(python) = python_or_skip(test) else {
        return Ok(());
    };
    let first = tcp_listener("127.0.0.1:0");
    let a = first.local_addr()?.port().to_string();
    let b = unused_port();
    let mut late = Script::start(python, LATE, &["::1", "0.5", &b, "0.5"]);
    let (code, err, took) = wait_for(&[&a, &b, "--timeout", "10s"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        took >= Duration::from_millis(400),
        "waited for {b} too: {took:?}"
    );
    assert!(
        err.contains(&format!("{a}: tcp listen on 127.0.0.1:{a}"))
            && err.contains(&format!("{b}: tcp listen on [::1]:{b}")),
        "{err}"
    );
    late.child.wait()?;
    Ok(())
}

#[test]
fn kill_refuses_a_docker_published_port_naming_the_container() -> TestResult {
    let test = "kill_refuses_a_docker_published_port_naming_the_container";
    let Some(mut docker) = crate::runtimes::Docker::start(test, &[]) else {
        return Ok(());
    };
    // Docker publishes in the host's network namespace, so this whoport runs there (no
    // `hermetic`): it only looks and refuses, nothing is signalled.
    let port = free_port();
    let web = format!("whoport-kill-{}", std::process::id());
    docker.httpd(&web, &["-p", &format!("127.0.0.1:{port}:8080")], 8080);
    let proxy = crate::runtimes::docker_proxy_pid(port).ok_or("no docker-proxy")?;
    let (code, v) = kill_json(&[&port.to_string()]);
    assert_eq!((code, &v["outcome"]), (1, &"refused".into()), "{v}");
    assert_eq!(v["refusals"][0]["rule"], "container", "{v}");
    assert_eq!(v["refusals"][0]["pid"], proxy, "{v}");
    let message = v["refusals"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with(&format!(
            "published by container {web} (docker-proxy pid {proxy}): `docker stop {web}`"
        )),
        "{message}"
    );
    assert!(v["actions"].as_array().is_some_and(Vec::is_empty));
    assert_eq!(
        crate::runtimes::docker_proxy_pid(port),
        Some(proxy),
        "docker-proxy untouched"
    );
    Ok(())
}
