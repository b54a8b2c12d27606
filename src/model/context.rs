//! Where a socket and its holders live: network namespaces, containers, systemd units and
//! parent chains.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Serialize;

/// Which network namespaces to look in (`-N/--netns`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum NetnsScope {
    /// whoport's own (the default).
    #[default]
    Current,
    /// Every namespace that has a process or a bind mount in `/run/netns` or Docker's.
    All,
    /// Every one but whoport's own (the free-port hint).
    Others,
    /// An `ip netns` name, or a Docker or Podman container's name or id.
    Named(String),
    /// The namespace of a process.
    Pid(u32),
    /// A namespace file (`/run/netns/NAME`, `/proc/PID/ns/net`).
    Path(PathBuf),
}

/// A container runtime. `Cri` is a Kubernetes container whose cgroup does not say which
/// CRI runtime runs it; `Unknown` a container id whose runtime no file confirms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Runtime {
    Docker,
    Podman,
    Containerd,
    #[serde(rename = "cri-o")]
    Crio,
    Cri,
    Unknown,
}

impl Runtime {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
            Runtime::Containerd => "containerd",
            Runtime::Crio => "cri-o",
            Runtime::Cri => "cri",
            Runtime::Unknown => "unknown",
        }
    }
}

/// A container, with what the runtime's files say about it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub(crate) struct Container {
    pub(crate) runtime: Runtime,
    /// 64 hexadecimal characters.
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) pod: Option<Pod>,
}

impl Container {
    /// The first 12 characters of the id, as `docker ps` shows it.
    pub(crate) fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }

    /// The name, or the short id.
    pub(crate) fn label(&self) -> &str {
        self.name.as_deref().unwrap_or_else(|| self.short_id())
    }
}

/// A Kubernetes pod: its UID from the cgroup, namespace and name from kubelet's log
/// directory where there is one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub(crate) struct Pod {
    pub(crate) uid: String,
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
}

/// A systemd unit, from the cgroup path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub(crate) struct Unit {
    /// `nginx.service`, `session-3.scope`.
    pub(crate) name: String,
    /// The uid whose user manager (`user@UID.service`) runs it; `None` for the system's.
    pub(crate) user: Option<u32>,
}

/// One process in a parent chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Ancestor {
    pub(crate) pid: u32,
    pub(crate) name: String,
}

/// Where a process runs: its container and unit (from its cgroup) and, for the holders of
/// ports asked about, its parent chain up to the service manager or container runtime.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct ProcessContext {
    /// Out of line: most processes are in none, and a process is kept for every holder.
    pub(crate) container: Option<Box<Container>>,
    pub(crate) unit: Option<Unit>,
    /// Nearest first; empty when not looked up.
    pub(crate) ancestors: Vec<Ancestor>,
    /// argv\[0\] is an absolute path that leads, through symbolic links, to the very
    /// executable the process runs (`/sbin/init` for `/usr/lib/systemd/systemd`): its name
    /// is then the program's own (set by `resolve`, through the host).
    #[serde(skip)]
    pub(crate) argv0_is_exe: bool,
}

/// A network namespace, for one run (its inode number is reused after it is gone).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct NetnsInfo {
    pub(crate) inode: u64,
    /// Its `ip netns` name, when it has one.
    pub(crate) name: Option<String>,
    /// whoport's own.
    pub(crate) current: bool,
}

/// How a host port reaches a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    /// Docker's userland proxy, one process per binding.
    DockerProxy,
    /// dockerd itself (`--userland-proxy=false`): a reservation socket; traffic goes
    /// through DNAT.
    Dockerd,
    /// Podman's conmon (rootful).
    Conmon,
    /// Podman's rootlessport (rootless).
    Rootlessport,
}

impl Via {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Via::DockerProxy => "docker-proxy",
            Via::Dockerd => "dockerd",
            Via::Conmon => "conmon",
            Via::Rootlessport => "rootlessport",
        }
    }
}

/// A host socket held for a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Published {
    /// `None` when the holder is a forwarder but the runtime's files do not say (or may
    /// not be read) which container it serves.
    pub(crate) container: Option<Container>,
    pub(crate) via: Via,
    /// The holder that forwards it.
    pub(crate) pid: u32,
    /// Where inside the container the traffic goes: address (where known) and port.
    pub(crate) target: Option<(Option<IpAddr>, u16)>,
}

/// Where a socket lives, beyond its addresses.
///
/// Nearly always empty, and kept out of line: a socket (tens of thousands on a busy host)
/// holds one only when it has some of it (`Socket::context`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SocketContext {
    /// The network namespace it was found in, when whoport looked beyond its own.
    pub(crate) netns: Option<Box<NetnsInfo>>,
    /// The container it lives in (its holders' container) or is published to.
    pub(crate) container: Option<Box<Container>>,
    /// The container port it publishes, when a runtime's forwarder holds it.
    pub(crate) published: Option<Box<Published>>,
    /// The `.socket` unit it belongs to, when the service manager holds it (socket
    /// activation) and the unit files on disk single one out.
    pub(crate) socket_unit: Option<String>,
}

/// A container named by a cgroup path, before its name is looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ContainerRef {
    /// `Unknown` for a bare id under a parent no runtime is known to use (Docker's
    /// `--cgroup-parent`, for one); the runtimes' files decide then.
    pub(crate) runtime: Runtime,
    /// 64 lowercase hexadecimal characters.
    pub(crate) id: String,
    /// The Kubernetes pod UID, for a container kubelet placed.
    pub(crate) pod_uid: Option<String>,
}

/// What a process's cgroup file says about it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CgroupFacts {
    pub(crate) container: Option<ContainerRef>,
    pub(crate) unit: Option<Unit>,
}

/// What a cgroup file that could be read says: boxed when it says anything (on a host
/// without containers or service units, nearly never), so that keeping it per process
/// costs a pointer.
pub(crate) type ReadCgroup = Option<Box<CgroupFacts>>;
