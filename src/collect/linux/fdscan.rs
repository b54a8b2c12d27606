//! Which processes hold which sockets: a scan of /proc/*/fd, as `ss -p`, lsof and fuser
//! do, but spread over the cores, with every path relative to an open /proc directory
//! and no heap allocation per descriptor.
//!
//! The scan is complete by design: a socket can be held by processes of any user (a root
//! master with setuid workers, systemd socket activation, passed descriptors), so every
//! process is read, and every one that cannot be read is counted.

use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};

use anyhow::{Context, Result};
use rustix::fs::{AtFlags, CWD, Mode, OFlags, RawDir, openat, readlinkat_raw, statat};
use rustix::io::Errno;

use super::parallel;
use crate::model::{Process, ReadCgroup};

/// Pids handed to a thread at a time: few, so that a run of processes with thousands of
/// descriptors each does not leave one thread working alone at the end.
const CHUNK: usize = 4;

#[derive(Debug, Default)]
pub(crate) struct FdScan {
    /// (inode, pid, fd) for every descriptor of a wanted socket found, sorted.
    pub(crate) holders: Vec<(u64, u32, u32)>,
    /// Inodes found only in a thread's own descriptor table (sorted).
    pub(crate) thread_held: Vec<u64>,
    /// (pid, uid, name) of every process whose descriptors could not be read; its
    /// uid and name (from `status`, which stays readable) when they could be read.
    pub(crate) inaccessible: Vec<(u32, Option<u32>, Option<String>)>,
    /// The details of every holder, read through the same /proc/PID directory as its
    /// descriptors: never a newer process's that reused the pid.
    pub(crate) details: Vec<Process>,
    /// What each holder's cgroup file says, read in the same pass.
    pub(crate) cgroups: Vec<(u32, ReadCgroup)>,
}

/// Finds the holders of the sockets whose inodes are given (sorted). A socket still
/// without holder after the process scan is then looked for in the descriptor tables of
/// threads that have their own (`unshare(CLONE_FILES)`), which /proc/PID/fd does not
/// show: only then, so the common path reads each process's table once.
pub(crate) fn scan(wanted: &[u64]) -> Result<FdScan> {
    let proc_dir = openat(
        CWD,
        c"/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .context("opening /proc")?;
    let pids = list_dir_numbers(&proc_dir, c".").context("listing /proc")?;
    let mut out = run(&proc_dir, &pids, wanted, Tables::Process);
    let mut unowned: Vec<u64> = wanted
        .iter()
        .copied()
        .filter(|i| {
            let at = out.holders.partition_point(|&(h, _, _)| h < *i);
            out.holders.get(at).is_none_or(|&(h, _, _)| h != *i)
        })
        .collect();
    if !unowned.is_empty() {
        unowned.sort_unstable();
        let threads = run(&proc_dir, &pids, &unowned, Tables::Threads);
        out.thread_held = threads.holders.iter().map(|&(i, _, _)| i).collect();
        out.thread_held.dedup();
        out.holders.extend(threads.holders);
        out.holders.sort_unstable();
        out.holders.dedup();
        // A process whose own table held something was read already.
        out.details.extend(threads.details);
        out.details.sort_by_key(|p| p.pid);
        out.details.dedup_by_key(|p| p.pid);
        // A process counted twice (its threads too) is one process.
        out.inaccessible.extend(threads.inaccessible);
        out.inaccessible.sort_unstable();
        out.inaccessible.dedup_by_key(|&mut (pid, _, _)| pid);
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tables {
    /// /proc/PID/fd: the table of each process's main thread.
    Process,
    /// /proc/PID/task/TID/fd of every other thread.
    Threads,
}

fn run(proc_dir: &OwnedFd, pids: &[u32], wanted: &[u64], tables: Tables) -> FdScan {
    let parts = parallel::for_each(
        pids,
        CHUNK,
        || {
            // Room for every wanted socket at once: pages that are never written are
            // never resident, and the vector never grows by copies.
            let part = FdScan {
                holders: Vec::with_capacity(wanted.len()),
                ..FdScan::default()
            };
            (part, vec![MaybeUninit::<u8>::uninit(); 32 * 1024])
        },
        |(part, dir_buf), &pid| scan_pid(proc_dir, pid, wanted, tables, dir_buf, part),
    );
    let mut out = FdScan::default();
    out.holders
        .reserve_exact(parts.iter().map(|(part, _)| part.holders.len()).sum());
    for (mut part, _) in parts {
        out.holders.append(&mut part.holders);
        out.inaccessible.append(&mut part.inaccessible);
        out.details.append(&mut part.details);
    }
    out.holders.sort_unstable();
    out.holders.dedup();
    out.inaccessible.sort_unstable();
    out.details.sort_by_key(|p| p.pid);
    out
}

/// The pids in /proc.
pub(crate) fn list_pids(proc_dir: &OwnedFd) -> Result<Vec<u32>> {
    list_dir_numbers(proc_dir, c".")
}

/// The pids in /proc, now.
pub(crate) fn list_pids_now() -> Result<Vec<u32>> {
    let proc_dir = openat(
        CWD,
        c"/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    list_pids(&proc_dir)
}

/// The numeric entries of a directory (pids in /proc, tids in /proc/PID/task).
fn list_dir_numbers(dir: &OwnedFd, path: &CStr) -> Result<Vec<u32>> {
    // A fresh descriptor: reading a directory moves its offset.
    let dir = openat(
        dir,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 16 * 1024];
    let mut entries = RawDir::new(dir, &mut buf);
    let mut numbers = Vec::with_capacity(64);
    while let Some(entry) = entries.next() {
        if let Some(n) = parse_decimal(entry?.file_name().to_bytes()) {
            numbers.push(n);
        }
    }
    Ok(numbers)
}

/// What reading one descriptor table gave.
enum Table {
    Read,
    Gone,
    Inaccessible,
}

fn scan_pid(
    proc_dir: &OwnedFd,
    pid: u32,
    wanted: &[u64],
    tables: Tables,
    dir_buf: &mut [MaybeUninit<u8>],
    out: &mut FdScan,
) {
    let mut path = [0u8; 24];
    // Everything about this process is read relative to its /proc/PID directory: if it
    // exits and its pid is reused meanwhile, reads through it fail rather than
    // describing the newcomer.
    let pid_dir = match openat(
        proc_dir,
        pid_path(&mut path, pid, b""),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(_) => return, // exited meanwhile
    };
    let before = out.holders.len();
    let table = match tables {
        Tables::Process => scan_table(&pid_dir, c"fd", pid, wanted, dir_buf, out),
        Tables::Threads => {
            // The task directory's link count is 2 + its threads (proc_task_getattr):
            // a single-threaded process, most of them, has no other table to read.
            if statat(&pid_dir, c"task", AtFlags::empty()).is_ok_and(|st| st.st_nlink <= 3) {
                return;
            }
            let Ok(tids) = list_dir_numbers(&pid_dir, c"task") else {
                return;
            };
            let mut result = Table::Read;
            for tid in tids.into_iter().filter(|&t| t != pid) {
                let mut task = [0u8; 24];
                let fd_path = task_fd_path(&mut task, tid);
                // A thread that exited meanwhile held nothing.
                if let Table::Inaccessible =
                    scan_table(&pid_dir, fd_path, pid, wanted, dir_buf, out)
                {
                    result = Table::Inaccessible;
                }
            }
            result
        }
    };
    match table {
        Table::Gone => out.holders.truncate(before),
        Table::Inaccessible => {
            out.holders.truncate(before);
            inaccessible(&pid_dir, pid, out);
        }
        Table::Read if out.holders.len() > before => {
            // The holder's details, through the same directory: if it is gone now, so
            // are its descriptors, and what it held is not counted.
            let mut buf = Vec::with_capacity(4096);
            match super::procs::details_and_cgroup(&pid_dir, pid, None, &mut buf) {
                Some((process, cgroup)) => {
                    out.cgroups.extend(cgroup.map(|c| (pid, c)));
                    out.details.push(process);
                }
                None => out.holders.truncate(before),
            }
        }
        Table::Read => {}
    }
}

/// Reads one descriptor table (`fd` or `task/TID/fd` under a /proc/PID directory).
fn scan_table(
    pid_dir: &OwnedFd,
    fd_path: &CStr,
    pid: u32,
    wanted: &[u64],
    dir_buf: &mut [MaybeUninit<u8>],
    out: &mut FdScan,
) -> Table {
    let fd_dir = match openat(
        pid_dir,
        fd_path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::SRCH) => return Table::Gone,
        Err(_) => return Table::Inaccessible,
    };
    let mut link = [0u8; 64];
    let mut entries = RawDir::new(fd_dir.as_fd(), dir_buf);
    while let Some(entry) = entries.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(Errno::NOENT | Errno::SRCH) => return Table::Gone,
            Err(_) => return Table::Inaccessible,
        };
        let name = entry.file_name();
        let Some(fd) = parse_decimal(name.to_bytes()) else {
            continue;
        };
        let n = match readlinkat_raw(&fd_dir, name, &mut link[..]) {
            Ok(n) => n.min(link.len()),
            Err(Errno::NOENT | Errno::SRCH) => continue, // closed meanwhile
            Err(_) => return Table::Inaccessible,
        };
        if let Some(inode) = socket_inode(&link[..n])
            && wanted.binary_search(&inode).is_ok()
        {
            out.holders.push((inode, pid, fd));
        }
    }
    Table::Read
}

/// `task/TID/fd` + NUL.
fn task_fd_path(buf: &mut [u8; 24], tid: u32) -> &CStr {
    let mut number = [0u8; 24];
    let digits = pid_path(&mut number, tid, b"/fd").to_bytes_with_nul();
    let len = digits.len().min(buf.len() - 5);
    buf[..5].copy_from_slice(b"task/");
    buf[5..5 + len].copy_from_slice(&digits[..len]);
    CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"")
}

/// A small /proc file (`stat`) into `buf`.
fn read_small<'a>(dir: &OwnedFd, name: &CStr, buf: &'a mut [u8]) -> Option<&'a [u8]> {
    let file = openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let n = rustix::io::read(&file, &mut *buf).ok()?;
    Some(&buf[..n])
}

/// What the BPF owner scan knows of one process, read as the scan here reads it: its
/// details, if it has not exited (`None` then), through its /proc/PID directory.
/// The command name and real uid are read from `status` unless they are `known` already.
pub(crate) fn details_with(
    proc_dir: &OwnedFd,
    pid: u32,
    known: Option<(&[u8], u32)>,
) -> Option<(Process, Option<ReadCgroup>)> {
    let mut path = [0u8; 24];
    let pid_dir = openat(
        proc_dir,
        pid_path(&mut path, pid, b""),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut buf = Vec::with_capacity(4096);
    super::procs::details_and_cgroup(&pid_dir, pid, known, &mut buf)
}

/// Counts a process the BPF iterators did not see as one that could not be read, with
/// its identity, as this scan counts one whose descriptors it cannot read; nothing if it
/// has exited.
pub(crate) fn unseen(proc_dir: &OwnedFd, pid: u32, out: &mut FdScan) {
    let mut path = [0u8; 24];
    if let Ok(pid_dir) = openat(
        proc_dir,
        pid_path(&mut path, pid, b""),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        inaccessible(&pid_dir, pid, out);
    }
}

fn inaccessible(pid_dir: &OwnedFd, pid: u32, out: &mut FdScan) {
    let uid = match statat(pid_dir, c"", AtFlags::EMPTY_PATH) {
        Ok(st) => Some(st.st_uid),
        // Gone: nothing was hidden.
        Err(Errno::NOENT | Errno::SRCH) => return,
        Err(_) => None,
    };
    // Its identity, which `status` still gives: a check can rule it in or out by it.
    let mut buf = [0u8; 4096];
    let status = read_small(pid_dir, c"status", &mut buf);
    let name = status.and_then(super::procs::status_name);
    let uid = status.and_then(super::procs::real_uid).or(uid);
    out.inaccessible.push((pid, uid, name));
}

/// Whether a process counted as unreadable is still there and can hold descriptors:
/// one that exited, or is a zombie, hid nothing.
pub(crate) fn still_holds_files(pid: u32) -> bool {
    let mut path = [0u8; 24];
    let Ok(dir) = openat(
        CWD,
        c"/proc",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return true;
    };
    let Ok(pid_dir) = openat(
        &dir,
        pid_path(&mut path, pid, b""),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    let mut buf = [0u8; 1024];
    match read_small(&pid_dir, c"stat", &mut buf) {
        Some(stat) => {
            let state = stat
                .iter()
                .rposition(|&b| b == b')')
                .and_then(|at| stat.get(at + 2));
            !matches!(state, Some(b'Z' | b'X'))
        }
        // Unreadable but present: it may hold anything.
        None => statat(&pid_dir, c"", AtFlags::EMPTY_PATH).is_ok(),
    }
}

/// Writes "PID" + suffix + NUL into `buf` and returns it as a C string.
pub(crate) fn pid_path<'a>(buf: &'a mut [u8; 24], pid: u32, suffix: &[u8]) -> &'a CStr {
    let mut digits = [0u8; 10];
    let mut n = pid;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        buf[i] = digits[len - 1 - i];
    }
    buf[len..len + suffix.len()].copy_from_slice(suffix);
    buf[len + suffix.len()] = 0;
    // A decimal number and an ASCII suffix hold no NUL before the one just written.
    CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"")
}

/// The inode of a `socket:[12345]` link target.
pub(crate) fn socket_inode(target: &[u8]) -> Option<u64> {
    let digits = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    parse_decimal(digits).map(u64::from).or_else(|| {
        // Inodes above u32 (not seen on Linux so far, but the type allows it).
        std::str::from_utf8(digits).ok()?.parse().ok()
    })
}

fn parse_decimal(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 10 {
        return None;
    }
    let mut n: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u32::from(c - b'0'))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"socket:[99999999999]"), Some(99_999_999_999));
        for other in [
            &b"pipe:[12]"[..],
            b"/dev/null",
            b"socket:[]",
            b"socket:[12",
            b"socket:[1a]",
        ] {
            assert_eq!(socket_inode(other), None);
        }
    }

    #[test]
    fn task_paths() {
        let mut buf = [0u8; 24];
        assert_eq!(task_fd_path(&mut buf, 4_294_967_295), c"task/4294967295/fd");
        assert_eq!(task_fd_path(&mut buf, 7), c"task/7/fd");
    }

    #[test]
    fn pid_paths() {
        let mut buf = [0u8; 24];
        assert_eq!(pid_path(&mut buf, 4_294_967_295, b"/fd"), c"4294967295/fd");
        assert_eq!(pid_path(&mut buf, 0, b""), c"0");
        assert_eq!(pid_path(&mut buf, 81, b"/fd"), c"81/fd");
    }

    #[test]
    fn a_vanished_process_is_neither_an_error_nor_hidden() -> std::io::Result<()> {
        let proc_dir = openat(
            CWD,
            c"/proc",
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
        )?;
        let mut buf = vec![MaybeUninit::<u8>::uninit(); 4096];
        let mut out = FdScan::default();
        // Above pid_max (at most 2^22): no such process, as if it exited mid-scan.
        for tables in [Tables::Process, Tables::Threads] {
            scan_pid(&proc_dir, 4_194_305, &[1, 2, 3], tables, &mut buf, &mut out);
        }
        assert!(out.holders.is_empty());
        assert!(out.inaccessible.is_empty());
        assert!(!still_holds_files(4_194_305));
        Ok(())
    }

    #[test]
    fn finds_its_own_socket() -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", listener.as_raw_fd()))?;
        let inode = socket_inode(link.as_os_str().as_encoded_bytes());
        assert!(inode.is_some(), "{link:?} is not a socket link");
        let inode = inode.unwrap_or_default();
        let found = scan(&[inode]).map_err(std::io::Error::other)?;
        let fd = u32::try_from(listener.as_raw_fd()).unwrap_or_default();
        // Another test thread that spawns a process forks this one: until it execs, the
        // child holds a copy of every descriptor, so it rightly shows up holding the
        // socket for that moment. Such a passing child of this process (or one already
        // gone) is left out; anyone else would be a wrong answer.
        let me = std::process::id();
        let passing = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
                stat.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .is_some_and(|ppid| ppid == me.to_string())
            })
        };
        let holders: Vec<(u64, u32, u32)> = found
            .holders
            .iter()
            .copied()
            .filter(|&(_, pid, _)| pid == me || !passing(pid))
            .collect();
        assert_eq!(holders, vec![(inode, me, fd)]);
        let details: Vec<u32> = found
            .details
            .iter()
            .map(|d| d.pid)
            .filter(|&pid| pid == me || !passing(pid))
            .collect();
        assert_eq!(details, vec![me]);
        Ok(())
    }
}
