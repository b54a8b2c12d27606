//! whoport: who holds this port, and should they?
//!
//! The layers, lowest first; none imports one above it (docs/architecture.md):
//! `exit`, `model` (plain data) → `sanitize` → `iana` (the built-in registry) → `host`
//! (users, registry copy, Xsan configuration, ephemeral range, terminal) → `collect`
//! (sockets and the pids holding them; process details) → `resolve` (owners, filters) →
//! `annotate` (what is known about ports) → `pipeline` (the three in one pass) → `check`
//! (a verdict) → `render` (table, JSON, Prometheus, Nagios) → `act` (the commands that do
//! something) → `cli` (clap) → `generate` (man page, completions), `config` (the
//! command line as a `Mode`) → `app` (runs it).

mod act;
mod annotate;
mod app;
mod check;
mod cli;
mod collect;
mod config;
mod exit;
mod generate;
mod host;
mod iana;
mod model;
mod pipeline;
mod render;
mod resolve;
mod sanitize;
#[cfg(test)]
mod tests;

use std::process::ExitCode;

use crate::exit::Exit;

fn main() -> ExitCode {
    match app::run() {
        Ok(code) => code.into(),
        Err(err) if exit::is_broken_pipe(&err) => Exit::Matched.into(),
        Err(err) => {
            eprintln!("whoport: {}", sanitize::one_line(&format!("{err:#}")));
            Exit::Error.into()
        }
    }
}
