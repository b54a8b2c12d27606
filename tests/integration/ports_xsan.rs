//! Port knowledge end to end: real listeners, a fake Xsan configuration directory, and
//! the `whoport` binary. The listeners are copies of perl (always on Debian and macOS),
//! named `fsm` like Xsan's file system manager: one in an Xsan-looking executable
//! directory, one elsewhere.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use assert_cmd::Command as Whoport;
use serde_json::Value;

use crate::support::{hermetic, pids, register_holder};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Listens on 127.0.0.1:PORT (0: any), prints the port, and waits for stdin to close.
const LISTEN: &str = r#"$| = 1;
my $s = IO::Socket::INET->new(Listen => 5, LocalAddr => "127.0.0.1",
    LocalPort => $ARGV[0], Proto => "tcp", ReuseAddr => 0);
if (!$s) { print "error $!\n"; exit 3; }
print $s->sockport, "\n";
<STDIN>;"#;

/// A listening child process, ended (by its pid) when dropped.
struct Listener {
    child: Child,
    port: u16,
}

impl Listener {
    /// Starts `exe` (a copy of perl) listening on `port`; `None` if that port is taken.
    fn start(exe: &Path, port: u16) -> Result<Option<Listener>, Box<dyn std::error::Error>> {
        let mut child = spawn(exe, port)?;
        let line = match child.stdout.take() {
            Some(out) => first_line(out)?,
            None => String::new(),
        };
        match line.trim().parse::<u16>() {
            Ok(port) => {
                register_holder(u64::from(child.id()));
                Ok(Some(Listener { child, port }))
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                if line.starts_with("error") {
                    Ok(None)
                } else {
                    Err(format!("{} did not start: {line:?}", exe.display()).into())
                }
            }
        }
    }

    fn pid(&self) -> u64 {
        u64::from(self.child.id())
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the listener program. Another test thread that forks while this one still has
/// the fresh copy open for writing makes exec fail with "text file busy" for a moment:
/// that one error is retried.
fn spawn(exe: &Path, port: u16) -> std::io::Result<Child> {
    let mut tries = 0;
    loop {
        let started = Command::new(exe)
            .args(["-MIO::Socket::INET", "-e", LISTEN, &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        match started {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

fn first_line(out: ChildStdout) -> std::io::Result<String> {
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line)?;
    Ok(line)
}

/// A temporary tree: an Xsan configuration directory, an Xsan executable directory and
/// another directory, each executable a copy of perl named `fsm`.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Result<Tree, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        for sub in ["config", "xsanbin", "elsewhere", "data"] {
            std::fs::create_dir(dir.path().join(sub))?;
        }
        let perl = Path::new("/usr/bin/perl");
        if !perl.is_file() {
            return Err("these tests need /usr/bin/perl".into());
        }
        for sub in ["xsanbin", "elsewhere"] {
            std::fs::copy(perl, dir.path().join(sub).join("fsm"))?;
        }
        Ok(Tree { dir })
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    fn whoport(&self) -> Whoport {
        let mut cmd = Whoport::new(env!("CARGO_BIN_EXE_whoport"));
        cmd.env("WHOPORT_XSAN_CONFIG_DIR", self.path("config"))
            .env("WHOPORT_XSAN_BIN_DIR", self.path("xsanbin"))
            .env("WHOPORT_DATA_DIR", self.path("data"))
            .env("NO_COLOR", "1")
            .env_remove("WHOPORT_BACKEND");
        cmd
    }

    fn import(&self, csv: &Path) -> std::io::Result<std::process::Output> {
        self.whoport()
            .args(["registry", "import"])
            .arg(csv)
            .output()
    }

    fn json(&self, args: &[&str]) -> Result<Value, Box<dyn std::error::Error>> {
        let out = self.whoport().arg("--json").args(args).output()?;
        if !matches!(out.status.code(), Some(0 | 1)) {
            return Err(format!(
                "whoport {args:?}: {:?} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }
}

/// The TCP sockets of a report on 127.0.0.1:PORT in one state (only ours: a busy host may
/// have other sockets with the same port number on other addresses).
fn sockets<'a>(report: &'a Value, port: u16, state: &str) -> Vec<&'a Value> {
    report["sockets"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|s| {
                    s["protocol"] == "tcp"
                        && s["local_address"] == "127.0.0.1"
                        && s["local_port"] == u64::from(port)
                        && s["state"] == state
                })
                .collect()
        })
        .unwrap_or_default()
}

fn flags(socket: &Value) -> Vec<&str> {
    socket["flags"]
        .as_array()
        .map(|fs| fs.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The one listener on a port, held by exactly this pid.
fn listener(report: &Value, port: u16, pid: u64) -> Result<&Value, String> {
    match sockets(report, port, "listen")[..] {
        [s] if pids(s) == [pid] => Ok(s),
        ref other => Err(format!(
            "port {port}: expected one listener of pid {pid}: {other:?}"
        )),
    }
}

#[test]
fn fsports_window_listeners_are_judged_by_executable_path() -> TestResult {
    hermetic();
    let tree = Tree::new()?;
    let Some(xsan) = Listener::start(&tree.path("xsanbin/fsm"), 0)? else {
        panic!("no port for the Xsan-looking listener");
    };
    let Some(fake) = Listener::start(&tree.path("elsewhere/fsm"), 0)? else {
        panic!("no port for the other fsm");
    };
    // A client socket of this test process, connected to the Xsan listener.
    let client = TcpStream::connect(("127.0.0.1", xsan.port))?;
    let client_port = client.local_addr()?.port();
    let ports = [xsan.port, fake.port, client_port];
    let (lo, hi) = (
        ports.iter().min().copied().unwrap_or(0),
        ports.iter().max().copied().unwrap_or(0),
    );
    std::fs::write(tree.path("config/fsnameservers"), "127.0.0.1\n")?;
    let mut fsports = std::fs::File::create(tree.path("config/fsports"))?;
    writeln!(
        fsports,
        "# the window of this test\nMinPort {lo}\nMaxPort {hi}"
    )?;

    let args: Vec<String> = ports.iter().map(u16::to_string).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = tree.json(&args)?;

    let real = listener(&report, xsan.port, xsan.pid())?;
    assert_eq!(flags(real), ["xsan_verified"], "{real}");
    assert_eq!(real["xsan"]["verdict"], "xsan");
    assert_eq!(real["xsan"]["port"], "fsports_window");

    let other = listener(&report, fake.port, fake.pid())?;
    assert_eq!(flags(other), ["xsan_port_non_xsan_process"], "{other}");
    assert_eq!(other["xsan"]["verdict"], "not_xsan");
    let reason = other["xsan"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("pid {}", fake.pid())) && reason.contains("elsewhere/fsm"),
        "{reason}"
    );

    // The client side, inside the window but not listening: never judged.
    let mine = u64::from(std::process::id());
    let mut client_sockets = sockets(&report, client_port, "established");
    client_sockets.retain(|s| s["remote_port"] == u64::from(xsan.port));
    let [client_socket] = client_sockets[..] else {
        panic!("client socket on {client_port}: {client_sockets:?}");
    };
    // `pids` leaves out passing forks of this process (see support::settled).
    assert_eq!(pids(client_socket), [mine], "{client_socket}");
    assert!(
        !flags(client_socket).iter().any(|f| f.starts_with("xsan")),
        "{client_socket}"
    );
    assert!(client_socket["xsan"].is_null());

    // Each port asked about says where it stands in the host's window.
    for p in report["ports"].as_array().into_iter().flatten() {
        let notes = p["notes"].to_string();
        assert!(notes.contains(&format!("{lo}-{hi}/tcp")), "{notes}");
    }

    // The audit: configured, the window, both listeners with their verdicts.
    let audit = tree.json(&["--xsan"])?;
    assert_eq!(audit["xsan"]["configured"], true);
    assert_eq!(audit["xsan"]["fsports"]["min_port"], u64::from(lo));
    assert_eq!(audit["xsan"]["fsports"]["max_port"], u64::from(hi));
    assert_eq!(
        listener(&audit, xsan.port, xsan.pid())?["xsan"]["verdict"],
        "xsan"
    );
    assert_eq!(
        listener(&audit, fake.port, fake.pid())?["xsan"]["verdict"],
        "not_xsan"
    );
    assert!(
        audit["sockets"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|s| s["state"] == "listen" && s["protocol"] == "tcp"),
        "the audit lists TCP listeners only"
    );
    let table = tree.whoport().arg("--xsan").output()?;
    let text = String::from_utf8(table.stdout)?;
    assert!(text.contains("Xsan on this host: configured"), "{text}");
    assert!(
        text.contains(&format!(
            "!! 127.0.0.1:{}/tcp (in this host's Xsan fsports window): not Xsan: pid {} (fsm)",
            fake.port,
            fake.pid()
        )),
        "{text}"
    );
    assert!(
        text.contains("!! NOT XSAN") && text.contains("ok: Xsan"),
        "{text}"
    );

    // Health checks on the same listeners: every Nagios status the Xsan rule can give.
    let check = |port: u16, args: &[&str]| -> Result<(i32, String), Box<dyn std::error::Error>> {
        let out = tree
            .whoport()
            .arg("check")
            .arg(port.to_string())
            .args(args)
            .output()?;
        Ok((
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout)?,
        ))
    };
    let (code, line) = check(xsan.port, &["--expect", "xsan"])?;
    assert_eq!(code, 0, "{line}");
    assert!(line.starts_with("WHOPORT OK - "), "{line}");
    let (code, line) = check(fake.port, &["--expect", "xsan"])?;
    assert_eq!(code, 2, "{line}");
    assert!(
        line.starts_with("WHOPORT CRITICAL - ") && line.contains("fsm"),
        "{line}"
    );
    // The fake one listens, so `listening` holds; the conflict is a WARNING when asked.
    let (code, line) = check(
        fake.port,
        &["--expect", "listening", "--warn-on", "xsan-conflict"],
    )?;
    assert_eq!(code, 1, "{line}");
    assert!(line.starts_with("WHOPORT WARNING - "), "{line}");
    let (code, line) = check(fake.port, &["--expect", "listening"])?;
    assert_eq!(code, 0, "{line}");
    let (code, line) = check(
        xsan.port,
        &["--expect", "listening", "--warn-on", "xsan-conflict"],
    )?;
    assert_eq!(code, 0, "{line}");
    drop(client);
    Ok(())
}

#[test]
fn dynamic_port_asked_by_number_on_a_host_without_xsan() -> TestResult {
    hermetic();
    let tree = Tree::new()?;
    // A port in 49152-65535 outside Linux's default ephemeral range, free right now.
    let start = 61000 + (std::process::id() % 4000) as u16;
    let mut fake = None;
    for port in (start..65535).chain(61000..start).take(200) {
        if let Some(l) = Listener::start(&tree.path("elsewhere/fsm"), port)? {
            fake = Some(l);
            break;
        }
    }
    let Some(fake) = fake else {
        panic!("no free port in 61000-65534");
    };
    let port = fake.port.to_string();

    // Asked about by number on a host without Xsan: no alarm (no flag, no verdict), but a
    // plain note says the listener is not Xsan's and that Xsan is not configured here.
    let report = tree.json(&[&port])?;
    let held = listener(&report, fake.port, fake.pid())?;
    assert!(flags(held).is_empty(), "{held}");
    assert!(held["xsan"].is_null(), "{held}");
    let notes = &report["ports"][0]["notes"];
    let said = |source: &str, words: &str| {
        notes
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n["source"] == source && n["text"].as_str().unwrap_or("").contains(words))
    };
    assert!(said("IANA", "dynamic range, nothing assigned"), "{notes}");
    assert!(
        said("Apple", "Xsan Filesystem Access uses 49152-65535/tcp"),
        "{notes}"
    );
    assert!(said("host", "Xsan is not configured here"), "{notes}");
    assert!(
        said("host", &format!("not Xsan: pid {} (fsm)", fake.pid())),
        "{notes}"
    );
    assert!(said("host", "no alarm"), "{notes}");
    assert_eq!(report["ports"][0]["iana"], serde_json::json!([]));

    // Every listener, nothing asked: Xsan is not configured, so nothing is judged.
    let all = tree.json(&[])?;
    let unasked = listener(&all, fake.port, fake.pid())?;
    assert!(flags(unasked).is_empty(), "{unasked}");
    assert!(unasked["xsan"].is_null());

    let table = tree.whoport().arg(&port).output()?;
    let text = String::from_utf8(table.stdout)?;
    assert!(!text.contains("!!"), "{text}");
    assert!(!text.contains("XSAN"), "{text}");
    assert!(
        text.contains("  IANA   dynamic range, nothing assigned"),
        "{text}"
    );
    assert!(
        text.contains("  Apple  Xsan Filesystem Access uses 49152-65535/tcp"),
        "{text}"
    );

    // Asked for the audit: the alarm, in the table, the JSON and the check.
    let audit = tree.json(&["--xsan", &port])?;
    let held = listener(&audit, fake.port, fake.pid())?;
    assert_eq!(flags(held), ["xsan_port_non_xsan_process"], "{held}");
    assert_eq!(held["xsan"]["port"], "asked_range");
    let table = tree.whoport().args(["--xsan", &port]).output()?;
    let text = String::from_utf8(table.stdout)?;
    assert!(text.contains("!! NOT XSAN"), "{text}");
    let out = tree
        .whoport()
        .args(["check", &port, "--expect", "xsan"])
        .output()?;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = tree
        .whoport()
        .args(["check", &port, "--warn-on", "xsan-conflict"])
        .output()?;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // Without either, a check does not warn about Xsan on a host without it.
    let out = tree.whoport().args(["check", &port]).output()?;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    Ok(())
}

#[test]
fn service_names_and_the_registry_copy() -> TestResult {
    hermetic();
    let tree = Tree::new()?;
    let report = tree.json(&["ssh"])?;
    assert_eq!(report["ports"][0]["port"], 22);
    assert_eq!(report["ports"][0]["iana"][0]["service"], "ssh");
    assert_eq!(report["registry"]["copy"], "built-in");

    let out = tree.whoport().arg("sshh").output()?;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr)?;
    assert!(err.starts_with("whoport: invalid port 'sshh'"), "{err}");
    assert!(err.contains("did you mean") && err.contains("ssh"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // Import a copy: it takes precedence, and a bad file leaves it in place.
    let csv = tree.path("mine.csv");
    std::fs::write(
        &csv,
        "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,\
         Registration Date,Modification Date,Reference,Service Code,Unauthorized Use \
         Reported,Assignment Notes\n\
         ssh,22,tcp,\"SSH, as imported\",,,,2026-01-02,,,,\n\
         whoport-test,4711,tcp,Test service,,,2025-05-06,,,,,\n",
    )?;
    let out = tree.import(&csv)?;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report = tree.json(&["whoport-test"])?;
    assert_eq!(report["ports"][0]["port"], 4711);
    assert_eq!(report["registry"]["copy"], "user");
    assert_eq!(report["registry"]["date"], "2026-01-02");
    assert_eq!(report["registry"]["rows"], 2);

    let bad = tree.path("bad.csv");
    std::fs::write(
        &bad,
        "Service Name,Port Number,Transport Protocol,Description\nx,1,tcp,ok\ny,2,tcpx,no\n",
    )?;
    let out = tree.import(&bad)?;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr)?;
    assert!(
        err.contains("line 3: unknown transport protocol \"tcpx\""),
        "{err}"
    );
    let status = tree.whoport().args(["registry", "status"]).output()?;
    let text = String::from_utf8(status.stdout)?;
    assert!(text.starts_with("in use: your copy"), "{text}");
    assert!(
        text.contains("data as of 2026-01-02") && text.contains("2 rows"),
        "{text}"
    );
    Ok(())
}
