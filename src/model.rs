//! The plain data that flows through whoport: collect → annotate → filter → render.
//!
//! Nothing in here knows where the data came from (netlink, /proc, netstat2) or how it
//! will be printed.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

/// Socket state. TCP states follow the kernel's; an unconnected UDP socket is
/// `Unconnected` (ss prints it as UNCONN) and a connected one `Established`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Listen,
    Unconnected,
    Established,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Closing,
    NewSynRecv,
    BoundInactive,
    Unknown,
}

impl State {
    /// The kernel's `TCP_*` state numbers (include/net/tcp_states.h). UDP sockets reuse
    /// them: 7 (`TCP_CLOSE`) is an unconnected UDP socket, 1 a connected one.
    pub fn from_kernel(protocol: Protocol, n: u8) -> State {
        match (protocol, n) {
            (Protocol::Udp, 7) => State::Unconnected,
            (_, 1) => State::Established,
            (_, 2) => State::SynSent,
            (_, 3) => State::SynRecv,
            (_, 4) => State::FinWait1,
            (_, 5) => State::FinWait2,
            (_, 6) => State::TimeWait,
            (_, 7) => State::Close,
            (_, 8) => State::CloseWait,
            (_, 9) => State::LastAck,
            (_, 10) => State::Listen,
            (_, 11) => State::Closing,
            (_, 12) => State::NewSynRecv,
            (_, 13) => State::BoundInactive,
            _ => State::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Listen => "listen",
            State::Unconnected => "unconnected",
            State::Established => "established",
            State::SynSent => "syn_sent",
            State::SynRecv => "syn_recv",
            State::FinWait1 => "fin_wait1",
            State::FinWait2 => "fin_wait2",
            State::TimeWait => "time_wait",
            State::Close => "close",
            State::CloseWait => "close_wait",
            State::LastAck => "last_ack",
            State::Closing => "closing",
            State::NewSynRecv => "new_syn_recv",
            State::BoundInactive => "bound_inactive",
            State::Unknown => "unknown",
        }
    }

    /// A "listening" socket in the sense of `ss -l`: a TCP listener or an unconnected,
    /// bound UDP socket.
    pub fn is_listening(self) -> bool {
        matches!(self, State::Listen | State::Unconnected)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identity of a socket as the kernel reports it, before owners are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawSocket {
    pub protocol: Protocol,
    pub local_address: IpAddr,
    pub local_port: u16,
    pub remote_address: IpAddr,
    pub remote_port: u16,
    pub state: State,
    /// The uid the socket belongs to (the creator's), where the platform tells it.
    pub uid: Option<u32>,
    /// The socket's inode; `None` where the platform has none to give, `Some(0)` for a
    /// socket no file refers to any more (TIME_WAIT, orphaned).
    pub inode: Option<u64>,
    /// IPv6 only: the socket also accepts IPv4 (`IPV6_V6ONLY` is off). `None`: not known.
    pub v6only: Option<bool>,
    /// Pids holding the socket, sorted and without repeats.
    pub pids: Vec<u32>,
}

impl RawSocket {
    pub fn family(&self) -> Family {
        Family::of(&self.local_address)
    }

    /// The key that identifies one socket when no inode is known (portable path).
    pub fn key(&self) -> (Protocol, IpAddr, u16, IpAddr, u16, State) {
        (
            self.protocol,
            self.local_address,
            self.local_port,
            self.remote_address,
            self.remote_port,
            self.state,
        )
    }
}

/// What a backend saw of the process table while looking for owners.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnerScan {
    /// Whether owners were looked for at all (not when no socket matched).
    pub ran: bool,
    /// Processes whose descriptors could not be read (permission), so any socket not
    /// found elsewhere may belong to one of them.
    pub inaccessible: u32,
    /// Uids of those processes, sorted, without repeats.
    pub inaccessible_uids: Vec<u32>,
    /// The backend cannot tell which processes it failed to read (portable path); an
    /// unprivileged run must then assume any owner may be hidden.
    pub unknown_coverage: bool,
    /// Whether the scan ran as root.
    pub privileged: bool,
}

impl OwnerScan {
    pub fn complete(&self) -> bool {
        self.ran && self.inaccessible == 0 && !self.unknown_coverage
    }
}

/// What one collection produced.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub sockets: Vec<RawSocket>,
    pub scan: OwnerScan,
    /// Things the user should know about how complete this answer is.
    pub warnings: Vec<String>,
}

/// A process that holds a socket. Every field but `pid` can be missing: the process may
/// have exited between the socket scan and the detail read, or hide its details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Process {
    pub pid: u32,
    pub name: Option<String>,
    pub user: Option<String>,
    pub uid: Option<u32>,
    pub exe: Option<String>,
    pub cmdline: Option<Vec<String>>,
}

impl Process {
    /// A process known by its pid alone.
    pub fn bare(pid: u32) -> Process {
        Process {
            pid,
            name: None,
            user: None,
            uid: None,
            exe: None,
            cmdline: None,
        }
    }
}

/// Why the owner of a socket could not be seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HiddenReason {
    /// Not root: other users' processes could not be read, and the socket was not found
    /// among those that could.
    NotPermitted,
    /// Even root could not read some processes (a security module, another pid namespace,
    /// a sandbox), and the socket was not found among those that could.
    Unreadable,
}

impl HiddenReason {
    pub fn describe(self) -> &'static str {
        match self {
            HiddenReason::NotPermitted => {
                "not permitted to inspect the process holding it (run as root to see it)"
            }
            HiddenReason::Unreadable => "the process holding it cannot be inspected, even as root",
        }
    }
}

/// Who holds a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// These processes hold it (at least one). Shared between the sockets that the same
    /// processes hold: a process with a thousand sockets is one copy, not a thousand.
    Known(Arc<[Process]>),
    /// It exists, but its holder could not be read. `uid`/`user` are the socket's.
    Hidden {
        reason: HiddenReason,
        uid: Option<u32>,
        user: Option<String>,
    },
    /// No process holds it, established with certainty (TIME_WAIT, kernel socket).
    None { reason: NoneReason },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoneReason {
    /// No file refers to the socket any more (TIME_WAIT, an orphaned connection).
    NoFile,
    /// Every process was inspected and none holds it: a kernel socket.
    NoProcess,
}

impl NoneReason {
    pub fn describe(self) -> &'static str {
        match self {
            NoneReason::NoFile => "no process: the socket is closed or closing",
            NoneReason::NoProcess => "no process holds it (kernel socket)",
        }
    }
}

impl Owner {
    pub fn kind(&self) -> &'static str {
        match self {
            Owner::Known(_) => "known",
            Owner::Hidden { .. } => "hidden",
            Owner::None { .. } => "none",
        }
    }

    pub fn processes(&self) -> &[Process] {
        match self {
            Owner::Known(p) => p,
            _ => &[],
        }
    }
}

/// A socket with its owner resolved and its annotations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    pub raw: RawSocket,
    /// The socket's user name (from its uid), shared by the sockets of that user.
    pub user: Option<Arc<str>>,
    pub owner: Owner,
    /// Machine-readable marks, e.g. `dual_stack`, `owners_incomplete`.
    pub flags: Vec<String>,
}

/// RFC 6335 section 6 range class of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RangeClass {
    System,
    User,
    Dynamic,
}

impl RangeClass {
    pub fn of(port: u16) -> RangeClass {
        match port {
            0..=1023 => RangeClass::System,
            1024..=49151 => RangeClass::User,
            _ => RangeClass::Dynamic,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RangeClass::System => "system",
            RangeClass::User => "user",
            RangeClass::Dynamic => "dynamic",
        }
    }
}

/// What is known about one port the user asked about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortInfo {
    pub port: u16,
    pub range: RangeClass,
    /// How many sockets matched this port.
    pub sockets: usize,
}

/// The whole answer: what render and check work from.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub sockets: Vec<Socket>,
    pub ports: Vec<PortInfo>,
    pub warnings: Vec<String>,
    pub scan: OwnerScan,
}
