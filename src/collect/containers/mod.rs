//! Which container a process runs in, which systemd unit it belongs to, why it runs (its
//! parent chain), and which container a published port belongs to: from `/proc` and the
//! container runtimes' files on disk, never from a daemon.
//!
//! Only the holders found are looked at, and each runtime file is read at most once per
//! run ([`Attributor`] caches them). The runtimes' files are root-only: one that cannot
//! be read gives no attribution and a note ([`Attributor::notes`]), never an error.
//!
//! Paths are taken relative to a root (`/` in use) so that the tests can lay out
//! recorded files.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::model::{Ancestor, Container, Pod, Protocol, Published, ReadCgroup, Runtime, Unit, Via};

pub(crate) mod cgroup;
pub(crate) mod cmdline;
pub(crate) mod state;
pub(crate) mod systemd;

use state::{DockerContainer, PodDir};

/// What a process's cgroup says, with the container's name looked up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProcessFacts {
    /// Out of line, as in `ProcessContext` (most processes are in none).
    pub(crate) container: Option<Box<Container>>,
    pub(crate) unit: Option<Unit>,
}

/// The runtime state files are small; these bounds keep a damaged one from costing much.
const MAX_CONFIG: u64 = 4 << 20;
const MAX_LIST: u64 = 64 << 20;
/// A unit file or drop-in.
const MAX_UNIT: u64 = 1 << 20;
/// From this many processes on, their cgroup files are read on two threads.
const PARALLEL_FROM: usize = 64;
/// The longest parent chain followed.
const MAX_ANCESTORS: usize = 32;

/// Process names that end a parent chain: service managers and container runtimes.
const CHAIN_ENDS: [&str; 12] = [
    "systemd",
    "init",
    "dockerd",
    "containerd",
    "containerd-shim",
    "conmon",
    "crio",
    "podman",
    "kubelet",
    "runsvdir",
    "s6-svscan",
    "launchd",
];

/// Looks up containers, units and parents for the holders of a run, reading each runtime
/// file at most once.
pub(crate) struct Attributor {
    root: PathBuf,
    /// A user's home directory (for rootless Podman's storage).
    home_of: fn(u32) -> Option<PathBuf>,
    docker_one: HashMap<String, Option<DockerContainer>>,
    docker_all: Option<Vec<DockerContainer>>,
    /// Per storage root: id → name.
    podman: HashMap<PathBuf, Option<HashMap<String, Option<String>>>>,
    pods: Option<HashMap<String, PodDir>>,
    kube_names: Option<HashMap<String, String>>,
    /// systemd's socket units on disk: (name, its IP listens).
    socket_units: Option<Vec<(String, Vec<systemd::Listen>)>>,
    notes: BTreeSet<String>,
    /// Cgroup files the collector read already, by pid (taken as they are used).
    adopted: HashMap<u32, ReadCgroup>,
}

impl Default for Attributor {
    fn default() -> Self {
        Attributor::with_root(Path::new("/"))
    }
}

fn home_dir(uid: u32) -> Option<PathBuf> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.dir)
}

impl Attributor {
    pub(crate) fn with_root(root: &Path) -> Attributor {
        Attributor {
            root: root.to_path_buf(),
            home_of: home_dir,
            docker_one: HashMap::new(),
            docker_all: None,
            podman: HashMap::new(),
            pods: None,
            kube_names: None,
            socket_units: None,
            notes: BTreeSet::new(),
            adopted: HashMap::new(),
        }
    }

    #[cfg(test)]
    fn with_homes(mut self, home_of: fn(u32) -> Option<PathBuf>) -> Attributor {
        self.home_of = home_of;
        self
    }

    /// Why some attribution could not be made (a runtime file that could not be read).
    pub(crate) fn notes(&self) -> Vec<String> {
        self.notes.iter().cloned().collect()
    }

    fn path(&self, absolute: &str) -> PathBuf {
        self.root.join(absolute.trim_start_matches('/'))
    }

    fn proc_file(&self, pid: u32, name: &str) -> PathBuf {
        self.root.join("proc").join(pid.to_string()).join(name)
    }

    /// The container a process runs in and its unit; empty when its cgroup cannot be
    /// read (it exited).
    #[cfg(test)]
    pub(crate) fn process(&mut self, pid: u32) -> ProcessFacts {
        self.processes(&[pid]).remove(&pid).unwrap_or_default()
    }

    /// What the collector read of these processes' cgroup files already.
    pub(crate) fn adopt(&mut self, cgroups: Vec<(u32, ReadCgroup)>) {
        self.adopted.extend(cgroups);
    }

    /// The same for many processes: their cgroup files read and parsed on two threads
    /// (a full listing has a holder per listening process), the containers then named.
    /// Files the collector read already (`adopt`) are not read again.
    pub(crate) fn processes(&mut self, pids: &[u32]) -> HashMap<u32, ProcessFacts> {
        let mut parsed = Vec::with_capacity(pids.len());
        let mut unread = Vec::new();
        for &pid in pids {
            match self.adopted.remove(&pid) {
                Some(facts) => parsed.push((pid, facts.map(|f| *f).unwrap_or_default())),
                None => unread.push(pid),
            }
        }
        let pids = &unread[..];
        let read = |pids: &[u32]| -> Vec<(u32, cgroup::CgroupFacts)> {
            pids.iter()
                .filter_map(|&pid| {
                    let text = read_proc_file(&self.proc_file(pid, "cgroup")).ok()?;
                    Some((pid, cgroup::parse(&text)))
                })
                .collect()
        };
        parsed.extend(if pids.len() < PARALLEL_FROM {
            read(pids)
        } else {
            let (first, second) = pids.split_at(pids.len() / 2);
            std::thread::scope(|scope| {
                let helper = scope.spawn(|| read(second));
                let mut all = read(first);
                match helper.join() {
                    Ok(more) => all.extend(more),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
                all
            })
        });
        parsed
            .into_iter()
            .map(|(pid, facts)| {
                let container = facts
                    .container
                    .map(|c| Box::new(self.name(c.runtime, &c.id, c.pod_uid)));
                let unit = facts.unit;
                (pid, ProcessFacts { container, unit })
            })
            .collect()
    }

    /// A container by runtime and id, named from the runtime's files.
    fn name(&mut self, runtime: Runtime, id: &str, pod_uid: Option<String>) -> Container {
        let mut runtime = runtime;
        let name = match runtime {
            Runtime::Docker => self.docker(id).and_then(|c| c.name),
            Runtime::Podman => self.podman_name(id),
            Runtime::Containerd | Runtime::Crio | Runtime::Cri => self.kube_name(id),
            Runtime::Unknown => {
                if let Some(c) = self.docker(id) {
                    runtime = Runtime::Docker;
                    c.name
                } else if let Some(name) = self.podman_lookup(id) {
                    runtime = Runtime::Podman;
                    name
                } else {
                    None
                }
            }
        };
        let pod = pod_uid.map(|uid| {
            let dir = self.pods().get(&uid).cloned();
            Pod {
                uid,
                namespace: dir.as_ref().map(|d| d.namespace.clone()),
                name: dir.map(|d| d.name),
            }
        });
        Container {
            runtime,
            id: id.to_string(),
            name,
            pod,
        }
    }

    fn docker_root(&self) -> PathBuf {
        self.path("/var/lib/docker/containers")
    }

    /// One Docker container's config, read once.
    fn docker(&mut self, id: &str) -> Option<DockerContainer> {
        if let Some(all) = &self.docker_all {
            return all.iter().find(|c| c.id == id).cloned();
        }
        if let Some(found) = self.docker_one.get(id) {
            return found.clone();
        }
        let path = self.docker_root().join(id).join("config.v2.json");
        let found = self.read_config(&path);
        self.docker_one.insert(id.to_string(), found.clone());
        found
    }

    fn read_config(&mut self, path: &Path) -> Option<DockerContainer> {
        match read_bounded(path, MAX_CONFIG) {
            Ok(text) => {
                let parsed = state::docker_config(&text);
                if parsed.is_none() {
                    self.note(path, "not a container configuration");
                }
                parsed
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                self.note(path, &e.to_string());
                None
            }
        }
    }

    fn note(&mut self, path: &Path, why: &str) {
        self.notes.insert(format!(
            "cannot read {} ({why}): some containers are not named",
            path.display()
        ));
    }

    /// Every Docker container's config, read once (for the forwarders, which name a
    /// container by address or port only).
    fn docker_all(&mut self) -> &[DockerContainer] {
        if self.docker_all.is_none() {
            let dir = self.docker_root();
            let mut all = Vec::new();
            match std::fs::read_dir(&dir) {
                Ok(entries) => {
                    let mut ids: Vec<String> = entries
                        .filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .filter(|n| cgroup::is_container_id(n))
                        .collect();
                    ids.sort_unstable();
                    for id in ids {
                        let known = self.docker_one.get(&id).cloned();
                        let found = match known {
                            Some(found) => found,
                            None => self.read_config(&dir.join(&id).join("config.v2.json")),
                        };
                        all.extend(found);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => self.note(&dir, &e.to_string()),
            }
            self.docker_all = Some(all);
        }
        self.docker_all.as_deref().unwrap_or_default()
    }

    /// Podman's containers of one storage root (`…/storage`), read once: id → name.
    fn podman_store(&mut self, storage: &Path) -> Option<&HashMap<String, Option<String>>> {
        if !self.podman.contains_key(storage) {
            let path = storage.join("overlay-containers").join("containers.json");
            let found = match read_bounded(&path, MAX_LIST) {
                Ok(text) => {
                    let parsed = state::podman_containers(&text);
                    if parsed.is_none() {
                        self.note(&path, "not a container list");
                    }
                    parsed
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => {
                    self.note(&path, &e.to_string());
                    None
                }
            };
            self.podman.insert(storage.to_path_buf(), found);
        }
        self.podman.get(storage).and_then(Option::as_ref)
    }

    fn rootful_storage(&self) -> PathBuf {
        self.path("/var/lib/containers/storage")
    }

    /// `Some(name)` when rootful Podman knows the id.
    fn podman_lookup(&mut self, id: &str) -> Option<Option<String>> {
        let storage = self.rootful_storage();
        self.podman_store(&storage)?.get(id).cloned()
    }

    fn podman_name(&mut self, id: &str) -> Option<String> {
        self.podman_lookup(id).flatten()
    }

    /// kubelet's pods by UID, from `/var/log/pods`, read once.
    fn pods(&mut self) -> &HashMap<String, PodDir> {
        if self.pods.is_none() {
            let dir = self.path("/var/log/pods");
            let pods = self
                .list(&dir)
                .iter()
                .filter_map(|n| state::pod_dir(n))
                .map(|p| (p.uid.clone(), p))
                .collect();
            self.pods = Some(pods);
        }
        self.pods.get_or_insert_with(HashMap::new)
    }

    /// A Kubernetes container's name, from kubelet's `/var/log/containers` links.
    fn kube_name(&mut self, id: &str) -> Option<String> {
        if self.kube_names.is_none() {
            let dir = self.path("/var/log/containers");
            let names = self
                .list(&dir)
                .iter()
                .filter_map(|n| state::container_log(n))
                .collect();
            self.kube_names = Some(names);
        }
        self.kube_names.as_ref()?.get(id).cloned()
    }

    /// The entry names of a directory; none (and a note unless it does not exist) when
    /// it cannot be read.
    fn list(&mut self, dir: &Path) -> Vec<String> {
        match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                self.note(dir, &e.to_string());
                Vec::new()
            }
        }
    }

    /// The `.socket` unit a socket held by the service manager (socket activation)
    /// belongs to: the one unit on disk that listens there, or, when several do, the one
    /// of them that was started (`/run/systemd/units/invocation:NAME`). `None` when that
    /// does not single one out.
    pub(crate) fn socket_unit(
        &mut self,
        protocol: Protocol,
        address: IpAddr,
        port: u16,
    ) -> Option<String> {
        if self.socket_units.is_none() {
            self.socket_units = Some(self.read_socket_units());
        }
        let matching: Vec<&String> = self
            .socket_units
            .as_ref()?
            .iter()
            .filter(|(_, listens)| listens.iter().any(|l| l.matches(protocol, address, port)))
            .map(|(name, _)| name)
            .collect();
        match matching.as_slice() {
            [one] => Some((*one).clone()),
            [] => None,
            several => {
                let started: Vec<&&String> = several
                    .iter()
                    .filter(|name| {
                        self.path(&format!("/run/systemd/units/invocation:{name}"))
                            .symlink_metadata()
                            .is_ok()
                    })
                    .collect();
                match started.as_slice() {
                    [one] => Some((**one).clone()),
                    _ => None,
                }
            }
        }
    }

    /// Every `.socket` unit in the unit directories (the first of a name, by priority),
    /// with its drop-ins (`NAME.d/*.conf`, by file name; the first of a file name).
    fn read_socket_units(&mut self) -> Vec<(String, Vec<systemd::Listen>)> {
        let dirs: Vec<PathBuf> = systemd::UNIT_DIRS.iter().map(|d| self.path(d)).collect();
        let mut units: Vec<(String, PathBuf)> = Vec::new();
        for dir in &dirs {
            for name in self.list(dir) {
                if name.ends_with(".socket") && !units.iter().any(|(n, _)| *n == name) {
                    units.push((name.clone(), dir.join(&name)));
                }
            }
        }
        units.sort();
        units
            .into_iter()
            .map(|(name, path)| {
                let mut drop_ins: Vec<(String, PathBuf)> = Vec::new();
                for dir in &dirs {
                    let d = dir.join(format!("{name}.d"));
                    for file in self.list(&d) {
                        if file.ends_with(".conf") && !drop_ins.iter().any(|(f, _)| *f == file) {
                            drop_ins.push((file.clone(), d.join(&file)));
                        }
                    }
                }
                drop_ins.sort();
                let texts: Vec<String> = std::iter::once(path)
                    .chain(drop_ins.into_iter().map(|(_, p)| p))
                    .filter_map(|p| read_bounded(&p, MAX_UNIT).ok())
                    .collect();
                let listens = systemd::listens(texts.iter().map(String::as_str));
                (name, listens)
            })
            .collect()
    }

    fn cmdline(&self, pid: u32) -> Vec<String> {
        std::fs::read(self.proc_file(pid, "cmdline"))
            .map(|data| {
                data.split(|&b| b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The container whose published port a host socket is, when its holder is one of
    /// the runtimes' forwarders (by process name: `docker-proxy`, `dockerd`, `conmon`,
    /// `rootlessport`). `None` for any other holder, and for a dockerd socket that no
    /// container publishes (its API port, say).
    pub(crate) fn published(
        &mut self,
        pid: u32,
        name: &str,
        protocol: Protocol,
        address: IpAddr,
        port: u16,
    ) -> Option<Published> {
        match name {
            "docker-proxy" => {
                let proxy = cmdline::docker_proxy(&self.cmdline(pid))?;
                // Its container has that address and publishes that host port (two
                // networks, or another daemon's, may reuse an address).
                let container = self
                    .docker_all()
                    .iter()
                    .filter(|c| c.addresses.contains(&proxy.container_ip))
                    .filter(|c| {
                        proxy
                            .host_port
                            .is_none_or(|hp| c.ports.iter().any(|p| p.host_port == hp))
                    })
                    // A stopped container may still list its old address.
                    .max_by_key(|c| c.running)
                    .cloned();
                Some(Published {
                    container: container.map(|c| self.name(Runtime::Docker, &c.id, None)),
                    via: Via::DockerProxy,
                    pid,
                    target: Some((Some(proxy.container_ip), proxy.container_port)),
                })
            }
            "dockerd" => {
                let (container, target) = self.docker_all().iter().find_map(|c| {
                    let p = c.ports.iter().find(|p| {
                        c.running
                            && p.host_port == port
                            && p.protocol == protocol
                            && p.host_ip.is_none_or(|ip| ip == address)
                    })?;
                    Some((c.id.clone(), p.container_port))
                })?;
                Some(Published {
                    container: Some(self.name(Runtime::Docker, &container, None)),
                    via: Via::Dockerd,
                    pid,
                    target: Some((None, target)),
                })
            }
            "conmon" => {
                let conmon = cmdline::conmon(&self.cmdline(pid))?;
                let known = self.podman_lookup(&conmon.id);
                let runtime = if conmon.podman || known.is_some() {
                    Runtime::Podman
                } else {
                    Runtime::Unknown
                };
                let mut container = self.name(runtime, &conmon.id, None);
                if container.name.is_none() {
                    container.name = conmon.name;
                }
                Some(Published {
                    container: Some(container),
                    via: Via::Conmon,
                    pid,
                    target: None,
                })
            }
            "rootlessport" => Some(Published {
                container: self.rootless(pid),
                via: Via::Rootlessport,
                pid,
                target: None,
            }),
            _ => None,
        }
    }

    /// The rootless Podman container a `rootlessport` process serves: its descriptor on
    /// the container's network namespace file (`$XDG_RUNTIME_DIR/netns/netns-<uuid>`), or
    /// its own network namespace (the container's), matched against
    /// `linux.namespaces[network].path` in each of its user's containers' OCI config.
    fn rootless(&mut self, pid: u32) -> Option<Container> {
        let uid = self.owner(pid)?;
        let home = (self.home_of)(uid)?;
        let storage = self.path(
            &home
                .join(".local/share/containers/storage")
                .to_string_lossy(),
        );
        let links = self.netns_links(pid);
        let own_ns = std::fs::metadata(self.proc_file(pid, "ns/net"))
            .ok()
            .map(|m| {
                (
                    std::os::unix::fs::MetadataExt::dev(&m),
                    std::os::unix::fs::MetadataExt::ino(&m),
                )
            });
        let mut ids: Vec<String> = self.podman_store(&storage)?.keys().cloned().collect();
        ids.sort_unstable();
        for id in ids {
            let config = storage
                .join("overlay-containers")
                .join(&id)
                .join("userdata/config.json");
            let Ok(text) = read_bounded(&config, MAX_CONFIG) else {
                continue;
            };
            let Some(netns) = oci_netns_path(&text) else {
                continue;
            };
            let same_ns = own_ns.is_some_and(|ns| {
                std::fs::metadata(self.path(&netns)).is_ok_and(|m| {
                    (
                        std::os::unix::fs::MetadataExt::dev(&m),
                        std::os::unix::fs::MetadataExt::ino(&m),
                    ) == ns
                })
            });
            if links.contains(&netns) || same_ns {
                let name = self.podman_store(&storage)?.get(&id).cloned().flatten();
                return Some(Container {
                    runtime: Runtime::Podman,
                    id,
                    name,
                    pod: None,
                });
            }
        }
        None
    }

    /// The real uid of a process, from `status`.
    fn owner(&self, pid: u32) -> Option<u32> {
        let status = std::fs::read_to_string(self.proc_file(pid, "status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// The targets of a process's descriptors that are network namespace files.
    fn netns_links(&self, pid: u32) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.proc_file(pid, "fd")) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .map(|t| t.to_string_lossy().into_owned())
            .filter(|t| t.contains("/netns/"))
            .collect()
    }

    /// The parent chain of a process, nearest first, up to and including the first
    /// service manager or container runtime (or pid 1). Empty when it cannot be read.
    pub(crate) fn ancestors(&self, pid: u32) -> Vec<Ancestor> {
        let mut chain = Vec::new();
        let mut at = pid;
        while chain.len() < MAX_ANCESTORS {
            let Some((_, parent)) = self.stat(at) else {
                break;
            };
            if parent == 0 || chain.iter().any(|a: &Ancestor| a.pid == parent) {
                break;
            }
            let Some((name, _)) = self.stat(parent) else {
                break;
            };
            let end = parent == 1 || is_chain_end(&name);
            chain.push(Ancestor { pid: parent, name });
            if end {
                break;
            }
            at = parent;
        }
        chain
    }

    fn stat(&self, pid: u32) -> Option<(String, u32)> {
        parse_stat(&std::fs::read_to_string(self.proc_file(pid, "stat")).ok()?)
    }

    /// A running Docker or Podman container by name or id (or id prefix of at least 12),
    /// with a pid inside it where the files tell one, for `--netns NAME`.
    pub(crate) fn find(&mut self, wanted: &str) -> Option<(Container, Option<u32>)> {
        let matches = |id: &str, name: Option<&str>| {
            name == Some(wanted) || (wanted.len() >= 12 && id.starts_with(wanted))
        };
        let docker = self
            .docker_all()
            .iter()
            .find(|c| c.running && matches(&c.id, c.name.as_deref()))
            .cloned();
        if let Some(c) = docker {
            let container = self.name(Runtime::Docker, &c.id, None);
            return Some((container, c.pid));
        }
        let storage = self.rootful_storage();
        let mut podman: Vec<(String, Option<String>)> = self
            .podman_store(&storage)?
            .iter()
            .map(|(id, name)| (id.clone(), name.clone()))
            .collect();
        podman.sort_unstable();
        let (id, name) = podman
            .into_iter()
            .find(|(id, name)| matches(id, name.as_deref()))?;
        // conmon's pidfile: the container's first process.
        let pidfile = self.path(&format!(
            "/run/containers/storage/overlay-containers/{id}/userdata/pidfile"
        ));
        let pid = std::fs::read_to_string(pidfile)
            .ok()
            .and_then(|t| t.trim().parse().ok());
        Some((
            Container {
                runtime: Runtime::Podman,
                id,
                name,
                pod: None,
            },
            pid,
        ))
    }
}

fn is_chain_end(name: &str) -> bool {
    CHAIN_ENDS.contains(&name) || name.starts_with("containerd-shim")
}

/// `/proc/PID/stat` → (name, parent pid). The name is between the first `(` and the last
/// `)` (it may hold both).
pub(crate) fn parse_stat(text: &str) -> Option<(String, u32)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_string();
    let mut rest = text.get(close + 1..)?.split_whitespace();
    let _state = rest.next()?;
    let parent = rest.next()?.parse().ok()?;
    Some((name, parent))
}

/// `linux.namespaces[type=network].path` of an OCI runtime config.
fn oci_netns_path(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value
        .get("linux")?
        .get("namespaces")?
        .as_array()?
        .iter()
        .find(|ns| ns.get("type").and_then(|t| t.as_str()) == Some("network"))?
        .get("path")?
        .as_str()
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

/// A whole /proc file, read as it comes: `read_to_string` would first stat it and seek
/// (a /proc file has no size to ask), two calls more for each of a thousand processes.
fn read_proc_file(path: &Path) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1024];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// A whole file, refused (`InvalidData`) when it is larger than `limit`.
fn read_bounded(path: &Path, limit: u64) -> io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    file.take(limit + 1).read_to_string(&mut text)?;
    if text.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {limit} bytes"),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests;
