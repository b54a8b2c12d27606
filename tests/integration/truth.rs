//! Truth under real conditions: sockets held in the ways real hosts hold them (threads
//! with their own descriptor tables, accept queues, descriptors in flight, MPTCP,
//! UDP-Lite, bound-only sockets, REUSEPORT groups, a restricted /proc, sockets that live
//! for milliseconds), each answered with the exact pids or an honest "cannot know" —
//! compared with `ss` where ss has an answer.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// A Python process that sets up sockets, prints `key=value …` on one line and holds
/// everything until its standard input closes.
struct Py {
    child: Child,
    vars: HashMap<String, String>,
}

impl Py {
    /// `None` (after a visible SKIP, or a failure under CI) without /usr/bin/python3.
    fn start(test: &str, script: &str) -> Option<Py> {
        let Some(python) = system_python() else {
            skip(test, "/usr/bin/python3 is not installed");
            return None;
        };
        let mut child = Command::new(python)
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{test}: cannot start python: {e}"));
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let vars: HashMap<String, String> = line
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        register_holder(u64::from(child.id()));
        if vars.is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{test}: the python fixture did not start: {line:?}");
        }
        Some(Py { child, vars })
    }

    fn get(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("fixture gave no {key}: {:?}", self.vars))
    }

    fn pid(&self) -> u64 {
        u64::from(self.child.id())
    }
}

impl Drop for Py {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sockets of `whoport --json -a PORT` with this protocol and local port.
fn on_port(port: &str, backend: &str, protocol: &str) -> Vec<Value> {
    let (_, v) = json(&["-a", port], backend);
    sockets(&v)
        .into_iter()
        .filter(|s| s["protocol"] == protocol && s["local_port"].as_u64() == port.parse().ok())
        .collect()
}

fn flags(s: &Value) -> Vec<String> {
    s["flags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `ss ARGS` output, or `None` when ss is not installed.
fn ss(args: &[&str]) -> Option<String> {
    let out = Command::new("ss").args(args).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Case 9: a TCP socket that is bound but neither listening nor connected.
#[test]
fn bound_tcp_socket_is_bound_inactive() {
    hermetic();
    let Some(py) = Py::start(
        "bound_tcp_socket_is_bound_inactive",
        "import socket,sys,os\n\
         b=socket.socket(); b.bind(('127.0.0.1',0))\n\
         print('port=%d fd=%d' % (b.getsockname()[1], b.fileno()), flush=True)\n\
         sys.stdin.read()",
    ) else {
        return;
    };
    let port = py.get("port");
    // sock_diag lists it (Linux 6.6+); /proc/net/tcp and netstat2 do not list such
    // sockets at all.
    let found = on_port(port, "native", "tcp");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["state"], "bound_inactive", "{:?}", found[0]);
    assert_eq!(found[0]["owner"], "known");
    assert_eq!(pids(&found[0]), vec![py.pid()]);
    // Not a listener: `-l` leaves it out.
    let (code, v) = json(&["-l", port], "native");
    assert_eq!(code, 1, "{v}");
    for backend in ["procfs", "portable"] {
        for s in on_port(port, backend, "tcp") {
            assert_ne!(s["state"], "close", "{backend}: {s}");
        }
    }
}

/// Case 9: UDP-Lite sockets are listed (on the paths that can see them).
#[test]
fn udplite_socket_is_listed() {
    hermetic();
    let Some(py) = Py::start(
        "udplite_socket_is_listed",
        "import socket,sys\n\
         u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 136); u.bind(('127.0.0.1',0))\n\
         print('port=%d' % u.getsockname()[1], flush=True)\n\
         sys.stdin.read()",
    ) else {
        return;
    };
    let port = py.get("port");
    for backend in ["native", "procfs"] {
        let found = on_port(port, backend, "udplite");
        assert_eq!(found.len(), 1, "{backend}: {found:?}");
        assert_eq!(found[0]["state"], "unconnected");
        assert_eq!(pids(&found[0]), vec![py.pid()], "{backend}");
        // `-u` covers UDP-Lite; `-t` does not.
        let (code, _) = json(&["-u", port], backend);
        assert_eq!(code, 0, "{backend}");
        let (code, _) = json(&["-t", port], backend);
        assert_eq!(code, 1, "{backend}");
    }
}

/// Case 9: an MPTCP listener is listed as MPTCP, and its TCP subflow listener as a
/// subflow with the same holder; ss -M agrees on the pid.
#[test]
fn mptcp_listener_and_subflow() {
    hermetic();
    if std::fs::read_to_string("/proc/sys/net/mptcp/enabled").is_ok_and(|v| v.trim() != "1") {
        skip("mptcp_listener_and_subflow", "MPTCP is disabled");
        return;
    }
    let Some(py) = Py::start(
        "mptcp_listener_and_subflow",
        "import socket,sys\n\
         m=socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); m.bind(('127.0.0.1',0)); m.listen()\n\
         c=socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); c.connect(m.getsockname()); a,_=m.accept()\n\
         print('port=%d fd=%d' % (m.getsockname()[1], m.fileno()), flush=True)\n\
         sys.stdin.read()",
    ) else {
        return;
    };
    let port = py.get("port");
    let (_, v) = json(&["-l", port], "native");
    let listeners = sockets(&v);
    let mptcp: Vec<&Value> = listeners
        .iter()
        .filter(|s| s["protocol"] == "mptcp")
        .collect();
    let subflow: Vec<&Value> = listeners
        .iter()
        .filter(|s| s["protocol"] == "tcp")
        .collect();
    assert_eq!(mptcp.len(), 1, "{v}");
    assert_eq!(subflow.len(), 1, "{v}");
    assert_eq!(pids(mptcp[0]), vec![py.pid()]);
    assert_eq!(pids(subflow[0]), vec![py.pid()]);
    assert!(
        flags(subflow[0]).contains(&"mptcp_subflow".to_string()),
        "{v}"
    );
    assert!(
        !flags(mptcp[0]).contains(&"mptcp_subflow".to_string()),
        "{v}"
    );
    // The connection: both ends held by the fixture, as MPTCP and as subflows.
    let all = on_port(port, "native", "mptcp");
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all.iter().all(|s| pids(s) == vec![py.pid()]), "{all:?}");
    if let Some(out) = ss(&["-MlnpH", &format!("sport = :{port}")]) {
        assert!(
            out.contains(&format!("pid={}", py.pid())),
            "ss -M disagrees: {out}"
        );
    }
}

/// Case 3: a thread that unshared its descriptor table holds a listener: found under
/// /proc/PID/task/TID/fd (ss, which reads /proc/PID/fd only, shows no process).
#[test]
fn thread_with_its_own_descriptor_table() {
    hermetic();
    let Some(py) = Py::start(
        "thread_with_its_own_descriptor_table",
        "import socket,sys,threading,ctypes,time\n\
         libc=ctypes.CDLL(None, use_errno=True)\n\
         out={}; ready=threading.Event()\n\
         def t():\n\
         \x20   assert libc.unshare(0x400)==0\n\
         \x20   s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
         \x20   out['port']=s.getsockname()[1]; out['fd']=s.fileno(); ready.set(); time.sleep(3600)\n\
         threading.Thread(target=t, daemon=True).start(); ready.wait()\n\
         print('port=%d fd=%d' % (out['port'], out['fd']), flush=True)\n\
         sys.stdin.read()",
    ) else {
        return;
    };
    let port = py.get("port");
    let fd: u64 = py.get("fd").parse().unwrap_or(u64::MAX);
    for backend in ["native", "procfs"] {
        let found = on_port(port, backend, "tcp");
        assert_eq!(found.len(), 1, "{backend}: {found:?}");
        assert_eq!(found[0]["owner"], "known", "{backend}: {:?}", found[0]);
        assert_eq!(pids(&found[0]), vec![py.pid()], "{backend}");
        assert!(flags(&found[0]).contains(&"held_by_thread".to_string()));
        assert_eq!(found[0]["processes"][0]["fds"], serde_json::json!([fd]));
    }
    // netstat2 reads /proc/PID/fd only: hidden there, never "none".
    for s in on_port(port, "portable", "tcp") {
        assert_ne!(s["owner"], "none", "portable: {s}");
    }
}

/// Case 3: a connection waiting in the accept queue belongs to the listener's holder,
/// flagged; ss shows it with no process (ino:0) and the listener with the same pid.
#[test]
fn accept_queue_connection_belongs_to_the_listener() {
    hermetic();
    let Some(py) = Py::start(
        "accept_queue_connection_belongs_to_the_listener",
        "import socket,sys\n\
         l=socket.socket(); l.bind(('127.0.0.1',0)); l.listen()\n\
         c=socket.create_connection(l.getsockname())\n\
         print('port=%d client=%d' % (l.getsockname()[1], c.getsockname()[1]), flush=True)\n\
         sys.stdin.read()",
    ) else {
        return;
    };
    let port = py.get("port");
    for backend in BACKENDS {
        let found = on_port(port, backend, "tcp");
        let queued: Vec<&Value> = found
            .iter()
            .filter(|s| s["state"] == "established")
            .collect();
        assert_eq!(queued.len(), 1, "{backend}: {found:?}");
        let q = queued[0];
        assert_eq!(q["owner"], "known", "{backend}: {q}");
        assert_eq!(pids(q), vec![py.pid()], "{backend}");
        assert!(flags(q).contains(&"awaiting_accept".to_string()), "{q}");
        // No descriptor refers to it yet.
        if backend != "portable" {
            assert_eq!(q["processes"][0]["fds"], serde_json::json!([]), "{q}");
        }
    }
    // `-4` filters nothing away from the relation (the listener is looked up anyway).
    if let Some(out) = ss(&["-tlnpH", &format!("sport = :{port}")]) {
        assert!(out.contains(&format!("pid={}", py.pid())), "ss: {out}");
    }
}

/// Case 3 and 6: a listener whose only descriptor is in flight (sent over a UNIX socket
/// with SCM_RIGHTS, not yet received) is never a certain "none", on any path.
#[test]
fn descriptor_in_flight_is_not_certainly_none() {
    hermetic();
    let Some(py) = Py::start("descriptor_in_flight_is_not_certainly_none", IN_FLIGHT) else {
        return;
    };
    let port = py.get("port");
    for backend in BACKENDS {
        let found = on_port(port, backend, "tcp");
        assert_eq!(found.len(), 1, "{backend}: {found:?}");
        assert_eq!(found[0]["owner"], "hidden", "{backend}: {:?}", found[0]);
    }
}

const IN_FLIGHT: &str = "import socket,sys,array\n\
    a,b=socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
    f=socket.socket(); f.bind(('127.0.0.1',0)); f.listen(); port=f.getsockname()[1]\n\
    a.sendmsg([b'x'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i',[f.fileno()]))]); f.close()\n\
    print('port=%d' % port, flush=True)\n\
    sys.stdin.read()";

/// Case 3: in a pid namespace where every process can be read, the in-flight listener is
/// `hidden` with the reason that says what it may be; a child pid namespace's processes
/// are not every process, so the reason names a process outside it too.
#[test]
fn descriptor_in_flight_in_a_complete_scan() {
    hermetic();
    let test = "descriptor_in_flight_in_a_complete_scan";
    if !is_root() {
        skip(test, "needs root for a pid namespace");
        return;
    }
    let Some(python) = system_python() else {
        skip(test, "/usr/bin/python3 is not installed");
        return;
    };
    let binary = shared_whoport();
    // The fixture holds the in-flight socket and runs whoport itself, inside a new pid
    // namespace with its own /proc: pid 1 there is unshare's child, readable by root.
    let script = format!(
        "{}\nimport subprocess\nfor backend in ('native','procfs'):\n\
         \x20   r=subprocess.run(['{}','--json','-a',str(port)],env={{'WHOPORT_BACKEND':backend}},capture_output=True,text=True)\n\
         \x20   print(backend+'\\t'+r.stdout.replace('\\n',' '), flush=True)\n",
        IN_FLIGHT
            .replace("print('port=%d' % port, flush=True)\n", "")
            .replace("sys.stdin.read()", ""),
        binary.path.display()
    );
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(python)
        .args(["-c", &script])
        .output();
    let Ok(out) = out else {
        skip(test, "unshare is not installed");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 2, "{text} {:?}", out.stderr);
    for line in text.lines() {
        let (backend, report) = line.split_once('\t').unwrap_or(("", line));
        let v: Value = serde_json::from_str(report).unwrap_or_else(|e| panic!("{e}: {line}"));
        let found: Vec<Value> = sockets(&v)
            .into_iter()
            .filter(|s| s["protocol"] == "tcp" && s["state"] == "listen")
            .collect();
        assert_eq!(found.len(), 1, "{backend}: {v}");
        assert_eq!(found[0]["owner"], "hidden", "{backend}: {v}");
        assert!(
            found[0]["owner_reason"]
                .as_str()
                .is_some_and(|r| r.contains("in flight")
                    && r.contains("kernel socket")
                    && r.contains("outside its pid namespace")),
            "{backend}: {v}"
        );
        assert_eq!(v["warnings"], serde_json::json!([]), "{backend}: {v}");
    }
}

/// Case 10: a REUSEPORT group (one socket per process) and one socket shared by forked
/// processes are told apart by each holder's descriptor numbers, as ss shows them.
#[test]
fn descriptor_numbers_tell_reuseport_from_shared() {
    hermetic();
    let Some(py) = Py::start(
        "descriptor_numbers_tell_reuseport_from_shared",
        "import socket,sys,os\n\
         def mk(p):\n\
         \x20   s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1); s.bind(('127.0.0.1',p)); s.listen(); return s\n\
         a=mk(0); port=a.getsockname()[1]\n\
         r,w=os.pipe()\n\
         kid=os.fork()\n\
         if kid==0:\n\
         \x20   a.close(); b=mk(port); os.dup2(b.fileno(), 40); os.write(w,b'x'); os.read(0,1); os._exit(0)\n\
         os.read(r,1)\n\
         sh=socket.socket(); sh.bind(('127.0.0.1',0)); sh.listen(); shared=sh.getsockname()[1]\n\
         kid2=os.fork()\n\
         if kid2==0:\n\
         \x20   a.close(); os.dup2(sh.fileno(), 41); os.read(0,1); os._exit(0)\n\
         import time; time.sleep(0.2)\n\
         print('port=%d shared=%d kid=%d kid2=%d afd=%d shfd=%d' % (port, shared, kid, kid2, a.fileno(), sh.fileno()), flush=True)\n\
         sys.stdin.read()",
    ) else {
        return;
    };
    let kid: u64 = py.get("kid").parse().unwrap_or(0);
    let kid2: u64 = py.get("kid2").parse().unwrap_or(0);
    register_holder(kid);
    register_holder(kid2);
    let afd: u64 = py.get("afd").parse().unwrap_or(0);
    let shfd: u64 = py.get("shfd").parse().unwrap_or(0);
    let fds_of = |s: &Value, pid: u64| -> Value {
        s["processes"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["pid"] == pid))
            .map(|p| p["fds"].clone())
            .unwrap_or(Value::Null)
    };
    for backend in ["native", "procfs"] {
        // REUSEPORT: two sockets, one holder each. The child's socket also sits at fd 40.
        let group = on_port(py.get("port"), backend, "tcp");
        assert_eq!(group.len(), 2, "{backend}: {group:?}");
        let mut holders: Vec<Vec<u64>> = group.iter().map(pids).collect();
        holders.sort();
        assert_eq!(holders, vec![vec![py.pid()], vec![kid]], "{backend}");
        for s in &group {
            if pids(s) == vec![py.pid()] {
                assert_eq!(fds_of(s, py.pid()), serde_json::json!([afd]));
            } else {
                let fds = fds_of(s, kid);
                assert!(
                    fds.as_array()
                        .is_some_and(|f| f.len() == 2 && f.contains(&serde_json::json!(40))),
                    "{backend}: {s}"
                );
            }
        }
        // Shared: one socket, both processes, at their own descriptor numbers.
        let shared = on_port(py.get("shared"), backend, "tcp");
        assert_eq!(shared.len(), 1, "{backend}: {shared:?}");
        assert_eq!(pids(&shared[0]), vec![py.pid(), kid2], "{backend}");
        assert_eq!(fds_of(&shared[0], py.pid()), serde_json::json!([shfd]));
        assert_eq!(fds_of(&shared[0], kid2), serde_json::json!([shfd, 41]));
    }
    // The portable path has no descriptor numbers: null, not a guess.
    for s in on_port(py.get("shared"), "portable", "tcp") {
        assert_eq!(fds_of(&s, py.pid()), Value::Null, "{s}");
    }
    // ss shows the same descriptors.
    if let Some(out) = ss(&["-tlnpH", &format!("sport = :{}", py.get("shared"))]) {
        assert!(
            out.contains(&format!("pid={},fd={shfd}", py.pid()))
                && out.contains(&format!("pid={kid2},fd=41")),
            "ss: {out}"
        );
    }
}

/// Case 5: with /proc mounted `hidepid=2`, an unprivileged run says the process list
/// is incomplete instead of warning about nothing.
#[test]
fn restricted_proc_is_reported() {
    hermetic();
    let test = "restricted_proc_is_reported";
    if !is_root() {
        skip(test, "needs root to mount /proc in a mount namespace");
        return;
    }
    let Some(listener) = ForeignListener::start(0) else {
        skip(test, "/usr/bin/python3 is not installed");
        return;
    };
    let binary = shared_whoport();
    for backend in ["native", "procfs"] {
        let script = format!(
            "mount -t proc -o hidepid=2 proc /proc && exec setpriv --reuid={NOBODY} \
             --regid={NOBODY} --clear-groups env WHOPORT_BACKEND={backend} {} --json -a {}",
            binary.path.display(),
            listener.port
        );
        let out = Command::new("unshare")
            .args(["--mount", "sh", "-c", &script])
            .output();
        let Ok(out) = out else {
            skip(test, "unshare is not installed");
            return;
        };
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {:?} {:?}",
                out.stdout,
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let warnings = v["warnings"].to_string();
        assert!(
            warnings.contains("hidepid=") && warnings.contains("incomplete"),
            "{backend}: {v}"
        );
        let ours: Vec<Value> = sockets(&v)
            .into_iter()
            .filter(|s| s["local_port"] == listener.port && s["state"] == "listen")
            .collect();
        assert_eq!(ours.len(), 1, "{backend}: {v}");
        assert_eq!(ours[0]["owner"], "hidden", "{backend}: {v}");
    }
    drop(listener);
}

/// Case 4: listeners that live 0–20 ms while whoport runs in a loop. Every listener row
/// on the churning address has its owner known (the churning process), never a hidden or
/// "none" owner made up from a socket that closed during the scan.
#[test]
fn churning_listeners_are_owned_or_gone() {
    hermetic();
    let Some(py) = Py::start(
        "churning_listeners_are_owned_or_gone",
        "import socket,sys,threading,time,random\n\
         stop=False\n\
         def churn():\n\
         \x20   while not stop:\n\
         \x20       s=socket.socket(); s.bind(('127.0.0.77',0)); s.listen(); time.sleep(random.random()*0.02); s.close()\n\
         for _ in range(4): threading.Thread(target=churn, daemon=True).start()\n\
         print('ready=1', flush=True)\n\
         sys.stdin.read()",
    ) else {
        return;
    };
    let started = Instant::now();
    let mut rows = 0;
    let mut runs = 0;
    // At least 60 runs; on a loaded machine more, until some listener was seen alive.
    while (runs < 60 || rows == 0) && started.elapsed() < Duration::from_secs(40) {
        runs += 1;
        for backend in ["native", "procfs"] {
            let (_, v) = json(&["-l", "-t"], backend);
            for s in sockets(&v)
                .iter()
                .filter(|s| s["local_address"] == "127.0.0.77")
            {
                rows += 1;
                assert_eq!(s["owner"], "known", "{backend} run {runs}: {s}");
                assert_eq!(pids(s), vec![py.pid()], "{backend} run {runs}: {s}");
            }
        }
    }
    assert!(
        rows > 0,
        "no churning listener was ever seen in {runs} runs"
    );
    eprintln!("churn: {rows} listener rows in {runs} runs, all owned");
}

/// The exit code and standard output of `whoport ARGS` on a collection path.
fn run_text(args: &[&str], backend: &str) -> (i32, String) {
    let out = run(args, backend);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Case 1: `-4` lists the IPv6 sockets that accept IPv4 (a dual-stack wildcard, an
/// IPv4-mapped bind) and says why; an IPv4 bind to their ports fails, so a check for
/// "free" fails too.
#[test]
fn ipv4_filter_includes_ipv6_sockets_that_accept_ipv4() {
    hermetic();
    let Some(py) = Py::start(
        "ipv4_filter_includes_ipv6_sockets_that_accept_ipv4",
        "import socket,sys\n\
         d=socket.socket(socket.AF_INET6); d.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); d.bind(('::',0)); d.listen()\n\
         m=socket.socket(socket.AF_INET6); m.bind(('::ffff:127.0.0.1',0)); m.listen()\n\
         o=socket.socket(socket.AF_INET6); o.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); o.bind(('::',0)); o.listen()\n\
         print('dual=%d mapped=%d v6only=%d' % (d.getsockname()[1], m.getsockname()[1], o.getsockname()[1]), flush=True)\n\
         sys.stdin.read()",
    ) else {
        return;
    };
    for (key, address, flag) in [
        ("dual", "::", "dual_stack"),
        ("mapped", "::ffff:127.0.0.1", "ipv4_mapped"),
    ] {
        let port = py.get(key);
        // The kernel's answer: an IPv4 bind to the port fails.
        let bind = std::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>().unwrap_or(0)));
        assert!(bind.is_err(), "{key}: an IPv4 bind succeeded");
        for backend in BACKENDS {
            let (code, v) = json(&["-4", port], backend);
            assert_eq!(code, 0, "{backend} -4 {key}: {v}");
            let found = sockets(&v);
            assert_eq!(found.len(), 1, "{backend} {key}: {v}");
            assert_eq!(found[0]["local_address"], address);
            assert_eq!(pids(&found[0]), vec![py.pid()], "{backend}");
            if backend == "native" || key == "mapped" {
                assert!(
                    flags(&found[0]).contains(&flag.to_string()),
                    "{backend}: {v}"
                );
            }
            let why = v["ports"][0]["notes"].to_string();
            assert!(why.contains("so -4 lists it"), "{backend} {key}: {why}");
            let (code, line) = run_text(&["check", port, "-4", "--expect", "free"], backend);
            assert_eq!(code, 2, "{backend} {key}: {line}");
        }
    }
    // IPV6_V6ONLY on: IPv4 does not reach it, and -4 leaves it out (on the path that
    // knows the option), saying what it left out.
    let port = py.get("v6only");
    assert!(std::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>().unwrap_or(0))).is_ok());
    let (code, v) = json(&["-4", port], "native");
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["ports"][0]["free"], false, "{v}");
    assert_eq!(
        v["ports"][0]["left_out"],
        serde_json::json!([{"protocol": "tcp", "family": "ipv6", "state": "listen", "sockets": 1}])
    );
}

/// Case 2: "free" only when nothing at all is on the port; otherwise the answer says no
/// socket matched the filters and what they left out. Exit codes stay: 1 when nothing
/// matched.
#[test]
fn free_only_when_no_socket_at_all() {
    hermetic();
    let Some(py) = Py::start(
        "free_only_when_no_socket_at_all",
        "import socket,sys\n\
         u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1',0)); u.connect(('127.0.0.1',9))\n\
         t=socket.socket(); t.bind(('127.0.0.1',0)); t.listen()\n\
         print('udp=%d tcp=%d' % (u.getsockname()[1], t.getsockname()[1]), flush=True)\n\
         sys.stdin.read()",
    ) else {
        return;
    };
    let (udp, tcp) = (py.get("udp"), py.get("tcp"));
    let cases = [
        (["-l", udp], "udp ipv4 established"),
        (["-u", tcp], "tcp ipv4 listen"),
        (["-6", tcp], "tcp ipv4 listen"),
    ];
    for backend in ["native", "procfs"] {
        for (args, left_out) in &cases {
            let (code, text) = run_text(&args[..], backend);
            assert_eq!(code, 1, "{backend} {args:?}: {text}");
            assert!(!text.contains("free"), "{backend} {args:?}: {text}");
            assert!(
                text.contains("no socket matched the filters")
                    && text.contains(&format!("left out 1 {left_out}")),
                "{backend} {args:?}: {text}"
            );
            let (_, v) = json(&args[..], backend);
            assert_eq!(v["ports"][0]["free"], false, "{v}");
        }
        // -6 says why the IPv4 listener matters: a default IPv6 bind collides with it.
        let (_, v) = json(&["-6", tcp], backend);
        assert!(
            v["ports"][0]["notes"]
                .to_string()
                .contains("fails there with EADDRINUSE"),
            "{backend}: {v}"
        );
        let (code, line) = run_text(&["check", tcp, "-u", "--expect", "free"], backend);
        assert_eq!(code, 0, "{line}");
        assert!(
            line.contains("no socket matched the filters") && !line.contains(" free"),
            "{line}"
        );
    }
    // Nothing at all: free, in the table, the JSON and a check.
    let nothing = unused_port();
    let (code, text) = run_text(&["-u", &nothing], "native");
    assert_eq!(code, 1);
    assert!(text.contains("free in this network namespace"), "{text}");
    let (_, v) = json(&["-u", &nothing], "native");
    assert_eq!(v["ports"][0]["free"], true, "{v}");
    assert_eq!(v["ports"][0]["left_out"], serde_json::json!([]));
    let (code, line) = run_text(&["check", &nothing, "-u", "--expect", "free"], "native");
    assert_eq!(code, 0);
    assert!(line.contains(&format!("{nothing}/udp free")), "{line}");
    // ss agrees that the TCP port is held.
    if let Some(out) = ss(&["-tanH", &format!("sport = :{tcp}")]) {
        assert!(out.contains("LISTEN"), "ss: {out}");
    }
}

/// Case 7: a process root cannot inspect (pid 1 of a sandbox) does not make every failed
/// owner expectation UNKNOWN: its name and uid rule it out. Only an expectation it may
/// meet stays UNKNOWN.
#[test]
fn uninspectable_process_is_judged_by_its_identity() {
    hermetic();
    let test = "uninspectable_process_is_judged_by_its_identity";
    if !is_root() {
        skip(
            test,
            "needs root (as a user every other user's process is unreadable)",
        );
        return;
    }
    let Some(py) = Py::start(
        test,
        "import socket,sys\n\
         t=socket.socket(); t.bind(('127.0.0.1',0)); t.listen()\n\
         print('port=%d' % t.getsockname()[1], flush=True)\n\
         sys.stdin.read()",
    ) else {
        return;
    };
    let port = py.get("port");
    // Never signalled or touched: only whether root may read its descriptors.
    let pid1_unreadable = std::fs::read_dir("/proc/1/fd")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(Result::ok)
        .is_some_and(|e| std::fs::read_link(e.path()).is_err());
    let (code, line) = run_text(&["check", port, "--expect", "process=nginx"], "native");
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("expected process=nginx"), "{line}");
    let (code, line) = run_text(&["check", port, "--expect", "process=python3"], "native");
    assert_eq!(code, 0, "{line}");
    let (code, line) = run_text(&["check", port, "--expect", "pid=1"], "native");
    if pid1_unreadable {
        // pid 1 may hold the socket too: that truly cannot be known.
        assert_eq!(code, 3, "{line}");
        assert!(line.contains("cannot inspect"), "{line}");
    } else {
        assert_eq!(code, 2, "{line}");
    }
    // The portable path cannot say which processes it failed to read: never a false
    // CRITICAL for pid=1, never a false OK.
    let (code, line) = run_text(&["check", port, "--expect", "pid=1"], "portable");
    assert_eq!(code, 3, "portable: {line}");
}

/// Case 8: options before `check` work, and every failure of a check invocation is an
/// UNKNOWN status line (exit 3), never whoport's exit 2.
#[test]
fn options_before_check() {
    hermetic();
    let listener = tcp_listener("127.0.0.1:0");
    let port = listener
        .local_addr()
        .map(|a| a.port().to_string())
        .unwrap_or_default();
    for args in [
        vec!["-t", "check", &port, "--expect", "listening"],
        vec!["-4", "check", &port],
        vec!["--backend", "procfs", "check", &port],
        vec!["-t", "-4", "check", &port, "-t", "--expect", "listening"],
    ] {
        let (code, line) = run_text(&args, "native");
        assert_eq!(code, 0, "{args:?}: {line}");
        assert!(line.starts_with("WHOPORT OK - "), "{args:?}: {line}");
    }
    let (code, v) = {
        let out = run(&["--json", "-t", "check", &port], "native");
        (
            out.status.code().unwrap_or(-1),
            serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null),
        )
    };
    assert_eq!(code, 0);
    assert_eq!(v["status"], "ok", "{v}");
    for args in [
        vec!["-l", "check", &port],
        vec!["--format", "json", "check", &port],
        vec!["--bogus", "check", &port],
        vec!["--backend", "nope", "check", &port],
        vec!["-t", "check"],
        vec!["-t", "check", &port, "--expect", "bogus"],
    ] {
        let (code, line) = run_text(&args, "native");
        assert_eq!(code, 3, "{args:?}: {line}");
        assert!(line.starts_with("WHOPORT UNKNOWN - "), "{args:?}: {line}");
    }
}
