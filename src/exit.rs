//! Every exit code whoport uses, in one place (documented in README.md and `--help`).

use std::process::ExitCode;

/// At least one socket matched.
pub const MATCHED: u8 = 0;
/// No socket matched: the port is free in this network namespace.
pub const NO_MATCH: u8 = 1;
/// Bad input or a failure; one line on stderr says which.
pub const ERROR: u8 = 2;

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
