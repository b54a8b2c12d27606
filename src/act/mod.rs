//! Acting on a port: `whoport kill` (signal the holders of its listeners, safely),
//! `whoport wait` (until it is listening, held or free) and `whoport watch` (a line per
//! change), and `whoport registry` (the copy of the IANA registry). Everything here works
//! on the sockets and owners that `collect` and `resolve` produce; the decisions (whom to refuse, in which order to signal, what changed) are
//! pure functions, tested on hand-built data.
//!
//! The one piece that knows the operating system is how a signal is sent: through a pidfd
//! on Linux (`send_linux.rs`, which says how that closes the pid-reuse race), `kill(2)`
//! after a fresh check elsewhere (`send_kill.rs`). `#[cfg]` appears here only.

pub(crate) mod duration;
pub(crate) mod kill;
pub(crate) mod kill_cmd;
pub(crate) mod lineage;
pub(crate) mod order;
pub(crate) mod refuse;
pub(crate) mod registry;
pub(crate) mod signal;
pub(crate) mod wait;
pub(crate) mod wait_cmd;
pub(crate) mod watch;
pub(crate) mod watch_cmd;
mod world;

#[cfg(target_os = "linux")]
#[path = "send_linux.rs"]
mod send;
#[cfg(not(target_os = "linux"))]
#[path = "send_kill.rs"]
mod send;

use std::fmt;

pub(crate) use send::{Handle, send};

/// A process to signal and the sockets it was seen holding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target<'a> {
    pub(crate) pid: u32,
    /// The inodes of the listening sockets it held at the scan (empty where the platform
    /// has none: macOS).
    pub(crate) inodes: &'a [u64],
}

/// What became of a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Sent to the process that holds the socket.
    Sent,
    /// The process had exited: nothing sent.
    Exited,
    /// The process (or whoever has its pid now) no longer holds the socket: nothing sent.
    Released,
}

impl Delivery {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Delivery::Sent => "sent",
            Delivery::Exited => "exited",
            Delivery::Released => "released",
        }
    }
}

/// Why a signal was not sent.
#[derive(Debug)]
pub(crate) enum SendError {
    /// Not allowed to signal (or to read the descriptors of) that process: another user's.
    NotPermitted,
    /// The platform cannot do it safely (no pidfd_open).
    Unsupported(String),
    /// The process could not be checked against the socket.
    Unverifiable(String),
    Io(std::io::Error),
}

impl SendError {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            SendError::NotPermitted => "not_permitted",
            SendError::Unsupported(_) => "unsupported",
            SendError::Unverifiable(_) => "unverifiable",
            SendError::Io(_) => "error",
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotPermitted => f.write_str("not permitted (another user's process: sudo)"),
            SendError::Unsupported(why) | SendError::Unverifiable(why) => f.write_str(why),
            SendError::Io(e) => write!(f, "{e}"),
        }
    }
}
