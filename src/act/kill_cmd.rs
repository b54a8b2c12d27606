//! `whoport kill` as a command: the settings `config` fills in, the run on the real host,
//! and what it prints (a few plain lines, or one JSON object: docs/json.md).

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use super::Delivery;
use super::duration::show;
use super::kill::{self, KillReport, Options, Outcome, Role};
use super::lineage::Parents;
use super::order::ancestors;
use super::refuse::Guard;
use super::signal::name;
use super::world::RealWorld;
use crate::collect::Sources;
use crate::exit::Exit;
use crate::host::Host;
use crate::model::{Filters, Process, Socket, SocketQuery, endpoint};
use crate::render::json::{JsonSockets, SCHEMA_VERSION};
use crate::sanitize::terminal_safe;

/// `whoport kill PORT…`, its values checked.
#[derive(Clone, Debug)]
pub(crate) struct KillCommand {
    /// Listening sockets of the ports asked about, of the kinds asked (`-t`, `-u`…).
    pub(crate) query: SocketQuery,
    pub(crate) filters: Filters,
    /// The ports as the user named them, for messages (`3000`, `8000-8100`).
    pub(crate) label: String,
    pub(crate) options: Options,
    pub(crate) json: bool,
}

/// Runs it: 0 when the port is free at the end (or, dry, nothing stands in the way), 1
/// when it is still held or the kill was refused.
pub(crate) fn execute(
    cmd: &KillCommand,
    sources: &Sources,
    host: &dyn Host,
    out: &mut dyn Write,
) -> Result<Exit> {
    let me = std::process::id();
    let parents = Parents::new();
    let guard = Guard {
        own_pid: me,
        ancestors: ancestors(me, &|p| parents.parent_of(p)),
    };
    let mut world = RealWorld::new(sources, host, cmd.query.clone(), cmd.filters.clone());
    let report = kill::run(&cmd.options, &guard, &mut world)?;
    if cmd.json {
        serde_json::to_writer_pretty(&mut *out, &JsonKill::new(cmd, &report))?;
        writeln!(out)?;
    } else {
        write_text(cmd, &report, out)?;
    }
    out.flush()?;
    Ok(if report.outcome.success() {
        Exit::Done
    } else {
        Exit::NotDone
    })
}

fn who(p: &Process) -> String {
    match &p.name {
        Some(n) => format!("pid {} ({})", p.pid, terminal_safe(n)),
        None => format!("pid {}", p.pid),
    }
}

fn where_(s: &Socket) -> String {
    format!(
        "{} {}",
        s.raw.protocol,
        endpoint(&s.raw.local_address, s.raw.local_port)
    )
}

fn holders(s: &Socket) -> String {
    let ps = s.owner.processes();
    if ps.is_empty() {
        return format!("({})", s.owner.kind());
    }
    ps.iter().map(who).collect::<Vec<_>>().join(", ")
}

fn write_text(cmd: &KillCommand, r: &KillReport, out: &mut dyn Write) -> std::io::Result<()> {
    let label = &cmd.label;
    let o = &cmd.options;
    match r.outcome {
        Outcome::AlreadyFree => {
            return writeln!(
                out,
                "port {label}: already free (no listening socket): nothing to do"
            );
        }
        Outcome::Refused => {
            writeln!(out, "port {label}: refused, nothing signalled:")?;
            for (port, refusal) in &r.refusals {
                writeln!(out, "  {port}: {}", terminal_safe(&refusal.message(*port)))?;
            }
            return held_by(r, out);
        }
        Outcome::DryRun => {
            writeln!(out, "port {label}: dry run, nothing sent")?;
            held_by(r, out)?;
            for p in &r.plan {
                let when = match p.role {
                    Role::Master => "first: no other holder is among its ancestors",
                    Role::Worker => "once no holder above it is left (its master first)",
                };
                writeln!(
                    out,
                    "would send {} to {}: {when}",
                    name(p.signal),
                    who(&p.process)
                )?;
            }
            if let Some(then) = r.plan.first().and_then(|p| p.then) {
                writeln!(
                    out,
                    "then {} to whichever still holds it after {}",
                    name(then),
                    show(o.timeout)
                )?;
            }
            return Ok(());
        }
        Outcome::Killed | Outcome::StillHeld => {}
    }
    for a in &r.actions {
        let sig = name(a.signal);
        let line = match &a.result {
            Ok(Delivery::Sent) => format!("sent {sig} to {}", who(&a.process)),
            Ok(Delivery::Exited) => format!("{} had exited: {sig} not sent", who(&a.process)),
            Ok(Delivery::Released) => format!(
                "{} no longer holds the socket: {sig} not sent",
                who(&a.process)
            ),
            Err(e) => format!(
                "{sig} not sent to {}: {}",
                who(&a.process),
                terminal_safe(e)
            ),
        };
        writeln!(out, "{line}")?;
    }
    for pid in &r.appeared {
        writeln!(
            out,
            "pid {pid} started holding it meanwhile (a supervisor restarting the server?): \
             not signalled"
        )?;
    }
    match r.outcome {
        Outcome::Killed => writeln!(
            out,
            "port {label}: free (killed, after {})",
            show(r.elapsed)
        ),
        _ => {
            writeln!(out, "port {label}: still held after {}:", show(r.elapsed))?;
            for s in &r.after {
                writeln!(out, "  {} held by {}", where_(s), holders(s))?;
            }
            Ok(())
        }
    }
}

fn held_by(r: &KillReport, out: &mut dyn Write) -> std::io::Result<()> {
    for s in &r.before {
        writeln!(out, "  {} held by {}", where_(s), holders(s))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonRange {
    first: u16,
    last: u16,
}

#[derive(Serialize)]
struct JsonRefusal {
    port: u16,
    rule: &'static str,
    pid: Option<u32>,
    /// Whether `--force` would override it (container plumbing only).
    forcible: bool,
    message: String,
}

#[derive(Serialize)]
struct JsonPlanned<'a> {
    pid: u32,
    name: Option<&'a str>,
    role: &'static str,
    signal: &'static str,
    then: Option<&'static str>,
}

#[derive(Serialize)]
struct JsonAction<'a> {
    pid: u32,
    name: Option<&'a str>,
    role: &'static str,
    signal: &'static str,
    at_ms: u64,
    /// `sent`, `exited`, `released` or `error`.
    result: &'static str,
    error: Option<&'a str>,
    error_kind: Option<&'static str>,
}

#[derive(Serialize)]
struct JsonKill<'a> {
    schema_version: u32,
    ports: Vec<JsonRange>,
    outcome: &'static str,
    free: bool,
    signal: &'static str,
    timeout_ms: u64,
    escalate: bool,
    dry_run: bool,
    force: bool,
    refusals: Vec<JsonRefusal>,
    plan: Vec<JsonPlanned<'a>>,
    actions: Vec<JsonAction<'a>>,
    appeared: &'a [u32],
    before: JsonSockets<'a>,
    after: JsonSockets<'a>,
    elapsed_ms: u64,
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl<'a> JsonKill<'a> {
    fn new(cmd: &KillCommand, r: &'a KillReport) -> JsonKill<'a> {
        let o = &cmd.options;
        JsonKill {
            schema_version: SCHEMA_VERSION,
            ports: cmd
                .query
                .ports
                .as_ref()
                .map(|p| {
                    p.ranges()
                        .iter()
                        .map(|&(first, last)| JsonRange { first, last })
                        .collect()
                })
                .unwrap_or_default(),
            outcome: r.outcome.as_str(),
            free: matches!(r.outcome, Outcome::Killed | Outcome::AlreadyFree),
            signal: name(o.signal),
            timeout_ms: ms(o.timeout),
            escalate: o.escalate,
            dry_run: o.dry_run,
            force: o.force,
            refusals: r
                .refusals
                .iter()
                .map(|(port, refusal)| JsonRefusal {
                    port: *port,
                    rule: refusal.rule(),
                    pid: refusal.pid(),
                    forcible: refusal.forcible(),
                    message: refusal.message(*port),
                })
                .collect(),
            plan: r
                .plan
                .iter()
                .map(|p| JsonPlanned {
                    pid: p.process.pid,
                    name: p.process.name.as_deref(),
                    role: p.role.as_str(),
                    signal: name(p.signal),
                    then: p.then.map(name),
                })
                .collect(),
            actions: r
                .actions
                .iter()
                .map(|a| JsonAction {
                    pid: a.process.pid,
                    name: a.process.name.as_deref(),
                    role: a.role.as_str(),
                    signal: name(a.signal),
                    at_ms: ms(a.at),
                    result: match &a.result {
                        Ok(d) => d.as_str(),
                        Err(_) => "error",
                    },
                    error: a.result.as_ref().err().map(String::as_str),
                    error_kind: a.error_kind,
                })
                .collect(),
            appeared: &r.appeared,
            before: JsonSockets(&r.before),
            after: JsonSockets(&r.after),
            elapsed_ms: ms(r.elapsed),
        }
    }
}
