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
pub mod render;
pub mod resolve;
pub mod sanitize;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::cli::Cli;
use crate::config::{Config, Output};
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
    let config = Config::from_cli(&cli)?;
    let report = report(&config)?;
    // Whole blocks to the pipe or terminal, not a write per line: a table of every socket
    // on a busy host is tens of thousands of lines.
    let mut stdout = io::BufWriter::with_capacity(64 * 1024, io::stdout().lock());
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
    let collector = collect::collector(config.backend)?;
    let snapshot = collector
        .collect(&config.query)
        .context("collecting sockets")?;
    let details = collect::process_source(config.backend);
    Ok(resolve::build(snapshot, config, details.as_ref()))
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
    let first = text.lines().next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    format!("{first} (see whoport --help)")
}
