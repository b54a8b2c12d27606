//! Turns the command line into a [`Mode`]: every user value is checked here, so that the
//! rest of the program never sees a bad one. It reads nothing from the host but through
//! the [`Host`] it is handed (user names, the registry for service names, the terminal).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::act::kill::Options as KillOptions;
use crate::act::kill_cmd::KillCommand;
use crate::act::registry::RegistryAction;
use crate::act::wait::Until;
use crate::act::wait_cmd::WaitCommand;
use crate::act::watch_cmd::WatchCommand;
use crate::act::{duration, signal};
use crate::cli::{
    BackendChoice, CheckArgs, Cli, ColorChoice, Command, FormatChoice, KillArgs, OwnerScanChoice,
    RegistryCommand, SocketKinds, UntilChoice, WaitArgs, WarnOnChoice, WatchArgs,
};
use crate::collect::{Backend, OwnerPath};
use crate::host::{Host, Paths};
use crate::iana::{NameError, Registry};
use crate::model::{
    CheckSpec, Expectation, Filters, Kinds, NetnsScope, OwnerClause, PortArg, PortSet, SocketQuery,
    UserFilter, WarnOn, asked_by_number,
};
use crate::sanitize::value;

/// How a listing is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    Table {
        color: bool,
    },
    Json,
    /// The Prometheus text exposition format.
    Prometheus,
    Quiet,
}

/// `whoport [PORT…]`: list sockets.
#[derive(Clone, Debug)]
pub(crate) struct List {
    pub(crate) query: SocketQuery,
    pub(crate) filters: Filters,
    pub(crate) output: Output,
    /// `--output FILE`: written atomically instead of standard output.
    pub(crate) output_file: Option<PathBuf>,
    /// `--xsan`: the Xsan audit view.
    pub(crate) xsan_audit: bool,
    /// `-w/--wide`: whole values in a terminal too.
    pub(crate) wide: bool,
    /// `-N/--netns`: which network namespaces to look in.
    pub(crate) netns: NetnsScope,
}

/// `whoport check PORT… --expect …`.
#[derive(Clone, Debug)]
pub(crate) struct Check {
    /// Every state of the ports asked, so that `free` sees everything.
    pub(crate) query: SocketQuery,
    pub(crate) filters: Filters,
    pub(crate) spec: CheckSpec,
    /// `--json`: the verdict as JSON instead of the status line.
    pub(crate) json: bool,
}

/// What one run of whoport does.
#[derive(Clone, Debug)]
pub(crate) enum Mode {
    List(List),
    Check(Check),
    Registry(RegistryAction),
    Kill(KillCommand),
    Wait(WaitCommand),
    Watch(WatchCommand),
}

/// Where whoport's knowledge is read from, from the (hidden) options and their
/// environment variables; empty values count as not given.
pub(crate) fn paths(cli: &Cli) -> Paths {
    let nonempty = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
    Paths {
        data_dir: nonempty(&cli.data_dir),
        xsan_config_dir: nonempty(&cli.xsan_config_dir),
        xsan_bin_dir: nonempty(&cli.xsan_bin_dir),
    }
}

/// The collection path (`--backend`, hidden).
pub(crate) fn backend(cli: &Cli) -> Backend {
    match cli.backend {
        None | Some(BackendChoice::Native) => Backend::Native,
        Some(BackendChoice::Procfs) => Backend::Procfs,
        Some(BackendChoice::Portable) => Backend::Portable,
    }
}

/// How owners are found (`--owner-scan`, hidden).
pub(crate) fn owner_path(cli: &Cli) -> OwnerPath {
    match cli.owner_scan {
        None | Some(OwnerScanChoice::Auto) => OwnerPath::Auto,
        Some(OwnerScanChoice::Bpf) => OwnerPath::Bpf,
        Some(OwnerScanChoice::Procfs) => OwnerPath::Procfs,
    }
}

/// The mode the command line asks for, its values checked.
pub(crate) fn mode(cli: &Cli, host: &dyn Host) -> Result<Mode> {
    match &cli.command {
        Some(Command::Check(args)) => check(cli, args, host).map(Mode::Check),
        Some(Command::Kill(args)) => kill(args, host).map(Mode::Kill),
        Some(Command::Wait(args)) => wait(args, host).map(Mode::Wait),
        Some(Command::Watch(args)) => watch(args, host).map(Mode::Watch),
        Some(Command::Registry { command }) => Ok(Mode::Registry(match command {
            Some(RegistryCommand::Import { file }) => RegistryAction::Import(file.clone()),
            Some(RegistryCommand::Status) | None => RegistryAction::Status,
        })),
        None => list(cli, host).map(Mode::List),
    }
}

fn kinds(k: &SocketKinds) -> Kinds {
    Kinds {
        tcp: k.tcp,
        udp: k.udp,
        ipv4: k.ipv4,
        ipv6: k.ipv6,
    }
}

fn list(cli: &Cli, host: &dyn Host) -> Result<List> {
    let (port_args, ports) = resolve_ports(&cli.ports, host.registry())?;
    let pid = cli.pid.as_deref().map(parse_pid).transpose()?;
    let user = cli
        .user
        .as_deref()
        .map(|u| parse_user(u, host))
        .transpose()
        .context("--user")?;
    // No PORT: listening sockets, like `ss -l`. With PORT: every state. -l/-a override.
    let listening_only = if cli.all {
        false
    } else {
        cli.listening || ports.is_none()
    };
    let mut query = SocketQuery::new(ports, kinds(&cli.kinds), listening_only);
    if cli.xsan {
        // Listening TCP sockets on 311, 312 and the Xsan window (or on the ports given).
        query.tcp = true;
        query.udp = false;
        query.listening_only = true;
        if query.ports.is_none() {
            query.ports = Some(PortSet::new(crate::annotate::xsan::audit_ranges(
                host.xsan(),
                &asked_by_number(&port_args),
            )));
        }
    }
    let output = match (cli.quiet, cli.json, cli.format) {
        (true, _, _) => Output::Quiet,
        (_, true, _) | (_, _, Some(FormatChoice::Json)) => Output::Json,
        (_, _, Some(FormatChoice::Prometheus)) => Output::Prometheus,
        (_, _, None | Some(FormatChoice::Table)) => Output::Table {
            color: cli.output.is_none() && use_color(cli.color, host),
        },
    };
    Ok(List {
        query,
        filters: Filters {
            port_args,
            pid,
            user,
        },
        output,
        output_file: cli.output.clone(),
        xsan_audit: cli.xsan,
        wide: cli.wide,
        netns: cli
            .netns
            .as_deref()
            .map(parse_netns)
            .transpose()?
            .unwrap_or_default(),
    })
}

fn check(cli: &Cli, args: &CheckArgs, host: &dyn Host) -> Result<Check> {
    // Options given before `check` (`whoport -t check 22`) count as given after it, where
    // `check` has them too; the listing's own options make no sense for a check.
    let listing_only = [
        (cli.listening, "-l/--listening"),
        (cli.all, "-a/--all"),
        (cli.pid.is_some(), "--pid"),
        (cli.user.is_some(), "--user"),
        (cli.format.is_some(), "--format"),
        (cli.output.is_some(), "--output"),
        (cli.quiet, "-q/--quiet"),
        (cli.xsan, "--xsan (use --expect xsan)"),
    ];
    if let Some((_, name)) = listing_only.iter().find(|(given, _)| *given) {
        bail!("{name} is not an option of whoport check (see whoport check --help)");
    }
    let (port_args, ports) = resolve_ports(&args.ports, host.registry())?;
    let expectations = parse_expectations(&args.expect, host)?;
    let mut warn_on = Vec::new();
    for choice in &args.warn_on {
        let w = match choice {
            WarnOnChoice::XsanConflict => WarnOn::XsanConflict,
        };
        if !warn_on.contains(&w) {
            warn_on.push(w);
        }
    }
    Ok(Check {
        query: SocketQuery::new(ports, kinds(&args.kinds) | kinds(&cli.kinds), false),
        filters: Filters {
            port_args,
            ..Filters::default()
        },
        spec: CheckSpec {
            expectations,
            warn_on,
        },
        json: args.json || cli.json,
    })
}

/// How often `kill` looks at the port while it waits for it to be free.
const KILL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// The ports of the PORT arguments, for messages: `3000`, `8000-8100`, `22, 80`.
fn port_label(port_args: &[PortArg]) -> String {
    port_args
        .iter()
        .map(|a| match a.bounds() {
            (lo, hi) if lo == hi => lo.to_string(),
            (lo, hi) => format!("{lo}-{hi}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn kill(args: &KillArgs, host: &dyn Host) -> Result<KillCommand> {
    let (port_args, ports) = resolve_ports(&args.ports, host.registry())?;
    let signal = signal::parse(&args.signal)?;
    let timeout = duration::parse(&args.timeout, "--timeout")?;
    Ok(KillCommand {
        // Only listeners: a process that merely has a connection is never a target.
        query: SocketQuery::new(ports, kinds(&args.kinds), true),
        label: port_label(&port_args),
        filters: Filters {
            port_args,
            ..Filters::default()
        },
        options: KillOptions {
            signal,
            timeout,
            escalate: !args.no_escalate,
            dry_run: args.dry_run,
            force: args.force,
            interval: KILL_INTERVAL,
        },
        json: args.json,
    })
}

fn wait(args: &WaitArgs, host: &dyn Host) -> Result<WaitCommand> {
    let (port_args, ports) = resolve_ports(&args.ports, host.registry())?;
    let until = match args.until {
        UntilChoice::Listening => Until::Listening,
        UntilChoice::Held => Until::Held,
        UntilChoice::Free => Until::Free,
    };
    let timeout = args
        .timeout
        .as_deref()
        .map(|t| duration::parse(t, "--timeout"))
        .transpose()?;
    let interval = duration::parse_interval(&args.interval, "--interval")?;
    let every: Vec<u16> = ports
        .as_ref()
        .map(|p| p.ranges().iter().flat_map(|&(lo, hi)| lo..=hi).collect())
        .unwrap_or_default();
    Ok(WaitCommand {
        query: SocketQuery::new(ports, kinds(&args.kinds), !until.every_state()),
        ports: every,
        label: port_label(&port_args),
        until,
        timeout,
        interval,
        quiet: args.quiet,
        command: args.command.clone(),
    })
}

fn watch(args: &WatchArgs, host: &dyn Host) -> Result<WatchCommand> {
    let (port_args, ports) = resolve_ports(&args.ports, host.registry())?;
    let interval = duration::parse_interval(&args.interval, "--interval")?;
    let state = if args.all { "" } else { "listening " };
    let label = if port_args.is_empty() {
        format!("every {state}socket")
    } else {
        format!("the {state}sockets of port {}", port_label(&port_args))
    };
    Ok(WatchCommand {
        query: SocketQuery::new(ports, kinds(&args.kinds), !args.all),
        filters: Filters {
            port_args,
            ..Filters::default()
        },
        label,
        json: args.json,
        count: args.count,
        interval,
    })
}

fn use_color(choice: ColorChoice, host: &dyn Host) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            let terminal = host.terminal();
            !terminal.no_color && terminal.is_terminal
        }
    }
}

/// Parses one PORT argument: a number, `LO-HI`, or (through `lookup_service`) a name.
pub(crate) fn parse_port_arg(
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

/// Resolves a service name (`ssh`, any case) to the ports IANA registered for it.
fn lookup_service(registry: &Registry, name: &str) -> Result<Vec<PortArg>> {
    match registry.ports_for(name) {
        Ok(ports) => Ok(ports
            .into_iter()
            .map(|(a, b)| {
                if a == b {
                    PortArg::Named(a)
                } else {
                    PortArg::Range(a, b)
                }
            })
            .collect()),
        Err(NameError::NoPort) => bail!(
            "invalid port '{0}': IANA registered the service name '{0}' without a port number",
            value(name)
        ),
        Err(NameError::Unknown { suggestions }) => {
            let hint = if suggestions.is_empty() {
                String::new()
            } else {
                format!("; did you mean {}?", suggestions.join(", "))
            };
            bail!(
                "invalid port '{}': not a port number nor an IANA service name{hint}",
                value(name)
            )
        }
    }
}

pub(crate) fn parse_user(text: &str, host: &dyn Host) -> Result<UserFilter> {
    if text.is_empty() {
        bail!("invalid user '': empty");
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let uid: u32 = text
            .parse()
            .map_err(|_| anyhow!("invalid user '{}': not a valid uid", value(text)))?;
        let name = host.user_name(uid);
        return Ok(UserFilter { uid, name });
    }
    match host.user_uid(text) {
        Some(uid) => Ok(UserFilter {
            uid,
            name: Some(text.to_string()),
        }),
        None => bail!("unknown user '{}'", value(text)),
    }
}

pub(crate) fn parse_pid(text: &str) -> Result<u32> {
    match text.parse::<u32>() {
        Ok(0) | Err(_) => bail!(
            "invalid pid '{}': pids are positive whole numbers",
            value(text)
        ),
        Ok(n) => Ok(n),
    }
}

/// Parses `-N/--netns`: `current`, `all`, a pid, a path, or a name (an `ip netns` name or
/// a container, looked up when collecting: an unknown one fails there).
pub(crate) fn parse_netns(text: &str) -> Result<NetnsScope> {
    let bad = |why: &str| anyhow!("invalid network namespace '{text}': {why}");
    Ok(match text {
        "" => return Err(bad("empty")),
        "current" => NetnsScope::Current,
        "all" => NetnsScope::All,
        _ if text.bytes().all(|b| b.is_ascii_digit()) => {
            NetnsScope::Pid(parse_pid(text).map_err(|_| bad("not a pid"))?)
        }
        _ if text.starts_with('/') || text.starts_with("./") || text.starts_with("../") => {
            NetnsScope::Path(PathBuf::from(text))
        }
        _ if text.chars().any(char::is_control) => return Err(bad("control characters")),
        _ => NetnsScope::Named(text.to_string()),
    })
}

const EXPECTATIONS: &str =
    "free, held, listening, xsan, process=NAME, user=USER, pid=PID or exe=PATH";

/// Parses one `--expect` value.
pub(crate) fn parse_expectation(text: &str, host: &dyn Host) -> Result<Expectation> {
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
        "user" => OwnerClause::User(parse_user(value, host).map_err(|e| bad(&e.to_string()))?),
        "pid" => OwnerClause::Pid(parse_pid(value).map_err(|e| bad(&e.to_string()))?),
        "exe" if value.starts_with('/') => OwnerClause::Exe {
            path: value.to_string(),
            real: host
                .real_path(Path::new(value))
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
pub(crate) fn parse_expectations(texts: &[String], host: &dyn Host) -> Result<Vec<Expectation>> {
    let mut out: Vec<Expectation> = Vec::new();
    for text in texts {
        let e = parse_expectation(text, host)?;
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

/// Resolves PORT arguments: each one's ports, and the set of them all (`None`: no PORT).
fn resolve_ports(texts: &[String], registry: &Registry) -> Result<(Vec<PortArg>, Option<PortSet>)> {
    let lookup = |name: &str| lookup_service(registry, name);
    let mut port_args = Vec::new();
    for text in texts {
        port_args.extend(parse_port_arg(text, &lookup)?);
    }
    let ports = (!port_args.is_empty())
        .then(|| PortSet::new(port_args.iter().map(PortArg::bounds).collect()));
    Ok((port_args, ports))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::fake::FakeHost;

    fn no_services(name: &str) -> Result<Vec<PortArg>> {
        bail!("unknown service '{name}'")
    }

    #[test]
    fn owner_scan_choice() {
        use clap::Parser;
        let path =
            |args: &[&str]| Cli::try_parse_from(args).map(|cli| (owner_path(&cli), cli.debug));
        assert_eq!(path(&["whoport"]).ok(), Some((OwnerPath::Auto, false)));
        assert_eq!(
            path(&["whoport", "--owner-scan", "bpf", "--debug"]).ok(),
            Some((OwnerPath::Bpf, true))
        );
        assert_eq!(
            path(&["whoport", "check", "22", "--owner-scan", "procfs"]).ok(),
            Some((OwnerPath::Procfs, false))
        );
        assert!(path(&["whoport", "--owner-scan", "kernel"]).is_err());
    }

    #[test]
    fn netns_values() {
        let ok = [
            ("current", NetnsScope::Current),
            ("all", NetnsScope::All),
            ("812", NetnsScope::Pid(812)),
            (
                "/run/netns/blue",
                NetnsScope::Path(PathBuf::from("/run/netns/blue")),
            ),
            ("./ns", NetnsScope::Path(PathBuf::from("./ns"))),
            ("blue", NetnsScope::Named("blue".to_string())),
            ("web-1", NetnsScope::Named("web-1".to_string())),
        ];
        for (text, want) in ok {
            assert_eq!(parse_netns(text).ok(), Some(want), "{text}");
        }
        for bad in ["", "0", "99999999999", "we\x1bb"] {
            let err = parse_netns(bad).map_err(|e| e.to_string());
            assert!(
                err.as_ref()
                    .is_err_and(|e| e.starts_with(&format!("invalid network namespace '{bad}'"))),
                "{bad}: {err:?}"
            );
        }
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
            let got: Vec<String> = parse_expectations(&texts, &FakeHost::default())
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
            let msg = parse_expectations(&texts, &FakeHost::default())
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

    #[test]
    fn service_names_resolve_to_port_arguments() {
        let registry = Registry::builtin();
        let ok = |name: &str| lookup_service(&registry, name).ok();
        assert_eq!(ok("ssh"), Some(vec![PortArg::Named(22)]));
        assert_eq!(ok("HTTP"), Some(vec![PortArg::Named(80)]));
        assert_eq!(ok("x11"), Some(vec![PortArg::Range(6000, 6063)]));
        let err = |name: &str| {
            lookup_service(&registry, name)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let unknown = err("sshh");
        assert!(
            unknown.starts_with("invalid port 'sshh': not a port number"),
            "{unknown}"
        );
        assert!(
            unknown.contains("did you mean") && unknown.contains("ssh"),
            "{unknown}"
        );
        assert!(err("xsanclient").contains("without a port number"));
        assert!(!err("zzzzzzzzzzzzzzzzzzzz").contains("did you mean"));
    }
}
