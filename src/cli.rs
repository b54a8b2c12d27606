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

Exit codes:
  0  at least one socket matched
  1  no socket matched (free when nothing at all is on the port; otherwise the output says
     what the filters left out)
  2  bad input or a failure (one line on stderr, naming the bad value)
With --format prometheus: 0 when the metrics were written (also when no socket matched).
`whoport check` follows the Nagios plugin API instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

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
    pub ipv4: bool,

    /// IPv6 sockets only.
    #[arg(short = '6', long)]
    pub ipv6: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// A health check following the Nagios plugin API: one status line, exit 0 OK,
    /// 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Check(CheckArgs),
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
