//! Network namespaces: which there are, and the sockets of each.
//!
//! - **Which:** every process's `/proc/PID/ns/net`, deduplicated by (device, inode), plus
//!   the bind mounts that keep a namespace alive without a process: `ip netns`'s
//!   `/run/netns/NAME` and Docker's `/var/run/docker/netns/<12hex>`. A namespace that has
//!   neither (held only by an open descriptor) cannot be found from outside.
//! - **Its sockets:** a thread of its own enters the namespace (`setns`, which needs
//!   CAP_SYS_ADMIN) and asks sock_diag there; the thread then ends, so the caller's
//!   namespace never changes. Where `setns` is refused, `/proc/PID/net/*` of a process in
//!   the namespace is read instead (slower: the kernel walks its global tables).
//!
//! Namespace inode numbers are reused once a namespace is gone, so an id here is good for
//! one run only, and every descriptor opened to enter a namespace is checked to still be
//! the one enumerated (a pid may have been reused meanwhile).

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rustix::fs::{AtFlags, CWD, Mode, OFlags, fstat, openat, statat};
use rustix::io::Errno;
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use super::fdscan::{list_pids, pid_path};
use super::{netlink, parallel, procnet};
use anyhow::{Context, Result, bail};

use crate::collect::containers::Attributor;
use crate::model::{NetnsScope, RawSocket, SocketQuery};

/// One network namespace, for one run: the device and inode of its nsfs file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct NetnsId {
    pub(crate) dev: u64,
    pub(crate) inode: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Netns {
    pub(crate) id: NetnsId,
    /// Its `ip netns` names (`/run/netns/NAME`), sorted.
    pub(crate) names: Vec<String>,
    /// Every bind mount of it found (`/run/netns/NAME`, `/var/run/docker/netns/…`).
    pub(crate) mounts: Vec<PathBuf>,
    /// Processes in it, lowest first.
    pub(crate) pids: Vec<u32>,
    /// The namespace whoport runs in.
    pub(crate) current: bool,
}

impl Netns {
    /// Its `ip netns` name, or `net:[inode]`.
    pub(crate) fn label(&self) -> String {
        match self.names.first() {
            Some(name) => name.clone(),
            None => format!("net:[{}]", self.id.inode),
        }
    }
}

/// What enumeration found.
#[derive(Debug, Default)]
pub(crate) struct Enumeration {
    /// The current namespace first, then by inode.
    pub(crate) namespaces: Vec<Netns>,
    /// Processes whose namespace could not be looked at (`/proc/1/ns/net` is EACCES even
    /// to root on some machines).
    pub(crate) unreadable: usize,
}

/// The directories whose entries are namespace bind mounts: `ip netns`'s (named) and
/// Docker's.
const NAMED: &str = "/run/netns";
const DOCKER: &str = "/var/run/docker/netns";

fn id_of(st: &rustix::fs::Stat) -> NetnsId {
    NetnsId {
        dev: st.st_dev,
        inode: st.st_ino,
    }
}

/// The inode in a namespace link's text, `net:[INODE]`.
fn link_inode(target: &[u8]) -> Option<u64> {
    let digits = target.strip_prefix(b"net:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The namespace this thread is in.
pub(crate) fn current() -> rustix::io::Result<NetnsId> {
    statat(CWD, c"/proc/thread-self/ns/net", AtFlags::empty()).map(|st| id_of(&st))
}

/// Every network namespace that has a process or a bind mount in the known places.
pub(crate) fn enumerate() -> Enumeration {
    // Never stopped, so always whole.
    enumerate_on(parallel::cores(), &AtomicBool::new(false)).unwrap_or_default()
}

/// The same on at most `threads` threads; `None` if `stop` was set before it ended (the
/// rest of the processes were not looked at).
pub(crate) fn enumerate_on(threads: usize, stop: &AtomicBool) -> Option<Enumeration> {
    let here = current().ok();
    let mut found: HashMap<NetnsId, Netns> = HashMap::new();
    let mut unreadable = 0;
    fn entry(
        found: &mut HashMap<NetnsId, Netns>,
        id: NetnsId,
        here: Option<NetnsId>,
    ) -> &mut Netns {
        found.entry(id).or_insert_with(|| Netns {
            id,
            names: Vec::new(),
            mounts: Vec::new(),
            pids: Vec::new(),
            current: Some(id) == here,
        })
    }
    if let Ok(proc_dir) = openat(
        CWD,
        c"/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) && let Ok(pids) = list_pids(&proc_dir)
    {
        // (pid, its namespace, or None when it could not be looked at), over the cores.
        // The link's text, "net:[INODE]", names the namespace as its stat would (every
        // namespace file is on the one nsfs, the device of this thread's own): reading it
        // costs the kernel half what following it does.
        let nsfs = here.map(|id| id.dev);
        let parts =
            parallel::for_each_on(threads, &pids, 64, Vec::new, |seen: &mut Vec<_>, &pid| {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let mut path = [0u8; 24];
                let ns_path = pid_path(&mut path, pid, b"/ns/net");
                let followed = || statat(&proc_dir, ns_path, AtFlags::empty()).map(|st| id_of(&st));
                let id = match nsfs {
                    Some(dev) => match rustix::fs::readlinkat(&proc_dir, ns_path, Vec::new()) {
                        Ok(target) => match link_inode(target.as_bytes()) {
                            Some(inode) => Ok(NetnsId { dev, inode }),
                            None => followed(),
                        },
                        Err(e) => Err(e),
                    },
                    None => followed(),
                };
                match id {
                    Ok(id) => seen.push((pid, Some(id))),
                    // Exited meanwhile, or a kernel thread without a namespace link.
                    Err(Errno::NOENT | Errno::SRCH) => {}
                    Err(_) => seen.push((pid, None)),
                }
            });
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        for (pid, id) in parts.into_iter().flatten() {
            match id {
                Some(id) => entry(&mut found, id, here).pids.push(pid),
                None => unreadable += 1,
            }
        }
    }
    // Bind mounts: only files on nsfs (the device every namespace file shares); a
    // leftover file of a namespace that was deleted is a plain empty file.
    let nsfs = here.map(|id| id.dev);
    for (dir, named) in [(NAMED, true), (DOCKER, false)] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let Ok(st) = statat(CWD, &path, AtFlags::empty()) else {
                continue;
            };
            if Some(st.st_dev) != nsfs {
                continue;
            }
            let ns = entry(&mut found, id_of(&st), here);
            if named && let Some(name) = e.file_name().to_str() {
                ns.names.push(name.to_string());
            }
            if !ns.mounts.contains(&path) {
                ns.mounts.push(path);
            }
        }
    }
    let mut namespaces: Vec<Netns> = found.into_values().collect();
    for ns in &mut namespaces {
        ns.pids.sort_unstable();
        ns.names.sort();
    }
    namespaces.sort_by_key(|ns| (!ns.current, ns.id));
    Some(Enumeration {
        namespaces,
        unreadable,
    })
}

/// The namespaces a scope names, and what the user should know about the choice.
/// `known`: an enumeration made for this choice already (see `Linux::look_ahead_to_others`).
pub(crate) fn choose(
    scope: &NetnsScope,
    known: Option<Enumeration>,
) -> Result<(Vec<Netns>, Vec<String>)> {
    let all = known.unwrap_or_else(enumerate);
    let mut warnings = Vec::new();
    let chosen = match scope {
        NetnsScope::Current => all.namespaces.into_iter().filter(|n| n.current).collect(),
        NetnsScope::Others => all.namespaces.into_iter().filter(|n| !n.current).collect(),
        NetnsScope::All => {
            if all.unreadable > 0 {
                warnings.push(format!(
                    "the network namespace of {} process(es) could not be looked at \
                     (/proc/PID/ns/net denied): a namespace only they are in is missing",
                    all.unreadable
                ));
            }
            all.namespaces
        }
        NetnsScope::Pid(pid) => {
            let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
            vec![
                of_file(&all.namespaces, &path, Some(*pid)).with_context(|| {
                    format!("--netns {pid}: no such process, or its namespace cannot be read")
                })?,
            ]
        }
        NetnsScope::Path(path) => vec![of_file(&all.namespaces, path, None)?],
        NetnsScope::Named(name) => {
            let named = Path::new(NAMED).join(name);
            if !name.contains('/') && name != "." && name != ".." && named.exists() {
                vec![of_file(&all.namespaces, &named, None)?]
            } else {
                match Attributor::default().find(name) {
                    Some((_, Some(pid))) => {
                        let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
                        vec![of_file(&all.namespaces, &path, Some(pid))?]
                    }
                    Some((container, None)) => bail!(
                        "--netns {name}: container {} has no process whose namespace could be read",
                        container.label()
                    ),
                    None => bail!(
                        "unknown network namespace '{name}': not an `ip netns` name (in {NAMED}) \
                         nor a running Docker or Podman container; give a pid or a path instead"
                    ),
                }
            }
        }
    };
    Ok((chosen, warnings))
}

/// The namespace of a file (`/run/netns/NAME`, `/proc/PID/ns/net`): the enumerated one
/// with its names, or a new entry for a namespace enumeration did not find.
fn of_file(known: &[Netns], path: &Path, pid: Option<u32>) -> Result<Netns> {
    let st = statat(CWD, path, AtFlags::empty())
        .with_context(|| format!("--netns {}", path.display()))?;
    let id = id_of(&st);
    let here = current().ok();
    if here.map(|h| h.dev) != Some(id.dev) {
        bail!(
            "--netns {}: not a network namespace file (ip netns's /run/netns/NAME, /proc/PID/ns/net)",
            path.display()
        );
    }
    let mut ns = known.iter().find(|n| n.id == id).cloned().unwrap_or(Netns {
        id,
        names: Vec::new(),
        mounts: Vec::new(),
        pids: pid.into_iter().collect(),
        current: Some(id) == here,
    });
    if pid.is_none() && !ns.mounts.iter().any(|m| m == path) {
        ns.mounts.insert(0, path.to_path_buf());
    }
    Ok(ns)
}

/// How a namespace's sockets were read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadVia {
    /// `setns` and sock_diag (or, if sock_diag failed in it, `/proc/thread-self/net`).
    Entered,
    /// `/proc/PID/net/*` of this process in the namespace (`setns` was refused).
    ProcOf(u32),
}

#[derive(Debug)]
pub(crate) struct NsSockets {
    pub(crate) sockets: Vec<RawSocket>,
    pub(crate) via: ReadVia,
}

/// Reads the sockets the query asks for in each namespace; one result per namespace, in
/// order. The work runs on up to two spawned threads (never the caller's), each entering
/// the namespaces it takes in turn and ending when done. `procfs`: read
/// `/proc/thread-self/net` there instead of asking sock_diag (`--backend procfs`).
pub(crate) fn read_all(
    namespaces: &[Netns],
    query: &SocketQuery,
    procfs: bool,
) -> Vec<Result<NsSockets, String>> {
    let threads = parallel::cores().clamp(1, 2).min(namespaces.len());
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(ns) = namespaces.get(i) else {
                break;
            };
            done.push((i, read_one(ns, query, procfs)));
        }
        done
    };
    let mut results: Vec<Option<Result<NsSockets, String>>> =
        namespaces.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
        for worker in workers {
            match worker.join() {
                Ok(done) => {
                    for (i, r) in done {
                        if let Some(slot) = results.get_mut(i) {
                            *slot = Some(r);
                        }
                    }
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("not read".to_string())))
        .collect()
}

/// Opens a file of the namespace and checks it is still that namespace.
fn open_checked(path: &Path, id: NetnsId) -> Option<OwnedFd> {
    let fd = openat(CWD, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let st = fstat(&fd).ok()?;
    (id_of(&st) == id).then_some(fd)
}

/// One namespace's sockets; must run on a thread that may change namespace.
fn read_one(ns: &Netns, query: &SocketQuery, procfs: bool) -> Result<NsSockets, String> {
    let candidates = ns.mounts.iter().cloned().chain(
        ns.pids
            .iter()
            .map(|pid| PathBuf::from(format!("/proc/{pid}/ns/net"))),
    );
    let mut refused = None;
    let mut opened = false;
    for path in candidates {
        let Some(fd) = open_checked(&path, ns.id) else {
            continue;
        };
        opened = true;
        match move_into_link_name_space(fd.as_fd(), Some(LinkNameSpaceType::Network)) {
            Ok(()) => {
                let here = Path::new("/proc/thread-self/net");
                let dumped = if procfs {
                    None
                } else {
                    netlink::dump(query).ok()
                };
                let sockets = match dumped {
                    Some(s) => s,
                    None => procnet::read_from(here, query).map_err(|e| format!("{e:#}"))?,
                };
                return Ok(NsSockets {
                    sockets,
                    via: ReadVia::Entered,
                });
            }
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    // Not allowed in (or nothing to open): a process's view of /proc/net, checked to be
    // in the namespace after the read, so that a reused pid cannot lend its sockets.
    for &pid in &ns.pids {
        let ns_path = PathBuf::from(format!("/proc/{pid}/ns/net"));
        let in_it = |p: &Path| statat(CWD, p, AtFlags::empty()).is_ok_and(|st| id_of(&st) == ns.id);
        if !in_it(&ns_path) {
            continue;
        }
        let Ok(sockets) = procnet::read_from(&PathBuf::from(format!("/proc/{pid}/net")), query)
        else {
            continue;
        };
        if in_it(&ns_path) {
            return Ok(NsSockets {
                sockets,
                via: ReadVia::ProcOf(pid),
            });
        }
    }
    Err(match (refused, opened) {
        (Some(e), _) => format!("cannot enter it ({e}) and no process in it could be read"),
        (None, true) => "cannot be read".to_string(),
        (None, false) => "gone, or its files cannot be opened".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PortSet;

    fn listening(port: u16) -> SocketQuery {
        SocketQuery {
            ports: Some(PortSet::new(vec![(port, port)])),
            tcp: true,
            udp: true,
            ipv4: true,
            ipv6: true,
            listening_only: true,
            owners: true,
        }
    }

    #[test]
    fn a_link_names_the_namespace_its_stat_does() {
        assert_eq!(link_inode(b"net:[4026531840]"), Some(4_026_531_840));
        for bad in [&b"net:[]"[..], b"pid:[1]", b"net:[12", b"net:[x]"] {
            assert_eq!(link_inode(bad), None);
        }
        let link = rustix::fs::readlinkat(CWD, c"/proc/self/ns/net", Vec::new());
        let stat = statat(CWD, c"/proc/self/ns/net", AtFlags::empty());
        let (Ok(link), Ok(stat)) = (link, stat) else {
            panic!("/proc/self/ns/net cannot be read");
        };
        assert_eq!(link_inode(link.as_bytes()), Some(stat.st_ino));
        assert_eq!(current().ok().map(|id| id.dev), Some(stat.st_dev));
    }

    #[test]
    fn the_current_namespace_is_found_first() {
        let all = enumerate();
        let here = current().ok();
        assert!(here.is_some());
        let first = all.namespaces.first();
        assert_eq!(first.map(|ns| ns.id), here);
        assert!(first.is_some_and(|ns| ns.current && ns.pids.contains(&std::process::id())));
        assert_eq!(all.namespaces.iter().filter(|ns| ns.current).count(), 1);
    }

    #[test]
    fn reading_the_current_namespace_leaves_the_caller_in_it() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0");
        let Ok(listener) = listener else {
            panic!("bind: {listener:?}")
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let all = enumerate();
        let here: Vec<Netns> = all.namespaces.into_iter().filter(|ns| ns.current).collect();
        let query = listening(port);
        let before = current().ok();
        let read = read_all(&here, &query, false);
        assert_eq!(current().ok(), before);
        let [Ok(found)] = read.as_slice() else {
            panic!("{read:?}")
        };
        assert!(
            found.sockets.iter().any(|s| s.local_port == port),
            "{found:?}"
        );
    }

    /// Root, or a visible skip (a failure under CI=true).
    fn root_or_skip(test: &str) -> bool {
        if rustix::process::geteuid().is_root() {
            return true;
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: needs root (CAP_SYS_ADMIN for ip netns and setns)"
        );
        eprintln!("SKIP {test}: needs root");
        false
    }

    /// `ip netns add`ed namespaces, deleted on drop.
    struct Named(Vec<String>);

    impl Drop for Named {
        fn drop(&mut self) {
            for name in &self.0 {
                let _ = std::process::Command::new("ip")
                    .args(["netns", "del", name])
                    .status();
            }
        }
    }

    /// A listener on 0.0.0.0:`port` made inside the namespace bind-mounted at `path`
    /// (loopback is down in a new namespace; nothing can reach it from outside), by a
    /// thread that enters it and ends.
    fn listen_in(path: &Path, port: u16) -> std::net::TcpListener {
        let owned = path.to_path_buf();
        let made = std::thread::spawn(move || {
            let path = owned;
            let fd = openat(CWD, &path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| e.to_string())?;
            move_into_link_name_space(fd.as_fd(), Some(LinkNameSpaceType::Network))
                .map_err(|e| e.to_string())?;
            std::net::TcpListener::bind(("0.0.0.0", port)).map_err(|e| e.to_string())
        })
        .join();
        match made {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => panic!("listening in {}: {e}", path.display()),
            Err(_) => panic!("listening in {}: thread panicked", path.display()),
        }
    }

    /// 50 `ip netns add` namespaces, a listener in each on the same port: every one is
    /// found in its namespace, and the cost per namespace is measured (the budget is
    /// ~2 ms; setns + sock_diag measured 1.0–1.5 ms here).
    #[test]
    fn fifty_named_namespaces() {
        if !root_or_skip("fifty_named_namespaces") {
            return;
        }
        const N: usize = 50;
        let me = std::process::id();
        let names: Vec<String> = (0..N).map(|i| format!("whoport-t{me}-{i}")).collect();
        let guard = Named(Vec::new());
        let mut guard = guard;
        for name in &names {
            let status = std::process::Command::new("ip")
                .args(["netns", "add", name])
                .status();
            assert!(status.is_ok_and(|s| s.success()), "ip netns add {name}");
            guard.0.push(name.clone());
        }
        // One port, free here, the same in every namespace.
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0");
            let Ok(probe) = probe else {
                panic!("{probe:?}")
            };
            probe.local_addr().map(|a| a.port()).unwrap_or(0)
        };
        let listeners: Vec<_> = names
            .iter()
            .map(|n| listen_in(&Path::new(NAMED).join(n), port))
            .collect();
        let started = std::time::Instant::now();
        let all = enumerate();
        let enumerated = started.elapsed();
        let ours: Vec<Netns> = all
            .namespaces
            .into_iter()
            .filter(|ns| ns.names.iter().any(|n| names.contains(n)))
            .collect();
        assert_eq!(ours.len(), N);
        let query = listening(port);
        let started = std::time::Instant::now();
        let read = read_all(&ours, &query, false);
        let reading = started.elapsed();
        for (ns, r) in ours.iter().zip(&read) {
            let Ok(found) = r else {
                panic!("{:?}: {r:?}", ns.names)
            };
            assert_eq!(found.via, ReadVia::Entered);
            assert_eq!(found.sockets.len(), 1, "{:?}: {found:?}", ns.names);
        }
        // Each listener's inode was found in exactly one namespace: the one it was made in.
        let mut inodes: Vec<u64> = read
            .iter()
            .flatten()
            .flat_map(|r| r.sockets.iter().filter_map(|s| s.inode))
            .collect();
        inodes.sort_unstable();
        inodes.dedup();
        assert_eq!(inodes.len(), N);
        let per_ns = reading / N as u32;
        eprintln!(
            "{N} namespaces: enumeration {enumerated:?}, reading {reading:?}, {per_ns:?} per namespace"
        );
        // Generous against a loaded machine; the number printed above is the measurement.
        assert!(
            per_ns < std::time::Duration::from_millis(20),
            "{per_ns:?} per namespace"
        );
        drop(listeners);
    }
}
