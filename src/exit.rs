//! Every exit code whoport uses, in one place (documented in README.md and `--help`).

use std::process::ExitCode;

/// How whoport ends. Listing (and everything but `check`) uses the first three; `whoport
/// check` follows the Nagios plugin API (also used by Icinga, Naemon, Sensu and the script
/// checks of Consul and others) instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 0: at least one socket matched (and, with `--format prometheus`, the metrics were
    /// written).
    Matched,
    /// 1: no socket matched: the port is free in this network namespace.
    NoMatch,
    /// 2: bad input or a failure; one line on stderr says which.
    Error,
    /// Check 0: every expectation holds.
    CheckOk,
    /// Check 1: the expectations hold, but a `--warn-on` condition was found.
    CheckWarning,
    /// Check 2: an expectation does not hold.
    CheckCritical,
    /// Check 3: the answer depends on what whoport could not see (a hidden owner), or bad
    /// input.
    CheckUnknown,
    /// 0: `kill` left the port free (or it was already), `wait`'s condition was met,
    /// `watch` was interrupted or printed `--count` events.
    Done,
    /// 1: `kill` left the port held or refused; `wait` timed out.
    NotDone,
    /// The exit code of the command `whoport wait … -- COMMAND` ran.
    Command(u8),
}

impl Exit {
    pub(crate) fn number(self) -> u8 {
        match self {
            Exit::Matched | Exit::CheckOk | Exit::Done => 0,
            Exit::NoMatch | Exit::CheckWarning | Exit::NotDone => 1,
            Exit::Error | Exit::CheckCritical => 2,
            Exit::CheckUnknown => 3,
            Exit::Command(n) => n,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.number())
    }
}

/// Whether an error is a closed output pipe (`whoport | head -1`), which is not a failure.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
