//! The plain data that flows through whoport: what is asked (`query`, `expect`), what
//! was found (raw sockets, processes, owners) and what is known about it (the report).
//!
//! The bottom layer: nothing in here knows where the data came from (netlink, /proc,
//! netstat2) or how it will be printed, and it imports no other module of whoport.

mod context;
mod expect;
mod query;
#[cfg(test)]
pub(crate) mod testing;

pub(crate) use context::{
    Ancestor, CgroupFacts, Container, ContainerRef, NetnsInfo, NetnsScope, Pod, ProcessContext,
    Published, ReadCgroup, Runtime, SocketContext, Unit, Via,
};
pub(crate) use expect::{CheckSpec, Expectation, OwnerClause, WarnOn};
pub(crate) use query::{
    Filters, Kinds, PortArg, PortSet, SocketQuery, UserFilter, asked_by_number,
};

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Protocol {
    Tcp,
    Udp,
    /// UDP-Lite (RFC 3828): UDP's port space of its own, listed with `-u`.
    #[serde(rename = "udplite")]
    UdpLite,
    /// Multipath TCP (RFC 8684): the socket a process holds; its subflows are TCP
    /// sockets (flag `mptcp_subflow`). Listed with `-t`.
    Mptcp,
}

impl Protocol {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::UdpLite => "udplite",
            Protocol::Mptcp => "mptcp",
        }
    }

    /// The protocol whose port numbers and filters it shares: TCP for MPTCP, UDP for
    /// UDP-Lite.
    pub(crate) fn base(self) -> Protocol {
        match self {
            Protocol::Tcp | Protocol::Mptcp => Protocol::Tcp,
            Protocol::Udp | Protocol::UdpLite => Protocol::Udp,
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
pub(crate) enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub(crate) fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
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
pub(crate) enum State {
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
    pub(crate) fn from_kernel(protocol: Protocol, n: u8) -> State {
        match (protocol, n) {
            (Protocol::Udp | Protocol::UdpLite, 7) => State::Unconnected,
            // sock_diag lists a TCP socket in TCP_CLOSE only from the bind table (Linux
            // 6.6+): bound, neither listening nor connected.
            (Protocol::Tcp, 7) => State::BoundInactive,
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

    pub(crate) fn as_str(self) -> &'static str {
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
    pub(crate) fn is_listening(self) -> bool {
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
pub(crate) struct RawSocket {
    pub(crate) protocol: Protocol,
    pub(crate) local_address: IpAddr,
    pub(crate) local_port: u16,
    pub(crate) remote_address: IpAddr,
    pub(crate) remote_port: u16,
    pub(crate) state: State,
    /// The uid the socket belongs to (the creator's), where the platform tells it.
    pub(crate) uid: Option<u32>,
    /// The socket's inode; `None` where the platform has none to give, `Some(0)` for a
    /// socket no file refers to any more (TIME_WAIT, orphaned).
    pub(crate) inode: Option<u64>,
    /// IPv6 only: the socket also accepts IPv4 (`IPV6_V6ONLY` is off). `None`: not known.
    pub(crate) v6only: Option<bool>,
    /// Pids holding the socket, sorted and without repeats.
    pub(crate) pids: Few<u32>,
    /// (pid, descriptor number) of every descriptor found referring to the socket,
    /// sorted; empty where the platform does not say (portable path).
    pub(crate) fds: Few<(u32, u32)>,
    /// What the collector learnt about how the socket is held (copied into the
    /// socket's flags): `AwaitingAccept`, `HeldByThread`, `MptcpSubflow`.
    pub(crate) marks: Flags,
    /// The network namespace (its inode) it was read in, when whoport looked beyond its
    /// own (`--netns`, the free-port hint); `None` otherwise.
    pub(crate) netns: Option<std::num::NonZeroU64>,
}

impl RawSocket {
    /// Whether IPv4 traffic reaches this socket, so an IPv4 bind to its port fails: an
    /// IPv4 socket, an IPv6 one bound to an IPv4-mapped address (`::ffff:127.0.0.1`),
    /// or an IPv6 wildcard with `IPV6_V6ONLY` off — or not known to be on (Linux's
    /// default is off; /proc/net and netstat2 do not say).
    pub(crate) fn accepts_ipv4(&self) -> bool {
        match self.local_address {
            IpAddr::V4(_) => true,
            IpAddr::V6(a) => {
                a.to_ipv4_mapped().is_some() || (a.is_unspecified() && self.v6only != Some(true))
            }
        }
    }

    /// An IPv6 socket bound to an IPv4-mapped address: it accepts IPv4 only.
    pub(crate) fn is_ipv4_mapped(&self) -> bool {
        matches!(self.local_address, IpAddr::V6(a) if a.to_ipv4_mapped().is_some())
    }

    pub(crate) fn family(&self) -> Family {
        Family::of(&self.local_address)
    }

    /// The key that identifies one socket when no inode is known (portable path).
    pub(crate) fn key(&self) -> (Protocol, IpAddr, u16, IpAddr, u16, State) {
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

/// A few values, in order: inline when there is one (a socket's holders and descriptors,
/// nearly always one), else a slice of their own. Reads as a slice.
#[derive(Clone)]
pub(crate) enum Few<T> {
    One(T),
    /// None, or more than one (never one: see `From<Vec<T>>`).
    Many(Box<[T]>),
}

impl<T> Default for Few<T> {
    fn default() -> Few<T> {
        Few::Many(Box::default())
    }
}

impl<T> std::ops::Deref for Few<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match self {
            Few::One(one) => std::slice::from_ref(one),
            Few::Many(many) => many,
        }
    }
}

impl<T> From<Vec<T>> for Few<T> {
    fn from(mut values: Vec<T>) -> Few<T> {
        match values.len() {
            1 => match values.pop() {
                Some(one) => Few::One(one),
                None => Few::default(),
            },
            _ => Few::Many(values.into_boxed_slice()),
        }
    }
}

impl<T> FromIterator<T> for Few<T> {
    fn from_iter<I: IntoIterator<Item = T>>(values: I) -> Few<T> {
        values.into_iter().collect::<Vec<T>>().into()
    }
}

impl<T: PartialEq> PartialEq for Few<T> {
    fn eq(&self, other: &Few<T>) -> bool {
        self[..] == other[..]
    }
}

impl<T: Eq> Eq for Few<T> {}

impl<T: fmt::Debug> fmt::Debug for Few<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// What a backend saw of the process table while looking for owners.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OwnerScan {
    /// Whether owners were looked for at all (not when no socket matched).
    pub(crate) ran: bool,
    /// Processes whose descriptors could not be read (permission), so any socket not
    /// found elsewhere may belong to one of them.
    pub(crate) inaccessible: u32,
    /// Uids of those processes, sorted, without repeats.
    pub(crate) inaccessible_uids: Vec<u32>,
    /// The backend cannot tell which processes it failed to read (portable path); an
    /// unprivileged run must then assume any owner may be hidden.
    pub(crate) unknown_coverage: bool,
    /// Whether the scan ran as root.
    pub(crate) privileged: bool,
    /// Of the processes whose descriptors could not be read, what could still be read
    /// (pid, name, uid), one each, where the platform tells (Linux): enough to rule
    /// one in or out by who it is.
    pub(crate) inaccessible_identities: Vec<Process>,
    /// /proc hides other users' processes (`hidepid=`) from this run: they cannot even
    /// be counted.
    pub(crate) restricted_proc: bool,
    /// whoport runs in a pid namespace other than the initial one: processes outside it
    /// cannot be seen at all, so that every process read is not every process there is.
    pub(crate) child_pid_namespace: bool,
}

impl OwnerScan {
    /// Whether every process was read, so a socket with no holder found has none. Never
    /// true without root: with `hidepid=` on /proc, other users' processes cannot even be
    /// listed, let alone counted.
    pub(crate) fn complete(&self) -> bool {
        self.ran
            && self.privileged
            && self.inaccessible == 0
            && !self.unknown_coverage
            && !self.restricted_proc
    }
}

/// What one collection produced.
#[derive(Clone, Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) sockets: Vec<RawSocket>,
    pub(crate) scan: OwnerScan,
    /// Things the user should know about how complete this answer is.
    pub(crate) warnings: Vec<String>,
    /// Details of holders that the collector read itself, through the same handle on
    /// the process as its descriptors (Linux: the /proc/PID directory), so that they
    /// cannot be a newer process's that reused the pid. The others are read later,
    /// through a `ProcessSource`.
    pub(crate) processes: Vec<Process>,
    /// The network namespaces the sockets were read in (`RawSocket::netns`), when whoport
    /// looked beyond its own.
    pub(crate) namespaces: Vec<NetnsInfo>,
    /// What the holders' cgroup files say, by pid, where the collector read them with
    /// their details (Linux: in the same pass, through the same /proc/PID directory).
    pub(crate) cgroups: Vec<(u32, ReadCgroup)>,
}

/// A process that holds a socket. Every field but `pid` can be missing: the process may
/// have exited between the socket scan and the detail read, or hide its details.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Process {
    pub(crate) pid: u32,
    pub(crate) name: Option<String>,
    /// Shared with every other process and socket of the same user.
    pub(crate) user: Option<Name>,
    pub(crate) uid: Option<u32>,
    /// The executable's path as the kernel gives it (without Linux's ` (deleted)`).
    pub(crate) exe: Option<String>,
    /// The arguments, as text: bytes that are not UTF-8 become U+FFFD (see `cmdline_raw`).
    pub(crate) cmdline: Option<Vec<String>>,
    /// The executable file was deleted (or replaced, as by an upgrade) after the process
    /// started: another file may now sit at `exe`.
    pub(crate) exe_deleted: bool,
    /// The exact bytes of every argument, kept only when some argument is not UTF-8 (so
    /// that `cmdline` is not exact).
    pub(crate) cmdline_raw: Option<Vec<Vec<u8>>>,
    /// Its container, unit and parents (filled in after the owners are known).
    pub(crate) context: ProcessContext,
}

impl Process {
    /// A process known only by its pid (it exited before its details were read).
    pub(crate) fn unknown(pid: u32) -> Process {
        Process {
            pid,
            name: None,
            user: None,
            uid: None,
            exe: None,
            cmdline: None,
            exe_deleted: false,
            cmdline_raw: None,
            context: ProcessContext::default(),
        }
    }

    /// The executable's file name (`perl` for `/usr/bin/perl`).
    pub(crate) fn exe_name(&self) -> Option<&str> {
        let exe = self.exe.as_deref()?;
        exe.rsplit('/').next().filter(|n| !n.is_empty())
    }

    /// Whether the process's name or its argv\[0\] names another program than the
    /// executable it runs (a perl script calling itself `sshd`); `None` when the
    /// executable is unknown. See [`same_program`] for what counts as the same.
    pub(crate) fn name_mismatch(&self) -> Option<bool> {
        let base = self.exe_name()?;
        let name_ok = self.name.as_deref().is_none_or(|n| same_program(n, base));
        let argv0_ok = self.context.argv0_is_exe
            || self
                .cmdline
                .as_ref()
                .and_then(|args| args.first())
                .is_none_or(|a| same_program(argv0_program(a), base));
        Some(!(name_ok && argv0_ok))
    }
}

/// The program argv\[0\] names: its first word, without a login shell's leading `-` or
/// the `:` of a rewritten title (`sshd: /usr/sbin/sshd -D [listener]`, `nginx: master
/// process`), and without its directory.
fn argv0_program(argv0: &str) -> &str {
    let word = argv0.split(' ').next().unwrap_or(argv0);
    let word = word.strip_prefix('-').unwrap_or(word);
    let word = word.strip_suffix(':').unwrap_or(word);
    word.rsplit('/').next().unwrap_or(word)
}

/// The kernel's name for a process: at most 15 bytes (`TASK_COMM_LEN` - 1).
const COMM_BYTES: usize = 15;

/// Whether a claimed name stands for the executable of this file name: the same, or one a
/// prefix of the other where the rest starts with no letter (`python3` runs
/// `python3.11`, `php` runs `php8.2`), or a name cut by the kernel at 15 bytes. `sshd`
/// does not stand for `perl`, nor `s` for `sshd`.
pub(crate) fn same_program(claimed: &str, exe_name: &str) -> bool {
    if claimed.is_empty() {
        return false;
    }
    if claimed == exe_name {
        return true;
    }
    let (short, long) = if claimed.len() < exe_name.len() {
        (claimed, exe_name)
    } else {
        (exe_name, claimed)
    };
    let Some(rest) = long.strip_prefix(short) else {
        return false;
    };
    (short == claimed && short.len() == COMM_BYTES)
        || rest.chars().next().is_some_and(|c| !c.is_alphabetic())
}

/// The JSON of a process (docs/json.md): its fields, and what whoport makes of them.
impl Serialize for Process {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let raw = self.cmdline_raw.is_some();
        let mut st = serializer.serialize_struct("Process", 11 + usize::from(raw))?;
        st.serialize_field("pid", &self.pid)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("user", &self.user)?;
        st.serialize_field("uid", &self.uid)?;
        st.serialize_field("exe", &self.exe)?;
        st.serialize_field("exe_deleted", &self.exe_deleted)?;
        st.serialize_field("name_mismatch", &self.name_mismatch())?;
        st.serialize_field("cmdline", &self.cmdline)?;
        if let Some(args) = &self.cmdline_raw {
            let hex: Vec<String> = args.iter().map(|a| hex(a)).collect();
            st.serialize_field("cmdline_hex", &hex)?;
        }
        st.serialize_field("container", &self.context.container)?;
        st.serialize_field("unit", &self.context.unit)?;
        st.serialize_field("ancestors", &self.context.ancestors)?;
        st.end()
    }
}

/// Bytes as lowercase hexadecimal, two digits a byte.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Why the owner of a socket could not be seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum HiddenReason {
    /// Not root: other users' processes could not be read, and the socket was not found
    /// among those that could.
    NotPermitted,
    /// Even root could not read some processes (a security module, another pid namespace,
    /// a sandbox), and the socket was not found among those that could.
    Unreadable,
    /// Every readable process was read and none has it open: a kernel socket, or a
    /// descriptor in flight (sent over a UNIX socket, not yet received), which no
    /// process table shows.
    NotInAnyProcess,
    /// Every process whoport could see was read and none has it open, but whoport runs in
    /// a child pid namespace: a process outside it may hold it, or it is one of the above.
    OutsidePidNamespace,
    /// A connection waiting in a listener's accept queue, whose listener's holders are
    /// not known: hidden themselves, or several listeners (`SO_REUSEPORT`) with
    /// different holders share its port.
    AwaitingAccept,
}

impl HiddenReason {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            HiddenReason::NotPermitted => {
                "not permitted to inspect the process holding it (to see it: sudo whoport …)"
            }
            HiddenReason::Unreadable => "the process holding it cannot be inspected, even as root",
            HiddenReason::NotInAnyProcess => {
                "no process has it open: a kernel socket, or a descriptor in flight (sent over a UNIX socket, not yet received)"
            }
            HiddenReason::OutsidePidNamespace => {
                "no process whoport can see has it open: a process outside its pid namespace (whoport runs in a child pid namespace, whose processes are all it can see), a kernel socket, or a descriptor in flight (sent over a UNIX socket, not yet received)"
            }
            HiddenReason::AwaitingAccept => {
                "waits in a listener's accept queue, and which process holds that listener is not known (it is hidden, or several listeners share the port)"
            }
        }
    }
}

/// Who holds a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// These processes hold it (at least one). Shared between the sockets that the same
    /// processes hold: a process with a thousand sockets is one copy, not a thousand.
    Known(Arc<[Process]>),
    /// It exists, but its holder could not be read. `uid`/`user` are the socket's.
    Hidden {
        reason: HiddenReason,
        uid: Option<u32>,
        /// Shared with the socket's own `user`.
        user: Option<Name>,
    },
    /// No process holds it, established with certainty (TIME_WAIT, kernel socket).
    None { reason: NoneReason },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum NoneReason {
    /// No file refers to the socket any more (TIME_WAIT, an orphaned connection).
    NoFile,
}

impl NoneReason {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            NoneReason::NoFile => "no process: the socket is closed or closing",
        }
    }
}

impl Owner {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Owner::Known(_) => "known",
            Owner::Hidden { .. } => "hidden",
            Owner::None { .. } => "none",
        }
    }

    pub(crate) fn processes(&self) -> &[Process] {
        match self {
            Owner::Known(p) => p,
            _ => &[],
        }
    }
}

/// `address:port`, with IPv6 addresses in brackets (`[::1]:8080`).
pub(crate) fn endpoint(addr: &IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

/// A machine-readable mark on a socket; JSON's `flags` carry [`SocketFlag::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum SocketFlag {
    /// An IPv6 wildcard socket that also accepts IPv4 (`IPV6_V6ONLY` off).
    DualStack,
    /// A listener on an Xsan port whose known owner is not an Xsan process.
    XsanConflict,
    /// A listener on an Xsan port whose owner is hidden, so it cannot be verified.
    XsanCannotVerify,
    /// A listener on an Xsan port whose every known owner is a verified Xsan process.
    XsanVerified,
    /// A connection in a listener's accept queue, not yet `accept()`ed: no descriptor
    /// refers to it yet; its owners are the listener's holders.
    AwaitingAccept,
    /// Found only in the descriptor table of a thread that has its own
    /// (`unshare(CLONE_FILES)`), under /proc/PID/task/TID/fd.
    HeldByThread,
    /// A TCP subflow of an MPTCP socket; its holders are the MPTCP socket's.
    MptcpSubflow,
    /// An IPv6 socket bound to an IPv4-mapped address (`::ffff:a.b.c.d`): it accepts
    /// IPv4 only, and is listed with `-4`.
    Ipv4Mapped,
}

impl SocketFlag {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SocketFlag::DualStack => "dual_stack",
            SocketFlag::XsanConflict => "xsan_port_non_xsan_process",
            SocketFlag::XsanCannotVerify => "xsan_cannot_verify",
            SocketFlag::XsanVerified => "xsan_verified",
            SocketFlag::AwaitingAccept => "awaiting_accept",
            SocketFlag::HeldByThread => "held_by_thread",
            SocketFlag::MptcpSubflow => "mptcp_subflow",
            SocketFlag::Ipv4Mapped => "ipv4_mapped",
        }
    }
}

/// A name shared by the many sockets that bear it (a user's, a service's): one pointer,
/// half of an `Arc<str>`, on each of tens of thousands of sockets.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Name(Arc<Box<str>>);

impl std::ops::Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Name {
    fn from(name: &str) -> Name {
        Name(Arc::new(Box::from(name)))
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

/// A socket's flags, in the order they were added, each at most once. Inline: one per
/// socket (tens of thousands on a busy host), where a `Vec` would cost 24 bytes and an
/// allocation for the few that have one.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flags([Option<SocketFlag>; 8]);

impl Flags {
    /// Adds a flag, unless it is there already.
    pub(crate) fn push(&mut self, flag: SocketFlag) {
        if self.contains(&flag) {
            return;
        }
        // Room for every kind of flag: a free slot is always there.
        if let Some(slot) = self.0.iter_mut().find(|f| f.is_none()) {
            *slot = Some(flag);
        }
    }

    pub(crate) fn contains(&self, flag: &SocketFlag) -> bool {
        self.0.contains(&Some(*flag))
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.0[0].is_none()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = SocketFlag> + '_ {
        self.0.iter().map_while(|f| *f)
    }
}

impl<const N: usize> From<[SocketFlag; N]> for Flags {
    fn from(flags: [SocketFlag; N]) -> Flags {
        let mut out = Flags::default();
        for f in flags {
            out.push(f);
        }
        out
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Flags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl Serialize for SocketFlag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A socket with its owner resolved and its annotations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Socket {
    pub(crate) raw: RawSocket,
    /// The socket's user name (from its uid), shared by the sockets of that user.
    pub(crate) user: Option<Name>,
    pub(crate) owner: Owner,
    /// Machine-readable marks (`dual_stack`, the Xsan verdict's flag).
    pub(crate) flags: Flags,
    /// What is known about its ports (filled in by `annotate`).
    pub(crate) knowledge: SocketKnowledge,
    /// Its network namespace and container: out of line, as nearly every socket has
    /// none (see [`Socket::context`]).
    pub(crate) context: Option<Box<SocketContext>>,
}

/// What `annotate` knows about one socket. Kept small, as there is one per socket (tens
/// of thousands on a busy host): a service name is shared by every socket bearing it, and
/// the rare Xsan verdict is kept out of line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SocketKnowledge {
    /// An IANA service name: the local port's, or for a client-side socket (`remote`)
    /// the remote port's. A socket has one or the other, never both: one field.
    service: Option<Name>,
    remote: bool,
    /// The Xsan verdict, for a listener on an Xsan port.
    pub(crate) xsan: Option<Box<XsanCheck>>,
}

impl SocketKnowledge {
    /// The IANA service name of the local port (not for a client's ephemeral port).
    pub(crate) fn service(&self) -> Option<&Name> {
        self.service.as_ref().filter(|_| !self.remote)
    }

    /// The IANA service name of the remote port, for a client-side socket.
    pub(crate) fn remote_service(&self) -> Option<&Name> {
        self.service.as_ref().filter(|_| self.remote)
    }

    pub(crate) fn set_service(&mut self, name: Option<Name>) {
        self.service = name;
        self.remote = false;
    }

    pub(crate) fn set_remote_service(&mut self, name: Option<Name>) {
        self.service = name;
        self.remote = true;
    }
}

/// Why a port counts as an Xsan port (Apple's documented uses; the host's fsports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum XsanPort {
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
    pub(crate) fn as_str(self) -> &'static str {
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
pub(crate) enum XsanVerdict {
    /// Every process holding it runs from an Xsan executable directory.
    Xsan,
    /// A process holding it does not (or no process does): the flag.
    NotXsan,
    /// Its holder cannot be seen, or its executable cannot be read.
    CannotVerify,
}

impl XsanVerdict {
    pub(crate) const ALL: [XsanVerdict; 3] = [
        XsanVerdict::NotXsan,
        XsanVerdict::CannotVerify,
        XsanVerdict::Xsan,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            XsanVerdict::Xsan => "xsan",
            XsanVerdict::NotXsan => "not_xsan",
            XsanVerdict::CannotVerify => "cannot_verify",
        }
    }

    /// The socket flag that carries the verdict.
    pub(crate) fn flag(self) -> SocketFlag {
        match self {
            XsanVerdict::Xsan => SocketFlag::XsanVerified,
            XsanVerdict::NotXsan => SocketFlag::XsanConflict,
            XsanVerdict::CannotVerify => SocketFlag::XsanCannotVerify,
        }
    }
}

/// The Xsan rule's answer for one listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct XsanCheck {
    pub(crate) port: XsanPort,
    pub(crate) verdict: XsanVerdict,
    /// One plain sentence: which process, which executable, why.
    pub(crate) reason: String,
}

/// What this host says about Xsan (read once, before annotating).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct XsanHost {
    /// The configuration directories looked in, in order.
    pub(crate) config_dirs: Vec<PathBuf>,
    /// The directory holding `fsnameservers`: Xsan (or StorNext) is configured here.
    pub(crate) configured_in: Option<PathBuf>,
    /// The host's fsports file, when there is a valid one.
    pub(crate) fsports: Option<FsPorts>,
    /// Directories whose executables are Xsan's (canonical where they exist).
    pub(crate) bin_dirs: Vec<PathBuf>,
    /// `XSAN_ALT_BINDIR` from `.xsanrc`, when set (also in `bin_dirs`).
    pub(crate) alt_bin_dir: Option<PathBuf>,
    /// Problems with the files read (an fsports file without MinPort, …).
    pub(crate) warnings: Vec<String>,
    /// Executable directories (or directories above them) that a user other than root can
    /// write to: any program put there would pass for Xsan's. Reported when a verdict
    /// relies on them.
    pub(crate) bin_dir_warnings: Vec<String>,
}

impl XsanHost {
    /// Xsan is set up on this host: an `fsnameservers` or an `fsports` file.
    pub(crate) fn is_configured(&self) -> bool {
        self.configured_in.is_some() || self.fsports.is_some()
    }
}

/// The fsports file (fsports(4)): the ports Xsan's server processes may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FsPorts {
    pub(crate) path: PathBuf,
    pub(crate) min_port: u16,
    pub(crate) max_port: u16,
    pub(crate) alt_pmap: Option<u16>,
}

/// The range this OS picks ephemeral (client) ports from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EphemeralRange {
    pub(crate) first: u16,
    pub(crate) last: u16,
    /// Where it was read (a file or sysctl names).
    pub(crate) source: &'static str,
}

impl EphemeralRange {
    pub(crate) fn contains(&self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }
}

/// Where a note about a port comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(crate) enum NoteSource {
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
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NoteSource::Iana => "IANA",
            NoteSource::Apple => "Apple",
            NoteSource::Host => "host",
        }
    }
}

/// A statement about a port, with its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Note {
    pub(crate) source: NoteSource,
    pub(crate) text: String,
}

/// One IANA registry row of a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IanaEntry {
    /// `None` for Reserved and Unassigned rows.
    pub(crate) service: Option<String>,
    /// `None` when the row names no protocol (it is for all).
    pub(crate) protocol: Option<&'static str>,
    pub(crate) description: String,
    pub(crate) first_port: u16,
    pub(crate) last_port: u16,
}

/// Which kind of copy of the IANA registry is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RegistryCopy {
    /// Built into the binary.
    BuiltIn,
    /// The user's imported copy.
    User,
}

impl RegistryCopy {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RegistryCopy::BuiltIn => "built-in",
            RegistryCopy::User => "user",
        }
    }
}

/// Which copy of the IANA registry answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RegistryInfo {
    pub(crate) copy: RegistryCopy,
    pub(crate) path: Option<PathBuf>,
    /// The built-in copy's generation date, or the newest date in a user copy.
    pub(crate) date: Option<String>,
    pub(crate) rows: usize,
}

/// The context of a socket that has none.
static NO_CONTEXT: SocketContext = SocketContext {
    netns: None,
    container: None,
    published: None,
    socket_unit: None,
};

impl Socket {
    /// Its network namespace and container (all empty for nearly every socket).
    pub(crate) fn context(&self) -> &SocketContext {
        self.context.as_deref().unwrap_or(&NO_CONTEXT)
    }

    /// Its context, to fill in (made on first use).
    pub(crate) fn context_mut(&mut self) -> &mut SocketContext {
        self.context.get_or_insert_with(Box::default)
    }

    /// The Xsan verdict on this socket, if it is a listener on an Xsan port (set by
    /// `annotate`, which also adds the verdict's flag).
    pub(crate) fn xsan(&self) -> Option<XsanVerdict> {
        self.knowledge.xsan.as_ref().map(|c| c.verdict)
    }

    /// Sets the Xsan verdict, and its flag.
    pub(crate) fn set_xsan(&mut self, check: XsanCheck) {
        self.flags.push(check.verdict.flag());
        self.knowledge.xsan = Some(Box::new(check));
    }
}

/// RFC 6335 section 6 range class of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RangeClass {
    System,
    User,
    Dynamic,
}

impl RangeClass {
    pub(crate) fn of(port: u16) -> RangeClass {
        match port {
            0..=1023 => RangeClass::System,
            1024..=49151 => RangeClass::User,
            _ => RangeClass::Dynamic,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RangeClass::System => "system",
            RangeClass::User => "user",
            RangeClass::Dynamic => "dynamic",
        }
    }
}

/// What is known about one port the user asked about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PortInfo {
    pub(crate) port: u16,
    pub(crate) range: RangeClass,
    /// How many sockets matched this port.
    pub(crate) sockets: usize,
    /// Every IANA registry row of the port (filled in by `annotate`).
    pub(crate) iana: Vec<IanaEntry>,
    /// What else is known, with its source (filled in by `annotate`).
    pub(crate) notes: Vec<Note>,
    /// Whether the port is in this OS's ephemeral range, where that is known.
    pub(crate) in_ephemeral_range: Option<bool>,
    /// When no socket matched: the sockets on the port that the filters (protocol,
    /// family, state, `--pid`, `--user`) left out; empty when there is none at all (the
    /// port is free). `None` when sockets matched (not looked at).
    pub(crate) left_out: Option<Vec<LeftOut>>,
}

impl PortInfo {
    /// No socket at all is on the port, in any protocol, family or state.
    pub(crate) fn is_free(&self) -> bool {
        self.sockets == 0 && self.left_out.as_ref().is_some_and(Vec::is_empty)
    }
}

/// Sockets on a port that the filters left out, counted by kind.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct LeftOut {
    pub(crate) protocol: Protocol,
    pub(crate) family: Family,
    pub(crate) state: State,
    pub(crate) sockets: usize,
}

impl LeftOut {
    /// `1 tcp ipv4 listen`, `2 udp ipv6 unconnected`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} {} {} {}",
            self.sockets,
            self.protocol.as_str(),
            self.family.as_str(),
            self.state.as_str()
        )
    }
}

/// The whole answer: what render and check work from.
#[derive(Clone, Debug, Default)]
pub(crate) struct Report {
    pub(crate) sockets: Vec<Socket>,
    pub(crate) ports: Vec<PortInfo>,
    pub(crate) warnings: Vec<String>,
    pub(crate) scan: OwnerScan,
    /// The registry copy that annotated this report.
    pub(crate) registry: Option<RegistryInfo>,
    /// This OS's ephemeral port range, where it could be read.
    pub(crate) ephemeral: Option<EphemeralRange>,
    /// The Xsan audit (`--xsan`): what the host says about Xsan.
    pub(crate) xsan: Option<XsanAudit>,
    /// Sockets on ports free in whoport's network namespace, found in other ones (the
    /// free-port hint; they do not count for the exit code).
    pub(crate) elsewhere: Vec<Socket>,
    /// The network namespaces looked in (`--netns`).
    pub(crate) netns_scope: NetnsScope,
}

/// The Xsan audit view (`--xsan`): the host's Xsan configuration and the port ranges
/// looked at (311, 312 and the window).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct XsanAudit {
    pub(crate) host: XsanHost,
    pub(crate) window: Vec<(u16, u16)>,
}

#[cfg(test)]
mod process_tests {
    use super::{Process, same_program};

    fn p(name: &str, exe: Option<&str>, argv: &[&str]) -> Process {
        Process {
            name: Some(name.to_string()),
            exe: exe.map(str::to_string),
            cmdline: (!argv.is_empty()).then(|| argv.iter().map(|a| a.to_string()).collect()),
            ..Process::unknown(1)
        }
    }

    #[test]
    fn a_name_stands_for_its_own_program_only() {
        let same = [
            ("sshd", "sshd"),
            ("python3", "python3.11"),
            ("php", "php8.2"),
            ("containerd-shim", "containerd-shim-runc-v2"),
            ("sshd-session", "sshd"),
        ];
        for (claimed, exe) in same {
            assert!(same_program(claimed, exe), "{claimed} {exe}");
        }
        let other = [
            ("sshd", "perl"),
            ("s", "sshd"),
            ("ssh", "sshd"),
            ("vi", "vim.basic"),
            ("", "x"),
        ];
        for (claimed, exe) in other {
            assert!(!same_program(claimed, exe), "{claimed} {exe}");
        }
    }

    #[test]
    fn name_or_argv0_naming_another_program_is_a_mismatch() {
        let nginx = p(
            "nginx",
            Some("/usr/sbin/nginx"),
            &["nginx: master process /usr/sbin/nginx"],
        );
        assert_eq!(nginx.name_mismatch(), Some(false));
        let sshd = p(
            "sshd",
            Some("/usr/sbin/sshd"),
            &["sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"],
        );
        assert_eq!(sshd.name_mismatch(), Some(false));
        let login = p("bash", Some("/usr/bin/bash"), &["-bash"]);
        assert_eq!(login.name_mismatch(), Some(false));
        // The perl script of the issue: comm and argv[0] say sshd, the kernel says perl.
        let spoof = p(
            "sshd",
            Some("/usr/bin/perl"),
            &["sshd: /usr/sbin/sshd -D [listener]"],
        );
        assert_eq!(spoof.name_mismatch(), Some(true));
        // argv[0] alone can lie too.
        let argv = p("perl", Some("/usr/bin/perl"), &["/usr/sbin/sshd", "-D"]);
        assert_eq!(argv.name_mismatch(), Some(true));
        assert_eq!(p("sshd", None, &[]).name_mismatch(), None);
    }

    #[test]
    fn json_carries_the_flags_and_exact_bytes() -> Result<(), serde_json::Error> {
        let mut proc = p("x", Some("/bin/x"), &["x", "a\u{fffd}b"]);
        proc.cmdline_raw = Some(vec![b"x".to_vec(), b"a\xffb".to_vec()]);
        proc.exe_deleted = true;
        let v = serde_json::to_value(&proc)?;
        assert_eq!(v["exe_deleted"], true);
        assert_eq!(v["name_mismatch"], false);
        assert_eq!(v["cmdline_hex"], serde_json::json!(["78", "61ff62"]));
        let plain = serde_json::to_value(p("x", None, &[]))?;
        assert!(plain.get("cmdline_hex").is_none());
        assert_eq!(plain["name_mismatch"], serde_json::Value::Null);
        Ok(())
    }
}
