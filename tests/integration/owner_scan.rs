//! The two Linux owner scans — the BPF iterators and the /proc/*/fd walk — give the same
//! answers on real sockets (same sockets, same owners, same warnings), and the BPF path
//! opens no /proc/PID/fd.

use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::process::Command;

use serde_json::Value;

use crate::support::*;

/// `whoport --json ARGS` with one owner scan; the debug notes on standard error say which
/// scan answered.
fn with_scan(scan: &str, args: &[&str]) -> (Value, String) {
    let out = whoport()
        .arg("--json")
        .args(args)
        .env("WHOPORT_OWNER_SCAN", scan)
        .env("WHOPORT_DEBUG", "1")
        .output()
        .unwrap_or_else(|e| panic!("whoport did not run: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON from --owner-scan {scan} ({e}): {stderr}"));
    (v, stderr)
}

/// Each socket as the comparison sees it: everything but passing forks of this test
/// process (see `settled`), which one run may catch and the other not.
pub fn view(v: &Value) -> Vec<Value> {
    sockets(v)
        .into_iter()
        .map(|mut s| {
            let kept: Vec<Value> = s["processes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p["pid"].as_u64().is_some_and(settled))
                .collect();
            s["processes"] = Value::Array(kept);
            s
        })
        .collect()
}

/// Runs both scans until they agree (three tries: a socket of another program may come
/// or go between the two runs) and gives the last pair.
pub fn both(args: &[&str]) -> (Value, Value) {
    let mut last = None;
    for _ in 0..3 {
        let (bpf, notes) = with_scan("bpf", args);
        assert!(
            notes.contains("owners from the BPF "),
            "the BPF scan did not answer: {notes}"
        );
        let (procfs, notes) = with_scan("procfs", args);
        assert!(!notes.contains("BPF"), "{notes}");
        if view(&bpf) == view(&procfs) && bpf["warnings"] == procfs["warnings"] {
            return (bpf, procfs);
        }
        last = Some((bpf, procfs));
    }
    let (bpf, procfs) = last.unwrap_or_default();
    panic!("the owner scans disagree on {args:?}:\nbpf: {bpf:#}\nprocfs: {procfs:#}");
}

#[test]
fn bpf_and_procfs_scans_agree_on_real_sockets() {
    hermetic();
    let name = "bpf_and_procfs_scans_agree_on_real_sockets";
    if !is_root() {
        return skip(name, "needs root (CAP_BPF + CAP_PERFMON) to load BPF");
    }
    let listener = tcp_listener("127.0.0.1:0");
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let udp = udp_socket("127.0.0.1:0");
    let udp_port = udp.local_addr().map(|a| a.port()).unwrap_or(0);
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
    let (accepted, _) = listener.accept().unwrap_or_else(|e| panic!("{e}"));
    // The listener has two holders: this process and a child.
    let shared: OwnedFd = listener
        .try_clone()
        .unwrap_or_else(|e| panic!("{e}"))
        .into();
    let holder = Holder::spawn(&sleep_path(), shared);

    let (port_arg, udp_arg) = (port.to_string(), udp_port.to_string());
    for args in [
        vec!["-a"],
        vec![],
        vec![port_arg.as_str()],
        vec![udp_arg.as_str()],
    ] {
        let (bpf, _) = both(&args);
        if args.is_empty() || args[0] == port_arg {
            let held: Vec<Value> = view(&bpf)
                .into_iter()
                .filter(|s| s["local_port"] == port && s["state"] == "listen")
                .collect();
            assert_eq!(held.len(), 1, "{bpf:#}");
            let mut want = vec![me(), holder.pid()];
            want.sort_unstable();
            assert_eq!(pids(&held[0]), want, "{bpf:#}");
        }
    }
    drop((client, accepted, udp));
}

/// The BPF scan reads no descriptor directory: strace sees no /proc/PID/fd opened (and
/// sees the /proc scan open them, so the check can fail).
#[test]
fn the_bpf_scan_opens_no_proc_fd() {
    hermetic();
    let name = "the_bpf_scan_opens_no_proc_fd";
    if !is_root() {
        return skip(name, "needs root to load BPF");
    }
    if Command::new("strace").arg("-V").output().is_err() {
        return skip(name, "strace is not installed");
    }
    let listener = tcp_listener("127.0.0.1:0");
    let port = listener
        .local_addr()
        .map(|a| a.port().to_string())
        .unwrap_or_default();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let opened_fd_dirs = |scan: &str| -> usize {
        let log = dir.path().join(format!("{scan}.strace"));
        let status = Command::new("strace")
            .args(["-f", "-qq", "-e", "trace=open,openat,openat2", "-o"])
            .arg(&log)
            .arg(assert_cmd::cargo::cargo_bin("whoport"))
            .args(["-a", &port])
            .env("WHOPORT_OWNER_SCAN", scan)
            .env("NO_COLOR", "1")
            .output()
            .unwrap_or_else(|e| panic!("strace: {e}"))
            .status;
        assert!(status.success(), "whoport under strace ({scan}): {status}");
        let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{e}"));
        text.lines()
            .filter(|l| {
                // openat(AT_FDCWD, "/proc/123/fd", …) or relative "123/fd" under /proc.
                // A descriptor directory: "/proc/123/fd", "123/fd", or "fd" and
                // "task/45/fd" relative to an open /proc/PID.
                l.split('"').nth(1).is_some_and(|path| {
                    path == "fd" || path.ends_with("/fd") || path.contains("/fd/")
                })
            })
            .count()
    };
    assert_eq!(opened_fd_dirs("bpf"), 0);
    assert!(opened_fd_dirs("procfs") > 0, "the check sees nothing");
    drop(listener);
}

/// Inside a child pid namespace (with its own /proc, so that `NSpid` shows one level) the
/// iterators would give the initial namespace's pids: whoport notices (they number it
/// differently from its own pid) and the /proc scan answers instead; `--owner-scan bpf`
/// is an error there.
#[test]
fn in_a_child_pid_namespace_the_bpf_scan_steps_aside() {
    hermetic();
    let name = "in_a_child_pid_namespace_the_bpf_scan_steps_aside";
    if !is_root() {
        return skip(name, "needs root to make a pid namespace and load BPF");
    }
    let listener = tcp_listener("127.0.0.1:0");
    let port = listener
        .local_addr()
        .map(|a| a.port().to_string())
        .unwrap_or_default();
    let whoport = assert_cmd::cargo::cargo_bin("whoport");
    let inside = |scan: &str| {
        Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc"])
            .arg(&whoport)
            .args(["--debug", "--json", &port])
            .env("WHOPORT_OWNER_SCAN", scan)
            .output()
            .unwrap_or_else(|e| panic!("unshare (util-linux): {e}"))
    };
    let auto = inside("auto");
    let notes = String::from_utf8_lossy(&auto.stderr);
    assert!(
        notes.contains("owners from /proc/*/fd") && notes.contains("pid namespace"),
        "{notes}"
    );
    assert_eq!(auto.status.code(), Some(0), "{notes}");
    // This test's own process holds the listener, outside the namespace whoport sees:
    // hidden, and the reason says a process outside it may be the holder (never "no
    // process has it open").
    let v: serde_json::Value = serde_json::from_slice(&auto.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&auto.stdout)));
    let ours = &v["sockets"][0];
    assert_eq!(ours["owner"], "hidden", "{v}");
    assert!(
        ours["owner_reason"]
            .as_str()
            .is_some_and(|r| r.contains("outside its pid namespace")),
        "{v}"
    );
    let bpf = inside("bpf");
    assert_eq!(bpf.status.code(), Some(2), "{bpf:?}");
    drop(listener);
}
