//! Plain settings resolved from the command line: every user value is checked here, so
//! that the rest of the program never sees a bad one.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};

use crate::cli::{BackendChoice, Cli, ColorChoice};
use crate::model::{Family, Protocol, RawSocket, State};

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
        let lo = parse_port_number(lo, text)?;
        let hi = parse_port_number(hi, text)?;
        if lo > hi {
            bail!("invalid port range '{text}': {lo} is greater than {hi}");
        }
        return Ok(vec![PortArg::Range(lo, hi)]);
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit()) || trimmed.starts_with(['-', '+']) {
        return Ok(vec![PortArg::Single(parse_port_number(trimmed, text)?)]);
    }
    lookup_service(trimmed)
}

fn parse_port_number(part: &str, whole: &str) -> Result<u16> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        bail!("invalid port '{whole}': ports are numbers from 1 to 65535");
    }
    match part.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => bail!("invalid port '{whole}': ports are numbers from 1 to 65535"),
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
            .map_err(|_| anyhow!("invalid user '{text}': not a valid uid"))?;
        let name = crate::collect::user_name(uid);
        return Ok(UserFilter { uid, name });
    }
    match crate::collect::user_uid(text) {
        Some(uid) => Ok(UserFilter {
            uid,
            name: Some(text.to_string()),
        }),
        None => bail!("unknown user '{text}'"),
    }
}

pub fn parse_pid(text: &str) -> Result<u32> {
    match text.parse::<u32>() {
        Ok(0) | Err(_) => bail!("invalid pid '{text}': pids are positive whole numbers"),
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
    Table { color: bool },
    Json,
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

#[derive(Clone, Debug)]
pub struct Config {
    pub query: SocketQuery,
    /// The PORT arguments, resolved, in the order given.
    pub port_args: Vec<PortArg>,
    pub pid: Option<u32>,
    pub user: Option<UserFilter>,
    pub output: Output,
    pub backend: Backend,
    pub paths: Paths,
    /// `--xsan`: the Xsan audit view.
    pub xsan_audit: bool,
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
        let mut port_args = Vec::new();
        for text in &cli.ports {
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
        let pid = cli.pid.as_deref().map(parse_pid).transpose()?;
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
        let both_protocols = !cli.tcp && !cli.udp;
        let both_families = !cli.ipv4 && !cli.ipv6;
        let query = SocketQuery {
            ports,
            tcp: cli.tcp || both_protocols,
            udp: cli.udp || both_protocols,
            ipv4: cli.ipv4 || both_families,
            ipv6: cli.ipv6 || both_families,
            listening_only,
        };
        let output = if cli.quiet {
            Output::Quiet
        } else if cli.json {
            Output::Json
        } else {
            Output::Table {
                color: use_color(cli.color),
            }
        };
        let backend = match cli.backend {
            None | Some(BackendChoice::Native) => Backend::Native,
            Some(BackendChoice::Procfs) => Backend::Procfs,
            Some(BackendChoice::Portable) => Backend::Portable,
        };
        Ok(Config {
            query,
            port_args,
            pid,
            user,
            output,
            backend,
            paths: Paths::from_cli(cli),
            xsan_audit: cli.xsan,
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
