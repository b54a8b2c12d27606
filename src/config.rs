//! Plain settings resolved from the command line: every user value is checked here, so
//! that the rest of the program never sees a bad one.

use std::fmt;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};

use crate::cli::{
    BackendChoice, CheckArgs, Cli, ColorChoice, Command, FormatChoice, SocketKinds, WarnOnChoice,
};
use crate::model::{Family, Protocol, RawSocket, State};
use crate::sanitize::value;

/// Inclusive port ranges, sorted and merged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortSet {
    ranges: Vec<(u16, u16)>,
}

impl PortSet {
    pub fn new(mut ranges: Vec<(u16, u16)>) -> PortSet {
        ranges.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        PortSet { ranges: merged }
    }

    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    pub fn contains(&self, port: u16) -> bool {
        self.ranges
            .binary_search_by(|&(lo, hi)| {
                if hi < port {
                    std::cmp::Ordering::Less
                } else if lo > port {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }
}

/// One PORT argument as the user wrote it, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortArg {
    /// A single port, by number.
    Single(u16),
    /// An inclusive range, by numbers (or a service name registered for a range: x11).
    Range(u16, u16),
    /// A single port, by service name (ssh).
    Named(u16),
}

/// Parses one PORT argument: a number, `LO-HI`, or (through `lookup_service`) a name.
pub fn parse_port_arg(
    text: &str,
    lookup_service: &dyn Fn(&str) -> Result<Vec<PortArg>>,
) -> Result<Vec<PortArg>> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        bail!("invalid port '': empty");
    }
    if let Some((lo, hi)) = trimmed.split_once('-')
        && !lo.is_empty()
        && lo.bytes().all(|b| b.is_ascii_digit())
    {
        if hi.is_empty() {
            bail!(
                "invalid port range '{}': incomplete range (write LO-HI, e.g. 8000-8100)",
                value(text)
            );
        }
        let lo = parse_port_number(lo, text)?;
        let hi = parse_port_number(hi, text)?;
        if lo > hi {
            bail!(
                "invalid port range '{}': {lo} is greater than {hi}",
                value(text)
            );
        }
        return Ok(vec![PortArg::Range(lo, hi)]);
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit()) || trimmed.starts_with(['-', '+']) {
        return Ok(vec![PortArg::Single(parse_port_number(trimmed, text)?)]);
    }
    lookup_service(trimmed)
}

fn parse_port_number(part: &str, whole: &str) -> Result<u16> {
    let bad = || {
        anyhow!(
            "invalid port '{}': ports are numbers from 1 to 65535",
            value(whole)
        )
    };
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match part.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(bad()),
    }
}

/// A user given to `--user`, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserFilter {
    pub uid: u32,
    pub name: Option<String>,
}

pub fn parse_user(text: &str) -> Result<UserFilter> {
    if text.is_empty() {
        bail!("invalid user '': empty");
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let uid: u32 = text
            .parse()
            .map_err(|_| anyhow!("invalid user '{}': not a valid uid", value(text)))?;
        let name = crate::collect::user_name(uid);
        return Ok(UserFilter { uid, name });
    }
    match crate::collect::user_uid(text) {
        Some(uid) => Ok(UserFilter {
            uid,
            name: Some(text.to_string()),
        }),
        None => bail!("unknown user '{}'", value(text)),
    }
}

/// Whether a process with this pid exists (in this pid namespace): signal 0 is checked,
/// not sent. A process of another user exists too (the answer is then "not permitted").
pub fn process_exists(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    match rustix::process::Pid::from_raw(raw) {
        Some(p) => !matches!(
            rustix::process::test_kill_process(p),
            Err(rustix::io::Errno::SRCH)
        ),
        None => false,
    }
}

pub fn parse_pid(text: &str) -> Result<u32> {
    match text.parse::<u32>() {
        Ok(0) | Err(_) => bail!(
            "invalid pid '{}': pids are positive whole numbers",
            value(text)
        ),
        Ok(n) => Ok(n),
    }
}

/// What the collector is asked for. The port filter is applied in the kernel where the
/// platform allows it; `matches` is the same test for everyone else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketQuery {
    pub ports: Option<PortSet>,
    pub tcp: bool,
    pub udp: bool,
    pub ipv4: bool,
    pub ipv6: bool,
    pub listening_only: bool,
}

impl SocketQuery {
    /// The query for these ports (`None`: every port) and socket kinds; without `-t`/`-u`
    /// both protocols, without `-4`/`-6` both families.
    pub fn new(ports: Option<PortSet>, kinds: &SocketKinds, listening_only: bool) -> SocketQuery {
        let both_protocols = !kinds.tcp && !kinds.udp;
        let both_families = !kinds.ipv4 && !kinds.ipv6;
        SocketQuery {
            ports,
            tcp: kinds.tcp || both_protocols,
            udp: kinds.udp || both_protocols,
            ipv4: kinds.ipv4 || both_families,
            ipv6: kinds.ipv6 || both_families,
            listening_only,
        }
    }

    pub fn wants_protocol(&self, p: Protocol) -> bool {
        match p {
            Protocol::Tcp => self.tcp,
            Protocol::Udp => self.udp,
        }
    }

    pub fn wants_family(&self, f: Family) -> bool {
        match f {
            Family::Ipv4 => self.ipv4,
            Family::Ipv6 => self.ipv6,
        }
    }

    pub fn wants_state(&self, s: State) -> bool {
        if self.listening_only {
            s.is_listening()
        } else {
            // Half-open request sockets belong to their listener; ss leaves them out too.
            s != State::NewSynRecv
        }
    }

    pub fn matches(&self, s: &RawSocket) -> bool {
        self.wants_protocol(s.protocol)
            && self.wants_family(s.family())
            && self.wants_state(s.state)
            && self.ports.as_ref().is_none_or(|p| p.contains(s.local_port))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Table {
        color: bool,
    },
    Json,
    /// The Prometheus text exposition format.
    Prometheus,
    /// `whoport check`: one Nagios plugin status line.
    Nagios,
    Quiet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Native,
    Procfs,
    Portable,
}

/// Where whoport's knowledge is read from; each can be overridden (for tests, or by an
/// administrator) through an option or its environment variable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Paths {
    /// Holds the user's copy of the IANA registry (`WHOPORT_DATA_DIR`); default: the
    /// platform's data directory plus `whoport`.
    pub data_dir: Option<PathBuf>,
    /// Replaces the Xsan configuration directories looked in (`WHOPORT_XSAN_CONFIG_DIR`).
    pub xsan_config_dir: Option<PathBuf>,
    /// Replaces the Xsan executable directories (`WHOPORT_XSAN_BIN_DIR`).
    pub xsan_bin_dir: Option<PathBuf>,
}

impl Paths {
    pub fn from_cli(cli: &Cli) -> Paths {
        let nonempty = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
        Paths {
            data_dir: nonempty(&cli.data_dir),
            xsan_config_dir: nonempty(&cli.xsan_config_dir),
            xsan_bin_dir: nonempty(&cli.xsan_bin_dir),
        }
    }
}

/// One `--expect` of `whoport check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// No socket at all on the port.
    Free,
    /// Some socket on the port, in any state.
    Held,
    /// A listening socket on the port.
    Listening,
    /// Listening, and held only by verified Xsan processes (the `xsan_*` flags set by annotate).
    Xsan,
    /// Held by a process matching this (with every other owner clause, at once).
    Owner(OwnerClause),
}

/// An expectation about the process holding a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnerClause {
    /// The process's full name, exactly.
    Process(String),
    User(UserFilter),
    Pid(u32),
    /// The executable's absolute path, exactly, or the file it names after symbolic links
    /// are followed (`/usr/bin/python3` → `/usr/bin/python3.11`), as the kernel reports it.
    Exe {
        path: String,
        real: Option<String>,
    },
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expectation::Free => f.write_str("free"),
            Expectation::Held => f.write_str("held"),
            Expectation::Listening => f.write_str("listening"),
            Expectation::Xsan => f.write_str("xsan"),
            Expectation::Owner(OwnerClause::Process(name)) => write!(f, "process={name}"),
            Expectation::Owner(OwnerClause::User(u)) => match &u.name {
                Some(name) => write!(f, "user={name}"),
                None => write!(f, "user={}", u.uid),
            },
            Expectation::Owner(OwnerClause::Pid(pid)) => write!(f, "pid={pid}"),
            Expectation::Owner(OwnerClause::Exe { path, .. }) => write!(f, "exe={path}"),
        }
    }
}

const EXPECTATIONS: &str =
    "free, held, listening, xsan, process=NAME, user=USER, pid=PID or exe=PATH";

/// Parses one `--expect` value.
pub fn parse_expectation(text: &str) -> Result<Expectation> {
    let bad = |why: &str| anyhow!("invalid expectation '{}': {why}", value(text));
    let Some((key, value)) = text.split_once('=') else {
        return match text {
            "free" => Ok(Expectation::Free),
            "held" => Ok(Expectation::Held),
            "listening" => Ok(Expectation::Listening),
            "xsan" => Ok(Expectation::Xsan),
            _ => Err(bad(&format!("expected {EXPECTATIONS}"))),
        };
    };
    if value.is_empty() {
        return Err(bad("the value after '=' is empty"));
    }
    let clause = match key {
        "process" => OwnerClause::Process(value.to_string()),
        "user" => OwnerClause::User(parse_user(value).map_err(|e| bad(&e.to_string()))?),
        "pid" => OwnerClause::Pid(parse_pid(value).map_err(|e| bad(&e.to_string()))?),
        "exe" if value.starts_with('/') => OwnerClause::Exe {
            path: value.to_string(),
            real: std::fs::canonicalize(value)
                .ok()
                .map(|p| p.to_string_lossy().into_owned())
                .filter(|p| p != value),
        },
        "exe" => return Err(bad("exe= needs an absolute path")),
        _ => return Err(bad(&format!("expected {EXPECTATIONS}"))),
    };
    Ok(Expectation::Owner(clause))
}

/// The expectations of one check, parsed, without repeats, and checked for contradictions.
/// None given: `listening`.
pub fn parse_expectations(texts: &[String]) -> Result<Vec<Expectation>> {
    let mut out: Vec<Expectation> = Vec::new();
    for text in texts {
        let e = parse_expectation(text)?;
        if !out.contains(&e) {
            out.push(e);
        }
    }
    if out.is_empty() {
        out.push(Expectation::Listening);
    }
    if out.contains(&Expectation::Free)
        && let Some(other) = out.iter().find(|e| **e != Expectation::Free)
    {
        bail!("contradictory expectations: 'free' and '{other}' cannot both hold");
    }
    Ok(out)
}

/// Conditions that make a check WARNING while its expectations hold (`--warn-on`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WarnOn {
    /// A listening socket on an Xsan port held by a known process that is not Xsan.
    XsanConflict,
}

impl WarnOn {
    pub fn as_str(self) -> &'static str {
        match self {
            WarnOn::XsanConflict => "xsan-conflict",
        }
    }
}

/// What `whoport check` is asked; the ports are `Config::port_args`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckSpec {
    pub expectations: Vec<Expectation>,
    pub warn_on: Vec<WarnOn>,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub query: SocketQuery,
    /// The PORT arguments, resolved, in the order given.
    pub port_args: Vec<PortArg>,
    pub pid: Option<u32>,
    pub user: Option<UserFilter>,
    pub output: Output,
    /// `--output FILE`: written atomically instead of standard output.
    pub output_file: Option<PathBuf>,
    pub backend: Backend,
    pub paths: Paths,
    /// `--xsan`: the Xsan audit view.
    pub xsan_audit: bool,
    /// `whoport check`: what to check instead of listing.
    pub check: Option<CheckSpec>,
}

/// Resolves PORT arguments: each one's ports, and the set of them all (`None`: no PORT).
fn resolve_ports(
    texts: &[String],
    lookup_service: &dyn Fn(&str) -> Result<Vec<PortArg>>,
) -> Result<(Vec<PortArg>, Option<PortSet>)> {
    let mut port_args = Vec::new();
    for text in texts {
        port_args.extend(parse_port_arg(text, lookup_service)?);
    }
    let ports = (!port_args.is_empty()).then(|| {
        PortSet::new(
            port_args
                .iter()
                .map(|a| match *a {
                    PortArg::Single(p) | PortArg::Named(p) => (p, p),
                    PortArg::Range(lo, hi) => (lo, hi),
                })
                .collect(),
        )
    });
    Ok((port_args, ports))
}

fn backend(choice: Option<BackendChoice>) -> Backend {
    match choice {
        None | Some(BackendChoice::Native) => Backend::Native,
        Some(BackendChoice::Procfs) => Backend::Procfs,
        Some(BackendChoice::Portable) => Backend::Portable,
    }
}

impl Config {
    /// Resolves service names with the registry copy in use (the user's, or the
    /// built-in one).
    pub fn from_cli(cli: &Cli) -> Result<Config> {
        let (registry, _) = crate::registry::active(&Paths::from_cli(cli));
        Self::from_cli_with(cli, &|name| {
            crate::annotate::lookup_service(&registry, name)
        })
    }

    pub fn from_cli_with(
        cli: &Cli,
        lookup_service: &dyn Fn(&str) -> Result<Vec<PortArg>>,
    ) -> Result<Config> {
        if let Some(Command::Check(args)) = &cli.command {
            return Self::check(args, cli, lookup_service);
        }
        let (port_args, ports) = resolve_ports(&cli.ports, lookup_service)?;
        let pid = cli.pid.as_deref().map(parse_pid).transpose()?;
        if let Some(pid) = pid
            && !process_exists(pid)
        {
            bail!("no process with pid {pid} (--pid {pid})");
        }
        let user = cli
            .user
            .as_deref()
            .map(parse_user)
            .transpose()
            .context("--user")?;
        // No PORT: listening sockets, like `ss -l`. With PORT: every state. -l/-a override.
        let listening_only = if cli.all {
            false
        } else {
            cli.listening || ports.is_none()
        };
        let query = SocketQuery::new(ports, &cli.kinds, listening_only);
        let output = match (cli.quiet, cli.json, cli.format) {
            (true, _, _) => Output::Quiet,
            (_, true, _) | (_, _, Some(FormatChoice::Json)) => Output::Json,
            (_, _, Some(FormatChoice::Prometheus)) => Output::Prometheus,
            (_, _, None | Some(FormatChoice::Table)) => Output::Table {
                color: cli.output.is_none() && use_color(cli.color),
            },
        };
        Ok(Config {
            query,
            port_args,
            pid,
            user,
            output,
            output_file: cli.output.clone(),
            backend: backend(cli.backend),
            paths: Paths::from_cli(cli),
            xsan_audit: cli.xsan,
            check: None,
        })
    }

    /// `whoport check`: every state of the ports asked, so that `free` sees everything.
    fn check(
        args: &CheckArgs,
        cli: &Cli,
        lookup_service: &dyn Fn(&str) -> Result<Vec<PortArg>>,
    ) -> Result<Config> {
        let (port_args, ports) = resolve_ports(&args.ports, lookup_service)?;
        let expectations = parse_expectations(&args.expect)?;
        let mut warn_on = Vec::new();
        for choice in &args.warn_on {
            let w = match choice {
                WarnOnChoice::XsanConflict => WarnOn::XsanConflict,
            };
            if !warn_on.contains(&w) {
                warn_on.push(w);
            }
        }
        Ok(Config {
            query: SocketQuery::new(ports, &args.kinds, false),
            port_args,
            pid: None,
            user: None,
            output: if args.json {
                Output::Json
            } else {
                Output::Nagios
            },
            output_file: None,
            backend: backend(cli.backend),
            paths: Paths::from_cli(cli),
            xsan_audit: false,
            check: Some(CheckSpec {
                expectations,
                warn_on,
            }),
        })
    }
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_services(name: &str) -> Result<Vec<PortArg>> {
        bail!("unknown service '{name}'")
    }

    #[test]
    fn port_arguments() {
        let ok: &[(&str, Vec<PortArg>)] = &[
            ("22", vec![PortArg::Single(22)]),
            ("65535", vec![PortArg::Single(65535)]),
            (" 1 ", vec![PortArg::Single(1)]),
            ("8000-8100", vec![PortArg::Range(8000, 8100)]),
            ("80-80", vec![PortArg::Range(80, 80)]),
        ];
        for (text, want) in ok {
            assert_eq!(
                &parse_port_arg(text, &no_services).ok(),
                &Some(want.clone()),
                "{text}"
            );
        }
        for bad in [
            "70000",
            "-1",
            "0",
            "65536",
            "65536-70000",
            "9000-8000",
            "",
            "abc",
            "1-",
            "1-x",
            "+5",
            "1.5",
            "99999999999999999999",
        ] {
            let err = parse_port_arg(bad, &no_services).err();
            let msg = format!("{:#}", err.unwrap_or_else(|| anyhow!("accepted")));
            assert_ne!(msg, "accepted", "{bad:?} was accepted");
            assert!(
                msg.contains(bad.trim()),
                "{bad:?}: message {msg:?} does not name it"
            );
            assert!(!msg.contains('\n'), "{msg:?}");
        }
    }

    #[test]
    fn port_sets_merge_and_match() {
        let set = PortSet::new(vec![(10, 20), (5, 9), (30, 30), (15, 25)]);
        assert_eq!(set.ranges(), &[(5, 25), (30, 30)]);
        for (p, want) in [
            (4, false),
            (5, true),
            (25, true),
            (26, false),
            (30, true),
            (31, false),
        ] {
            assert_eq!(set.contains(p), want, "{p}");
        }
        let edge = PortSet::new(vec![(65535, 65535), (1, 1)]);
        assert!(edge.contains(65535) && edge.contains(1) && !edge.contains(2));
    }

    #[test]
    fn expectations() {
        let ok: &[(&[&str], &[&str])] = &[
            (&[], &["listening"]),
            (&["free"], &["free"]),
            (&["held", "listening", "held"], &["held", "listening"]),
            (&["xsan", "pid=812"], &["xsan", "pid=812"]),
            (
                &["process=nginx", "user=0"],
                &["process=nginx", "user=root"],
            ),
            (&["process=a=b"], &["process=a=b"]),
            (&["exe=/usr/sbin/sshd"], &["exe=/usr/sbin/sshd"]),
        ];
        for (texts, want) in ok {
            let texts: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
            let got: Vec<String> = parse_expectations(&texts)
                .unwrap_or_default()
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(got, *want, "{texts:?}");
        }
        let bad: &[(&[&str], &str)] = &[
            (&["nope"], "'nope'"),
            (&["Free"], "'Free'"),
            (&["process="], "'process='"),
            (&["pid=abc"], "'pid=abc'"),
            (&["pid=0"], "'pid=0'"),
            (&["user=no-such-user-here"], "no-such-user-here"),
            (&["exe=sshd"], "absolute path"),
            (&["color=red"], "'color=red'"),
            (&["free", "listening"], "contradictory"),
            (&["process=x", "free"], "contradictory"),
        ];
        for (texts, named) in bad {
            let texts: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
            let msg = parse_expectations(&texts)
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default();
            assert!(msg.contains(named), "{texts:?}: {msg:?}");
            assert!(!msg.contains('\n'));
        }
    }

    #[test]
    fn pids() {
        assert_eq!(parse_pid("812").ok(), Some(812));
        for bad in ["notanumber", "0", "-3", "", "4294967296"] {
            let msg = parse_pid(bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(msg.contains(&format!("'{bad}'")), "{bad}: {msg}");
        }
    }
}
