//! Durations on the command line (`--timeout 10s`, `--interval 500ms`), read by
//! `humantime`: `10s`, `1m`, `1m30s`, `500ms`, `2h`. A bare number is refused, since
//! `10` could mean seconds or milliseconds.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// Parses the value of the option named `option` (for the error message).
pub(crate) fn parse(text: &str, option: &str) -> Result<Duration> {
    let trimmed = text.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        bail!("invalid {option} '{text}': give a unit, e.g. {trimmed}s, {trimmed}ms or {trimmed}m");
    }
    match humantime::parse_duration(trimmed) {
        Ok(d) => Ok(d),
        Err(e) => bail!("invalid {option} '{text}': {e} (e.g. 10s, 1m, 500ms)"),
    }
}

/// Parses a polling interval: a duration of at least one millisecond (zero would spin).
pub(crate) fn parse_interval(text: &str, option: &str) -> Result<Duration> {
    let d = parse(text, option)?;
    if d < Duration::from_millis(1) {
        bail!("invalid {option} '{text}': at least 1ms");
    }
    Ok(d)
}

/// `start + timeout`, or `None` (never) when the sum is beyond what an `Instant` holds
/// (`--timeout 1000000y`): adding would panic.
pub(crate) fn deadline(start: Instant, timeout: Duration) -> Option<Instant> {
    start.checked_add(timeout)
}

/// A duration as people write it: `5s`, `1m 30s`, `250ms`.
pub(crate) fn show(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_string();
    }
    // Whole milliseconds: humantime would print nanoseconds of a measured time.
    let ms = Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    humantime::format_duration(ms).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        for (text, ms) in [
            ("10s", 10_000),
            ("1m", 60_000),
            ("500ms", 500),
            ("1m30s", 90_000),
            (" 2s ", 2_000),
            ("0s", 0),
        ] {
            assert_eq!(
                parse(text, "--timeout").ok(),
                Some(Duration::from_millis(ms)),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_values_name_themselves() {
        for text in ["10", "", "ten seconds", "-1s", "1.5", "5x"] {
            let err = match parse(text, "--timeout") {
                Ok(d) => panic!("{text:?} parsed as {d:?}"),
                Err(e) => e.to_string(),
            };
            assert!(err.contains(&format!("'{text}'")), "{err}");
            assert!(err.starts_with("invalid --timeout"), "{err}");
        }
        assert!(
            parse("10", "--timeout")
                .err()
                .is_some_and(|e| e.to_string().contains("10s"))
        );
    }

    #[test]
    fn interval_is_positive() {
        assert!(parse_interval("0s", "--interval").is_err());
        assert!(parse_interval("0ms", "--interval").is_err());
        assert_eq!(
            parse_interval("100ms", "--interval").ok(),
            Some(Duration::from_millis(100))
        );
    }

    #[test]
    fn far_deadline_is_never() {
        let now = Instant::now();
        assert_eq!(deadline(now, Duration::MAX), None);
        assert!(deadline(now, Duration::from_secs(1)).is_some());
    }

    #[test]
    fn shown() {
        assert_eq!(show(Duration::from_millis(5000)), "5s");
        assert_eq!(show(Duration::from_millis(90_000)), "1m 30s");
        assert_eq!(show(Duration::from_micros(250_400)), "250ms");
        assert_eq!(show(Duration::ZERO), "0s");
    }
}
