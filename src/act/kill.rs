//! `whoport kill`: signal the holders of a port's listening sockets, master first, wait
//! for the port to be free, escalate to SIGKILL. The engine works on a [`World`] (the
//! real socket table and processes in use, a simulated one in the tests below), so the
//! whole sequence — refusals, order, timeouts, escalation — is tested without signalling
//! anything.
//!
//! Only listeners are targets (TCP LISTEN, bound UDP): a process that merely has a
//! connection to the port (a browser, a client) is never signalled. It is all or nothing:
//! if any holder is refused (see `refuse.rs`), nothing is signalled.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use anyhow::Result;
use nix::sys::signal::Signal;

use super::order::{master_first, masters};
use super::refuse::{self, Guard, Plumbing, Refusal};
use super::{Delivery, SendError, Target};
use crate::model::{Owner, Process, Socket};

/// What the user asked for.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) signal: Signal,
    /// How long to wait for the port to be free after a signal.
    pub(crate) timeout: Duration,
    /// Send SIGKILL to whoever still holds it after `timeout`.
    pub(crate) escalate: bool,
    pub(crate) dry_run: bool,
    /// Signal container plumbing too.
    pub(crate) force: bool,
    /// How often to look at the socket table while waiting.
    pub(crate) interval: Duration,
}

/// What the engine acts on.
pub(crate) trait World {
    /// The listening sockets on the ports asked about, owners resolved, as they are now.
    fn scan(&mut self) -> Result<Vec<Socket>>;
    /// The parent of a process, as it is now (answers may be kept until the next scan).
    fn parent_of(&self, pid: u32) -> Option<u32>;
    /// Sends a signal, checked against the sockets the target was seen holding.
    fn send(&mut self, target: &Target<'_>, signal: Signal) -> Result<Delivery, SendError>;
    fn now(&self) -> Instant;
    fn sleep(&mut self, duration: Duration);
}

/// How it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing listened on the port in the first place.
    AlreadyFree,
    /// It was held, and is free now.
    Killed,
    /// Something still listens.
    StillHeld,
    /// Nothing was signalled: a holder may not be (see the refusals).
    Refused,
    /// `--dry-run`: the plan, nothing sent.
    DryRun,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::AlreadyFree => "already_free",
            Outcome::Killed => "killed",
            Outcome::StillHeld => "still_held",
            Outcome::Refused => "refused",
            Outcome::DryRun => "dry_run",
        }
    }

    /// Free at the end (or, for a dry run, nothing stands in the way).
    pub(crate) fn success(self) -> bool {
        matches!(
            self,
            Outcome::AlreadyFree | Outcome::Killed | Outcome::DryRun
        )
    }
}

/// Why a holder is signalled when it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// No other holder is among its ancestors: signalled first.
    Master,
    /// A holder below a master (a forked worker): signalled once no holder above it is
    /// left, or at the escalation.
    Worker,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Worker => "worker",
        }
    }
}

/// One holder in the plan of a dry run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Planned {
    pub(crate) process: Process,
    pub(crate) role: Role,
    pub(crate) signal: Signal,
    /// The signal that follows after the timeout, if the port is still held.
    pub(crate) then: Option<Signal>,
}

/// One signal, as it went.
#[derive(Clone, Debug)]
pub(crate) struct Action {
    pub(crate) process: Process,
    pub(crate) role: Role,
    pub(crate) signal: Signal,
    /// Since the start.
    pub(crate) at: Duration,
    pub(crate) result: std::result::Result<Delivery, String>,
    /// `not_permitted`, `unsupported`… when it failed.
    pub(crate) error_kind: Option<&'static str>,
}

/// What `whoport kill` did.
#[derive(Clone, Debug)]
pub(crate) struct KillReport {
    pub(crate) outcome: Outcome,
    /// The listening sockets found at the start.
    pub(crate) before: Vec<Socket>,
    /// The listening sockets left at the end.
    pub(crate) after: Vec<Socket>,
    pub(crate) refusals: Vec<(u16, Refusal)>,
    pub(crate) plan: Vec<Planned>,
    pub(crate) actions: Vec<Action>,
    /// Holders that appeared while it ran (a supervisor restarting the server): never
    /// signalled, since they were not judged.
    pub(crate) appeared: Vec<u32>,
    pub(crate) elapsed: Duration,
}

/// Runs `whoport kill` on `world`.
pub(crate) fn run(options: &Options, guard: &Guard, world: &mut dyn World) -> Result<KillReport> {
    let start = world.now();
    let before = world.scan()?;
    let mut report = KillReport {
        outcome: Outcome::AlreadyFree,
        before: before.clone(),
        after: Vec::new(),
        refusals: Vec::new(),
        plan: Vec::new(),
        actions: Vec::new(),
        appeared: Vec::new(),
        elapsed: Duration::ZERO,
    };
    if before.is_empty() {
        return Ok(report);
    }
    report.refusals = refusals(&before, guard, options.force);
    if !report.refusals.is_empty() {
        report.outcome = Outcome::Refused;
        report.after = before;
        report.elapsed = world.now().saturating_duration_since(start);
        return Ok(report);
    }
    let holders = holder_pids(&before);
    let first = masters(&holders, &|p| world.parent_of(p));
    let then = escalation(options);
    if options.dry_run {
        report.plan = master_first(&holders, &|p| world.parent_of(p))
            .into_iter()
            .filter_map(|pid| process_of(&before, pid))
            .map(|process| Planned {
                role: role(first.contains(&process.pid)),
                process,
                signal: options.signal,
                then,
            })
            .collect();
        report.outcome = Outcome::DryRun;
        report.after = before;
        report.elapsed = world.now().saturating_duration_since(start);
        return Ok(report);
    }
    let allowed: HashSet<u32> = holders.iter().copied().collect();
    let mut current = before;
    let phases: Vec<Signal> = std::iter::once(options.signal).chain(then).collect();
    'phases: for (n, &signal) in phases.iter().enumerate() {
        let escalating = n > 0;
        let phase_start = world.now();
        let mut signalled: HashSet<u32> = HashSet::new();
        loop {
            if current.is_empty() {
                break 'phases;
            }
            let now_holders = holder_pids(&current);
            let strangers: Vec<u32> = now_holders
                .iter()
                .copied()
                .filter(|p| !allowed.contains(p))
                .collect();
            if !strangers.is_empty() || current.iter().any(|s| !matches!(s.owner, Owner::Known(_)))
            {
                // Someone new holds it (or its holder can no longer be seen): it was not
                // judged, so it is not signalled. Report what is there.
                report.appeared = strangers;
                break 'phases;
            }
            // Masters first; at the escalation, everyone left (SIGKILL is not passed on
            // by a master to its workers).
            let due = if escalating {
                master_first(&now_holders, &|p| world.parent_of(p))
            } else {
                masters(&now_holders, &|p| world.parent_of(p))
            };
            for pid in due {
                if !signalled.insert(pid) {
                    continue;
                }
                let inodes = inodes_of(&current, pid);
                let result = world.send(
                    &Target {
                        pid,
                        inodes: &inodes,
                    },
                    signal,
                );
                report.actions.push(Action {
                    process: process_of(&current, pid).unwrap_or_else(|| Process::unknown(pid)),
                    role: role(first.contains(&pid)),
                    signal,
                    at: world.now().saturating_duration_since(start),
                    error_kind: result.as_ref().err().map(SendError::as_str),
                    result: result.map_err(|e| e.to_string()),
                });
            }
            let waited = world.now().saturating_duration_since(phase_start);
            if waited >= options.timeout {
                break;
            }
            world.sleep(options.interval.min(options.timeout - waited));
            current = world.scan()?;
        }
    }
    report.outcome = if current.is_empty() {
        Outcome::Killed
    } else {
        Outcome::StillHeld
    };
    report.after = current;
    report.elapsed = world.now().saturating_duration_since(start);
    Ok(report)
}

fn escalation(options: &Options) -> Option<Signal> {
    (options.escalate && options.signal != Signal::SIGKILL).then_some(Signal::SIGKILL)
}

fn role(master: bool) -> Role {
    if master { Role::Master } else { Role::Worker }
}

/// Every refusal, by port: holders that may not be signalled, hidden and ownerless
/// listeners.
fn refusals(sockets: &[Socket], guard: &Guard, force: bool) -> Vec<(u16, Refusal)> {
    let mut out: Vec<(u16, Refusal)> = Vec::new();
    for s in sockets {
        let port = s.raw.local_port;
        let found = match &s.owner {
            Owner::Known(processes) => processes
                .iter()
                .filter_map(|p| {
                    // What the runtime's files say: this holder forwards the port to a
                    // container (named where they tell).
                    let published = s.context().published.as_ref().filter(|x| x.pid == p.pid);
                    let via = published.map(|x| Plumbing::from_via(x.via));
                    let container = published
                        .and_then(|x| x.container.as_ref())
                        .map(|c| c.label().to_string());
                    refuse::judge(p, guard, force, container.as_deref(), via)
                })
                .collect(),
            Owner::Hidden { reason, uid, user } => {
                vec![refuse::hidden(
                    *reason,
                    *uid,
                    user.as_deref().map(str::to_string),
                )]
            }
            Owner::None { reason } => vec![Refusal::NoProcess { reason: *reason }],
        };
        for r in found {
            if !out.iter().any(|(p, seen)| *p == port && *seen == r) {
                out.push((port, r));
            }
        }
    }
    out
}

/// The pids holding any of the sockets, sorted.
fn holder_pids(sockets: &[Socket]) -> Vec<u32> {
    let set: BTreeSet<u32> = sockets
        .iter()
        .flat_map(|s| s.owner.processes().iter().map(|p| p.pid))
        .collect();
    set.into_iter().collect()
}

fn inodes_of(sockets: &[Socket], pid: u32) -> Vec<u64> {
    let mut out: Vec<u64> = sockets
        .iter()
        .filter(|s| s.owner.processes().iter().any(|p| p.pid == pid))
        .filter_map(|s| s.raw.inode.filter(|&i| i != 0))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn process_of(sockets: &[Socket], pid: u32) -> Option<Process> {
    sockets
        .iter()
        .flat_map(|s| s.owner.processes())
        .find(|p| p.pid == pid)
        .cloned()
}

#[cfg(test)]
#[path = "kill_tests.rs"]
mod tests;
