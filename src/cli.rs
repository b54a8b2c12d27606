//! Command-line syntax. Only clap lives here; `config.rs` turns it into plain settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  whoport                  every listening socket and its owners (like ss -tulpn)
  whoport 60322            every local socket on port 60322, any state
  whoport 22 80 443        several ports
  whoport 8000-8100        an inclusive range
  whoport ssh              the ports IANA registered for a service name
  whoport --xsan           Apple Xsan audit: its port window and who listens there
  whoport --netns all      every listener in every network namespace, with its container
  whoport -N web 80        port 80 in the network namespace of container web
  whoport registry status  which copy of the IANA port registry is in use
  whoport -a               every socket in every state
  whoport -t -l --user www-data
  whoport --json 5432 | jq '.sockets[].processes[].pid'
  whoport --format prometheus --output /var/lib/prometheus/node-exporter/whoport.prom
  whoport check 22 --expect process=sshd     a Nagios plugin check (see whoport check --help)
  whoport kill 3000        free the port: SIGTERM its listeners' holders, SIGKILL after 5s
  whoport wait 5432 --timeout 30s -- psql    wait until it listens, then run a command
  whoport watch 8080       a line per change: listener added or removed, holders changed

Exit codes:
  0  at least one socket matched
  1  no socket matched (free when nothing at all is on the port; otherwise the output says
     what the filters left out)
  2  bad input or a failure (one line on stderr, naming the bad value)
With --format prometheus: 0 when the metrics were written (also when no socket matched).
`whoport check` follows the Nagios plugin API instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
`whoport kill`: 0 free at the end, 1 still held or refused; `whoport wait`: 0 met, 1 timed
out; `whoport watch`: 0 when interrupted (see their --help).

Owners are `known` (the processes holding the socket, or for a connection not yet accepted
its listener's), `hidden` (the socket exists, but who holds it cannot be known: a process
whoport may not read (run it as root), a kernel socket or a descriptor in flight) or `none`
(certainly no process holds it: TIME_WAIT and other closing sockets).
-4 also lists IPv6 sockets that accept IPv4 (dual-stack, IPv4-mapped), and says why.";

#[derive(Debug, Parser)]
#[command(
    name = "whoport",
    version,
    about = "Who holds this port, and should they?",
    long_about = "Who holds this port, and should they?\n\nLists local TCP and UDP sockets \
                  (IPv4 and IPv6) with every process that holds them. With no PORT, every \
                  listening socket.",
    after_help = AFTER_HELP,
    disable_help_subcommand = true
)]
pub(crate) struct Cli {
    /// Ports to look up: a number (60322), an inclusive range (8000-8100) or a service
    /// name (ssh). Without any, every listening socket.
    #[arg(value_name = "PORT")]
    pub(crate) ports: Vec<String>,

    #[command(flatten)]
    pub(crate) kinds: SocketKinds,

    /// Listening sockets only (TCP LISTEN, unconnected UDP). The default without PORT.
    #[arg(short = 'l', long, conflicts_with = "all")]
    pub(crate) listening: bool,

    /// Sockets in every state. The default with PORT.
    #[arg(short = 'a', long)]
    pub(crate) all: bool,

    /// Only sockets held by this process.
    #[arg(short = 'p', long, value_name = "PID", allow_hyphen_values = true)]
    pub(crate) pid: Option<String>,

    /// Only sockets of this user (name or uid): the socket's or an owner's.
    #[arg(long, value_name = "USER")]
    pub(crate) user: Option<String>,

    /// Network namespaces to look in: `current` (whoport's own, the default), `all`, or
    /// one: an `ip netns` name, a Docker or Podman container (name or id), a pid, or a
    /// namespace file (/run/netns/NAME, /proc/PID/ns/net). Others than its own need root.
    #[arg(short = 'N', long, value_name = "NETNS")]
    pub(crate) netns: Option<String>,

    /// Print JSON (documented in docs/json.md); the same as --format json.
    #[arg(long, conflicts_with_all = ["quiet", "format"])]
    pub(crate) json: bool,

    /// Output format: the table, JSON (docs/json.md) or the Prometheus text exposition
    /// format for node_exporter's textfile collector (docs/monitoring.md).
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "quiet")]
    pub(crate) format: Option<FormatChoice>,

    /// Write the output to FILE instead of standard output. A regular file is replaced
    /// atomically, keeping its mode and owner; a new file gets its mode from the umask; a
    /// character device or FIFO is written through; anything else is refused.
    #[arg(long, value_name = "FILE", conflicts_with = "quiet")]
    pub(crate) output: Option<PathBuf>,

    /// Print nothing; the exit code tells.
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,

    /// When to use colours in the table. `always` wins over NO_COLOR.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub(crate) color: ColorChoice,

    /// Whole values in a terminal too (as `ps -ww`): the table is not fitted to the
    /// terminal's width. In a pipe or file values are always whole.
    #[arg(short = 'w', long)]
    pub(crate) wide: bool,

    /// Apple Xsan audit: is Xsan configured here, its port window, and every listener on
    /// 311/tcp, 312/tcp or in the window with its verdict.
    #[arg(long, conflicts_with = "udp")]
    pub(crate) xsan: bool,

    /// Directory for the user's copy of the IANA registry.
    #[arg(
        long,
        hide = true,
        global = true,
        env = "WHOPORT_DATA_DIR",
        value_name = "DIR"
    )]
    pub(crate) data_dir: Option<PathBuf>,

    /// Xsan configuration directory (instead of the standard ones).
    #[arg(
        long,
        hide = true,
        global = true,
        env = "WHOPORT_XSAN_CONFIG_DIR",
        value_name = "DIR"
    )]
    pub(crate) xsan_config_dir: Option<PathBuf>,

    /// Xsan executable directory (instead of the standard ones).
    #[arg(
        long,
        hide = true,
        global = true,
        env = "WHOPORT_XSAN_BIN_DIR",
        value_name = "DIR"
    )]
    pub(crate) xsan_bin_dir: Option<PathBuf>,

    /// Which collector to use (for tests and comparisons).
    #[arg(long, value_enum, hide = true, env = "WHOPORT_BACKEND", global = true)]
    pub(crate) backend: Option<BackendChoice>,

    /// How the Linux fast path finds the processes holding sockets (for tests and
    /// comparisons): the BPF iterator where it can run, else /proc (auto).
    #[arg(
        long,
        value_enum,
        hide = true,
        env = "WHOPORT_OWNER_SCAN",
        global = true
    )]
    pub(crate) owner_scan: Option<OwnerScanChoice>,

    /// Notes on how the answer was found, on standard error.
    #[arg(
        long,
        hide = true,
        global = true,
        env = "WHOPORT_DEBUG",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub(crate) debug: bool,
    /// Print the man page or a shell completion script (for packagers).
    #[arg(
        long,
        value_name = "WHAT",
        value_parser = [
            "man",
            "complete-bash",
            "complete-zsh",
            "complete-fish",
            "complete-powershell",
        ]
    )]
    pub(crate) generate: Option<String>,

    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// Which sockets to look at, by protocol and address family.
#[derive(Debug, Default, Args)]
pub(crate) struct SocketKinds {
    /// TCP sockets only (MPTCP included).
    #[arg(short = 't', long)]
    pub(crate) tcp: bool,

    /// UDP sockets only (UDP-Lite included).
    #[arg(short = 'u', long)]
    pub(crate) udp: bool,

    /// IPv4 sockets only, and the IPv6 sockets that accept IPv4 (dual-stack, IPv4-mapped).
    #[arg(short = '4', long)]
    pub(crate) ipv4: bool,

    /// IPv6 sockets only.
    #[arg(short = '6', long)]
    pub(crate) ipv6: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// A health check following the Nagios plugin API: one status line, exit 0 OK,
    /// 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Check(CheckArgs),
    /// Free a port: signal the processes holding its listening sockets (master first),
    /// wait for the port to be free, then SIGKILL whatever still holds it.
    Kill(KillArgs),
    /// Wait until a port is listening, held or free, reading the local socket table
    /// (nothing is sent to the port); then optionally run a command.
    Wait(WaitArgs),
    /// Print a line for every change of the sockets on the ports: a listener added or
    /// removed, its holders changed. Runs until interrupted.
    Watch(WatchArgs),
    /// The IANA port registry: which copy is in use (the default), or import IANA's CSV.
    Registry {
        #[command(subcommand)]
        command: Option<RegistryCommand>,
    },
}

const CHECK_AFTER_HELP: &str = "\
Expectations (several --expect combine: all must hold for every PORT):
  free            no socket on the port of the protocols and families asked (-t/-u/-4/-6;
                  without them, no socket at all: only then does the line say free)
  held            some socket on the port, in any state
  listening       a listening socket (TCP LISTEN, bound UDP); the default without --expect
  xsan            listening, and held only by verified Apple Xsan processes
  process=NAME    held by a process of that name
  user=USER       held by a process of that user (name or uid)
  pid=PID         held by that process
  exe=PATH        held by a process running that executable
The owner expectations (process, user, pid, exe) hold when each listening socket of the port
(each socket, if none listens) has a holder matching all of them at once.

Examples:
  whoport check 60322 --expect free
  whoport check 22 --expect listening
  whoport check 8080 --expect process=nginx --expect user=www-data
  whoport check 5432 -t --expect pid=812
  whoport check 312 --expect xsan

Exit codes (Nagios plugin API), one status line on stdout:
  0  OK        every expectation holds
  1  WARNING   they hold, but a --warn-on condition was found
  2  CRITICAL  an expectation does not hold
  3  UNKNOWN   the answer depends on an owner whoport could not see (run it as root), or
               bad input (the line names the bad value)";

/// `whoport check PORT… --expect …`
#[derive(Debug, Args)]
#[command(after_help = CHECK_AFTER_HELP)]
pub(crate) struct CheckArgs {
    /// Ports to check: a number (22) or an inclusive range (8000-8100).
    #[arg(value_name = "PORT", required = true)]
    pub(crate) ports: Vec<String>,

    /// What must be true of each PORT (repeatable; see below). Default: listening.
    #[arg(short = 'e', long, value_name = "EXPECTATION")]
    pub(crate) expect: Vec<String>,

    /// Also report WARNING when this is found while the expectations hold (repeatable).
    #[arg(long, value_enum, value_name = "CONDITION")]
    pub(crate) warn_on: Vec<WarnOnChoice>,

    #[command(flatten)]
    pub(crate) kinds: SocketKinds,

    /// Print the verdict, its reasons and the sockets as JSON (docs/json.md).
    #[arg(long)]
    pub(crate) json: bool,
}

const KILL_AFTER_HELP: &str = "\
Only the holders of listening sockets are signalled (TCP LISTEN, bound UDP): never a process
that merely has a connection to the port. Holders are signalled master first (a holder none
of whose ancestors holds the socket), the others once no holder above them is left. On
Linux each signal goes through a pidfd, after checking that the process still holds the
socket, so a reused pid is never signalled (macOS: kill(2) right after a fresh check).

Refused (nothing is signalled, the reason and the right command are printed): pid 1;
whoport and its ancestors; owners whoport cannot see (run it with sudo); container plumbing
(docker-proxy, a dockerd reservation, conmon, rootlessport, pasta, slirp4netns): stop the
container instead (docker stop NAME), or --force.

Examples:
  whoport kill 3000                   SIGTERM the listener's holders, wait, SIGKILL if still held
  whoport kill 3000 --dry-run         who would get which signal, and why
  whoport kill 8080 -u -s HUP         UDP only, another signal
  whoport kill 3000 --timeout 10s --no-escalate
  whoport kill 3000 --json            what was done, as JSON

Exit codes:
  0  the port is free at the end (killed, or it was already free: the output says which);
     with --dry-run: nothing stands in the way
  1  the port is still held, or the kill was refused
  2  bad input or a failure";

/// `whoport kill PORT…`
#[derive(Debug, Args)]
#[command(after_help = KILL_AFTER_HELP)]
pub(crate) struct KillArgs {
    /// Ports to free: a number (3000), an inclusive range (8000-8100) or a service name.
    #[arg(value_name = "PORT", required = true)]
    pub(crate) ports: Vec<String>,

    /// The signal to send first: a name (TERM, HUP, INT…) or a number.
    #[arg(short = 's', long, value_name = "SIG", default_value = "TERM")]
    pub(crate) signal: String,

    /// How long to wait for the port to be free after the signal (10s, 1m, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub(crate) timeout: String,

    /// Do not send SIGKILL when the port is still held after --timeout.
    #[arg(long)]
    pub(crate) no_escalate: bool,

    /// Say who would get which signal, and why; send nothing.
    #[arg(short = 'n', long)]
    pub(crate) dry_run: bool,

    /// Signal container plumbing (docker-proxy, conmon…) too.
    #[arg(long)]
    pub(crate) force: bool,

    #[command(flatten)]
    pub(crate) kinds: SocketKinds,

    /// Report what was done as JSON (docs/json.md).
    #[arg(long)]
    pub(crate) json: bool,
}

const WAIT_AFTER_HELP: &str = "\
Reads the local socket table and sends nothing to the port: a server listening on
127.0.0.1 only is seen when localhost means ::1 (and the other way round), and no probe
connection disturbs it. With several ports, waits until every one meets the condition.

Examples:
  whoport wait 5432 --timeout 30s              until something listens (TCP or UDP, v4 or v6)
  whoport wait 8080 --until free               until no socket at all is on the port
  whoport wait 5432 -t --timeout 1m -- psql    then run a command (its exit code is whoport's)
  whoport wait 80 443 --until listening

Exit codes:
  0  the condition is met (or, with -- COMMAND, the command's own exit code)
  1  --timeout passed first (the last thing seen is printed)
  2  bad input or a failure";

/// What `whoport wait --until` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum UntilChoice {
    /// A listening socket (TCP LISTEN, bound UDP), any address family.
    Listening,
    /// Any socket on the port, in any state.
    Held,
    /// No socket at all on the port (TIME_WAIT included).
    Free,
}

/// `whoport wait PORT… [-- COMMAND…]`
#[derive(Debug, Args)]
#[command(after_help = WAIT_AFTER_HELP)]
pub(crate) struct WaitArgs {
    /// Ports to wait for: a number (5432), an inclusive range or a service name.
    #[arg(value_name = "PORT", required = true)]
    pub(crate) ports: Vec<String>,

    /// The condition to wait for.
    #[arg(long, value_enum, value_name = "CONDITION", default_value_t = UntilChoice::Listening)]
    pub(crate) until: UntilChoice,

    /// Give up after this long (10s, 1m, 500ms). Default: wait for ever.
    #[arg(long, value_name = "DURATION")]
    pub(crate) timeout: Option<String>,

    /// How often to read the socket table.
    #[arg(long, value_name = "DURATION", default_value = "100ms")]
    pub(crate) interval: String,

    #[command(flatten)]
    pub(crate) kinds: SocketKinds,

    /// Print nothing; the exit code tells.
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,

    /// A command to run once the condition is met; its exit code becomes whoport's.
    #[arg(last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<std::ffi::OsString>,
}

const WATCH_AFTER_HELP: &str = "\
Each line: the time (UTC), the event (added, removed, changed) and the socket with its
holders. With --json, one JSON object per line: {\"event\", \"time\", \"socket\"}, the
socket as whoport --json prints it. The socket table is read every --interval; processes
are scanned only when it changed or a holder exited, so it is cheap to leave running.

Examples:
  whoport watch 8080                 a line per change on port 8080
  whoport watch                      every listening socket of the host
  whoport watch --json --count 1     the next change, as one JSON line

Exit codes:
  0  interrupted (Ctrl-C, SIGTERM) or --count events printed
  2  bad input or a failure";

/// `whoport watch [PORT…]`
#[derive(Debug, Args)]
#[command(after_help = WATCH_AFTER_HELP)]
pub(crate) struct WatchArgs {
    /// Ports to watch: a number, an inclusive range or a service name. Without any, every
    /// listening socket.
    #[arg(value_name = "PORT")]
    pub(crate) ports: Vec<String>,

    /// Sockets in every state, not only listening ones.
    #[arg(short = 'a', long)]
    pub(crate) all: bool,

    #[command(flatten)]
    pub(crate) kinds: SocketKinds,

    /// JSON Lines: {"event", "time", "socket"} per change.
    #[arg(long)]
    pub(crate) json: bool,

    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    pub(crate) count: Option<u64>,

    /// How often to read the socket table.
    #[arg(long, value_name = "DURATION", default_value = "500ms")]
    pub(crate) interval: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum WarnOnChoice {
    /// A listening socket on an Xsan port held by a process that is not Xsan.
    XsanConflict,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FormatChoice {
    Table,
    Json,
    Prometheus,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCommand {
    /// Store a copy of IANA's service-names-port-numbers.csv; it then takes precedence
    /// over the built-in copy.
    Import {
        /// The CSV, as published at
        /// iana.org/assignments/service-names-port-numbers/service-names-port-numbers.csv
        #[arg(value_name = "FILE.csv")]
        file: PathBuf,
    },
    /// Which copy is in use, its date and row count.
    Status,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum BackendChoice {
    /// The platform's fastest path (netlink + /proc on Linux).
    Native,
    /// Linux: sockets from /proc/net instead of netlink.
    Procfs,
    /// netstat2 + sysinfo, the macOS path.
    Portable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OwnerScanChoice {
    /// The BPF iterator where it can run, else the /proc scan.
    Auto,
    /// The BPF iterator only: an error where it cannot run.
    Bpf,
    /// The /proc/*/fd scan only.
    Procfs,
}

impl Cli {
    /// Whether this is a `whoport check`, whose every failure is an UNKNOWN verdict.
    pub(crate) fn is_check(&self) -> bool {
        matches!(self.command, Some(Command::Check(_)))
    }

    /// Whether a `whoport check` asked for its verdict as JSON (`--json` before or
    /// after `check`).
    pub(crate) fn check_json(&self) -> bool {
        matches!(&self.command, Some(Command::Check(args)) if args.json || self.json)
    }
}
