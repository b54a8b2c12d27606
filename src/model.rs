//! The plain data that flows through whoport: collect → annotate → filter → render.
//!
//! Nothing in here knows where the data came from (netlink, /proc, netstat2) or how it
//! will be printed.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
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
    /// Whether every process was read, so a socket with no holder found has none. Never
    /// true without root: with `hidepid=` on /proc, other users' processes cannot even be
    /// listed, let alone counted.
    pub fn complete(&self) -> bool {
        self.ran && self.privileged && self.inaccessible == 0 && !self.unknown_coverage
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
    /// A process known only by its pid (it exited before its details were read).
    pub fn unknown(pid: u32) -> Process {
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
                "not permitted to inspect the process holding it (to see it: sudo whoport …)"
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

/// `address:port`, with IPv6 addresses in brackets (`[::1]:8080`).
pub fn endpoint(addr: &IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// The `flags` that the Xsan annotation sets on a listening socket of an Xsan
/// port: its owner is a known process that is not Xsan…
pub const FLAG_XSAN_CONFLICT: &str = "xsan_port_non_xsan_process";
/// …its owner is hidden, so it cannot be verified…
pub const FLAG_XSAN_CANNOT_VERIFY: &str = "xsan_cannot_verify";
/// …or every known owner is a verified Xsan process.
pub const FLAG_XSAN_VERIFIED: &str = "xsan_verified";

/// A socket with its owner resolved and its annotations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    pub raw: RawSocket,
    /// The socket's user name (from its uid), shared by the sockets of that user.
    pub user: Option<Arc<str>>,
    pub owner: Owner,
    /// Machine-readable marks, e.g. `dual_stack`, `owners_incomplete`.
    pub flags: Vec<String>,
    /// What is known about its ports (filled in by `annotate`).
    pub knowledge: SocketKnowledge,
}

/// What `annotate` knows about one socket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketKnowledge {
    /// The IANA service name of the local port (not for a client's ephemeral port).
    pub service: Option<String>,
    /// The IANA service name of the remote port, for a client-side socket.
    pub remote_service: Option<String>,
    /// The Xsan verdict, for a listener on an Xsan port.
    pub xsan: Option<XsanCheck>,
}

/// Why a port counts as an Xsan port (Apple's documented uses; the host's fsports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum XsanPort {
    /// 311/tcp: Apple's secure server administration, Xsan Admin included.
    ServerAdmin,
    /// 312/tcp: Xsan Administration.
    XsanAdmin,
    /// Inside MinPort-MaxPort of this host's fsports file.
    FsportsWindow,
    /// The AltPmap port of this host's fsports file.
    AltPmap,
    /// In 49152-65535/tcp (Xsan Filesystem Access) on a host with Xsan configured and no
    /// fsports file.
    ConfiguredRange,
    /// In 49152-65535/tcp, asked about by number.
    AskedRange,
}

impl XsanPort {
    pub fn as_str(self) -> &'static str {
        match self {
            XsanPort::ServerAdmin => "server_admin",
            XsanPort::XsanAdmin => "xsan_admin",
            XsanPort::FsportsWindow => "fsports_window",
            XsanPort::AltPmap => "alt_pmap",
            XsanPort::ConfiguredRange => "configured_range",
            XsanPort::AskedRange => "asked_range",
        }
    }
}

/// Whether the listener on an Xsan port is Xsan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum XsanVerdict {
    /// Every process holding it runs from an Xsan executable directory.
    Xsan,
    /// A process holding it does not (or no process does): the flag.
    NotXsan,
    /// Its holder cannot be seen, or its executable cannot be read.
    CannotVerify,
}

impl XsanVerdict {
    pub const ALL: [XsanVerdict; 3] = [
        XsanVerdict::NotXsan,
        XsanVerdict::CannotVerify,
        XsanVerdict::Xsan,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            XsanVerdict::Xsan => "xsan",
            XsanVerdict::NotXsan => "not_xsan",
            XsanVerdict::CannotVerify => "cannot_verify",
        }
    }

    /// The socket flag that carries the verdict.
    pub fn flag(self) -> &'static str {
        match self {
            XsanVerdict::Xsan => FLAG_XSAN_VERIFIED,
            XsanVerdict::NotXsan => FLAG_XSAN_CONFLICT,
            XsanVerdict::CannotVerify => FLAG_XSAN_CANNOT_VERIFY,
        }
    }
}

/// The Xsan rule's answer for one listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XsanCheck {
    pub port: XsanPort,
    pub verdict: XsanVerdict,
    /// One plain sentence: which process, which executable, why.
    pub reason: String,
}

/// What this host says about Xsan (read once, before annotating).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct XsanHost {
    /// The configuration directories looked in, in order.
    pub config_dirs: Vec<PathBuf>,
    /// The directory holding `fsnameservers`: Xsan (or StorNext) is configured here.
    pub configured_in: Option<PathBuf>,
    /// The host's fsports file, when there is a valid one.
    pub fsports: Option<FsPorts>,
    /// Directories whose executables are Xsan's (canonical where they exist).
    pub bin_dirs: Vec<PathBuf>,
    /// `XSAN_ALT_BINDIR` from `.xsanrc`, when set (also in `bin_dirs`).
    pub alt_bin_dir: Option<PathBuf>,
    /// Problems with the files read (an fsports file without MinPort, …).
    pub warnings: Vec<String>,
    /// Executable directories (or directories above them) that a user other than root can
    /// write to: any program put there would pass for Xsan's. Reported when a verdict
    /// relies on them.
    pub bin_dir_warnings: Vec<String>,
}

impl XsanHost {
    /// Xsan is set up on this host: an `fsnameservers` or an `fsports` file.
    pub fn is_configured(&self) -> bool {
        self.configured_in.is_some() || self.fsports.is_some()
    }
}

/// The fsports file (fsports(4)): the ports Xsan's server processes may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsPorts {
    pub path: PathBuf,
    pub min_port: u16,
    pub max_port: u16,
    pub alt_pmap: Option<u16>,
}

/// The range this OS picks ephemeral (client) ports from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EphemeralRange {
    pub first: u16,
    pub last: u16,
    /// Where it was read (a file or sysctl names).
    pub source: &'static str,
}

impl EphemeralRange {
    pub fn contains(&self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }
}

/// Where a note about a port comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum NoteSource {
    /// IANA's registry and RFC 6335.
    #[serde(rename = "IANA")]
    Iana,
    /// Apple's documentation (HT202944, Xsan manual pages).
    Apple,
    /// What this host says (its ephemeral range, its Xsan configuration).
    #[serde(rename = "host")]
    Host,
}

impl NoteSource {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteSource::Iana => "IANA",
            NoteSource::Apple => "Apple",
            NoteSource::Host => "host",
        }
    }
}

/// A statement about a port, with its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub source: NoteSource,
    pub text: String,
}

/// One IANA registry row of a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IanaEntry {
    /// `None` for Reserved and Unassigned rows.
    pub service: Option<String>,
    /// `None` when the row names no protocol (it is for all).
    pub protocol: Option<&'static str>,
    pub description: String,
    pub first_port: u16,
    pub last_port: u16,
}

/// Which copy of the IANA registry answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryInfo {
    /// `built-in` or `user`.
    pub copy: &'static str,
    pub path: Option<PathBuf>,
    /// The built-in copy's generation date, or the newest date in a user copy.
    pub date: Option<String>,
    pub rows: usize,
}

impl Socket {
    /// The Xsan verdict on this socket, if it is a listener on an Xsan port (set by
    /// `annotate`, which also adds the verdict's flag).
    pub fn xsan(&self) -> Option<XsanVerdict> {
        self.knowledge.xsan.as_ref().map(|c| c.verdict)
    }

    /// Sets the Xsan verdict, and its flag.
    pub fn set_xsan(&mut self, check: XsanCheck) {
        self.flags.push(check.verdict.flag().to_string());
        self.knowledge.xsan = Some(check);
    }
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
    /// Every IANA registry row of the port (filled in by `annotate`).
    pub iana: Vec<IanaEntry>,
    /// What else is known, with its source (filled in by `annotate`).
    pub notes: Vec<Note>,
    /// Whether the port is in this OS's ephemeral range, where that is known.
    pub in_ephemeral_range: Option<bool>,
}

/// The whole answer: what render and check work from.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub sockets: Vec<Socket>,
    pub ports: Vec<PortInfo>,
    pub warnings: Vec<String>,
    pub scan: OwnerScan,
    /// The registry copy that annotated this report.
    pub registry: Option<RegistryInfo>,
    /// This OS's ephemeral port range, where it could be read.
    pub ephemeral: Option<EphemeralRange>,
    /// The Xsan audit (`--xsan`): what the host says about Xsan.
    pub xsan: Option<XsanHost>,
}
