//! The real things the container tests run against, started and cleaned up here: dockerd
//! (started when it is not running, stopped after if it was started here), rootful Podman,
//! `ip netns add` and `unshare -n` namespaces, and a process moved into a unit-named
//! cgroup. scripts/test-deps.sh installs the packages.
//!
//! Every test that uses Docker or Podman holds one lock for its whole run (a mutex in this
//! process and a `flock` across processes), so that they do not race each other on the
//! daemon and the firewall tables; tests that use neither run in parallel with them.
//! What the runtimes leave behind (the nft tables `ip nat`/`ip filter`, the bridges
//! `docker0` and `cni-podman0`, `net.ipv4.ip_forward`) is put back as it was before the
//! first runtime was started here.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// True when the test can run; otherwise a visible `SKIP` line, or under `CI=true` a
/// failure naming what is missing.
pub fn needs(test: &str, what: &str, ok: bool) -> bool {
    if !ok {
        crate::support::skip(test, &format!("needs {what}"));
    }
    ok
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// An executable by name in the usual system directories.
pub fn program(name: &str) -> Option<PathBuf> {
    [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ]
    .iter()
    .map(|d| Path::new(d).join(name))
    .find(|p| p.is_file())
}

/// Runs a command to its end; its stdout, or a panic naming it and its stderr.
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs a command, ignoring how it ends (cleanup).
fn quietly(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

static LOCK: Mutex<()> = Mutex::new(());

/// Held by a test for as long as it uses a container runtime.
pub struct Serial {
    _file: File,
    _guard: MutexGuard<'static, ()>,
}

fn serial() -> Serial {
    // A test that failed while holding the lock poisoned it; the next may still run.
    let guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let file = File::options()
        .create(true)
        .append(true)
        .open("/run/lock/whoport-container-tests.lock")
        .unwrap_or_else(|e| panic!("lock file: {e}"));
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .unwrap_or_else(|e| panic!("flock: {e}"));
    Serial {
        _file: file,
        _guard: guard,
    }
}

/// The host state a runtime changes and leaves behind.
struct HostState {
    tables: Vec<String>,
    links: Vec<String>,
    ip_forward: String,
    cgroups: Vec<PathBuf>,
}

/// The cgroup directories the runtimes make (cgroupfs driver) in every hierarchy.
fn runtime_cgroups() -> Vec<PathBuf> {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return Vec::new();
    };
    hierarchies
        .filter_map(|h| h.ok())
        .flat_map(|h| ["docker", "libpod_parent"].map(|d| h.path().join(d)))
        .filter(|d| d.is_dir())
        .collect()
}

/// Removes a cgroup directory and the (empty) ones below it, deepest first.
fn remove_cgroup(dir: &Path) {
    if let Ok(children) = std::fs::read_dir(dir) {
        for child in children.filter_map(|c| c.ok()) {
            if child.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup(&child.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

impl HostState {
    fn capture() -> HostState {
        HostState {
            tables: nft_tables(),
            links: links(),
            ip_forward: std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
                .unwrap_or_default()
                .trim()
                .to_string(),
            cgroups: runtime_cgroups(),
        }
    }

    /// Deletes the tables and bridges that appeared since `capture`, and sets
    /// `ip_forward` back.
    fn restore(&self) {
        for table in nft_tables() {
            if !self.tables.contains(&table) {
                let words: Vec<&str> = table.split(' ').collect();
                let mut args = vec!["delete", "table"];
                args.extend(words);
                quietly("nft", &args);
            }
        }
        for link in links() {
            if !self.links.contains(&link) && ["docker0", "cni-podman0"].contains(&link.as_str()) {
                quietly("ip", &["link", "del", &link]);
            }
        }
        if !self.ip_forward.is_empty() {
            let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", &self.ip_forward);
        }
        for dir in runtime_cgroups() {
            if !self.cgroups.contains(&dir) {
                remove_cgroup(&dir);
            }
        }
        // dockerd's mount of the host namespace, left behind on some versions.
        if mounted("/run/docker/netns/default") {
            quietly("umount", &["/run/docker/netns/default"]);
        }
    }
}

/// `nft list tables` as "family name" strings.
fn nft_tables() -> Vec<String> {
    Command::new("nft")
        .args(["list", "tables"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.strip_prefix("table "))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn links() -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn mounted(path: &str) -> bool {
    std::fs::read_to_string("/proc/self/mounts")
        .is_ok_and(|m| m.lines().any(|l| l.split(' ').nth(1) == Some(path)))
}

/// A root filesystem holding a static busybox and a page for `busybox httpd`, as a tar
/// stream on the given command's standard input (`docker import -`, `podman import -`).
fn import(cli: &str, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    std::fs::create_dir_all(dir.path().join("bin")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.path().join("www")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy("/bin/busybox", dir.path().join("bin/busybox"))
        .unwrap_or_else(|e| panic!("copying busybox: {e}"));
    std::fs::write(dir.path().join("www/index.html"), "whoport\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut tar = Command::new("tar")
        .args(["-C"])
        .arg(dir.path())
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("tar: {e}"));
    let Some(stream) = tar.stdout.take() else {
        panic!("tar gave no output")
    };
    let out = Command::new(cli)
        .args(args)
        .stdin(Stdio::from(stream))
        .output()
        .unwrap_or_else(|e| panic!("{cli} import: {e}"));
    let tarred = tar.wait();
    assert!(
        tarred.as_ref().is_ok_and(|s| s.success()),
        "tar: {tarred:?}"
    );
    assert!(
        out.status.success(),
        "{cli} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A static busybox: the image is built from it (no registry is reachable).
fn static_busybox() -> bool {
    // A static executable has no program interpreter: no "/lib" path in its first bytes.
    std::fs::read("/bin/busybox").is_ok_and(|b| {
        b.starts_with(b"\x7fELF")
            && !b[..b.len().min(4096)]
                .windows(7)
                .any(|w| w == b"/lib64/" || w == b"/lib/ld")
    })
}

pub const DOCKER_IMAGE: &str = "local/whoport-busybox";
pub const PODMAN_IMAGE: &str = "localhost/whoport-busybox";

/// The Docker daemon for one test: the one running, or one started here (stopped, and
/// what it left behind removed, on drop). Containers started through it are removed on
/// drop with `docker rm -f` (busybox as pid 1 ignores SIGTERM).
pub struct Docker {
    /// The network namespace the daemon was started in (the host's): what it leaves
    /// behind is cleaned up there, also after the test thread moved to its own.
    home: Option<std::os::fd::OwnedFd>,
    daemon: Option<Child>,
    log: Option<PathBuf>,
    host: Option<HostState>,
    containers: Vec<String>,
    imported: bool,
    _serial: Serial,
}

pub fn docker_up() -> bool {
    quietly("docker", &["version", "--format", "{{.Server.Version}}"])
}

impl Docker {
    /// The daemon, started with `args` when it is not running. A test that needs
    /// particular daemon options (`--userland-proxy=false`) cannot run when a daemon it
    /// did not start is running.
    pub fn start(test: &str, args: &[&str]) -> Option<Docker> {
        if !needs(test, "root", is_root())
            || !needs(
                test,
                "dockerd and docker (Debian docker.io)",
                program("dockerd").is_some() && program("docker").is_some(),
            )
            || !needs(
                test,
                "a static /bin/busybox (Debian busybox-static)",
                static_busybox(),
            )
            || !needs(test, "nft (Debian nftables)", program("nft").is_some())
        {
            return None;
        }
        let serial = serial();
        let mut docker = Docker {
            home: None,
            daemon: None,
            log: None,
            host: None,
            containers: Vec::new(),
            imported: false,
            _serial: serial,
        };
        if docker_up() {
            if !needs(
                test,
                &format!(
                    "a dockerd started with {args:?}; one not started by the tests is running"
                ),
                args.is_empty(),
            ) {
                return None;
            }
        } else {
            docker.home = File::open("/proc/thread-self/ns/net").ok().map(Into::into);
            docker.host = Some(HostState::capture());
            let log =
                std::env::temp_dir().join(format!("whoport-dockerd-{}.log", std::process::id()));
            let file = File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
            let err = file.try_clone().unwrap_or_else(|e| panic!("{e}"));
            let child = Command::new("dockerd")
                .args(args)
                .stdin(Stdio::null())
                .stdout(file)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("starting dockerd: {e}"));
            docker.daemon = Some(child);
            docker.log = Some(log);
            let started = Instant::now();
            while !docker_up() {
                let exited = docker
                    .daemon
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten());
                assert!(
                    exited.is_none() && started.elapsed() < Duration::from_secs(30),
                    "dockerd did not come up ({exited:?}): {}",
                    docker.log_text()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        if !quietly("docker", &["image", "inspect", DOCKER_IMAGE]) {
            import("docker", &["import", "-", DOCKER_IMAGE]);
            docker.imported = true;
        }
        Some(docker)
    }

    fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|l| std::fs::read_to_string(l).ok())
            .unwrap_or_default()
    }

    /// The pid of the daemon, when it was started here.
    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(Child::id)
    }

    /// `docker run -d --name NAME ARGS IMAGE busybox httpd -f -p PORT -h /www`: a web
    /// server listening on PORT inside the container. Gives the container's id.
    pub fn httpd(&mut self, name: &str, args: &[&str], port: u16) -> String {
        let port = port.to_string();
        let mut all = vec!["run", "-d", "--name", name];
        all.extend_from_slice(args);
        all.extend_from_slice(&[
            DOCKER_IMAGE,
            "/bin/busybox",
            "httpd",
            "-f",
            "-p",
            &port,
            "-h",
            "/www",
        ]);
        self.containers.push(name.to_string());
        let id = sh("docker", &all);
        wait_listening(&self.pid(name), &port);
        id
    }

    /// The pid of the container's first process.
    pub fn pid(&self, name: &str) -> String {
        sh("docker", &["inspect", "--format", "{{.State.Pid}}", name])
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        for name in &self.containers {
            quietly("docker", &["rm", "-f", name]);
        }
        if self.imported && self.daemon.is_some() {
            quietly("docker", &["rmi", "-f", DOCKER_IMAGE]);
        }
        if let Some(mut daemon) = self.daemon.take() {
            if let Ok(pid) = i32::try_from(daemon.id())
                && let Some(pid) = rustix::process::Pid::from_raw(pid)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            let started = Instant::now();
            while daemon.try_wait().ok().flatten().is_none() {
                if started.elapsed() > Duration::from_secs(20) {
                    let _ = daemon.kill();
                    let _ = daemon.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if let Some(host) = self.host.take() {
            match self.home.take() {
                Some(home) => {
                    let restored = std::thread::spawn(move || {
                        use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
                        use std::os::fd::AsFd;
                        if move_into_link_name_space(home.as_fd(), Some(LinkNameSpaceType::Network))
                            .is_ok()
                        {
                            host.restore();
                        }
                    })
                    .join();
                    if restored.is_err() {
                        eprintln!("restoring the host after dockerd failed");
                    }
                }
                None => host.restore(),
            }
        }
        if let Some(log) = &self.log {
            let _ = std::fs::remove_file(log);
        }
    }
}

/// Waits (up to 10 s) until the process `pid` (or a process in its network namespace)
/// listens on `port`, by reading `/proc/PID/net/tcp*`.
pub fn wait_listening(pid: &str, port: &str) {
    let Ok(port) = port.parse::<u16>() else {
        panic!("port {port}")
    };
    let hex = format!(":{port:04X} ");
    let started = Instant::now();
    loop {
        let listening = ["tcp", "tcp6"].iter().any(|t| {
            std::fs::read_to_string(format!("/proc/{pid}/net/{t}")).is_ok_and(|text| {
                text.lines().skip(1).any(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .is_some_and(|a| a.ends_with(hex.trim_end()))
                        && l.split_whitespace().nth(3) == Some("0A")
                })
            })
        });
        if listening {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "pid {pid} does not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Rootful Podman for one test; containers removed with `podman rm -f` on drop, and what
/// its network plugins leave behind removed.
pub struct Podman {
    host: HostState,
    containers: Vec<String>,
    imported: bool,
    _serial: Serial,
}

impl Podman {
    pub fn start(test: &str) -> Option<Podman> {
        if !needs(test, "root", is_root())
            || !needs(test, "podman", program("podman").is_some())
            || !needs(
                test,
                "a static /bin/busybox (Debian busybox-static)",
                static_busybox(),
            )
            || !needs(test, "nft (Debian nftables)", program("nft").is_some())
        {
            return None;
        }
        let serial = serial();
        let mut podman = Podman {
            host: HostState::capture(),
            containers: Vec::new(),
            imported: false,
            _serial: serial,
        };
        if !quietly("podman", &["image", "exists", PODMAN_IMAGE]) {
            import("podman", &["import", "-q", "-", PODMAN_IMAGE]);
            podman.imported = true;
        }
        Some(podman)
    }

    /// `podman run -d` of `busybox httpd` on PORT, with the rlimits this machine needs.
    pub fn httpd(&mut self, name: &str, args: &[&str], port: u16) -> String {
        let port = port.to_string();
        let mut all = vec![
            "run",
            "-d",
            "--name",
            name,
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ];
        all.extend_from_slice(args);
        all.extend_from_slice(&[
            PODMAN_IMAGE,
            "/bin/busybox",
            "httpd",
            "-f",
            "-p",
            &port,
            "-h",
            "/www",
        ]);
        self.containers.push(name.to_string());
        let id = sh("podman", &all);
        wait_listening(&self.pid(name), &port);
        id
    }

    pub fn pid(&self, name: &str) -> String {
        sh("podman", &["inspect", "--format", "{{.State.Pid}}", name])
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for name in &self.containers {
            quietly("podman", &["rm", "-f", "-t", "0", name]);
        }
        if self.imported {
            quietly("podman", &["rmi", "-f", PODMAN_IMAGE]);
        }
        self.host.restore();
    }
}

/// An `ip netns add`ed namespace, deleted on drop.
pub struct NamedNetns {
    pub name: String,
}

impl NamedNetns {
    pub fn add(name: &str) -> NamedNetns {
        sh("ip", &["netns", "add", name]);
        NamedNetns {
            name: name.to_string(),
        }
    }

    /// `busybox httpd` on 0.0.0.0:PORT inside the namespace (loopback stays down: nothing
    /// outside can reach it), killed on drop.
    pub fn httpd(&self, port: u16) -> Server {
        Server::start(&["ip", "netns", "exec", &self.name], port)
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        quietly("ip", &["netns", "del", &self.name]);
    }
}

/// A `busybox httpd` this test started (directly or through a wrapper that execs it),
/// killed on drop.
pub struct Server {
    pub child: Child,
}

impl Server {
    /// Runs `WRAPPER… /bin/busybox httpd -f -p 0.0.0.0:PORT -h /` and waits until it listens.
    pub fn start(wrapper: &[&str], port: u16) -> Server {
        let (first, rest) = wrapper.split_first().unwrap_or((&"env", &[]));
        let child = Command::new(first)
            .args(rest)
            .args([
                "/bin/busybox",
                "httpd",
                "-f",
                "-p",
                &format!("0.0.0.0:{port}"),
                "-h",
                "/",
            ])
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{wrapper:?} busybox httpd: {e}"));
        let server = Server { child };
        wait_listening(&server.pid().to_string(), &port.to_string());
        server
    }

    /// The pid of the server (the wrappers used here exec it: `unshare`, `ip netns exec`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process of this test moved into a cgroup named like a systemd unit
/// (`system.slice/NAME`), as systemd would place a service's process; systemd cannot run
/// on this machine. On drop the process goes back to the root cgroup and the directories
/// made here are removed.
pub struct UnitCgroup {
    dirs: Vec<PathBuf>,
    root: PathBuf,
    pid: u32,
}

/// The cgroup v2 hierarchy: `/sys/fs/cgroup/unified` on a hybrid host, `/sys/fs/cgroup`
/// on a unified one.
pub fn cgroup2_root() -> Option<PathBuf> {
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.procs").is_file() && p.join("cgroup.controllers").exists())
}

impl UnitCgroup {
    pub fn enter(unit: &str, pid: u32) -> UnitCgroup {
        let Some(root) = cgroup2_root() else {
            panic!("no cgroup v2 hierarchy")
        };
        let mut dirs = Vec::new();
        let mut dir = root.clone();
        for part in ["system.slice", unit] {
            dir = dir.join(part);
            if !dir.exists() {
                std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
                dirs.push(dir.clone());
            }
        }
        let mut procs = File::options()
            .append(true)
            .open(dir.join("cgroup.procs"))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        procs
            .write_all(pid.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("moving {pid} into {}: {e}", dir.display()));
        UnitCgroup { dirs, root, pid }
    }
}

impl Drop for UnitCgroup {
    fn drop(&mut self) {
        let _ = std::fs::write(self.root.join("cgroup.procs"), self.pid.to_string());
        for dir in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The pid of the docker-proxy forwarding host port `port`, found by its command line.
pub fn docker_proxy_pid(port: u16) -> Option<u32> {
    let want = format!("-host-port\0{port}\0");
    std::fs::read_dir("/proc").ok()?.find_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let text = String::from_utf8_lossy(&cmdline);
        (text.contains("docker-proxy") && text.contains(&want)).then_some(pid)
    })
}
