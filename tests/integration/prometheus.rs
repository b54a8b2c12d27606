//! `--format prometheus` against the real clients: `promtool check metrics` in several
//! states, Debian's node_exporter serving the textfile whoport wrote, and the documented
//! alert rules through `promtool check rules` and `promtool test rules`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// One sample of the text exposition format.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses samples (not comments) of the text format, undoing label value escapes.
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = line[..name_end].to_string();
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices();
            let mut key = String::new();
            let mut end = body.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '}' => {
                        end = i + 1;
                        break;
                    }
                    ',' => {}
                    '=' => {
                        assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                        let mut value = String::new();
                        while let Some((_, c)) = chars.next() {
                            match c {
                                '"' => break,
                                '\\' => match chars.next().map(|(_, c)| c) {
                                    Some('n') => value.push('\n'),
                                    Some(other) => value.push(other),
                                    None => panic!("{line}"),
                                },
                                c => value.push(c),
                            }
                        }
                        labels.insert(std::mem::take(&mut key), value);
                    }
                    c => key.push(c),
                }
            }
            rest = &body[end..];
        }
        let value = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no value: {line}"));
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

/// A program the test `test` needs, or `None` after printing why it skips.
fn tool_or_skip(name: &str, test: &str) -> Option<PathBuf> {
    let found = ["/usr/bin", "/usr/local/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        skip(
            test,
            &format!("{name} is not installed (scripts/test-deps.sh installs it)"),
        );
    }
    found
}

/// `promtool check metrics` on this text: passes lint and parsing, or the test fails.
fn promtool_accepts(promtool: &Path, text: &str, what: &str) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("promtool: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("promtool: {e}"));
    assert!(
        out.status.success(),
        "promtool check metrics rejects {what}: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `whoport --format prometheus ARGS`, which exits 0.
fn metrics(args: &[&str]) -> String {
    let mut all = vec!["--format", "prometheus"];
    all.extend_from_slice(args);
    let out = run(&all, "native");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("not UTF-8: {e}"))
}

fn port_of(l: &TcpListener) -> String {
    l.local_addr().map(|a| a.port()).unwrap_or(0).to_string()
}

/// A name with everything the format must escape, and what a terminal must never get.
const ODD_NAME: &str = "od\"d\\na\nme\x1b[31m{x=\"1\"},|";
/// The same, as whoport shows it: control characters as visible escapes.
const ODD_NAME_SHOWN: &str = "od\"d\\na\\x0ame\\x1b[31m{x=\"1\"},|";

/// A copy of `sleep` named ODD_NAME holding a TCP listener on 127.0.0.1: the directory
/// (keep it), the holder and the port.
fn odd_holder() -> Result<(tempfile::TempDir, Holder, String), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let program = dir.path().join(ODD_NAME);
    std::fs::copy(sleep_path(), &program)?;
    let l = tcp_listener("127.0.0.1:0");
    let port = port_of(&l);
    let holder = Holder::spawn(&program, OwnedFd::from(l.try_clone()?));
    Ok((dir, holder, port))
}

#[test]
fn promtool_accepts_every_state() -> TestResult {
    hermetic();
    let Some(promtool) = tool_or_skip("promtool", "promtool_accepts_every_state") else {
        return Ok(());
    };
    // Nothing matched.
    let free = unused_port();
    let text = metrics(&[&free]);
    promtool_accepts(&promtool, &text, "an empty result");
    let samples = parse(&text);
    assert!(find(&samples, "whoport_socket_info", &[("port", &free)]).is_empty());
    for protocol in ["tcp", "udp"] {
        let listening = find(
            &samples,
            "whoport_listening_sockets",
            &[("protocol", protocol)],
        );
        assert_eq!(listening.len(), 1, "{text}");
    }

    // Many sockets, TCP and UDP, IPv4 and IPv6, in every state.
    let tcp: Vec<TcpListener> = (0..300).map(|_| tcp_listener("127.0.0.1:0")).collect();
    let udp: Vec<_> = (0..50).map(|_| udp_socket("[::1]:0")).collect();
    let _conn = TcpStream::connect(tcp[0].local_addr()?)?;
    for args in [&[][..], &["-a"]] {
        let text = metrics(args);
        promtool_accepts(&promtool, &text, "many sockets");
        let samples = parse(&text);
        for l in &tcp {
            let port = port_of(l);
            let ours = find(
                &samples,
                "whoport_socket_info",
                &[
                    ("protocol", "tcp"),
                    ("local_address", "127.0.0.1"),
                    ("port", &port),
                    ("pid", &me().to_string()),
                ],
            );
            assert_eq!(ours.len(), 1, "{port}");
            assert_eq!(ours[0].value, 1.0);
            assert_eq!(ours[0].labels["state"], "listen");
            assert_eq!(ours[0].labels["owner"], "known");
            assert_eq!(ours[0].labels["family"], "ipv4");
        }
        for u in &udp {
            let port = u.local_addr()?.port().to_string();
            let ours = find(
                &samples,
                "whoport_socket_info",
                &[
                    ("protocol", "udp"),
                    ("local_address", "::1"),
                    ("port", &port),
                    ("pid", &me().to_string()),
                ],
            );
            assert_eq!(ours.len(), 1, "{port}");
            assert_eq!(ours[0].labels["state"], "unconnected");
            assert_eq!(ours[0].labels["family"], "ipv6");
        }
        // Label sets are unique, as a scrape requires.
        let mut keys: Vec<_> = samples.iter().map(|s| (&s.name, &s.labels)).collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n, "duplicate series");
        let listening = find(
            &samples,
            "whoport_listening_sockets",
            &[("protocol", "tcp")],
        );
        assert!(listening[0].value >= 300.0);
    }
    // Connections are counted, never series of their own.
    let text = metrics(&["-a"]);
    let samples = parse(&text);
    assert!(find(&samples, "whoport_socket_info", &[("state", "established")]).is_empty());
    assert!(
        find(
            &samples,
            "whoport_sockets",
            &[("protocol", "tcp"), ("state", "established")]
        )
        .first()
        .is_some_and(|s| s.value >= 2.0),
        "{text}"
    );
    drop((tcp, udp));

    // Odd process names: quotes, backslashes, a newline, an escape sequence.
    let (_dir, holder, port) = odd_holder()?;
    let text = metrics(&[&port]);
    promtool_accepts(&promtool, &text, "odd names");
    assert!(!text.contains('\x1b'), "raw ESC");
    let samples = parse(&text);
    let ours = find(
        &samples,
        "whoport_socket_info",
        &[("port", &port), ("pid", &holder.pid().to_string())],
    );
    assert_eq!(ours.len(), 1, "{text}");
    assert_eq!(ours[0].labels["process"], ODD_NAME_SHOWN);
    // Each line of the file is one sample or comment: the newline did not split one.
    assert!(
        text.lines()
            .all(|l| l.starts_with('#') || l.starts_with("whoport_"))
    );
    drop(holder);

    // Hidden owners: an unprivileged whoport looking at another user's listener.
    let Some(foreign) = foreign_listener_or_skip("promtool_accepts_every_state (hidden owners)")
    else {
        return Ok(());
    };
    let port = foreign.port.to_string();
    let exe = shared_whoport();
    let out = run_as(&exe, 1, &["--format", "prometheus", &port], "native");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout)?;
    promtool_accepts(&promtool, &text, "hidden owners");
    let samples = parse(&text);
    let hidden = find(
        &samples,
        "whoport_socket_info",
        &[("port", &port), ("local_address", "127.0.0.1")],
    );
    assert_eq!(hidden.len(), 1, "{text}");
    let labels = &hidden[0].labels;
    assert_eq!(
        (
            &labels["owner"][..],
            &labels["user"][..],
            &labels["pid"][..],
            &labels["process"][..]
        ),
        ("hidden", "nobody", "", "")
    );
    assert_eq!(
        find(&samples, "whoport_hidden_owner_sockets", &[])[0].value,
        1.0
    );
    Ok(())
}

/// Debian's node_exporter, serving only the textfile collector from a directory, on its
/// own loopback port; stopped when dropped.
struct NodeExporter {
    child: Child,
    port: u16,
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeExporter {
    fn start(binary: &Path, dir: &Path) -> NodeExporter {
        let mut errors = Vec::new();
        // A port may be taken between finding it free and node_exporter binding it.
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(binary)
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--collector.disable-defaults")
                .arg("--collector.textfile")
                .arg(format!("--collector.textfile.directory={}", dir.display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{binary:?}: {e}"));
            let mut exporter = NodeExporter { child, port };
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = exporter.child.try_wait() {
                    errors.push(format!("port {port}: exited {status}"));
                    break;
                }
                if exporter.scrape().is_ok() {
                    return exporter;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            errors.push(format!("port {port}: not serving"));
        }
        panic!("node_exporter did not start: {errors:?}")
    }

    /// GET /metrics over loopback.
    fn scrape(&self) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.write_all(
            format!(
                "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n",
                self.port
            )
            .as_bytes(),
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        match response.split_once("\r\n\r\n") {
            Some((head, body))
                if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") =>
            {
                Ok(body.to_string())
            }
            _ => Err(std::io::Error::other(format!(
                "unexpected response: {}",
                response.lines().next().unwrap_or("")
            ))),
        }
    }
}

#[test]
fn node_exporter_serves_whoports_series() -> TestResult {
    hermetic();
    let Some(binary) = tool_or_skip(
        "prometheus-node-exporter",
        "node_exporter_serves_whoports_series",
    ) else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let exporter = NodeExporter::start(&binary, dir.path());
    let file = dir.path().join("whoport.prom");
    let file_arg = file.to_string_lossy().into_owned();

    // Our listener, and one held by a child with an odd name.
    let ours = tcp_listener("127.0.0.1:0");
    let port = port_of(&ours);
    let (_odd_dir, holder, odd_port) = odd_holder()?;

    let write = |ports: &[&str]| {
        let mut args = vec!["--output", &file_arg];
        args.extend_from_slice(ports);
        assert!(
            metrics(&args).is_empty(),
            "--output writes nothing to stdout"
        );
    };
    write(&[&port, &odd_port]);
    let body = exporter.scrape()?;
    let samples = parse(&body);
    assert_eq!(
        find(&samples, "node_textfile_scrape_error", &[])
            .first()
            .map(|s| s.value),
        Some(0.0),
        "node_exporter could not read the file"
    );
    assert!(!find(&samples, "node_textfile_mtime_seconds", &[]).is_empty());
    let me_pid = me().to_string();
    let mine = find(
        &samples,
        "whoport_socket_info",
        &[
            ("protocol", "tcp"),
            ("family", "ipv4"),
            ("local_address", "127.0.0.1"),
            ("port", &port),
            ("state", "listen"),
            ("pid", &me_pid),
            ("owner", "known"),
        ],
    );
    assert_eq!(mine.len(), 1, "{body}");
    assert_eq!(mine[0].value, 1.0);
    let odd = find(
        &samples,
        "whoport_socket_info",
        &[("port", &odd_port), ("pid", &holder.pid().to_string())],
    );
    assert_eq!(odd.len(), 1, "{body}");
    assert_eq!(odd[0].labels["process"], ODD_NAME_SHOWN);
    assert_eq!(odd[0].labels["owner"], "known");
    assert!(
        find(
            &samples,
            "whoport_listening_sockets",
            &[("protocol", "tcp")]
        )[0]
        .value
            >= 2.0
    );
    assert_eq!(
        find(&samples, "whoport_scan_duration_seconds", &[]).len(),
        1
    );

    // The listener closed: the next file no longer has it, and node_exporter says so.
    drop(ours);
    write(&[&port, &odd_port]);
    let samples = parse(&exporter.scrape()?);
    assert!(
        find(
            &samples,
            "whoport_socket_info",
            &[("port", &port), ("pid", &me_pid)]
        )
        .is_empty()
    );
    assert_eq!(
        find(
            &samples,
            "whoport_socket_info",
            &[("port", &odd_port), ("pid", &holder.pid().to_string())]
        )
        .len(),
        1
    );
    drop(holder);
    drop(exporter);
    Ok(())
}

#[test]
fn output_file_is_replaced_whole_keeping_its_mode() -> TestResult {
    hermetic();
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("whoport.prom");
    std::fs::write(&file, "stale\n".repeat(10_000))?;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
    let l = tcp_listener("127.0.0.1:0");
    let port = port_of(&l);
    let path = file.to_string_lossy().into_owned();
    let out = run(
        &["--format", "prometheus", "--output", &path, &port],
        "native",
    );
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&file)?;
    assert!(text.starts_with("# HELP whoport_socket_info "), "{text}");
    assert!(!text.contains("stale"));
    assert!(!find(&parse(&text), "whoport_socket_info", &[("port", &port)]).is_empty());
    // The file keeps its mode (command lines are not made world-readable).
    assert_eq!(
        std::fs::metadata(&file)?.permissions().mode() & 0o777,
        0o600
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())?.collect();
    assert_eq!(left.len(), 1, "a temporary file was left behind");
    // JSON can be written the same way.
    let json_file = dir.path().join("whoport.json");
    let out = run(
        &["--json", "--output", &json_file.to_string_lossy(), &port],
        "native",
    );
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_file)?)?;
    assert!(sockets(&v).iter().any(|s| pids(s) == vec![me()]));
    // A directory that does not exist: one line, naming the file.
    let missing = dir.path().join("no-such-dir").join("whoport.prom");
    let missing_arg = missing.to_string_lossy().into_owned();
    let out = run(
        &["--format", "prometheus", "--output", &missing_arg],
        "native",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("whoport: writing ") && err.contains("no-such-dir"),
        "{err}"
    );
    Ok(())
}

#[test]
fn format_switch_and_json_alias() -> TestResult {
    hermetic();
    let l = tcp_listener("127.0.0.1:0");
    let port = port_of(&l);
    let by_alias = json(&[&port], "native").1;
    let out = run(&["--format", "json", &port], "native");
    assert_eq!(out.status.code(), Some(0));
    let by_format: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    // The same schema either way (other programs' sockets may come and go in between).
    let ours = |v: &serde_json::Value| {
        socket_set(v)
            .into_iter()
            .filter(|(k, _)| k.0 == "tcp" && k.1 == "127.0.0.1" && k.2.to_string() == port)
            .collect::<Vec<_>>()
    };
    assert_eq!(ours(&by_alias), ours(&by_format));
    assert_eq!(ours(&by_alias).len(), 1);
    let keys = |v: &serde_json::Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(&by_alias), keys(&by_format));
    let out = run(&["--format", "table", &port], "native");
    assert!(String::from_utf8_lossy(&out.stdout).contains("PROCESS"));
    for bad in [
        &["--json", "--format", "table"][..],
        &["--format", "xml"],
        &["-q", "--format", "prometheus"],
    ] {
        let out = run(bad, "native");
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    }
    // Metrics exit 0 when nothing matched: the file says so; the table exits 1.
    let free = unused_port();
    assert_eq!(
        run(&["--format", "prometheus", &free], "native")
            .status
            .code(),
        Some(0)
    );
    assert_eq!(run(&[&free], "native").status.code(), Some(1));
    Ok(())
}

/// A fenced block of docs/monitoring.md whose first line starts with `first`.
fn doc_block(lang: &str, first: &str) -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/monitoring.md"))
        .unwrap_or_else(|e| panic!("docs/monitoring.md: {e}"));
    let fence = format!("```{lang}\n");
    doc.split(&fence)
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(block, _)| block.to_string()))
        .find(|block| block.starts_with(first))
        .unwrap_or_else(|| {
            panic!("no ```{lang} block starting with {first:?} in docs/monitoring.md")
        })
}

/// What promtool makes of the documented alert rules, fed with whoport's series.
const RULE_TESTS: &str = r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      # h1: sshd listens, an Xsan port is held by something else, whoport ran as root.
      - series: 'whoport_socket_info{instance="h1",job="node",protocol="tcp",family="ipv4",local_address="0.0.0.0",port="22",state="listen",pid="611",process="sshd",user="root",owner="known",service="",xsan=""}'
        values: '1x60'
      - series: 'whoport_xsan_sockets{instance="h1",job="node",verdict="not_xsan"}'
        values: '0 0 1x58'
      - series: 'whoport_hidden_owner_sockets{instance="h1",job="node"}'
        values: '0x60'
      - series: 'whoport_scan_duration_seconds{instance="h1",job="node"}'
        values: '0.01x60'
      - series: 'node_textfile_mtime_seconds{instance="h1",job="node",file="/var/lib/prometheus/node-exporter/whoport.prom"}'
        values: '0+60x60'
      # h2: nothing on port 22, owners hidden (not root), and its file stopped changing.
      - series: 'whoport_xsan_sockets{instance="h2",job="node",verdict="not_xsan"}'
        values: '0x60'
      - series: 'whoport_hidden_owner_sockets{instance="h2",job="node"}'
        values: '3x60'
      - series: 'whoport_scan_duration_seconds{instance="h2",job="node"}'
        values: '0.01x60'
      - series: 'node_textfile_mtime_seconds{instance="h2",job="node",file="/var/lib/prometheus/node-exporter/whoport.prom"}'
        values: '0x60'
    alert_rule_test:
      - eval_time: 10m
        alertname: WhoportXsanConflict
        exp_alerts:
          - exp_labels: {severity: critical, instance: h1, job: node, verdict: not_xsan}
            exp_annotations:
              summary: "An Xsan port on h1 is held by a process that is not Xsan"
              description: '1 listening socket(s) on Xsan ports are held by processes that are not Xsan: whoport_socket_info{xsan="not_xsan"} names them.'
      - eval_time: 10m
        alertname: WhoportSshListenerGone
        exp_alerts:
          - exp_labels: {severity: critical, instance: h2, job: node}
            exp_annotations:
              summary: "Nothing listens on 22/tcp on h2"
              description: "whoport's last scan on h2 found no listener on port 22/tcp. Run `whoport check 22 -t --expect process=sshd` there."
      - eval_time: 40m
        alertname: WhoportHiddenOwners
        exp_alerts:
          - exp_labels: {severity: warning, instance: h2, job: node}
            exp_annotations:
              summary: "whoport cannot see the owners of 3 socket(s) on h2"
              description: "Run whoport as root: without it, the processes holding other users' sockets are hidden."
      - eval_time: 40m
        alertname: WhoportMetricsStale
        exp_alerts:
          - exp_labels: {severity: warning, instance: h2, job: node, file: /var/lib/prometheus/node-exporter/whoport.prom}
            exp_annotations:
              summary: "whoport's metrics on h2 are stale"
              description: "The textfile whoport writes has not changed for 40m 0s; is the timer running?"
      - eval_time: 1m
        alertname: WhoportXsanConflict
        exp_alerts: []
"#;

#[test]
fn documented_alert_rules_are_valid_and_fire() -> TestResult {
    hermetic();
    let rules = doc_block("yaml", "groups:");
    let Some(promtool) = tool_or_skip("promtool", "documented_alert_rules_are_valid_and_fire")
    else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("rules.yml"), &rules)?;
    std::fs::write(dir.path().join("tests.yml"), RULE_TESTS)?;
    for args in [
        &["check", "rules", "rules.yml"][..],
        &["test", "rules", "tests.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(dir.path())
            .output()?;
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

#[test]
fn documented_service_files_are_valid() -> TestResult {
    hermetic();
    // launchd: a well-formed property list running whoport with --output.
    let plist = doc_block("xml", "<?xml");
    let Some(python) = system_python() else {
        skip("documented_service_files_are_valid", "no python3");
        return Ok(());
    };
    let out = Command::new(python)
        .args([
            "-c",
            "import plistlib,sys\n\
             p=plistlib.loads(sys.stdin.buffer.read())\n\
             a=p['ProgramArguments']\n\
             assert p['Label'] and p['StartInterval']>0, p\n\
             assert a[1:5]==['--format','prometheus','--output',a[4]] and a[4].endswith('.prom'), a\n\
             print(a[0])",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(plist.as_bytes())?;
            }
            child.wait_with_output()
        })?;
    assert!(
        out.status.success(),
        "launchd plist: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // systemd: the service and timer, verified by systemd-analyze where it exists, with
    // ExecStart pointed at the binary under test.
    let service = doc_block("ini", "# /etc/systemd/system/whoport-metrics.service");
    let timer = doc_block("ini", "# /etc/systemd/system/whoport-metrics.timer");
    assert!(
        service.contains(
            "--format prometheus --output /var/lib/prometheus/node-exporter/whoport.prom"
        )
    );
    let Some(analyze) = tool_or_skip(
        "systemd-analyze",
        "documented_service_files_are_valid (systemd)",
    ) else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let bin = assert_cmd::cargo::cargo_bin("whoport");
    let service = service.replace("/usr/local/bin/whoport", &bin.to_string_lossy());
    std::fs::write(dir.path().join("whoport-metrics.service"), service)?;
    std::fs::write(dir.path().join("whoport-metrics.timer"), timer)?;
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(dir.path().join("whoport-metrics.service"))
        .arg(dir.path().join("whoport-metrics.timer"))
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    // Without a running systemd (a container) only the units' own lines matter.
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("whoport-metrics"))
        .collect();
    assert!(ours.is_empty(), "systemd-analyze verify: {err}");
    Ok(())
}

#[test]
fn the_parser_used_here_undoes_escapes() {
    hermetic();
    let s = parse("a{x=\"q\\\"b\\\\c\\nd\",y=\"\"} 2\nb 0.5\n");
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].labels["x"], "q\"b\\c\nd");
    assert_eq!(s[0].labels["y"], "");
    assert_eq!((s[0].value, s[1].value), (2.0, 0.5));
}
