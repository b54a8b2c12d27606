//! Which processes hold which sockets, from inside the kernel: a BPF iterator over every
//! task's descriptor table (`iter/task_file`) writes one fixed record per socket
//! descriptor, (tgid, fd, inode), and whoport reads them back. No `/proc/PID/fd` is
//! opened and no link is read: on a host with 90,000 descriptors that is a tenth of the
//! CPU time of the `/proc` walk.
//!
//! Loading it needs root (or CAP_BPF + CAP_PERFMON), kernel BTF and a kernel with
//! task_file iterators (5.8+). Every way it can fail — no privilege, no BTF, an old
//! kernel, lockdown, seccomp, a child pid namespace — is an error value, and the caller
//! falls back to the `/proc` scan.
//!
//! The loader is written against bpf(2) directly (`sys.rs`, the only unsafe code in
//! whoport); the program is assembled from a listing (`program.rs`) with field offsets
//! from the running kernel's BTF (`btf.rs`).

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{Context, Result, anyhow};

mod btf;
mod program;
#[allow(unsafe_code)]
mod sys;

/// CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF: bit numbers in the capability sets.
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// A socket descriptor the iterator found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Holder {
    pub inode: u64,
    /// The process (thread group) holding it.
    pub pid: u32,
    pub fd: u32,
    /// In a thread's own descriptor table (`unshare(CLONE_FILES)`), not the process's.
    pub thread: bool,
}

/// The iterators, loaded and attached: each walk goes over every task anew (repeated
/// scans, as `wait` and `watch` make, load them once).
pub struct SocketIter {
    programs: Programs,
    /// Why the one-pass program is not the one loaded, if it is not.
    why_not_walk: Option<String>,
}

enum Programs {
    /// `iter/task` walking each descriptor table itself: a record per process and per
    /// socket descriptor, in one pass (kernels with open-coded iterators, 6.4+).
    Walk {
        /// One per share of the processes (`program::Shard`), read side by side.
        links: Vec<OwnedFd>,
        /// Open as long as the program may run: it compares every file's operations with
        /// this socket's, at the descriptor number it was assembled with.
        _own_socket: std::os::unix::net::UnixDatagram,
    },
    /// `iter/task_file` (a record per socket descriptor) and `iter/task` (a record per
    /// process): two passes, on kernels from 5.8.
    Pair { files: OwnedFd, tasks: OwnedFd },
}

/// What one scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// The descriptors that hold the wanted sockets, sorted.
    pub holders: Vec<Holder>,
    /// The pid of every process the iterator saw, sorted.
    pub processes: Vec<u32>,
    /// What the one-pass program read of each process, by pid (empty from the pair).
    pub idents: Vec<Ident>,
}

/// A process as the kernel's task holds it, read in the same pass as its descriptors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ident {
    pub pid: u32,
    /// The real uid; `None` if the task had no credentials to read.
    pub uid: Option<u32>,
    /// The command name (`comm`), as `/proc/PID/stat` holds it: up to its first NUL.
    pub comm: [u8; 16],
}

impl Ident {
    /// The command name's bytes.
    pub fn comm(&self) -> &[u8] {
        let end = self.comm.iter().position(|&b| b == 0).unwrap_or(16);
        &self.comm[..end]
    }
}

impl SocketIter {
    /// Checks that this process may and should use the iterators, then loads them.
    pub fn load() -> Result<SocketIter> {
        let status =
            std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
        usable(&status)?;
        Self::load_unchecked()
    }

    /// Loads the iterators, without the checks of `usable`: the one-pass program where
    /// the kernel takes it, else the pair.
    fn load_unchecked() -> Result<SocketIter> {
        let layout = btf::kernel_layout()?;
        let why_not_walk = match &layout.walk {
            Some(walk) => match Self::load_walk(&layout, walk) {
                Ok(iter) => return Ok(iter),
                Err(e) => format!("{e:#}"),
            },
            None => "this kernel's BTF lacks what it needs (open-coded iterators)".to_string(),
        };
        Self::load_pair(&layout, Some(why_not_walk))
    }

    /// Loads the one-pass program, with a socket of whoport's own for it to learn
    /// `socket_file_ops` from.
    fn load_walk(layout: &btf::Layout, walk: &btf::Walk) -> Result<SocketIter> {
        let own = std::os::unix::net::UnixDatagram::unbound()
            .context("a socket for the walk to know sockets by")?;
        let own_fd = u32::try_from(own.as_raw_fd()).context("a socket descriptor")?;
        // A copy per core (two at most: the walk is memory-bound beyond), each walking
        // the processes whose tgid's low bit is its own.
        let cores = super::parallel::cores();
        let shards = if cores > 1 {
            vec![
                program::Shard { mask: 1, index: 0 },
                program::Shard { mask: 1, index: 1 },
            ]
        } else {
            vec![program::Shard::ALL]
        };
        let mut links = Vec::with_capacity(shards.len());
        for shard in shards {
            let prog = load(
                &program::assemble_walk(layout, walk, own_fd, shard),
                program::WALK_NAME,
                layout.task_attach_btf_id,
            )?;
            links.push(sys::link_create(&prog).context("BPF_LINK_CREATE (iter/task)")?);
        }
        Ok(SocketIter {
            programs: Programs::Walk {
                links,
                _own_socket: own,
            },
            why_not_walk: None,
        })
    }

    /// Loads the two-pass programs.
    fn load_pair(layout: &btf::Layout, why_not_walk: Option<String>) -> Result<SocketIter> {
        let files = load(
            &program::assemble(layout),
            program::NAME,
            layout.attach_btf_id,
        )?;
        // A link holds its program.
        let files = sys::link_create(&files).context("BPF_LINK_CREATE (iter/task_file)")?;
        let tasks = load(
            &program::assemble_tasks(layout),
            program::TASKS_NAME,
            layout.task_attach_btf_id,
        )?;
        let tasks = sys::link_create(&tasks).context("BPF_LINK_CREATE (iter/task)")?;
        Ok(SocketIter {
            programs: Programs::Pair { files, tasks },
            why_not_walk,
        })
    }

    /// Which program runs, for `--debug`.
    pub fn describe(&self) -> String {
        match (&self.programs, &self.why_not_walk) {
            (Programs::Walk { .. }, _) => "the BPF task iterator (one pass)".to_string(),
            (Programs::Pair { .. }, Some(why)) => {
                format!("the BPF task_file iterator (the one-pass program: {why})")
            }
            (Programs::Pair { .. }, None) => "the BPF task_file iterator".to_string(),
        }
    }

    /// Runs the iterators and calls `f` for every socket descriptor of every process's
    /// table (and of a thread's own table, marked), and `process` for every process
    /// (its tgid, and the reader's tgid as the iterator numbers it).
    fn run(
        &self,
        mut f: impl FnMut(Holder),
        mut process: impl FnMut(u32, u32, Option<Ident>),
    ) -> Result<()> {
        match &self.programs {
            Programs::Walk { links, .. } => {
                for link in links {
                    walk_one(link, &mut f, &mut process)?;
                }
                Ok(())
            }
            Programs::Pair { files, tasks } => {
                read_records(tasks, program::TASK_RECORD, |rec| {
                    let (tgid, reader) = parse_task_record(rec);
                    process(tgid, reader, None);
                })?;
                read_records(files, program::RECORD, |rec| f(parse_record(rec)))
            }
        }
    }

    /// One scan: the descriptors that hold the wanted sockets (inodes, sorted), filtered
    /// as they are read so that only these are ever held in memory, and the pid of every
    /// process the iterators can see. An error if they number processes differently
    /// from this process's pid namespace (they use the initial one's numbers, which
    /// differ inside a container's own pid namespace).
    pub fn scan(&self, wanted: &[u64]) -> Result<Scan> {
        let me = std::process::id();
        let mut parts = match &self.programs {
            // Each share on a thread of its own, the first on this one.
            Programs::Walk { links, .. } if links.len() > 1 => std::thread::scope(|scope| {
                let others: Vec<_> = links[1..]
                    .iter()
                    .map(|link| scope.spawn(move || gather(wanted, |f, p| walk_one(link, f, p))))
                    .collect();
                let mut result = vec![gather(wanted, |f, p| walk_one(&links[0], f, p))];
                for other in others {
                    match other.join() {
                        Ok(part) => result.push(part),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
                result
            }),
            _ => vec![gather(wanted, |f, p| self.run(f, p))],
        }
        .into_iter();
        let mut out = parts.next().unwrap_or(Ok(Part::default()))?;
        for part in parts {
            let part = part?;
            out.holders.extend(part.holders);
            out.processes.extend(part.processes);
            out.idents.extend(part.idents);
        }
        if let Some(&(_, seen_as)) = out.processes.iter().find(|&&(_, reader)| reader != me) {
            return Err(anyhow!(ChildPidNamespace)).context(format!(
                "the BPF iterators number this process {seen_as}, not {me}"
            ));
        }
        out.holders.sort_unstable();
        let mut processes: Vec<u32> = out.processes.into_iter().map(|(pid, _)| pid).collect();
        processes.sort_unstable();
        out.idents.sort_unstable_by_key(|i| i.pid);
        Ok(Scan {
            holders: out.holders,
            processes,
            idents: out.idents,
        })
    }
}

/// What one iterator's records hold: the wanted holders, every process (with the
/// reader's tgid as the iterator numbers it) and what the walk read of each.
#[derive(Default)]
struct Part {
    holders: Vec<Holder>,
    processes: Vec<(u32, u32)>,
    idents: Vec<Ident>,
}

/// Runs `read` with callbacks that keep the wanted holders and every process.
fn gather(
    wanted: &[u64],
    read: impl FnOnce(&mut dyn FnMut(Holder), &mut dyn FnMut(u32, u32, Option<Ident>)) -> Result<()>,
) -> Result<Part> {
    let mut holders = Vec::new();
    let mut processes = Vec::with_capacity(1024);
    let mut idents = Vec::new();
    read(
        &mut |h| {
            if wanted.binary_search(&h.inode).is_ok() {
                holders.push(h);
            }
        },
        &mut |tgid, reader, ident| {
            processes.push((tgid, reader));
            idents.extend(ident);
        },
    )?;
    Ok(Part {
        holders,
        processes,
        idents,
    })
}

/// Reads one walk iterator's records: `f` for each socket descriptor, `process` for each
/// process. A table too large to walk, or socket operations not learnt, is an error.
fn walk_one(
    link: &OwnedFd,
    f: &mut dyn FnMut(Holder),
    process: &mut dyn FnMut(u32, u32, Option<Ident>),
) -> Result<()> {
    let mut too_many = None;
    let mut no_ops = false;
    read_sized(link, walk_record_size, |rec| {
        if rec.len() == program::PROCESS_RECORD {
            let (ident, reader) = parse_process_record(rec);
            process(ident.pid, reader, Some(ident));
            return;
        }
        let (pid, fd, inode) = split_record(rec);
        match fd {
            program::TOO_MANY_FD => too_many = Some((pid, inode)),
            program::NO_SOCKET_OPS_FD => no_ops = true,
            _ => f(holder(pid, fd, inode)),
        }
    })?;
    if let Some((pid, size)) = too_many {
        return Err(anyhow!(
            "process {pid} has a descriptor table of {size} slots, more than the BPF walk \
             counts"
        ));
    }
    if no_ops {
        return Err(anyhow!(
            "the BPF walk could not learn sockets' file operations"
        ));
    }
    Ok(())
}

/// Runs the iterator behind `link` and hands each `size`-byte record to `f`.
fn read_records(link: &OwnedFd, size: usize, f: impl FnMut(&[u8])) -> Result<()> {
    read_sized(link, |_| size, f)
}

/// Runs the iterator behind `link` and hands each record to `f`; `size` tells a record's
/// length from its first 8 bytes.
fn read_sized(
    link: &OwnedFd,
    size: impl Fn(&[u8]) -> usize,
    mut f: impl FnMut(&[u8]),
) -> Result<()> {
    let iter = sys::iter_create(link).context("BPF_ITER_CREATE")?;
    let mut iter = File::from(iter);
    // A multiple of the record sizes; the kernel may still end a read mid-record.
    let mut buf = vec![0u8; 64 * 1024];
    let mut have = 0;
    let mut busy = 0u32;
    loop {
        let n = match iter.read(&mut buf[have..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // The kernel stops a read after a million objects without output; the next
            // read goes on from there.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && busy < 1_000 => {
                busy += 1;
                continue;
            }
            Err(e) => return Err(e).context("reading a BPF iterator"),
        };
        busy = 0;
        have += n;
        let mut at = 0;
        while have - at >= 8 {
            let len = size(&buf[at..at + 8]);
            if have - at < len {
                break;
            }
            f(&buf[at..at + len]);
            at += len;
        }
        buf.copy_within(at..have, 0);
        have -= at;
    }
    if have != 0 {
        return Err(anyhow!("a BPF iterator ended mid-record ({have} bytes)"));
    }
    Ok(())
}

/// The iterators number processes as the initial pid namespace does, and this process is
/// in another (a container's, with its own /proc).
#[derive(Debug)]
pub struct ChildPidNamespace;

impl std::fmt::Display for ChildPidNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a child pid namespace")
    }
}

impl std::error::Error for ChildPidNamespace {}

/// Every socket descriptor of every process's table: (pid, fd, inode), in the kernel's
/// order (by pid, then fd).
#[cfg(test)]
pub fn socket_fds() -> Result<Vec<(u32, u32, u64)>> {
    SocketIter::load()?.socket_fds()
}

#[cfg(test)]
impl SocketIter {
    /// [`socket_fds`] through these iterators.
    pub fn socket_fds(&self) -> Result<Vec<(u32, u32, u64)>> {
        let mut out = Vec::new();
        self.run(
            |h| {
                if !h.thread {
                    out.push((h.pid, h.fd, h.inode));
                }
            },
            |_, _, _| {},
        )?;
        Ok(out)
    }

    /// The two-pass programs, as kernels without the one-pass program's needs load them.
    pub fn load_pair_anyway() -> Result<SocketIter> {
        Self::load_pair(&btf::kernel_layout()?, None)
    }

    /// Whether the one-pass program is the one loaded.
    pub fn walks(&self) -> bool {
        matches!(self.programs, Programs::Walk { .. })
    }
}

/// Whether this process may and should use the iterator, from its `/proc/self/status`:
/// the capabilities (checked first, so that an unprivileged run does not read the
/// kernel's BTF for nothing) and the pid namespace.
fn usable(status: &str) -> Result<()> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let caps = field("CapEff")
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or(0);
    let has = |cap: u32| caps & (1u64 << cap) != 0;
    if !(has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))) {
        return Err(anyhow!(io::Error::from_raw_os_error(libc::EPERM)))
            .context("the BPF iterator needs CAP_BPF and CAP_PERFMON (or root)");
    }
    // The iterator reports pids as the initial namespace numbers them; inside a child
    // pid namespace they are not the pids whoport shows.
    if field("NSpid").is_some_and(|ids| ids.split_whitespace().count() > 1) {
        return Err(anyhow!("whoport runs in a child pid namespace"));
    }
    Ok(())
}

/// A task record: (tgid, the reader's tgid).
fn parse_task_record(rec: &[u8]) -> (u32, u32) {
    let mut b = [0u8; program::TASK_RECORD];
    b.copy_from_slice(&rec[..program::TASK_RECORD]);
    let [a0, a1, a2, a3, b0, b1, b2, b3] = b;
    (
        u32::from_ne_bytes([a0, a1, a2, a3]),
        u32::from_ne_bytes([b0, b1, b2, b3]),
    )
}

/// A socket record: tgid, fd (its top bit: a thread's own table), inode.
fn parse_record(rec: &[u8]) -> Holder {
    let (pid, fd, inode) = split_record(rec);
    holder(pid, fd, inode)
}

/// How long a walk record is, from its first 8 bytes (tgid, fd).
fn walk_record_size(head: &[u8]) -> usize {
    let mut fd = [0u8; 4];
    fd.copy_from_slice(&head[4..8]);
    if u32::from_ne_bytes(fd) == program::PROCESS_FD {
        program::PROCESS_RECORD
    } else {
        program::RECORD
    }
}

/// A walk's process record: what it says of the process, and the reader's tgid.
fn parse_process_record(rec: &[u8]) -> (Ident, u32) {
    let word = |at: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&rec[at..at + 4]);
        u32::from_ne_bytes(b)
    };
    let mut comm = [0u8; 16];
    comm.copy_from_slice(&rec[16..32]);
    let uid = word(12);
    (
        Ident {
            pid: word(0),
            uid: (uid != u32::MAX).then_some(uid),
            comm,
        },
        word(8),
    )
}

/// A record's three fields: tgid, fd, inode.
fn split_record(rec: &[u8]) -> (u32, u32, u64) {
    let mut b = [0u8; program::RECORD];
    b.copy_from_slice(&rec[..program::RECORD]);
    let [a0, a1, a2, a3, b0, b1, b2, b3, c @ ..] = b;
    (
        u32::from_ne_bytes([a0, a1, a2, a3]),
        u32::from_ne_bytes([b0, b1, b2, b3]),
        u64::from_ne_bytes(c),
    )
}

/// A socket descriptor from a record's fields.
fn holder(pid: u32, fd: u32, inode: u64) -> Holder {
    let mark = program::THREAD_FD.cast_unsigned();
    Holder {
        inode,
        pid,
        fd: fd & !mark,
        thread: fd & mark != 0,
    }
}

/// BPF_PROG_LOAD. Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK (EPERM when
/// it is low): raised once and tried again. A failure is retried with the verifier's log,
/// so that the error says why.
fn load(insns: &[u8], name: &[u8], attach_btf_id: u32) -> Result<OwnedFd> {
    let what = String::from_utf8_lossy(name);
    let first = match sys::prog_load(insns, program::LICENSE, name, attach_btf_id, None) {
        Ok(fd) => return Ok(fd),
        Err(e) => e,
    };
    if first.raw_os_error() == Some(libc::EPERM) {
        let infinity = rustix::process::Rlimit {
            current: None,
            maximum: None,
        };
        if rustix::process::setrlimit(rustix::process::Resource::Memlock, infinity).is_ok()
            && let Ok(fd) = sys::prog_load(insns, program::LICENSE, name, attach_btf_id, None)
        {
            return Ok(fd);
        }
        return Err(anyhow!(first)).context(format!("BPF_PROG_LOAD ({what})"));
    }
    let mut log = vec![0u8; 64 * 1024];
    let again = sys::prog_load(insns, program::LICENSE, name, attach_btf_id, Some(&mut log));
    // The verifier's complaint is its last line before the statistics.
    let log = String::from_utf8_lossy(log.split(|&b| b == 0).next().unwrap_or(&[]))
        .lines()
        .rev()
        .find(|l| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with("processed ") && !l.starts_with("verification time")
        })
        .unwrap_or("")
        .to_string();
    match again {
        Ok(fd) => Ok(fd),
        Err(_) if !log.is_empty() => {
            Err(anyhow!(first)).context(format!("BPF_PROG_LOAD ({what}): verifier: {log}"))
        }
        Err(_) => Err(anyhow!(first)).context(format!("BPF_PROG_LOAD ({what})")),
    }
}

/// The errno at the root of an error from this module, if there is one.
#[cfg_attr(not(test), allow(dead_code))]
pub fn errno(e: &anyhow::Error) -> Option<i32> {
    e.chain()
        .find_map(|c| c.downcast_ref::<io::Error>())
        .and_then(io::Error::raw_os_error)
}

#[cfg(test)]
mod tests;
