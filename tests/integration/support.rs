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

/// The holders of a socket in whoport's JSON, less passing forks (see `settled`).
pub fn pids(socket: &Value) -> Vec<u64> {
    let mut p: Vec<u64> = socket["processes"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["pid"].as_u64()).collect())
        .unwrap_or_default();
    p.retain(|&pid| settled(pid));
    p.sort_unstable();
    p
}

/// Children this test process started on purpose to hold sockets.
static HOLDERS: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());

/// Marks a child of this test process as holding sockets on purpose.
pub fn register_holder(pid: u64) {
    if let Ok(mut h) = HOLDERS.lock() {
        h.push(pid);
    }
}

/// False for a passing fork of this test process: while another test thread spawns a
/// command, the child holds a copy of every descriptor of this process (close-on-exec
/// closes them only at exec), so whoport, ss and lsof rightly see it holding our sockets
/// for that instant. Such a child (or one already gone) is not counted; `me()` and the
/// `Holder`s are.
pub fn settled(pid: u64) -> bool {
    if pid == me() || HOLDERS.lock().is_ok_and(|h| h.contains(&pid)) {
        return true;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    let ppid = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
        .and_then(|p| p.parse::<u64>().ok());
    ppid != Some(me())
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
    ///
    /// A program copied just before (a renamed `sleep`) may fail to start with "text file
    /// busy" for a moment, while a fork in another test thread still holds the copy open
    /// for writing (see `run_as`): that one error is retried.
    pub fn spawn(program: &Path, socket: OwnedFd) -> Holder {
        let mut tries = 0;
        let child = loop {
            // A duplicate per attempt: a failed spawn consumes the one it was given. The
            // original closes when this returns, so only the child holds the socket.
            let fd = socket
                .try_clone()
                .unwrap_or_else(|e| panic!("cannot duplicate the socket: {e}"));
            match Command::new(program)
                .arg("120")
                .stdin(Stdio::from(fd))
                .stdout(Stdio::null())
                .spawn()
            {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other.unwrap_or_else(|e| panic!("cannot start {program:?}: {e}")),
            }
        };
        register_holder(u64::from(child.id()));
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

/// A port nobody holds, in any protocol or family: chosen below Linux's ephemeral range
/// (so outgoing connections do not take it meanwhile) and confirmed free by `ss` where it
/// is installed, and by binding it.
pub fn free_port() -> u16 {
    let seed = std::process::id() as u64
        ^ std::time::UNIX_EPOCH
            .elapsed()
            .map_or(0, |d| d.as_nanos() as u64);
    for i in 0..200u64 {
        let port = 20000
            + ((seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(i * 7919))
                % 10000) as u16;
        let bindable = TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("::1", port)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("::1", port)).is_ok();
        let ss_empty = Command::new("ss")
            .args(["-tuanH", &format!("sport = :{port}")])
            .output()
            .map_or(true, |o| {
                o.status.success() && o.stdout.iter().all(u8::is_ascii_whitespace)
            });
        if bindable && ss_empty {
            return port;
        }
    }
    panic!("no free port found")
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Makes the calling test hermetic: as root, its thread moves to a network namespace of
/// its own (with loopback up), so every socket it creates, and every process it starts
/// (whoport, ss, lsof, the holders), sees only this test's sockets; other tests and other
/// processes on a busy host cannot change an answer. Network namespaces are per thread,
/// and the test harness runs each test on a thread of its own; the namespace goes when
/// the thread ends. As an ordinary user nothing changes (the tests then want a quiet host).
pub fn hermetic() {
    if !is_root() {
        return;
    }
    if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
        panic!("cannot make a network namespace for this test: {e}");
    }
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .unwrap_or_else(|e| panic!("cannot run ip (iproute2): {e}"));
    assert!(
        up.success(),
        "ip link set lo up failed in the test's namespace"
    );
}

/// A test that cannot run here. With `CI=true` that is a failure naming what is missing;
/// elsewhere a `SKIP` line on the run's own standard error (not the captured output of a
/// passing test, where nobody would see it).
pub fn skip(test: &str, why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test} cannot run in CI: {why}");
    }
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
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

/// The system's python (not one under /root, which other users may not run).
pub fn system_python() -> Option<&'static Path> {
    ["/usr/bin/python3", "/bin/python3"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
}

/// The uid of `nobody`, which holds the listeners of other users in these tests.
pub const NOBODY: u32 = 65534;

/// A listener held by `nobody`, or `None` after printing why the test `name` skips (it
/// needs root, to run as other uids, and /usr/bin/python3).
pub fn foreign_listener_or_skip(name: &str) -> Option<ForeignListener> {
    if !is_root() {
        skip(name, "needs root to run as other uids");
        return None;
    }
    // On a busy host other sockets may share the port number: take one that has none.
    for _ in 0..20 {
        let Some(listener) = ForeignListener::start(NOBODY) else {
            skip(name, "/usr/bin/python3 is not installed");
            return None;
        };
        if is_lone_port(&listener.port.to_string(), |s| s["uid"] == NOBODY) {
            return Some(listener);
        }
    }
    panic!("{name}: no port without other sockets found")
}

/// Whether every socket on this port, in any state, is one of ours.
pub fn is_lone_port(port: &str, ours: impl Fn(&Value) -> bool) -> bool {
    let (_, v) = json(&["-a", port], "native");
    sockets(&v).iter().all(ours)
}

/// A port with no socket at all on it (on a busy host, checked and retried).
pub fn unused_port() -> String {
    for _ in 0..50 {
        let port = free_port().to_string();
        if is_lone_port(&port, |_| false) {
            return port;
        }
    }
    panic!("no unused port found")
}

/// A TCP listener on 127.0.0.1, created and held by a Python process running as `uid`, for
/// looking at it as yet another user. Needs root; `None` without /usr/bin/python3.
pub struct ForeignListener {
    child: Child,
    pub port: u16,
}

impl ForeignListener {
    pub fn start(uid: u32) -> Option<ForeignListener> {
        use std::io::{BufRead, BufReader};
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(system_python()?)
            .args([
                "-c",
                "import socket,sys\n\
                 s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
                 print(s.getsockname()[1], flush=True)\n\
                 sys.stdin.read()",
            ])
            .uid(uid)
            .gid(uid)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start python as uid {uid}: {e}"));
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("listener did not start: {line:?}"));
        register_holder(u64::from(child.id()));
        Some(ForeignListener { child, port })
    }

    pub fn pid(&self) -> u64 {
        u64::from(self.child.id())
    }
}

impl Drop for ForeignListener {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A copy of the whoport binary in a world-readable directory, which any user may run (the
/// build tree may not be readable by them).
pub struct SharedBinary {
    _dir: tempfile::TempDir,
    pub path: std::path::PathBuf,
}

pub fn shared_whoport() -> SharedBinary {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let _ = std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755));
    let path = dir.path().join("whoport");
    std::fs::copy(assert_cmd::cargo::cargo_bin("whoport"), &path)
        .unwrap_or_else(|e| panic!("copying whoport: {e}"));
    SharedBinary { _dir: dir, path }
}

/// Runs a copy of whoport as `uid` (and gid `uid`) with this collection path.
///
/// Another test thread that forks while the fresh copy is still open for writing holds
/// that descriptor until it execs, and exec of the copy then fails with "text file busy"
/// for a moment: that one error is retried.
pub fn run_as(binary: &SharedBinary, uid: u32, args: &[&str], backend: &str) -> Output {
    use std::os::unix::process::CommandExt;
    let mut tries = 0;
    loop {
        let result = Command::new(&binary.path)
            .args(args)
            .env("WHOPORT_BACKEND", backend)
            .env("NO_COLOR", "1")
            .uid(uid)
            .gid(uid)
            .output();
        match result {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => {
                return other.unwrap_or_else(|e| panic!("whoport {args:?} as uid {uid}: {e}"));
            }
        }
    }
}
