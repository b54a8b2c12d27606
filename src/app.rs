//! The entry point's work: parse the command line, choose the host and the collectors,
//! turn the command line into a [`Mode`] and run it. The only module that knows every
//! other; nothing imports it.

use std::ffi::OsString;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser};

use crate::check::{self, Verdict};
use crate::cli::Cli;
use crate::collect::{Choice, Sources};
use crate::config::{self, Check, List, Mode, Output};
use crate::exit::Exit;
use crate::host::{Host, RealHost, atomic};
use crate::model::{Protocol, Report};
use crate::render::{self, Render};
use crate::{act, generate, pipeline, sanitize};

/// Parses the command line, runs, and says how to exit. Errors are printed once, by
/// `main`, as `whoport: …`; `whoport check` prints its own (a Nagios UNKNOWN line).
pub(crate) fn run() -> Result<Exit> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.print()?;
            return Ok(Exit::Matched);
        }
        Err(e) => {
            return match check_invocation(&args) {
                Some(json) => Ok(check_unknown(
                    &usage_error(&e, &args, "whoport check --help"),
                    json,
                )),
                None => Err(anyhow!(usage_error(&e, &args, "whoport --help"))),
            };
        }
    };
    if let Some(what) = &cli.generate {
        let mut stdout = io::stdout().lock();
        generate::write(what, &mut stdout)?;
        stdout.flush()?;
        return Ok(Exit::Matched);
    }
    let host = RealHost::new(config::paths(&cli));
    let mode = match config::mode(&cli, &host) {
        Ok(mode) => mode,
        Err(e) if cli.is_check() => return Ok(check_unknown(&format!("{e:#}"), cli.check_json())),
        Err(e) => return Err(e),
    };
    let choice = Choice {
        backend: config::backend(&cli),
        owners: config::owner_path(&cli),
        debug: cli.debug,
    };
    match mode {
        Mode::Registry(action) => {
            act::registry::run(&action, host.paths(), &mut io::stdout().lock())?;
            Ok(Exit::Matched)
        }
        Mode::Check(check) => Ok(run_check(&check, Sources::new(choice), &host)),
        Mode::Kill(cmd) => act::kill_cmd::execute(
            &cmd,
            &Sources::new(choice)?,
            &host,
            &mut io::stdout().lock(),
        ),
        Mode::Wait(cmd) => act::wait_cmd::execute(&cmd, &Sources::new(choice)?, &mut io::stderr()),
        Mode::Watch(cmd) => act::watch_cmd::execute(
            &cmd,
            &Sources::new(choice)?,
            &host,
            &mut io::stdout().lock(),
            &mut io::stderr(),
        ),
        Mode::List(list) => run_list(&list, &Sources::new(choice)?, &host),
    }
}

/// `whoport [PORT…]`: the report, in the chosen format, to standard output or a file.
fn run_list(list: &List, sources: &Sources, host: &dyn Host) -> Result<Exit> {
    let started = Instant::now();
    let namespaces = pipeline::Namespaces {
        scope: list.netns.clone(),
        // A hint is for a reader: not for the exit code alone, nor for the metrics.
        hint: matches!(list.output, Output::Table { .. } | Output::Json),
    };
    let report = pipeline::report(
        sources,
        host,
        &list.query,
        &list.filters,
        list.xsan_audit,
        list.xsan_audit,
        &namespaces,
    )?;
    let elapsed = started.elapsed();
    let code = match list.output {
        // The metrics are the answer, also when they say that nothing matched.
        Output::Prometheus => Exit::Matched,
        _ if report.sockets.is_empty() => Exit::NoMatch,
        _ => Exit::Matched,
    };
    if let Some(path) = &list.output_file {
        let mut buffer = Vec::new();
        render_report(list, &report, elapsed, &mut buffer, None)?;
        atomic::write(path, &buffer)?;
        print_warnings(list, &report);
        return Ok(code);
    }
    // Whole blocks to the pipe or terminal, not a write per line: a table of every socket
    // on a busy host is tens of thousands of lines.
    let mut stdout = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let width = if list.wide {
        None
    } else {
        host.terminal().width
    };
    render_report(list, &report, elapsed, &mut stdout, width)?;
    stdout.flush()?;
    print_warnings(list, &report);
    Ok(code)
}

/// Writes a report in the configured format.
fn render_report(
    list: &List,
    report: &Report,
    elapsed: Duration,
    out: &mut dyn Write,
    width: Option<u16>,
) -> io::Result<()> {
    match list.output {
        Output::Quiet => Ok(()),
        Output::Json => render::Json.render(report, out),
        Output::Prometheus => render::Prometheus {
            scan_seconds: elapsed.as_secs_f64(),
            protocols: [Protocol::Tcp, Protocol::Udp]
                .into_iter()
                .filter(|p| list.query.wants_protocol(*p))
                .collect(),
        }
        .render(report, out),
        Output::Table { color } => render::Table { color, width }.render(report, out),
    }
}

/// The table's warnings go to standard error (JSON carries them; metrics count them).
fn print_warnings(list: &List, report: &Report) {
    if matches!(list.output, Output::Table { .. }) {
        for w in &report.warnings {
            eprintln!("whoport: warning: {}", sanitize::one_line(w));
        }
    }
}

/// `whoport check`: the verdict on stdout, its status as the exit code. Every failure is
/// an UNKNOWN verdict, never whoport's own exit code 2 (which would read as CRITICAL).
fn run_check(check: &Check, sources: Result<Sources>, host: &dyn Host) -> Exit {
    let started = Instant::now();
    let report = sources.and_then(|sources| {
        let current = pipeline::Namespaces::default();
        pipeline::report(
            &sources,
            host,
            &check.query,
            &check.filters,
            false,
            check.spec.asks_xsan(),
            &current,
        )
    });
    let (verdict, report) = match report {
        Ok(report) => (
            check::evaluate(
                &report,
                &check.filters.port_args,
                &check.query,
                &check.spec,
                started.elapsed(),
            ),
            report,
        ),
        Err(e) => (Verdict::unknown(&format!("{e:#}")), Report::default()),
    };
    print_verdict(&verdict, &report, check.json)
}

/// UNKNOWN for bad input in check mode: one line naming the bad value.
fn check_unknown(message: &str, json: bool) -> Exit {
    print_verdict(&Verdict::unknown(message), &Report::default(), json)
}

fn print_verdict(verdict: &Verdict, report: &Report, json: bool) -> Exit {
    let mut stdout = io::stdout().lock();
    let written = if json {
        render::nagios::write_json(verdict, report, &mut stdout)
    } else {
        render::nagios::write_line(verdict, &mut stdout)
    }
    .and_then(|()| stdout.flush());
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("whoport: writing the check's result: {e}");
            Exit::CheckUnknown
        }
        _ => verdict.status.exit(),
    }
}

/// Whether a command line that clap rejected was a `whoport check` (and asked for JSON),
/// so that its error is reported the plugin way: clap's own reading, or else the first
/// word that is neither an option nor an option's value being `check` (an unknown
/// option before `check` stops clap before it sees the subcommand).
fn check_invocation(args: &[OsString]) -> Option<bool> {
    let wants_json = || args.iter().any(|a| a == "--json");
    if let Ok(matches) = Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(args)
        && let Some((name, sub)) = matches.subcommand()
    {
        return (name == "check").then(|| {
            sub.try_get_one::<bool>("json")
                .ok()
                .flatten()
                .copied()
                .unwrap_or(false)
                || wants_json()
        });
    }
    // Options that take their value as the next word.
    const VALUED: [&str; 11] = [
        "-p",
        "--pid",
        "--user",
        "--format",
        "--output",
        "--color",
        "--backend",
        "--data-dir",
        "--xsan-config-dir",
        "--xsan-bin-dir",
        "-e",
    ];
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        let text = word.to_str()?;
        if text.starts_with('-') && text.len() > 1 {
            if VALUED.contains(&text) {
                words.next();
            }
            continue;
        }
        return (text == "check").then(wants_json);
    }
    None
}

/// One line for a command-line error, naming the bad value exactly (escaped, and
/// shortened when very long).
fn usage_error(e: &clap::Error, args: &[OsString], help: &str) -> String {
    if e.kind() == ErrorKind::UnknownArgument
        && let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg)
        && arg.starts_with('-')
        && arg.len() > 1
        && arg[1..].bytes().all(|b| b.is_ascii_digit() || b == b'-')
    {
        // clap names only the first short flag of `-80` (`-8`): name the argument given.
        let whole = args
            .iter()
            .skip(1)
            .filter_map(|a| a.to_str())
            .find(|a| {
                a.starts_with(arg.as_str())
                    && a[1..].bytes().all(|b| b.is_ascii_digit() || b == b'-')
            })
            .unwrap_or(arg);
        return format!(
            "invalid port '{}': ports are numbers from 1 to 65535",
            sanitize::value(whole)
        );
    }
    if e.kind() == ErrorKind::InvalidUtf8 {
        let bad = args
            .iter()
            .skip(1)
            .find(|a| a.to_str().is_none())
            .map(|a| {
                sanitize::value(&sanitize::bytes_safe(
                    std::os::unix::ffi::OsStrExt::as_bytes(a.as_os_str()),
                ))
            })
            .unwrap_or_default();
        return format!(
            "invalid argument '{bad}': not valid UTF-8 (ports, names and options are text; see \
             {help})"
        );
    }
    if e.kind() == ErrorKind::MissingRequiredArgument
        && let Some(ContextValue::Strings(missing)) = e.get(ContextKind::InvalidArg)
    {
        return format!("missing {} (see {help})", missing.join(", "));
    }
    let mut text = e.render().to_string();
    // A value clap echoes (`invalid value 'xxxx…' for '--color'`): shortened and escaped.
    for kind in [ContextKind::InvalidValue, ContextKind::InvalidArg] {
        if let Some(ContextValue::String(v)) = e.get(kind)
            && v.chars().count() > sanitize::VALUE_CHARS
        {
            text = text.replace(v.as_str(), &sanitize::value(v));
        }
    }
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // "the following required arguments were not provided:" names them on the next line.
    match lines.next().filter(|_| first.ends_with(':')) {
        Some(named) => format!("{first} {} (see {help})", named.trim()),
        None => format!("{first} (see {help})"),
    }
}
