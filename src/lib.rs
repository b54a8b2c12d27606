//! whoport: who holds this port, and should they?
//!
//! The data flows one way: `collect` (sockets and the pids holding them) → `resolve`
//! (owners, process details, filters) → `annotate` (what is known about each port) →
//! `render` (table, JSON, Prometheus) → an exit code. `whoport check` judges the report
//! instead (`check`) and prints a Nagios plugin verdict (`render::nagios`).

pub mod annotate;
pub mod atomic;
pub mod check;
pub mod cli;
pub mod collect;
pub mod config;
pub mod exit;
pub mod model;
pub mod registry;
pub mod render;
pub mod resolve;
pub mod sanitize;
#[cfg(test)]
mod testing;
pub mod trust;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser};

use crate::annotate::Knowledge;
use crate::check::Verdict;
use crate::cli::{Cli, Command};
use crate::config::{CheckSpec, Config, Output, Paths, PortSet};
use crate::model::{Protocol, Report};
use crate::render::Render;

/// Parses the command line, runs, and says how to exit. Errors are printed once, by
/// `main`, as `whoport: …`; `whoport check` prints its own (a Nagios UNKNOWN line).
pub fn run() -> Result<ExitCode> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.print()?;
            return Ok(exit::code(exit::MATCHED));
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
    let paths = Paths::from_cli(&cli);
    if let Some(Command::Registry { command }) = &cli.command {
        registry::run(command.as_ref(), &paths, &mut io::stdout().lock())?;
        return Ok(exit::code(exit::MATCHED));
    }
    // Read once: the registry (for service names and annotations), the host's Xsan
    // configuration and its ephemeral range.
    let knowledge = Knowledge::load(&paths);
    let lookup = |name: &str| annotate::lookup_service(&knowledge.registry, name);
    let config = match (Config::from_cli_with(&cli, &lookup), &cli.command) {
        (Ok(config), _) => config,
        (Err(e), Some(Command::Check(args))) => {
            return Ok(check_unknown(&format!("{e:#}"), args.json));
        }
        (Err(e), _) => return Err(e),
    };
    if let Some(spec) = &config.check {
        return Ok(run_check(&config, spec, &knowledge));
    }
    let started = Instant::now();
    let report = report_with(&config, &knowledge)?;
    let elapsed = started.elapsed();
    let code = exit::code(match config.output {
        // The metrics are the answer, also when they say that nothing matched.
        Output::Prometheus => exit::MATCHED,
        _ if report.sockets.is_empty() => exit::NO_MATCH,
        _ => exit::MATCHED,
    });
    if let Some(path) = &config.output_file {
        let mut buffer = Vec::new();
        render_report(&config, &report, elapsed, &mut buffer, false)?;
        atomic::write(path, &buffer)?;
        print_warnings(&config, &report);
        return Ok(code);
    }
    // Whole blocks to the pipe or terminal, not a write per line: a table of every socket
    // on a busy host is tens of thousands of lines.
    let mut stdout = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    render_report(
        &config,
        &report,
        elapsed,
        &mut stdout,
        io::stdout().is_terminal(),
    )?;
    stdout.flush()?;
    print_warnings(&config, &report);
    Ok(code)
}

/// Writes a report in the configured format.
fn render_report(
    config: &Config,
    report: &Report,
    elapsed: Duration,
    out: &mut dyn Write,
    terminal: bool,
) -> io::Result<()> {
    match config.output {
        Output::Quiet | Output::Nagios => Ok(()),
        Output::Json => render::Json.render(report, out),
        Output::Prometheus => render::Prometheus {
            scan_seconds: elapsed.as_secs_f64(),
            protocols: [Protocol::Tcp, Protocol::Udp]
                .into_iter()
                .filter(|p| config.query.wants_protocol(*p))
                .collect(),
        }
        .render(report, out),
        Output::Table { color } => render::Table {
            color,
            width: if terminal { comfy_table_width() } else { None },
        }
        .render(report, out),
    }
}

/// The table's warnings go to standard error (JSON carries them; metrics count them).
fn print_warnings(config: &Config, report: &Report) {
    if matches!(config.output, Output::Table { .. }) {
        for w in &report.warnings {
            eprintln!("whoport: warning: {}", sanitize::one_line(w));
        }
    }
}

/// `whoport check`: the verdict on stdout, its status as the exit code. Every failure is
/// an UNKNOWN verdict, never whoport's own exit code 2 (which would read as CRITICAL).
fn run_check(config: &Config, spec: &CheckSpec, knowledge: &Knowledge) -> ExitCode {
    let started = Instant::now();
    let (verdict, report) = match report_with(config, knowledge) {
        Ok(report) => (
            check::evaluate(
                &report,
                &config.port_args,
                &config.query,
                spec,
                started.elapsed(),
            ),
            report,
        ),
        Err(e) => (Verdict::unknown(&format!("{e:#}")), Report::default()),
    };
    print_verdict(&verdict, &report, config.output == Output::Json)
}

/// UNKNOWN for bad input in check mode: one line naming the bad value.
fn check_unknown(message: &str, json: bool) -> ExitCode {
    print_verdict(&Verdict::unknown(message), &Report::default(), json)
}

fn print_verdict(verdict: &Verdict, report: &Report, json: bool) -> ExitCode {
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
            exit::code(exit::CHECK_UNKNOWN)
        }
        _ => exit::code(verdict.status.code()),
    }
}

/// Whether a command line that clap rejected was a `whoport check` (and asked for JSON),
/// so that its error is reported the plugin way.
fn check_invocation(args: &[OsString]) -> Option<bool> {
    let matches = Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(args)
        .ok()?;
    let (name, sub) = matches.subcommand()?;
    (name == "check").then(|| {
        sub.try_get_one::<bool>("json")
            .ok()
            .flatten()
            .copied()
            .unwrap_or(false)
    })
}

/// Collects, resolves and annotates what the configuration asks for.
pub fn report(config: &Config) -> Result<Report> {
    report_with(config, &Knowledge::load(&config.paths))
}

/// [`report`] with the knowledge already read.
pub fn report_with(config: &Config, knowledge: &Knowledge) -> Result<Report> {
    let asked = annotate::asked_by_number(&config.port_args);
    let mut query = config.query.clone();
    if config.xsan_audit {
        // Listening TCP sockets on 311, 312 and the Xsan window (or on the ports given).
        query.tcp = true;
        query.udp = false;
        query.listening_only = true;
        if query.ports.is_none() {
            query.ports = Some(PortSet::new(annotate::xsan::audit_ranges(
                &knowledge.xsan,
                &asked,
            )));
        }
    }
    let collector = collect::collector(config.backend)?;
    let snapshot = collector.collect(&query).context("collecting sockets")?;
    let details = collect::process_source(config.backend);
    let mut report = resolve::build(snapshot, config, details.as_ref());
    let mut ctx = knowledge.context(&asked);
    ctx.xsan_asked = config.xsan_audit
        || config.check.as_ref().is_some_and(|c| {
            c.expectations.contains(&config::Expectation::Xsan)
                || c.warn_on.contains(&config::WarnOn::XsanConflict)
        });
    annotate::annotate(&mut report, &ctx);
    if config.xsan_audit {
        report.xsan = Some(knowledge.xsan.clone());
    }
    Ok(report)
}

fn comfy_table_width() -> Option<u16> {
    let probe = comfy_table::Table::new();
    probe.width()
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
