//! `whoport check`: a verdict, following the Nagios plugin API, from a report and what is
//! expected of its ports. Pure: no I/O; `render/nagios.rs` prints the verdict.
//!
//! Policy (docs/monitoring.md):
//! - every expectation must hold for every PORT, else CRITICAL;
//! - UNKNOWN when the answer depends on an owner whoport could not see (a hidden owner, an
//!   unreadable process detail, or, without root, a holder that may be missing from the
//!   scan), and for bad input;
//! - WARNING only for what `--warn-on` asks for (an Xsan conflict), while the
//!   expectations hold;
//! - several outcomes combine as the Monitoring Plugins' `max_state_alt` does:
//!   CRITICAL > WARNING > UNKNOWN > OK.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use crate::exit::Exit;
use crate::model::{
    CheckSpec, Expectation, HiddenReason, LeftOut, Owner, OwnerClause, OwnerScan, PortArg,
    PortInfo, Process, Protocol, Report, Socket, SocketQuery, WarnOn, XsanVerdict, endpoint,
};
use crate::sanitize::plugin_text;

/// A plugin's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Status {
    /// How bad: a definite failure outranks a doubt, a doubt outranks OK.
    fn rank(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Unknown => 1,
            Status::Warning => 2,
            Status::Critical => 3,
        }
    }

    pub(crate) fn worst(self, other: Status) -> Status {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    /// The exit code of the Nagios plugin API.
    pub(crate) fn exit(self) -> Exit {
        match self {
            Status::Ok => Exit::CheckOk,
            Status::Warning => Exit::CheckWarning,
            Status::Critical => Exit::CheckCritical,
            Status::Unknown => Exit::CheckUnknown,
        }
    }

    /// As the status line spells it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
}

/// What one reason judged: an expectation, the owner clauses together (they must hold
/// of one process at once), or a `--warn-on` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Judged {
    One(Expectation),
    Owners(Vec<OwnerClause>),
    WarnOn(WarnOn),
}

impl std::fmt::Display for Judged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Judged::One(e) => write!(f, "{e}"),
            Judged::Owners(clauses) => {
                for (i, c) in clauses.iter().enumerate() {
                    let sep = if i == 0 { "" } else { " " };
                    write!(f, "{sep}{}", Expectation::Owner(c.clone()))?;
                }
                Ok(())
            }
            Judged::WarnOn(w) => write!(f, "warn-on={}", w.as_str()),
        }
    }
}

/// As the status line and JSON name it: plugin-safe text (`process=…` is the user's).
impl Serialize for Judged {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&plugin_text(&self.to_string()))
    }
}

/// The outcome of one expectation (or `--warn-on` condition) on one PORT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Reason {
    /// The PORT as the check names it (`22/tcp`, `8000-8100`).
    pub(crate) port: String,
    /// What was judged (`listening`, `process=nginx user=www-data`, `warn-on=xsan-conflict`).
    pub(crate) expectation: Judged,
    pub(crate) status: Status,
    /// Why; terminal-safe.
    pub(crate) text: String,
}

/// One performance data item: `label=value[uom];;;min`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Perf {
    pub(crate) label: &'static str,
    #[serde(serialize_with = "number")]
    pub(crate) value: f64,
    pub(crate) uom: &'static str,
    #[serde(serialize_with = "number")]
    pub(crate) min: f64,
}

/// Whole numbers as JSON integers (`3`, not `3.0`).
fn number<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Verdict {
    pub(crate) status: Status,
    /// The status line's text between `WHOPORT STATUS - ` and ` | `; terminal-safe.
    pub(crate) summary: String,
    pub(crate) expectations: Vec<Expectation>,
    pub(crate) warn_on: Vec<WarnOn>,
    pub(crate) reasons: Vec<Reason>,
    pub(crate) perfdata: Vec<Perf>,
}

impl Verdict {
    /// UNKNOWN: the check could not be run (bad input, a failed collection).
    pub(crate) fn unknown(message: &str) -> Verdict {
        Verdict {
            status: Status::Unknown,
            summary: plugin_text(message),
            expectations: Vec::new(),
            warn_on: Vec::new(),
            reasons: Vec::new(),
            perfdata: Vec::new(),
        }
    }
}

/// An intermediate outcome: a status and why, and which socket it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    status: Status,
    text: String,
    /// The socket (and its holders) when the outcome is about one of several.
    subject: Option<String>,
}

impl Outcome {
    fn new(status: Status, text: impl Into<String>) -> Outcome {
        Outcome {
            status,
            text: text.into(),
            subject: None,
        }
    }

    /// About this socket: named in the text unless every socket of the port shares the
    /// outcome.
    fn about(mut self, s: &Socket) -> Outcome {
        self.subject = Some(format!("{} {}", socket_name(s), holders(&[s])));
        self
    }
}

/// The worst of several outcomes (one per socket), with the texts of all that share its
/// status; sockets are named only when they do not all share the same outcome.
fn combine(outcomes: Vec<Outcome>, if_none: Outcome) -> Outcome {
    let Some(first) = outcomes.first() else {
        return if_none;
    };
    if outcomes
        .iter()
        .all(|o| o.status == first.status && o.text == first.text)
    {
        return Outcome::new(first.status, first.text.clone());
    }
    let status = outcomes
        .iter()
        .map(|o| o.status)
        .fold(Status::Ok, Status::worst);
    let mut texts: Vec<String> = Vec::new();
    for o in outcomes.into_iter().filter(|o| o.status == status) {
        let text = match o.subject {
            Some(subject) => format!("{subject}: {}", o.text),
            None => o.text,
        };
        if !texts.contains(&text) {
            texts.push(text);
        }
    }
    Outcome::new(status, texts.join(", "))
}

/// The sockets of one PORT argument.
struct Target<'a> {
    label: String,
    sockets: Vec<&'a Socket>,
    /// With no socket matched: whether the port is free (no socket at all), or what
    /// the filters left out.
    vacancy: Vacancy,
}

/// What "no socket matched" means for a target.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Vacancy {
    /// Nothing at all is on it: free.
    Free,
    /// The filters left these out (`1 tcp ipv4 listen`, …).
    LeftOut(Vec<String>),
    /// Not looked at (a range asked with narrowing filters).
    Unknown,
}

fn targets<'a>(report: &'a Report, ports: &[PortArg], query: &SocketQuery) -> Vec<Target<'a>> {
    ports
        .iter()
        .map(|arg| {
            let (lo, hi, text) = match *arg {
                PortArg::Single(p) | PortArg::Named(p) => (p, p, p.to_string()),
                PortArg::Range(lo, hi) => (lo, hi, format!("{lo}-{hi}")),
            };
            let sockets: Vec<&Socket> = report
                .sockets
                .iter()
                .filter(|s| (lo..=hi).contains(&s.raw.local_port))
                .collect();
            let mut protocols: BTreeSet<Protocol> =
                sockets.iter().map(|s| s.raw.protocol).collect();
            if protocols.is_empty() {
                protocols = [Protocol::Tcp, Protocol::Udp]
                    .into_iter()
                    .filter(|p| query.wants_protocol(*p))
                    .collect();
            }
            let label = match protocols.len() {
                1 => format!(
                    "{text}/{}",
                    protocols.iter().map(|p| p.as_str()).collect::<String>()
                ),
                _ if sockets.is_empty() => text,
                _ => format!("{text}/tcp+udp"),
            };
            let infos: Vec<&PortInfo> = report
                .ports
                .iter()
                .filter(|p| (lo..=hi).contains(&p.port) && p.sockets == 0)
                .collect();
            let vacancy = if lo == hi {
                match infos.first().and_then(|p| p.left_out.as_ref()) {
                    Some(l) if l.is_empty() => Vacancy::Free,
                    Some(l) => Vacancy::LeftOut(l.iter().map(LeftOut::describe).collect()),
                    None if query.is_widest() => Vacancy::Free,
                    None => Vacancy::Unknown,
                }
            } else if query.is_widest() {
                Vacancy::Free
            } else {
                Vacancy::Unknown
            };
            Target {
                label,
                sockets,
                vacancy,
            }
        })
        .collect()
}

fn listening<'a>(sockets: &[&'a Socket]) -> Vec<&'a Socket> {
    sockets
        .iter()
        .copied()
        .filter(|s| s.raw.state.is_listening())
        .collect()
}

/// `nginx (pid 812, www-data)`, terminal-safe; with what it really runs when its name
/// borrows another program's (`sshd (pid 9, root, runs /usr/bin/perl)`) and when its
/// executable was deleted.
fn process_text(p: &Process) -> String {
    let name = p.name.as_deref().unwrap_or("?");
    let user = match (&p.user, p.uid) {
        (Some(u), _) => u.to_string(),
        (None, Some(uid)) => format!("uid {uid}"),
        (None, None) => "user unknown".to_string(),
    };
    let exe = p.exe.as_deref().unwrap_or("?");
    let runs = match (p.name_mismatch() == Some(true), p.exe_deleted) {
        (true, false) => format!(", runs {exe}"),
        (true, true) => format!(", runs {exe} (deleted)"),
        (false, true) => format!(", deleted executable {exe}"),
        (false, false) => String::new(),
    };
    plugin_text(&format!("{name} (pid {}, {user}{runs})", p.pid))
}

/// Who holds these sockets: `held by sshd (pid 611, root)`, `owner hidden (socket of
/// nobody)`, or `no process holds it`.
fn holders(sockets: &[&Socket]) -> String {
    const SHOWN: usize = 3;
    let mut seen = BTreeSet::new();
    let processes: Vec<&Process> = sockets
        .iter()
        .flat_map(|s| s.owner.processes())
        .filter(|p| seen.insert(p.pid))
        .collect();
    let mut hidden: Vec<String> = Vec::new();
    for s in sockets {
        if let Owner::Hidden { uid, user, .. } = &s.owner {
            let who = match (user, uid) {
                (Some(u), _) => plugin_text(u),
                (None, Some(uid)) => format!("uid {uid}"),
                (None, None) => "an unknown user".to_string(),
            };
            if !hidden.contains(&who) {
                hidden.push(who);
            }
        }
    }
    let mut parts = Vec::new();
    if !processes.is_empty() {
        let mut list: Vec<String> = processes
            .iter()
            .take(SHOWN)
            .map(|p| process_text(p))
            .collect();
        if processes.len() > SHOWN {
            list.push(format!("{} more", processes.len() - SHOWN));
        }
        parts.push(format!("held by {}", list.join(", ")));
    }
    if !hidden.is_empty() {
        parts.push(format!("owner hidden (socket of {})", hidden.join(", ")));
    }
    if parts.is_empty() {
        parts.push("no process holds it".to_string());
    }
    parts.join(", ")
}

/// What is on a port: `22/tcp listening, held by sshd (pid 611, root)`.
fn describe(target: &Target) -> String {
    if target.sockets.is_empty() {
        return match &target.vacancy {
            Vacancy::Free => format!("{} free", target.label),
            Vacancy::LeftOut(l) => format!(
                "{}: no socket matched the filters, which left out {}",
                target.label,
                l.join(", ")
            ),
            Vacancy::Unknown => format!("{}: no socket matched the filters", target.label),
        };
    }
    let listeners = listening(&target.sockets);
    if !listeners.is_empty() {
        return format!("{} listening, {}", target.label, holders(&listeners));
    }
    let states: BTreeSet<&str> = target
        .sockets
        .iter()
        .map(|s| s.raw.state.as_str())
        .collect();
    format!(
        "{} in use ({}), {}",
        target.label,
        states.into_iter().collect::<Vec<_>>().join(", "),
        holders(&target.sockets)
    )
}

fn socket_name(s: &Socket) -> String {
    format!(
        "{}/{}",
        endpoint(&s.raw.local_address, s.raw.local_port),
        s.raw.protocol
    )
}

/// Whether a process matches an owner clause.
enum Match {
    Yes,
    /// No, and why when the reason is not plain (a borrowed name).
    No(Option<String>),
    /// The detail the clause needs could not be read.
    CannotTell(String),
}

fn matches(p: &Process, clause: &OwnerClause) -> Match {
    let unreadable = |what: &str| {
        Match::CannotTell(format!(
            "the {what} of pid {} could not be read (run whoport as root)",
            p.pid
        ))
    };
    let yes = |b: bool| if b { Match::Yes } else { Match::No(None) };
    match clause {
        // The name alone proves nothing (any program can call itself sshd): the executable
        // it runs must be that program too.
        OwnerClause::Process(name) => match (&p.name, p.name_mismatch()) {
            (None, _) => unreadable("name"),
            (Some(n), _) if n != name => Match::No(None),
            (Some(_), Some(false)) => Match::Yes,
            (Some(n), Some(true)) => Match::No(Some(format!(
                "pid {} is named {} but runs {}",
                p.pid,
                n,
                p.exe.as_deref().unwrap_or("?")
            ))),
            (Some(_), None) => unreadable("executable (to tell the name is not borrowed)"),
        },
        OwnerClause::User(u) => match (p.uid, &p.user) {
            (Some(uid), _) => yes(uid == u.uid),
            (None, Some(name)) => yes(u.name.as_deref() == Some(&**name)),
            (None, None) => unreadable("user"),
        },
        OwnerClause::Pid(pid) => yes(p.pid == *pid),
        OwnerClause::Exe { path, real } => match &p.exe {
            Some(e) if e == path || real.as_deref() == Some(e.as_str()) => {
                if p.exe_deleted {
                    // What runs is not the file at PATH any more: an upgrade not yet
                    // restarted into, or a binary removed after it started.
                    Match::CannotTell(format!(
                        "pid {} runs a deleted executable that was at {e}; the file there now \
                         may be another (restart the service)",
                        p.pid
                    ))
                } else {
                    Match::Yes
                }
            }
            Some(_) => Match::No(None),
            None => unreadable("executable"),
        },
    }
}

/// Whether a process matches every owner clause at once.
fn matches_all(p: &Process, clauses: &[&OwnerClause]) -> Match {
    let mut doubt = None;
    for clause in clauses {
        match matches(p, clause) {
            Match::Yes => {}
            Match::No(why) => return Match::No(why),
            Match::CannotTell(why) => doubt = doubt.or(Some(why)),
        }
    }
    doubt.map_or(Match::Yes, Match::CannotTell)
}

/// The sockets whose holders the owner expectations judge: the port's listeners, or
/// every socket when none listens; not those that no process holds (TIME_WAIT).
fn held<'a>(target: &Target<'a>) -> Vec<&'a Socket> {
    let listeners = listening(&target.sockets);
    let considered = if listeners.is_empty() {
        target.sockets.clone()
    } else {
        listeners
    };
    considered
        .into_iter()
        .filter(|s| !matches!(s.owner, Owner::None { .. }))
        .collect()
}

/// The owner clauses together: each listening socket of the port (or each socket, when none
/// listens) that a process holds must have one holder matching every clause.
fn owners(target: &Target, clauses: &[&OwnerClause], scan: &OwnerScan) -> Outcome {
    let wanted = clauses
        .iter()
        .map(|c| Expectation::Owner((*c).clone()).to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let wanted = plugin_text(&wanted);
    let outcomes = held(target)
        .into_iter()
        .map(|s| owner_outcome(s, clauses, &wanted, scan).about(s))
        .collect();
    combine(
        outcomes,
        Outcome::new(Status::Critical, format!("expected held by {wanted}")),
    )
}

fn owner_outcome(s: &Socket, clauses: &[&OwnerClause], wanted: &str, scan: &OwnerScan) -> Outcome {
    let processes = match &s.owner {
        Owner::Known(processes) => processes,
        Owner::Hidden { reason, .. } => {
            // Held only by processes root cannot inspect: when none of them can be the
            // expected owner by who it is, it is not held by it.
            if *reason == HiddenReason::Unreadable && unseen_ruled_out(scan, clauses) {
                return Outcome::new(
                    Status::Critical,
                    format!(
                        "expected held by {wanted}; its holder is one of {}",
                        unseen_identities(scan)
                    ),
                );
            }
            return Outcome::new(
                Status::Unknown,
                format!(
                    "cannot tell whether it is held by {wanted}: {}",
                    reason.describe()
                ),
            );
        }
        Owner::None { .. } => {
            return Outcome::new(Status::Critical, format!("expected held by {wanted}"));
        }
    };
    let mut doubt = None;
    let mut borrowed = None;
    for p in processes.iter() {
        match matches_all(p, clauses) {
            Match::Yes => return Outcome::new(Status::Ok, format!("held by {wanted}")),
            Match::No(why) => borrowed = borrowed.or(why),
            Match::CannotTell(why) => doubt = doubt.or(Some(why)),
        }
    }
    if let Some(why) = borrowed {
        return Outcome::new(
            Status::Critical,
            format!("expected {wanted}: {}", plugin_text(&why)),
        );
    }
    if let Some(why) = doubt {
        Outcome::new(
            Status::Unknown,
            format!("cannot tell whether it is held by {wanted}: {why}"),
        )
    } else if scan.complete() {
        Outcome::new(Status::Critical, format!("expected {wanted}"))
    } else if unseen_ruled_out(scan, clauses) {
        Outcome::new(
            Status::Critical,
            format!(
                "expected {wanted} (nor is any process root cannot inspect: {})",
                unseen_identities(scan)
            ),
        )
    } else {
        Outcome::new(
            Status::Unknown,
            format!("not {wanted}, but {}", unseen_holders(scan)),
        )
    }
}

/// Whether every process the scan could not read is known, and none of them can be the
/// expected owner by what can still be read of it (pid, name, uid): then none of them
/// holding the socket changes nothing. Not without root, nor where /proc hides
/// processes or the path cannot say which it failed to read.
fn unseen_ruled_out(scan: &OwnerScan, clauses: &[&OwnerClause]) -> bool {
    scan.ran
        && scan.privileged
        && !scan.unknown_coverage
        && !scan.restricted_proc
        && scan.inaccessible_identities.len() == scan.inaccessible as usize
        && scan
            .inaccessible_identities
            .iter()
            .all(|p| matches!(matches_identity(p, clauses), Match::No(_)))
}

/// [`matches_all`] for a process known only by its pid, name and uid. The kernel cuts
/// names to 15 bytes: a name that long which the expected one continues cannot be told.
fn matches_identity(p: &Process, clauses: &[&OwnerClause]) -> Match {
    let cut = clauses.iter().any(|c| match (c, &p.name) {
        (OwnerClause::Process(want), Some(name)) => {
            name.len() >= 15 && want.len() > name.len() && want.starts_with(name.as_str())
        }
        _ => false,
    });
    if cut {
        return Match::CannotTell(format!("the name of pid {} may be cut", p.pid));
    }
    matches_all(p, clauses)
}

/// `process_api (pid 1, uid 0)`, for each process the scan could not read.
fn unseen_identities(scan: &OwnerScan) -> String {
    scan.inaccessible_identities
        .iter()
        .map(|p| {
            let uid = p
                .uid
                .map_or("uid unknown".to_string(), |u| format!("uid {u}"));
            plugin_text(&format!(
                "{} (pid {}, {uid})",
                p.name.as_deref().unwrap_or("?"),
                p.pid
            ))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a holder that does not match leaves the answer open: another process, one whoport
/// could not inspect, may hold the same socket and be the expected one.
fn unseen_holders(scan: &OwnerScan) -> String {
    if scan.unknown_coverage {
        "processes this collection path could not read may hold it too (it does not say \
         which it failed to read)"
            .to_string()
    } else if scan.privileged {
        format!(
            "{} process{} that even root cannot inspect may hold it too",
            scan.inaccessible,
            if scan.inaccessible == 1 { "" } else { "es" }
        )
    } else {
        "processes whoport could not inspect may hold it too (run whoport as root)".to_string()
    }
}

/// Listening, and held only by verified Xsan processes.
fn xsan(target: &Target) -> Outcome {
    let listeners = listening(&target.sockets);
    if listeners.is_empty() {
        return Outcome::new(Status::Critical, "expected listening, by Xsan");
    }
    // Listeners without a verdict (another protocol on the port) are not Xsan's to judge,
    // unless none has one: then whoport does not know the port as an Xsan port.
    let judged = listeners.iter().any(|s| s.xsan().is_some());
    let outcomes = listeners
        .into_iter()
        .filter(|_| judged)
        .map(|s| {
            let outcome = match s.xsan() {
                None => Outcome::new(Status::Ok, "no Xsan verdict"),
                Some(XsanVerdict::Xsan) => {
                    Outcome::new(Status::Ok, "held by verified Xsan processes")
                }
                Some(XsanVerdict::NotXsan) => Outcome::new(Status::Critical, "not an Xsan process"),
                Some(XsanVerdict::CannotVerify) => Outcome::new(
                    Status::Unknown,
                    "cannot verify it is Xsan: the owner is hidden (run whoport as root)",
                ),
            };
            outcome.about(s)
        })
        .collect();
    combine(
        outcomes,
        Outcome::new(
            Status::Unknown,
            "not an Xsan port to whoport (311/tcp, 312/tcp or the Xsan port window), so it \
             cannot verify Xsan here",
        ),
    )
}

/// `--warn-on xsan-conflict`: a listener on an Xsan port held by a process that is not
/// Xsan; a hidden owner there leaves it UNKNOWN.
fn warn_xsan_conflict(target: &Target) -> Outcome {
    let outcomes = listening(&target.sockets)
        .into_iter()
        .filter_map(|s| {
            let outcome = match s.xsan()? {
                XsanVerdict::NotXsan => Outcome::new(
                    Status::Warning,
                    "Xsan port held by a process that is not Xsan",
                ),
                XsanVerdict::CannotVerify => Outcome::new(
                    Status::Unknown,
                    "Xsan port with a hidden owner: cannot verify it is Xsan (run whoport as \
                     root)",
                ),
                XsanVerdict::Xsan => Outcome::new(Status::Ok, "no Xsan conflict"),
            };
            Some(outcome.about(s))
        })
        .collect();
    combine(outcomes, Outcome::new(Status::Ok, "no Xsan conflict"))
}

/// One expectation on one port; the owner clauses are judged together, by `owners`.
fn expectation(target: &Target, e: &Expectation) -> Option<Outcome> {
    let any = !target.sockets.is_empty();
    let listens = target.sockets.iter().any(|s| s.raw.state.is_listening());
    let pass = |ok: bool, text: &str| {
        if ok {
            Outcome::new(Status::Ok, text)
        } else {
            Outcome::new(Status::Critical, format!("expected {text}"))
        }
    };
    match e {
        // Free of what the filters ask about; the text says "free" only when nothing
        // at all is on the port.
        Expectation::Free => Some(pass(
            !any,
            if any || target.vacancy == Vacancy::Free {
                "free"
            } else {
                "no matching socket"
            },
        )),
        Expectation::Held => Some(pass(any, "held")),
        Expectation::Listening => Some(pass(listens, "listening")),
        Expectation::Xsan => Some(xsan(target)),
        Expectation::Owner(_) => None,
    }
}

/// The verdict of `whoport check` on a report of the ports asked.
pub(crate) fn evaluate(
    report: &Report,
    ports: &[PortArg],
    query: &SocketQuery,
    spec: &CheckSpec,
    elapsed: Duration,
) -> Verdict {
    let clauses: Vec<&OwnerClause> = spec
        .expectations
        .iter()
        .filter_map(|e| match e {
            Expectation::Owner(c) => Some(c),
            _ => None,
        })
        .collect();
    let owners_judged = Judged::Owners(clauses.iter().map(|c| (*c).clone()).collect());
    let targets = targets(report, ports, query);
    let mut reasons = Vec::new();
    let mut lines: Vec<(Status, String, String)> = Vec::new();
    for target in &targets {
        let mut outcomes: Vec<(Judged, Outcome)> = spec
            .expectations
            .iter()
            .filter_map(|e| Some((Judged::One(e.clone()), expectation(target, e)?)))
            .collect();
        if !clauses.is_empty() {
            outcomes.push((
                owners_judged.clone(),
                owners(target, &clauses, &report.scan),
            ));
        }
        for w in &spec.warn_on {
            let outcome = match w {
                WarnOn::XsanConflict => warn_xsan_conflict(target),
            };
            outcomes.push((Judged::WarnOn(*w), outcome));
        }
        let status = outcomes
            .iter()
            .map(|(_, o)| o.status)
            .fold(Status::Ok, Status::worst);
        let mut text = describe(target);
        let problems: Vec<&str> = outcomes
            .iter()
            .filter(|(_, o)| o.status != Status::Ok)
            .map(|(_, o)| o.text.as_str())
            .collect();
        if !problems.is_empty() {
            text.push_str(": ");
            text.push_str(&problems.join(", "));
        }
        let rest = text
            .strip_prefix(target.label.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!(": {text}"));
        lines.push((status, target.label.clone(), rest));
        reasons.extend(outcomes.into_iter().map(|(expectation, o)| Reason {
            port: target.label.clone(),
            expectation,
            status: o.status,
            text: o.text,
        }));
    }
    // The worst first: a status line may be cut short by the monitoring system.
    lines.sort_by_key(|(status, _, _)| std::cmp::Reverse(status.rank()));
    let status = lines
        .iter()
        .map(|(s, _, _)| *s)
        .fold(Status::Ok, Status::worst);
    Verdict {
        status,
        summary: summary(lines),
        expectations: spec.expectations.clone(),
        warn_on: spec.warn_on.clone(),
        reasons,
        perfdata: perfdata(&targets, elapsed),
    }
}

/// The most ports one group of the status line names before `(+N more)`.
const LABELS_SHOWN: usize = 5;
/// The status line stops adding groups past this many characters: a check of 10,000 ports
/// still prints one short line (every port is in the JSON's `reasons`).
const SUMMARY_CHARS: usize = 1000;

/// The status line: ports with the same status and the same words share one group
/// (`1, 2, 3 (+9997 more) free: expected listening`), worst first, within
/// [`SUMMARY_CHARS`].
fn summary(lines: Vec<(Status, String, String)>) -> String {
    let mut groups: Vec<(Status, Vec<String>, String)> = Vec::new();
    for (status, label, rest) in lines {
        match groups
            .iter_mut()
            .find(|(s, _, r)| *s == status && *r == rest)
        {
            Some(group) => group.1.push(label),
            None => groups.push((status, vec![label], rest)),
        }
    }
    let left: Vec<usize> = groups
        .iter()
        .rev()
        .scan(0, |sum, (_, labels, _)| {
            *sum += labels.len();
            Some(*sum)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut out = String::new();
    for (i, (_, labels, rest)) in groups.into_iter().enumerate() {
        if out.len() > SUMMARY_CHARS {
            let ports = left[i];
            out.push_str(&format!(
                "; and {ports} more port{} (every port in --json)",
                if ports == 1 { "" } else { "s" }
            ));
            break;
        }
        if !out.is_empty() {
            out.push_str("; ");
        }
        let more = labels.len().saturating_sub(LABELS_SHOWN);
        out.push_str(&labels[..labels.len().min(LABELS_SHOWN)].join(", "));
        if more > 0 {
            out.push_str(&format!(" (+{more} more)"));
        }
        out.push_str(&rest);
    }
    out
}

/// Counts over every socket of the ports checked (each socket once), and the time taken.
fn perfdata(targets: &[Target], elapsed: Duration) -> Vec<Perf> {
    let mut seen = BTreeSet::new();
    let sockets: Vec<&Socket> = targets
        .iter()
        .flat_map(|t| t.sockets.iter().copied())
        .filter(|s| seen.insert(std::ptr::from_ref(*s)))
        .collect();
    let owners: BTreeSet<u32> = sockets
        .iter()
        .flat_map(|s| s.owner.processes().iter().map(|p| p.pid))
        .collect();
    let count = |label, n: usize| Perf {
        label,
        value: n as f64,
        uom: "",
        min: 0.0,
    };
    vec![
        count("sockets", sockets.len()),
        count("listening", listening(&sockets).len()),
        count("owners", owners.len()),
        count(
            "hidden",
            sockets
                .iter()
                .filter(|s| matches!(s.owner, Owner::Hidden { .. }))
                .count(),
        ),
        Perf {
            label: "time",
            value: (elapsed.as_secs_f64() * 1e6).round() / 1e6,
            uom: "s",
            min: 0.0,
        },
    ]
}
