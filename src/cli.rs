//! Command-line syntax. Only clap lives here; `config.rs` turns it into plain settings.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  whoport                  every listening socket and its owners (like ss -tulpn)
  whoport 60322            every local socket on port 60322, any state
  whoport 22 80 443        several ports
  whoport 8000-8100        an inclusive range
  whoport ssh              the ports IANA registered for a service name
  whoport --xsan           Apple Xsan audit: its port window and who listens there
  whoport registry status  which copy of the IANA port registry is in use
  whoport -a               every socket in every state
  whoport -t -l --user www-data
  whoport --json 5432 | jq '.sockets[].processes[].pid'

Exit codes:
  0  at least one socket matched
  1  no socket matched (the port is free in this network namespace)
  2  bad input or a failure (one line on stderr, naming the bad value)

Owners are `known` (the processes holding the socket), `hidden` (the socket exists, but
whoport may not read the processes that hold it: run it as root to see them) or `none`
(no process holds it: TIME_WAIT, or a kernel socket).";

#[derive(Debug, Parser)]
#[command(
    name = "whoport",
    version,
    about = "Who holds this port, and should they?",
    long_about = "Who holds this port, and should they?\n\nLists local TCP and UDP sockets \
                  (IPv4 and IPv6) with every process that holds them. With no PORT, every \
                  listening socket.",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Ports to look up: a number (60322), an inclusive range (8000-8100) or a service
    /// name (ssh). Without any, every listening socket.
    #[arg(value_name = "PORT")]
    pub ports: Vec<String>,

    /// TCP sockets only.
    #[arg(short = 't', long)]
    pub tcp: bool,

    /// UDP sockets only.
    #[arg(short = 'u', long)]
    pub udp: bool,

    /// IPv4 sockets only.
    #[arg(short = '4', long)]
    pub ipv4: bool,

    /// IPv6 sockets only.
    #[arg(short = '6', long)]
    pub ipv6: bool,

    /// Listening sockets only (TCP LISTEN, unconnected UDP). The default without PORT.
    #[arg(short = 'l', long, conflicts_with = "all")]
    pub listening: bool,

    /// Sockets in every state. The default with PORT.
    #[arg(short = 'a', long)]
    pub all: bool,

    /// Only sockets held by this process.
    #[arg(short = 'p', long, value_name = "PID", allow_hyphen_values = true)]
    pub pid: Option<String>,

    /// Only sockets of this user (name or uid): the socket's or an owner's.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// Print JSON (documented in docs/json.md).
    #[arg(long, conflicts_with = "quiet")]
    pub json: bool,

    /// Print nothing; the exit code tells.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// When to use colours in the table.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Apple Xsan audit: is Xsan configured here, its port window, and every listener on
    /// 311/tcp, 312/tcp or in the window with its verdict.
    #[arg(long, conflicts_with = "udp")]
    pub xsan: bool,

    /// Directory for the user's copy of the IANA registry.
    #[arg(
        long,
        hide = true,
        global = true,
        env = "WHOPORT_DATA_DIR",
        value_name = "DIR"
    )]
    pub data_dir: Option<PathBuf>,

    /// Xsan configuration directory (instead of the standard ones).
    #[arg(
        long,
        hide = true,
        global = true,
        env = "WHOPORT_XSAN_CONFIG_DIR",
        value_name = "DIR"
    )]
    pub xsan_config_dir: Option<PathBuf>,

    /// Xsan executable directory (instead of the standard ones).
    #[arg(
        long,
        hide = true,
        global = true,
        env = "WHOPORT_XSAN_BIN_DIR",
        value_name = "DIR"
    )]
    pub xsan_bin_dir: Option<PathBuf>,

    /// Which collector to use (for tests and comparisons).
    #[arg(long, value_enum, hide = true, env = "WHOPORT_BACKEND")]
    pub backend: Option<BackendChoice>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The IANA port registry: which copy is in use (the default), or import IANA's CSV.
    Registry {
        #[command(subcommand)]
        command: Option<RegistryCommand>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
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
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// The platform's fastest path (netlink + /proc on Linux).
    Native,
    /// Linux: sockets from /proc/net instead of netlink.
    Procfs,
    /// netstat2 + sysinfo, the macOS path.
    Portable,
}
