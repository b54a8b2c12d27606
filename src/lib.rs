//! whoport: who holds this port, and should they?
//!
//! The data flows one way: `collect` (sockets and the pids holding them) → `resolve`
//! (owners, process details, filters) → `annotate` (what is known about each port) →
//! `render` (table, JSON) → an exit code.

pub mod annotate;
pub mod cli;
pub mod collect;
pub mod config;
pub mod exit;
pub mod model;
pub mod registry;
pub mod render;
pub mod resolve;
pub mod sanitize;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::annotate::Knowledge;
use crate::cli::{Cli, Command};
use crate::config::{Config, Output, Paths, PortSet};
use crate::model::Report;
use crate::render::Render;

/// Parses the command line, runs, and says how to exit. Errors are printed once, by
/// `main`, as `whoport: …`.
pub fn run() -> Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.print()?;
            return Ok(exit::code(exit::MATCHED));
        }
        Err(e) => return Err(anyhow!(usage_error(&e))),
    };
    let paths = Paths::from_cli(&cli);
    if let Some(Command::Registry { command }) = &cli.command {
        registry::run(command.as_ref(), &paths, &mut io::stdout().lock())?;
        return Ok(exit::code(exit::MATCHED));
    }
    // Read once: the registry (for service names and annotations), the host's Xsan
    // configuration and its ephemeral range.
    let knowledge = Knowledge::load(&paths);
    let config = Config::from_cli_with(&cli, &|name| {
        annotate::lookup_service(&knowledge.registry, name)
    })?;
    let report = report_with(&config, &knowledge)?;
    let mut stdout = io::stdout().lock();
    match config.output {
        Output::Quiet => {}
        Output::Json => render::Json.render(&report, &mut stdout)?,
        Output::Table { color } => {
            let width = if io::stdout().is_terminal() {
                comfy_table_width()
            } else {
                None
            };
            render::Table { color, width }.render(&report, &mut stdout)?;
            stdout.flush()?;
            for w in &report.warnings {
                eprintln!("whoport: warning: {}", sanitize::one_line(w));
            }
        }
    }
    stdout.flush()?;
    Ok(exit::code(if report.sockets.is_empty() {
        exit::NO_MATCH
    } else {
        exit::MATCHED
    }))
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
    let mut report = resolve::build(snapshot, config, &collect::SysinfoProcesses);
    annotate::annotate(&mut report, &knowledge.context(&asked));
    if config.xsan_audit {
        report.xsan = Some(knowledge.xsan.clone());
    }
    Ok(report)
}

fn comfy_table_width() -> Option<u16> {
    let probe = comfy_table::Table::new();
    probe.width()
}

/// One line for a command-line error, naming the bad value.
fn usage_error(e: &clap::Error) -> String {
    if e.kind() == ErrorKind::UnknownArgument
        && let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg)
        && arg.starts_with('-')
        && arg.len() > 1
        && arg[1..].bytes().all(|b| b.is_ascii_digit() || b == b'-')
    {
        return format!("invalid port '{arg}': ports are numbers from 1 to 65535");
    }
    let text = e.render().to_string();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // "the following required arguments were not provided:" names them on the next line.
    match lines.next().filter(|_| first.ends_with(':')) {
        Some(named) => format!("{first} {} (see whoport --help)", named.trim()),
        None => format!("{first} (see whoport --help)"),
    }
}
