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

/// Pids handed to a thread at a time: few, so that a run of processes with thousands of
/// descriptors each does not leave one thread working alone at the end.
const CHUNK: usize = 4;

#[derive(Debug, Default)]
pub(crate) struct FdScan {
    /// (inode, pid) for every wanted socket found, sorted, without repeats.
    pub(crate) holders: Vec<(u64, u32)>,
    /// Processes whose descriptors could not be read.
    pub(crate) inaccessible: u32,
    /// Their uids, sorted, without repeats.
    pub(crate) inaccessible_uids: Vec<u32>,
}

/// Finds the holders of the sockets whose inodes are given (sorted).
pub(crate) fn scan(wanted: &[u64]) -> Result<FdScan> {
    let proc_dir = openat(
        CWD,
        c"/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .context("opening /proc")?;
    let pids = list_pids(&proc_dir).context("listing /proc")?;
    let parts = parallel::for_each(
        &pids,
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
        |(part, dir_buf), &pid| scan_pid(&proc_dir, pid, wanted, dir_buf, part),
    );
    let mut out = FdScan::default();
    out.holders
        .reserve_exact(parts.iter().map(|(part, _)| part.holders.len()).sum());
    for (mut part, _) in parts {
        out.holders.append(&mut part.holders);
        out.inaccessible += part.inaccessible;
        out.inaccessible_uids.append(&mut part.inaccessible_uids);
    }
    out.holders.sort_unstable();
    out.holders.dedup();
    out.inaccessible_uids.sort_unstable();
    out.inaccessible_uids.dedup();
    Ok(out)
}

pub fn list_pids(proc_dir: &OwnedFd) -> Result<Vec<u32>> {
    // A fresh descriptor: reading a directory moves its offset.
    let dir = openat(
        proc_dir,
        c".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 64 * 1024];
    let mut entries = RawDir::new(dir, &mut buf);
    let mut pids = Vec::with_capacity(1024);
    while let Some(entry) = entries.next() {
        if let Some(pid) = parse_decimal(entry?.file_name().to_bytes()) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

fn scan_pid(
    proc_dir: &OwnedFd,
    pid: u32,
    wanted: &[u64],
    dir_buf: &mut [MaybeUninit<u8>],
    out: &mut FdScan,
) {
    let mut path = [0u8; 24];
    let fd_path = pid_path(&mut path, pid, b"/fd");
    let fd_dir = match openat(
        proc_dir,
        fd_path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::SRCH) => return, // exited meanwhile
        Err(_) => return inaccessible(proc_dir, pid, out),
    };
    let mut link = [0u8; 64];
    let mut entries = RawDir::new(fd_dir.as_fd(), dir_buf);
    while let Some(entry) = entries.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(Errno::NOENT | Errno::SRCH) => return,
            Err(_) => return inaccessible(proc_dir, pid, out),
        };
        let name = entry.file_name();
        if name.to_bytes().first() == Some(&b'.') {
            continue;
        }
        let n = match readlinkat_raw(&fd_dir, name, &mut link[..]) {
            Ok(n) => n.min(link.len()),
            Err(Errno::NOENT | Errno::SRCH) => continue, // closed meanwhile
            Err(_) => return inaccessible(proc_dir, pid, out),
        };
        if let Some(inode) = socket_inode(&link[..n])
            && wanted.binary_search(&inode).is_ok()
        {
            out.holders.push((inode, pid));
        }
    }
}

fn inaccessible(proc_dir: &OwnedFd, pid: u32, out: &mut FdScan) {
    let mut path = [0u8; 24];
    match statat(proc_dir, pid_path(&mut path, pid, b""), AtFlags::empty()) {
        Ok(st) => {
            out.inaccessible += 1;
            out.inaccessible_uids.push(st.st_uid);
        }
        // Gone: nothing was hidden.
        Err(Errno::NOENT | Errno::SRCH) => {}
        Err(_) => out.inaccessible += 1,
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
        scan_pid(&proc_dir, 4_194_305, &[1, 2, 3], &mut buf, &mut out);
        assert!(out.holders.is_empty());
        assert_eq!(out.inaccessible, 0);
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
        assert_eq!(found.holders, vec![(inode, std::process::id())]);
        Ok(())
    }
}
