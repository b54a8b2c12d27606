//! Process details on Linux, read from /proc directly for the owners found, spread over
//! the cores. The fields and the way they are read are sysinfo's (`details.rs`, which the
//! portable path keeps using): the name from `stat`, the real uid from `status`, the
//! executable from the `exe` link without a ` (deleted)` suffix, the command line from
//! `cmdline` without empty arguments. A test holds the two to the same answers.
//!
//! sysinfo reads the same files one process after the other through absolute paths; here
//! each process's directory is opened once, relative to an open /proc, and the owners
//! of a busy host (a thousand processes) are read in parallel.

use std::collections::HashMap;
use std::ffi::CStr;
use std::os::fd::OwnedFd;

use rustix::fs::{CWD, Mode, OFlags, openat, readlinkat};

use super::fdscan::pid_path;
use super::parallel;
use crate::collect::containers::cgroup;
use crate::collect::{ProcessSource, details::full_name};
use crate::model::{CgroupFacts, Process, ReadCgroup};

/// Pids handed to a thread at a time.
const CHUNK: usize = 32;

pub(crate) struct ProcfsProcesses;

/// What one process's files say, before user names are looked up.
#[derive(Debug, PartialEq, Eq)]
struct Read {
    pid: u32,
    comm: String,
    uid: Option<u32>,
    exe: Option<String>,
    cmdline: Vec<String>,
    exe_deleted: bool,
    cmdline_raw: Option<Vec<Vec<u8>>>,
}

impl ProcessSource for ProcfsProcesses {
    fn processes(&self, pids: &[u32]) -> HashMap<u32, Process> {
        let Ok(proc_dir) = openat(
            CWD,
            c"/proc",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            return HashMap::new();
        };
        let parts = parallel::for_each(
            pids,
            CHUNK,
            || (Vec::new(), Vec::with_capacity(4096)),
            |(found, buf): &mut (Vec<Read>, Vec<u8>), &pid| {
                found.extend(read(&proc_dir, pid, buf));
            },
        );
        parts
            .into_iter()
            .flat_map(|(found, _)| found)
            .map(|r| (r.pid, r.into_process()))
            .collect()
    }
}

impl Read {
    fn into_process(self) -> Process {
        Process {
            pid: self.pid,
            name: Some(full_name(
                &self.comm,
                self.exe.as_deref(),
                self.cmdline.first(),
            )),
            user: None, // named in resolve, through the host
            uid: self.uid,
            exe: self.exe.filter(|e| !e.is_empty()),
            // Kernel threads and zombies have an empty command line.
            cmdline: (!self.cmdline.is_empty()).then_some(self.cmdline),
            exe_deleted: self.exe_deleted,
            cmdline_raw: self.cmdline_raw,
            context: Default::default(),
        }
    }
}

/// The details of the process whose /proc/PID directory `dir` is, read through it: if
/// that process has exited, `None`, even when its pid already names another process.
#[cfg(test)]
pub(crate) fn details_in(dir: &OwnedFd, pid: u32, buf: &mut Vec<u8>) -> Option<Process> {
    read_in(dir, pid, buf, None).map(Read::into_process)
}

/// [`details_in`] and what the process's cgroup file says (read in the same pass: the
/// kernel serialises the reading of cgroup files, so that they are best read beside other
/// work). The command name and real uid are read from `status` unless they are `known`
/// already (the BPF walk reads them from the task).
pub(crate) fn details_and_cgroup(
    dir: &OwnedFd,
    pid: u32,
    known: Option<(&[u8], u32)>,
    buf: &mut Vec<u8>,
) -> Option<(Process, Option<ReadCgroup>)> {
    let known = known.map(|(comm, uid)| (String::from_utf8_lossy(comm).into_owned(), uid));
    let read = read_in(dir, pid, buf, known)?;
    let cgroup = read_file(dir, c"cgroup", buf)
        .and_then(|text| std::str::from_utf8(text).ok())
        .map(|text| Some(Box::new(cgroup::parse(text))).filter(|f| **f != CgroupFacts::default()));
    Some((read.into_process(), cgroup))
}

/// One process's details; `None` when it has exited (or its `stat` cannot be read).
fn read(proc_dir: &OwnedFd, pid: u32, buf: &mut Vec<u8>) -> Option<Read> {
    let mut path = [0u8; 24];
    let dir = openat(
        proc_dir,
        pid_path(&mut path, pid, b""),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    read_in(&dir, pid, buf, None)
}

/// [`read`] through an open /proc/PID directory. Every file is read through it: if the
/// process exits and its pid is reused meanwhile, the reads fail instead of describing
/// the newcomer.
fn read_in(
    dir: &OwnedFd,
    pid: u32,
    buf: &mut Vec<u8>,
    known: Option<(String, u32)>,
) -> Option<Read> {
    let (comm, uid) = match known {
        Some((comm, uid)) => (comm, Some(uid)),
        None => {
            // `status` holds both the name and the real uid: one file where sysinfo reads
            // two.
            let status = read_file(dir, c"status", buf)?;
            (status_name(status)?, real_uid(status))
        }
    };
    let mut exe_deleted = false;
    let exe = readlinkat(dir, c"exe", Vec::new()).ok().map(|target| {
        let target = target.as_bytes();
        // Linux appends " (deleted)" to an executable removed or replaced since the start;
        // a file really named so is told apart by its link count (0 once deleted).
        let target = match target.strip_suffix(b" (deleted)") {
            Some(stripped) if exe_unlinked(dir) => {
                exe_deleted = true;
                stripped
            }
            _ => target,
        };
        String::from_utf8_lossy(target).into_owned()
    });
    let mut cmdline_raw = None;
    let cmdline = read_file(dir, c"cmdline", buf)
        .map(|data| {
            let raw: Vec<&[u8]> = data.split(|&b| b == 0).filter(|a| !a.is_empty()).collect();
            if raw.iter().any(|a| std::str::from_utf8(a).is_err()) {
                cmdline_raw = Some(raw.iter().map(|a| a.to_vec()).collect());
            }
            let mut args: Vec<String> = raw
                .into_iter()
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            // Kept until the end, for every owner: no room to spare.
            args.shrink_to_fit();
            args
        })
        .unwrap_or_default();
    Some(Read {
        pid,
        comm,
        uid,
        exe,
        cmdline,
        exe_deleted,
        cmdline_raw,
    })
}

/// Whether the executable behind `exe` has no name left on disk (`stat` follows the
/// link to the running file itself, which is never another file).
fn exe_unlinked(dir: &OwnedFd) -> bool {
    rustix::fs::statat(dir, c"exe", rustix::fs::AtFlags::empty()).is_ok_and(|st| st.st_nlink == 0)
}

/// The whole of a /proc file, in `buf`.
fn read_file<'a>(dir: &OwnedFd, name: &CStr, buf: &'a mut Vec<u8>) -> Option<&'a [u8]> {
    let file = openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    buf.clear();
    loop {
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(buf.capacity().max(4096));
        }
        let room = buf.capacity() - buf.len();
        match rustix::io::read(&file, rustix::buffer::spare_capacity(buf)) {
            Ok(0) => return Some(buf),
            // The files read here are short only at their end: `status` and `cgroup` come
            // whole from the buffer the kernel builds them in (seq_file), `cmdline` is
            // copied until the buffer is full or the arguments end. The read that would
            // return 0 is spared (a thousand processes, two files each).
            Ok(n) if n < room => return Some(buf),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return None,
        }
    }
}

/// The command name: `status`'s "Name:" line, where the kernel writes the name that
/// `stat` holds raw with two escapes, `\n` for a newline and `\\` for a backslash
/// (`proc_task_name`), undone here.
pub(crate) fn status_name(status: &[u8]) -> Option<String> {
    let line = status.split(|&b| b == b'\n').next()?;
    let escaped = line.strip_prefix(b"Name:")?.strip_prefix(b"\t")?;
    let mut name = Vec::with_capacity(escaped.len());
    let mut bytes = escaped.iter();
    while let Some(&b) = bytes.next() {
        if b == b'\\' {
            match bytes.next() {
                Some(b'n') => name.push(b'\n'),
                Some(&other) => name.push(other),
                None => name.push(b),
            }
        } else {
            name.push(b);
        }
    }
    Some(String::from_utf8_lossy(&name).into_owned())
}

/// The real uid: the first number on `status`'s "Uid:" line.
pub(crate) fn real_uid(status: &[u8]) -> Option<u32> {
    status
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"Uid:"))
        .and_then(|ids| {
            ids.split(|&b| b == b'\t' || b == b' ')
                .find(|s| !s.is_empty())
        })
        .and_then(|uid| std::str::from_utf8(uid).ok()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::details::SysinfoProcesses;

    #[test]
    fn parses_status() {
        let status = b"Name:\tsshd\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t5\t5\t5\t5\n";
        assert_eq!(status_name(status).as_deref(), Some("sshd"));
        assert_eq!(real_uid(status), Some(1000));
        assert_eq!(real_uid(b"Name:\tx\n"), None);
        assert_eq!(
            status_name(b"Name:\ta\\nb\\\\c d (e)\nUid:\t0\n").as_deref(),
            Some("a\nb\\c d (e)")
        );
        assert_eq!(status_name(b"Name:\t\nUid:\t0\n").as_deref(), Some(""));
        assert_eq!(status_name(b"Uid:\t0\n"), None);
    }

    /// Details read through a /proc/PID directory descriptor are that process's or none:
    /// once it has exited, nothing more is read through it (also when its pid names
    /// another process by then, as the kernel ties the directory to the process).
    #[test]
    fn a_directory_descriptor_outlives_nothing() -> std::io::Result<()> {
        let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
        let pid = child.id();
        let mut path = [0u8; 24];
        let dir = openat(
            CWD,
            c"/proc",
            OFlags::PATH | OFlags::DIRECTORY,
            Mode::empty(),
        )
        .and_then(|proc_dir| {
            openat(
                &proc_dir,
                pid_path(&mut path, pid, b""),
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
        });
        let Ok(dir) = dir else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other("cannot open /proc/PID"));
        };
        let mut buf = Vec::new();
        let alive = details_in(&dir, pid, &mut buf);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(alive.and_then(|p| p.name).as_deref(), Some("sleep"));
        assert_eq!(details_in(&dir, pid, &mut buf), None);
        Ok(())
    }

    /// The same answers as sysinfo, for processes that stay put while both read them:
    /// this one, and children with spaces, parentheses and empty arguments in their
    /// command lines.
    #[test]
    fn agrees_with_sysinfo() -> std::io::Result<()> {
        let mut children = Vec::new();
        for args in [
            &["-c", "sleep 30", "sh (odd) name", "", "x y"][..],
            &["-c", "exec sleep 30"],
            // A name with a newline, a backslash and parentheses, which `status` escapes
            // and `stat` does not.
            &["-c", "printf 'a\\\\b\\n(c)' > /proc/$$/comm; sleep 30"],
        ] {
            children.push(std::process::Command::new("sh").args(args).spawn()?);
        }
        let mut pids: Vec<u32> = children.iter().map(std::process::Child::id).collect();
        pids.push(std::process::id());
        // Gone: both leave it out.
        pids.push(u32::MAX - 1);
        // Let the children exec.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let ours = ProcfsProcesses.processes(&pids);
        let theirs = SysinfoProcesses.processes(&pids);
        for mut child in children {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert_eq!(ours.len(), 4, "{ours:?}");
        assert!(
            ours.values()
                .any(|p| p.name.as_deref() == Some("a\\b\n(c)")),
            "{ours:?}"
        );
        assert_eq!(ours, theirs);
        let dropped_empty = ["sh", "-c", "sleep 30", "sh (odd) name", "x y"].map(String::from);
        assert!(
            ours.values()
                .any(|p| p.cmdline.as_deref() == Some(&dropped_empty[..])),
            "{ours:?}"
        );
        Ok(())
    }
}
