//! Every exit code whoport uses, in one place (documented in README.md and `--help`).

use std::process::ExitCode;

/// At least one socket matched (and, with `--format prometheus`, the metrics were written).
pub const MATCHED: u8 = 0;
/// No socket matched: the port is free in this network namespace.
pub const NO_MATCH: u8 = 1;
/// Bad input or a failure; one line on stderr says which.
pub const ERROR: u8 = 2;

// `whoport check` follows the Nagios plugin API (also used by Icinga, Naemon, Sensu and
// the script checks of Consul and others) instead of the codes above.

/// Check: every expectation holds.
pub const CHECK_OK: u8 = 0;
/// Check: the expectations hold, but a `--warn-on` condition was found.
pub const CHECK_WARNING: u8 = 1;
/// Check: an expectation does not hold.
pub const CHECK_CRITICAL: u8 = 2;
/// Check: the answer depends on what whoport could not see (a hidden owner), or bad input.
pub const CHECK_UNKNOWN: u8 = 3;

pub fn code(n: u8) -> ExitCode {
    ExitCode::from(n)
}

/// Whether an error is a closed output pipe (`whoport | head -1`), which is not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
