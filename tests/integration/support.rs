//! Shared helpers: run whoport, parse its JSON, hold sockets in child processes.

use std::collections::BTreeSet;
use std::net::{TcpListener, UdpSocket};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Every collection path; each test that looks at owners runs them all.
pub const BACKENDS: [&str; 3] = ["native", "procfs", "portable"];

pub fn whoport() -> Command {
    let mut cmd =
        Command::cargo_bin("whoport").unwrap_or_else(|e| panic!("no whoport binary: {e}"));
    cmd.env_remove("WHOPORT_BACKEND").env("NO_COLOR", "1");
    cmd
}

pub fn run(args: &[&str], backend: &str) -> Output {
    whoport()
        .args(args)
        .env("WHOPORT_BACKEND", backend)
        .output()
        .unwrap_or_else(|e| panic!("whoport {args:?} did not run: {e}"))
}

/// Runs `whoport --json ARGS` and parses the output.
pub fn json(args: &[&str], backend: &str) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = run(&all, backend);
    let code = out.status.code().unwrap_or(-1);
    let value: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "whoport {all:?} ({backend}) gave no JSON ({e}): stdout {:?} stderr {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, value)
}

pub fn sockets(v: &Value) -> Vec<Value> {
    v["sockets"].as_array().cloned().unwrap_or_default()
}

pub fn pids(socket: &Value) -> Vec<u64> {
    let mut p: Vec<u64> = socket["processes"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["pid"].as_u64()).collect())
        .unwrap_or_default();
    p.sort_unstable();
    p
}

pub fn me() -> u64 {
    u64::from(std::process::id())
}

/// A child process that holds a socket as its standard input until dropped.
pub struct Holder {
    pub child: Child,
}

impl Holder {
    /// Runs `program` (e.g. `sleep`) with the socket as fd 0: the child and this test
    /// process then both hold it, as a forked worker and its master do.
    pub fn spawn(program: &Path, socket: OwnedFd) -> Holder {
        let child = Command::new(program)
            .arg("120")
            .stdin(Stdio::from(socket))
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program:?}: {e}"));
        Holder { child }
    }

    pub fn pid(&self) -> u64 {
        u64::from(self.child.id())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn sleep_path() -> std::path::PathBuf {
    for p in ["/usr/bin/sleep", "/bin/sleep"] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("no sleep binary")
}

pub fn tcp_listener(addr: &str) -> TcpListener {
    TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"))
}

pub fn udp_socket(addr: &str) -> UdpSocket {
    UdpSocket::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"))
}

/// A port nobody holds (bound, read, released).
pub fn free_port() -> u16 {
    let l = tcp_listener("127.0.0.1:0");
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    drop(l);
    port
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The (protocol, local address, port) → pids view of a JSON report.
pub type SocketSet = std::collections::BTreeMap<(String, String, u64, String), BTreeSet<u64>>;

pub fn socket_set(v: &Value) -> SocketSet {
    sockets(v)
        .iter()
        .map(|s| {
            (
                (
                    s["protocol"].as_str().unwrap_or("").to_string(),
                    s["local_address"].as_str().unwrap_or("").to_string(),
                    s["local_port"].as_u64().unwrap_or(0),
                    s["state"].as_str().unwrap_or("").to_string(),
                ),
                pids(s).into_iter().collect(),
            )
        })
        .collect()
}
