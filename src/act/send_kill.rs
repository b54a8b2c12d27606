//! Signalling a socket's holder where there is no pidfd (macOS, the BSDs): `kill(2)`
//! right after checking, with a fresh look at the socket table, that the pid still holds
//! the socket.
//!
//! The race this leaves open (docs/platforms.md): between that check and `kill(2)` the
//! holder can exit and its pid be given to a new process, which would get the signal.
//! macOS hands out pids in increasing order up to 99999 before it wraps, so a pid comes
//! back only after tens of thousands of other processes have started; the window is the
//! microseconds between the check and the call. Linux closes it (see `send_linux.rs`).

use rustix::io::Errno;
use rustix::process::{Pid, Signal, kill_process, test_kill_process};

use super::{Delivery, SendError, Target};

/// Sends `sig` to `target.pid` if `recheck` (a new scan of the socket) says that it
/// still holds the socket.
pub(crate) fn send(
    target: &Target<'_>,
    sig: nix::sys::signal::Signal,
    recheck: &dyn Fn(&Target<'_>) -> anyhow::Result<bool>,
) -> Result<Delivery, SendError> {
    let signal = Signal::from_named_raw(sig as i32)
        .ok_or_else(|| SendError::Unsupported(format!("signal {sig} is not supported here")))?;
    let pid = i32::try_from(target.pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| SendError::Unverifiable(format!("invalid pid {}", target.pid)))?;
    match recheck(target) {
        Ok(true) => {}
        Ok(false) => return Ok(Delivery::Released),
        Err(e) => return Err(SendError::Unverifiable(format!("{e:#}"))),
    }
    match kill_process(pid, signal) {
        Ok(()) => Ok(Delivery::Sent),
        Err(Errno::SRCH) => Ok(Delivery::Exited),
        Err(Errno::PERM) => Err(SendError::NotPermitted),
        Err(e) => Err(SendError::Io(e.into())),
    }
}

/// A process whose exit is noticed by asking for its pid (a reused pid reads as alive:
/// only `watch` uses this, to decide when to look again).
pub(crate) struct Handle {
    pid: Option<Pid>,
}

impl Handle {
    pub(crate) fn open(pid: u32) -> Handle {
        Handle {
            pid: i32::try_from(pid).ok().and_then(Pid::from_raw),
        }
    }

    pub(crate) fn exited(&self) -> bool {
        match self.pid {
            Some(pid) => matches!(test_kill_process(pid), Err(Errno::SRCH)),
            None => true,
        }
    }
}
