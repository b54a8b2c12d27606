//! Signalling a socket's holder on Linux: through a pidfd, checked after it is opened.
//!
//! # How this closes the pid-reuse race
//!
//! `kill(pid)` after a scan can hit a stranger: the holder may exit and its pid be given
//! to a new process between the scan and the signal. A pidfd names one process for good,
//! but `pidfd_open(pid)` itself still picks whichever process has the pid at that moment,
//! so the check that the process holds the socket must come *after* it:
//!
//! 1. `pidfd_open(P)` at t1. Call the process it refers to X: the one that had pid P at t1.
//!    (`ESRCH`: nothing has pid P; the holder is gone.)
//! 2. Open `/proc/P/fd` at t2 (a directory descriptor: everything read through it is
//!    the descriptor table of the one process Y that had pid P at t2, or an error once Y
//!    is gone, never another process's), and find `socket:[I]`, the inode of the
//!    listener, among its links.
//! 3. `poll` the pidfd at t3: not readable means X has not exited by t3.
//!    A pid stays with its process until the process has exited *and* been reaped, and
//!    only then can it be given to another. X had P at t1 and had not exited at t3, so X
//!    had P during all of [t1, t3], and therefore Y = X: the table read in step 2 is X's,
//!    so X, the process behind the pidfd, held the socket at t2.
//! 4. `pidfd_send_signal(pidfd)` at t4 reaches X, or fails with `ESRCH` if X exited
//!    after t3. It never reaches a process that got pid P later: the pidfd stays X's.
//!
//! What remains is not a race with a stranger: X may close the socket itself between
//! t2 and t4, and is then signalled as the process that held it a moment earlier.
//! If pid P was already reused at t1, step 2 reads the new process's table, and the new
//! process is signalled only if it holds the listener itself: a stranger does not (socket
//! inode numbers come from a 32-bit counter that returns to a number only after some four
//! billion new inodes), while a process that does hold it (a worker forked anew by its
//! master, which happened to get pid P) is one of the listener's holders, the very
//! processes `kill` is asked to stop.
//! `/proc` must be the one of whoport's pid namespace (as for the owner scan).

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fd::OwnedFd;
use rustix::fs::{CWD, Dir, Mode, OFlags, openat, readlinkat};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

use super::{Delivery, SendError, Target};
use crate::collect::native::socket_inode;

/// Sends `sig` to `target.pid` if, checked after its pidfd was opened, that process still
/// holds one of `target.inodes`. `recheck` is for platforms without socket inodes.
pub(crate) fn send(
    target: &Target<'_>,
    sig: nix::sys::signal::Signal,
    _recheck: &dyn Fn(&Target<'_>) -> anyhow::Result<bool>,
) -> Result<Delivery, SendError> {
    if target.inodes.is_empty() {
        return Err(SendError::Unverifiable(
            "no socket inode to check the process against".to_string(),
        ));
    }
    let signal = Signal::from_named_raw(sig as i32)
        .ok_or_else(|| SendError::Unsupported(format!("signal {sig} is not supported here")))?;
    let pid = i32::try_from(target.pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| SendError::Unverifiable(format!("invalid pid {}", target.pid)))?;
    // 1. The pidfd: from here on, the process it names is fixed.
    let pidfd = match pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(Errno::SRCH) => return Ok(Delivery::Exited),
        Err(Errno::NOSYS) => {
            return Err(SendError::Unsupported(
                "this kernel has no pidfd_open (Linux 5.3 or newer): whoport does not \
                 signal by pid alone"
                    .to_string(),
            ));
        }
        Err(e) => return Err(SendError::Io(e.into())),
    };
    // 2. Does the process that has pid P now hold the socket?
    match holds(target.pid, target.inodes) {
        Ok(true) => {}
        Ok(false) => return Ok(Delivery::Released),
        Err(Errno::NOENT | Errno::SRCH) => return Ok(Delivery::Exited),
        Err(Errno::ACCESS | Errno::PERM) => return Err(SendError::NotPermitted),
        Err(e) => return Err(SendError::Io(e.into())),
    }
    // 3. Is the pidfd's process still alive, so that it is the one just read?
    if exited(&pidfd).map_err(|e| SendError::Io(e.into()))? {
        return Ok(Delivery::Exited);
    }
    // 4. The signal, to that process only.
    match pidfd_send_signal(&pidfd, signal) {
        Ok(()) => Ok(Delivery::Sent),
        Err(Errno::SRCH) => Ok(Delivery::Exited),
        Err(Errno::PERM) => Err(SendError::NotPermitted),
        Err(e) => Err(SendError::Io(e.into())),
    }
}

/// Whether the process with pid `pid` now has a descriptor for one of `inodes`.
fn holds(pid: u32, inodes: &[u64]) -> Result<bool, Errno> {
    let fd_dir = openat(
        CWD,
        format!("/proc/{pid}/fd"),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let entries = Dir::read_from(&fd_dir)?;
    let mut buf = Vec::with_capacity(64);
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes().first() == Some(&b'.') {
            continue;
        }
        // A descriptor closed since the listing is simply not there.
        let Ok(target) = readlinkat(&fd_dir, name, std::mem::take(&mut buf)) else {
            continue;
        };
        let found = socket_inode(target.as_bytes()).is_some_and(|i| inodes.contains(&i));
        buf = target.into_bytes();
        buf.clear();
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether the process behind a pidfd has exited (a pidfd polls readable then).
fn exited(pidfd: &OwnedFd) -> Result<bool, Errno> {
    let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let ready = poll(&mut fds, Some(&now))?;
    Ok(ready > 0 && !fds[0].revents().is_empty())
}

/// A process whose exit can be waited for without polling the process table: on Linux a
/// pidfd (it cannot be fooled by a reused pid).
pub(crate) struct Handle {
    pidfd: Option<OwnedFd>,
}

impl Handle {
    /// A handle on the process with this pid now (`None` inside when it already exited).
    pub(crate) fn open(pid: u32) -> Handle {
        let pidfd = i32::try_from(pid)
            .ok()
            .and_then(Pid::from_raw)
            .and_then(|pid| pidfd_open(pid, PidfdFlags::empty()).ok());
        Handle { pidfd }
    }

    /// Whether the process has exited (or could not be watched at all).
    pub(crate) fn exited(&self) -> bool {
        match &self.pidfd {
            Some(fd) => exited(fd).unwrap_or(true),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_socket_is_found_and_others_are_not() -> anyhow::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let fd_path = format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&listener)
        );
        let inode = std::fs::metadata(fd_path)?.ino();
        let me = std::process::id();
        assert_eq!(holds(me, &[inode]), Ok(true));
        assert_eq!(holds(me, &[inode + 1_000_000]), Ok(false));
        Ok(())
    }

    /// A process that holds `socket` as its standard input (a listener's holder).
    fn holder(socket: std::os::fd::OwnedFd) -> std::io::Result<std::process::Child> {
        std::process::Command::new("sleep")
            .arg("60")
            .stdin(std::process::Stdio::from(socket))
            .spawn()
    }

    /// A pid-reuse attempt, for real: a listener's holder is scanned (pid P, inode I),
    /// exits and is reaped; a new process of ours is made to get pid P (through
    /// `/proc/sys/kernel/ns_last_pid`, as checkpoint/restore does, which needs root).
    /// Signalling P by the stale scan must not reach it, although `kill(P, 0)` says P is
    /// alive and would have.
    #[test]
    fn a_reused_pid_is_never_signalled() -> anyhow::Result<()> {
        use std::os::unix::fs::MetadataExt;
        if !rustix::process::geteuid().is_root() {
            let why = "needs root to choose the next pid (/proc/sys/kernel/ns_last_pid)";
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "a_reused_pid_is_never_signalled cannot run in CI: {why}"
            );
            eprintln!("SKIP a_reused_pid_is_never_signalled: {why}");
            return Ok(());
        }
        for _attempt in 0..20 {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            let inode = std::fs::metadata(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&listener)
            ))?
            .ino();
            // The scan: pid P holds inode I.
            let mut first = holder(std::os::fd::OwnedFd::from(listener))?;
            let p = first.id();
            assert_eq!(holds(p, &[inode]), Ok(true));
            first.kill()?;
            first.wait()?;
            // P is free again; the next pid handed out is P.
            std::fs::write("/proc/sys/kernel/ns_last_pid", (p - 1).to_string())?;
            let mut second = std::process::Command::new("sleep").arg("60").spawn()?;
            if second.id() != p {
                // Another process on the host took P first; try again.
                second.kill()?;
                second.wait()?;
                continue;
            }
            let alive = |pid: u32| {
                rustix::process::test_kill_process(Pid::from_raw(pid as i32).unwrap_or(Pid::INIT))
                    .is_ok()
            };
            assert!(alive(p), "kill(P, 0) would reach the new process");
            let got = send(
                &Target {
                    pid: p,
                    inodes: &[inode],
                },
                nix::sys::signal::Signal::SIGTERM,
                &|_: &Target<'_>| Ok(true),
            );
            assert!(matches!(got, Ok(Delivery::Released)), "{got:?}");
            assert!(
                second.try_wait()?.is_none(),
                "the process that got the reused pid was signalled"
            );
            second.kill()?;
            second.wait()?;
            return Ok(());
        }
        panic!("pid reuse could not be arranged in 20 attempts (a busy host)")
    }

    #[test]
    fn a_holder_is_signalled_through_its_pidfd() -> anyhow::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let inode = std::fs::metadata(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&listener)
        ))?
        .ino();
        let mut child = holder(std::os::fd::OwnedFd::from(listener))?;
        let got = send(
            &Target {
                pid: child.id(),
                inodes: &[inode],
            },
            nix::sys::signal::Signal::SIGTERM,
            &|_: &Target<'_>| Ok(true),
        );
        assert!(matches!(got, Ok(Delivery::Sent)), "{got:?}");
        let status = child.wait()?;
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(15));
        Ok(())
    }

    #[test]
    fn exited_child_is_not_signalled() -> anyhow::Result<()> {
        let mut child = std::process::Command::new("true").spawn()?;
        let pid = child.id();
        let handle = Handle::open(pid);
        child.wait()?;
        // Reaped: the pid may already belong to someone else; nothing is sent.
        assert!(handle.exited());
        let got = send(
            &Target { pid, inodes: &[1] },
            nix::sys::signal::Signal::SIGTERM,
            &|_: &Target<'_>| Ok(true),
        );
        assert!(
            matches!(
                got,
                Ok(Delivery::Exited | Delivery::Released) | Err(SendError::NotPermitted)
            ),
            "{got:?}"
        );
        Ok(())
    }
}
