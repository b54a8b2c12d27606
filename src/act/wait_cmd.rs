//! `whoport wait` as a command: the settings `config` fills in, the loop on the real
//! socket table (sockets only: no process is scanned), the messages, and the command run
//! afterwards.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use anyhow::Result;

use super::duration::show;
use super::wait::{self, Look, RealClock, Until, Waited};
use crate::collect::Sources;
use crate::exit::Exit;
use crate::model::SocketQuery;
use crate::sanitize::terminal_safe;

/// `whoport wait PORT… [-- COMMAND…]`, its values checked.
#[derive(Clone, Debug)]
pub(crate) struct WaitCommand {
    /// The sockets to read: listening ones only for `--until listening`.
    pub(crate) query: SocketQuery,
    /// Every port waited for (ranges expanded).
    pub(crate) ports: Vec<u16>,
    /// The ports as the user named them, for messages.
    pub(crate) label: String,
    pub(crate) until: Until,
    pub(crate) timeout: Option<Duration>,
    pub(crate) interval: Duration,
    pub(crate) quiet: bool,
    pub(crate) command: Vec<OsString>,
}

/// Waits; then runs the command, if any. Messages go to `err` (standard error), so that
/// standard output is the command's alone.
pub(crate) fn execute(cmd: &WaitCommand, sources: &Sources, err: &mut dyn Write) -> Result<Exit> {
    let mut scan = || sources.sockets.sockets(&cmd.query);
    let waited = wait::run(
        cmd.until,
        &cmd.ports,
        cmd.timeout,
        cmd.interval,
        &mut scan,
        &mut RealClock,
    )?;
    match waited {
        Waited::Met { after, look } => {
            if !cmd.quiet {
                writeln!(
                    err,
                    "whoport: port {} {} after {}: {}",
                    cmd.label,
                    cmd.until.as_str(),
                    show(after),
                    seen(&look)
                )?;
            }
            if cmd.command.is_empty() {
                return Ok(Exit::Done);
            }
            Ok(run_command(&cmd.command, err))
        }
        Waited::TimedOut { after, last } => {
            if !cmd.quiet {
                writeln!(
                    err,
                    "whoport: timed out after {} waiting until port {} is {}; last seen: {}",
                    show(after),
                    cmd.label,
                    cmd.until.as_str(),
                    seen(&last)
                )?;
            }
            Ok(Exit::NotDone)
        }
    }
}

/// `5432: tcp listen on [::1]:5432`, the ports that are not met first when some are.
fn seen(look: &Look) -> String {
    let mut ports: Vec<&(u16, bool, String)> = look.ports.iter().collect();
    ports.sort_by_key(|(_, met, _)| *met);
    let shown: Vec<String> = ports
        .iter()
        .take(8)
        .map(|(port, _, what)| format!("{port}: {what}"))
        .collect();
    let more = ports.len().saturating_sub(shown.len());
    let mut text = shown.join("; ");
    if more > 0 {
        text.push_str(&format!("; and {more} more ports"));
    }
    text
}

/// Runs the command with whoport's standard input and output; its exit code becomes
/// whoport's (128 + the signal when a signal ended it; 127 when it cannot be found, 126
/// when it cannot be run, as shells do).
fn run_command(command: &[OsString], err: &mut dyn Write) -> Exit {
    let Some((program, args)) = command.split_first() else {
        return Exit::Done;
    };
    match std::process::Command::new(program).args(args).status() {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Command(u8::try_from(code & 0xff).unwrap_or(1)),
            (None, Some(sig)) => Exit::Command(u8::try_from(128 + (sig & 0x7f)).unwrap_or(255)),
            (None, None) => Exit::Command(1),
        },
        Err(e) => {
            let _ = writeln!(
                err,
                "whoport: cannot run '{}': {e}",
                terminal_safe(&program.to_string_lossy())
            );
            Exit::Command(if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            })
        }
    }
}
