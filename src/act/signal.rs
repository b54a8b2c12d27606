//! Signal names on the command line (`-s HUP`, `-s SIGHUP`, `-s 1`), read by `nix`'s
//! table of the platform's signals, so that numbers are this OS's (SIGUSR1 is 10 on
//! Linux, 30 on macOS).

use std::str::FromStr;

use anyhow::{Result, bail};
use nix::sys::signal::Signal;

/// Parses a signal given by name, with or without `SIG`, any case, or by number.
pub(crate) fn parse(text: &str) -> Result<Signal> {
    let trimmed = text.trim();
    let parsed = if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        trimmed
            .parse::<i32>()
            .ok()
            .and_then(|n| Signal::try_from(n).ok())
    } else {
        let upper = trimmed.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        Signal::from_str(&format!("SIG{name}")).ok()
    };
    match parsed {
        Some(sig) => Ok(sig),
        None => {
            bail!("invalid signal '{text}': a name such as TERM, HUP, INT, KILL, or its number")
        }
    }
}

/// The name without `SIG`, as `kill -l` prints it: `TERM`.
pub(crate) fn name(sig: Signal) -> &'static str {
    let full = sig.as_str();
    full.strip_prefix("SIG").unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        for (text, sig) in [
            ("TERM", Signal::SIGTERM),
            ("SIGTERM", Signal::SIGTERM),
            ("term", Signal::SIGTERM),
            ("sigHup", Signal::SIGHUP),
            ("15", Signal::SIGTERM),
            ("9", Signal::SIGKILL),
            ("KILL", Signal::SIGKILL),
            ("USR1", Signal::SIGUSR1),
            (" INT ", Signal::SIGINT),
        ] {
            assert_eq!(parse(text).ok(), Some(sig), "{text}");
        }
    }

    #[test]
    fn bad_signals_name_themselves() {
        for text in ["", "0", "NOPE", "SIG", "-9", "999", "1.5"] {
            let err = match parse(text) {
                Ok(sig) => panic!("{text:?} parsed as {sig:?}"),
                Err(e) => e.to_string(),
            };
            assert!(err.contains(&format!("'{text}'")), "{err}");
        }
    }

    #[test]
    fn short_names() {
        assert_eq!(name(Signal::SIGTERM), "TERM");
        assert_eq!(name(Signal::SIGKILL), "KILL");
    }
}
