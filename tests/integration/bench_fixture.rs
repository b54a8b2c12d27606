//! The benchmark's fixture (bench/fixture) at its tiny size: whoport must find the
//! listener that the fixture and its worker share, with exactly those two pids. This keeps
//! bench/run.sh working; timings belong to the benchmark, not here.
//!
//! The fixture is another package of the workspace, so cargo does not build it for this
//! test on its own: the test asks cargo to (`cargo build -p whoport-fixture`, with the
//! cargo that runs the tests and the same profile) and takes the binary's path from
//! cargo's JSON messages, so a fresh clone needs nothing but `cargo test`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::support::hermetic;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Builds the fixture (a no-op when it is up to date) and gives its path.
fn fixture_binary() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "-p", "whoport-fixture"])
        .arg("--message-format=json")
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    let out = build.output()?;
    if !out.status.success() {
        return Err(format!("building the fixture failed: {}", out.status).into());
    }
    for line in String::from_utf8(out.stdout)?.lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact"
            && msg["target"]["name"] == "whoport-fixture"
            && let Some(exe) = msg["executable"].as_str()
        {
            return Ok(PathBuf::from(exe));
        }
    }
    Err("cargo named no whoport-fixture executable".into())
}

/// The running fixture; asked to stop (SIGTERM) when dropped, so that a failing test
/// leaves nothing behind.
struct Fixture {
    child: Child,
}

impl Fixture {
    /// Starts the tiny fixture and waits for its `ready …` line, which it returns.
    fn start_tiny() -> Result<(Fixture, String), Box<dyn std::error::Error>> {
        let exe = fixture_binary()?;
        let mut fixture = Fixture {
            child: Command::new(&exe)
                .args(["--size", "tiny", "--seconds", "120"])
                .stdout(Stdio::piped())
                .spawn()?,
        };
        let stdout = fixture.child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        assert!(line.starts_with("ready "), "fixture said {line:?}");
        Ok((fixture, line))
    }

    fn stop(&mut self) -> std::io::Result<std::process::ExitStatus> {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        self.child.wait()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// `key=value` from the fixture's readiness line.
fn field<'a>(line: &'a str, key: &str) -> Result<&'a str, String> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .ok_or_else(|| format!("no {key}= in {line:?}"))
}

#[test]
fn finds_the_shared_listener_of_the_benchmark_fixture() -> TestResult {
    hermetic();
    let (mut fixture, line) = Fixture::start_tiny()?;
    let port: u16 = field(&line, "port")?.parse()?;
    let free_port: u16 = field(&line, "free_port")?.parse()?;
    let mut want: Vec<u32> = field(&line, "pids")?
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    want.sort_unstable();
    assert_eq!(want.len(), 2);
    assert_ne!(want[0], want[1]);

    let out = Command::new(env!("CARGO_BIN_EXE_whoport"))
        .args(["--json", &port.to_string()])
        .output()?;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout)?;
    let listeners: Vec<&Value> = report["sockets"]
        .as_array()
        .ok_or("no sockets array")?
        .iter()
        // The same port number may be in use on another address (::1) by anyone.
        .filter(|s| {
            s["local_port"] == port
                && s["state"] == "listen"
                && s["protocol"] == "tcp"
                && s["local_address"] == "127.0.0.1"
        })
        .collect();
    assert_eq!(listeners.len(), 1, "{report:#}");
    let listener = listeners[0];
    assert_eq!(listener["owner"], "known");
    let mut got: Vec<u32> = listener["processes"]
        .as_array()
        .ok_or("no processes")?
        .iter()
        .filter_map(|p| p["pid"].as_u64())
        .filter_map(|p| u32::try_from(p).ok())
        .collect();
    got.sort_unstable();
    assert_eq!(got, want, "{listener:#}");

    // The free port the fixture names is a number (whether it is still free is checked by
    // bench/run.sh: here, tests running beside this one may take it meanwhile).
    assert_ne!(free_port, port);

    // The fixture cleans up after itself: its worker is gone once it has exited.
    let status = fixture.stop()?;
    assert!(status.success(), "{status:?}");
    for pid in want {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} outlived the fixture"
        );
    }
    Ok(())
}

/// Both Linux owner scans (BPF iterators, /proc walk) give the same answer for every
/// socket of the fixture, and name the shared listener's two pids.
#[test]
fn both_owner_scans_agree_on_the_benchmark_fixture() -> TestResult {
    hermetic();
    if !crate::support::is_root() {
        crate::support::skip(
            "both_owner_scans_agree_on_the_benchmark_fixture",
            "needs root to load BPF",
        );
        return Ok(());
    }
    let (mut fixture, line) = Fixture::start_tiny()?;
    let port: u64 = field(&line, "port")?.parse()?;
    let mut want: Vec<u64> = field(&line, "pids")?
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    want.sort_unstable();
    // The fixture is a child of this test process that holds sockets on purpose.
    crate::support::register_holder(u64::from(fixture.child.id()));

    let (bpf, _) = crate::owner_scan::both(&["-a"]);
    let shared: Vec<Value> = crate::owner_scan::view(&bpf)
        .into_iter()
        .filter(|s| s["local_port"] == port && s["state"] == "listen")
        .filter(|s| s["local_address"] == "127.0.0.1")
        .collect();
    assert_eq!(shared.len(), 1, "{bpf:#}");
    assert_eq!(crate::support::pids(&shared[0]), want);
    let n = crate::support::sockets(&bpf).len();
    assert!(n >= 40, "{n} sockets: {bpf:#}");
    let status = fixture.stop()?;
    assert!(status.success(), "{status:?}");
    Ok(())
}
