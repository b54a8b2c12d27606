//! `whoport watch` as a command: the loop on the real host. Every `--interval` it reads
//! the socket table alone (on Linux, sock_diag: no process is scanned) and polls the
//! holders it knows through their pidfds; only when the sockets changed or a holder
//! exited does it run the whole pipeline (owners, details) and print the differences.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::Handle;
use super::watch::{Change, SocketSide, diff};
use crate::collect::Sources;
use crate::exit::Exit;
use crate::host::Host;
use crate::model::{Filters, Socket, SocketQuery, endpoint};
use crate::pipeline::{self, Namespaces};
use crate::render::json::JsonSocket;
use crate::sanitize::terminal_safe;

/// At most this many holders are watched through a handle (a pidfd each); past it, a
/// holder that exits while the socket table stays the same is noticed at the next change.
const MAX_HANDLES: usize = 512;

/// `whoport watch [PORT…]`, its values checked.
#[derive(Clone, Debug)]
pub(crate) struct WatchCommand {
    pub(crate) query: SocketQuery,
    pub(crate) filters: Filters,
    /// What is watched, for the first message (`port 8080`, `every listening socket`).
    pub(crate) label: String,
    pub(crate) json: bool,
    pub(crate) count: Option<u64>,
    pub(crate) interval: Duration,
}

/// Watches until interrupted (SIGINT, SIGTERM) or `--count` events: exit 0 either way.
pub(crate) fn execute(
    cmd: &WatchCommand,
    sources: &Sources,
    host: &dyn Host,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Exit> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("handling SIGINT/SIGTERM")?;
    }
    let here = Namespaces::default();
    let look = || pipeline::report(sources, host, &cmd.query, &cmd.filters, false, false, &here);
    let mut sockets = look()?.sockets;
    let mut side = side_of(&sockets);
    let mut handles = handles(&sockets);
    // On standard error, so that the JSON Lines stay alone on standard output.
    writeln!(
        err,
        "whoport: watching {} ({} now); Ctrl-C stops",
        cmd.label,
        plural(sockets.len(), "socket")
    )?;
    let mut events: u64 = 0;
    if cmd.count == Some(0) {
        return Ok(Exit::Done);
    }
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(cmd.interval);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let now = SocketSide::of(&sources.sockets.sockets(&cmd.query)?);
        if now == side && !handles.iter().any(Handle::exited) {
            continue;
        }
        let fresh = look()?.sockets;
        let time = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        for (change, socket) in diff(&sockets, &fresh) {
            write_event(cmd.json, change, &time, &socket, out)?;
            events += 1;
            if cmd.count.is_some_and(|n| events >= n) {
                out.flush()?;
                return Ok(Exit::Done);
            }
        }
        out.flush()?;
        side = side_of(&fresh);
        handles = self::handles(&fresh);
        sockets = fresh;
    }
    Ok(Exit::Done)
}

fn side_of(sockets: &[Socket]) -> SocketSide {
    let raws: Vec<_> = sockets.iter().map(|s| s.raw.clone()).collect();
    SocketSide::of(&raws)
}

fn handles(sockets: &[Socket]) -> Vec<Handle> {
    let mut pids: Vec<u32> = sockets
        .iter()
        .flat_map(|s| s.owner.processes().iter().map(|p| p.pid))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids.into_iter()
        .take(MAX_HANDLES)
        .map(Handle::open)
        .collect()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[derive(Serialize)]
struct JsonEvent<'a> {
    event: &'static str,
    time: &'a str,
    socket: JsonSocket<'a>,
}

/// One line: `TIME EVENT PROTO LOCAL STATE HOLDERS`, or one JSON object.
fn write_event(
    json: bool,
    change: Change,
    time: &str,
    s: &Socket,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if json {
        serde_json::to_writer(
            &mut *out,
            &JsonEvent {
                event: change.as_str(),
                time,
                socket: JsonSocket::from_socket(s),
            },
        )?;
        return writeln!(out);
    }
    let holders = match s.owner.processes() {
        [] => format!("({})", s.owner.kind()),
        ps => ps
            .iter()
            .map(|p| {
                let name = p.name.as_deref().map(terminal_safe).unwrap_or_default();
                let user = p.user.as_deref().map(terminal_safe).unwrap_or_default();
                format!("pid {} ({name}, {user})", p.pid)
            })
            .collect::<Vec<_>>()
            .join(", "),
    };
    let remote = if s.raw.state.is_listening() {
        String::new()
    } else {
        format!(" -> {}", endpoint(&s.raw.remote_address, s.raw.remote_port))
    };
    writeln!(
        out,
        "{time} {:<7} {} {}{remote} {} {holders}",
        change.as_str(),
        s.raw.protocol,
        endpoint(&s.raw.local_address, s.raw.local_port),
        s.raw.state,
    )
}
