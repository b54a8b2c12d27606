//! `whoport check` output: one Nagios plugin status line, or the same verdict as JSON
//! (docs/json.md, "whoport check --json").
//!
//! The line is `WHOPORT STATUS - summary | perfdata`, with performance data in the plugin
//! format `'label'=value[UOM];[warn];[crit];[min];[max]`.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde::Serialize;

use super::json::{JsonSocket, SCHEMA_VERSION};
use crate::check::{Perf, Reason, Status, Verdict};
use crate::model::Report;
use crate::sanitize::plugin_text;

/// A performance data label, quoted when it has to be (spaces, quotes, `=`); a quote
/// inside is doubled, as the plugin guidelines say.
fn perf_label(label: &str) -> String {
    if label
        .chars()
        .any(|c| c.is_whitespace() || c == '\'' || c == '=' || c == '|')
    {
        format!("'{}'", plugin_text(label).replace('\'', "''"))
    } else {
        label.to_string()
    }
}

/// `label=value[uom];;;min` (no warning or critical thresholds: the expectations decide).
fn perf_item(p: &Perf) -> String {
    format!("{}={}{};;;{}", perf_label(p.label), p.value, p.uom, p.min)
}

/// The status line, without its newline.
pub(crate) fn status_line(v: &Verdict) -> String {
    let mut line = format!("WHOPORT {} - {}", v.status.label(), plugin_text(&v.summary));
    if !v.perfdata.is_empty() {
        line.push_str(" |");
        for p in &v.perfdata {
            let _ = write!(line, " {}", perf_item(p));
        }
    }
    line
}

pub(crate) fn write_line(v: &Verdict, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", status_line(v))
}

/// `whoport check --json`.
#[derive(Serialize)]
struct JsonCheck<'a> {
    schema_version: u32,
    status: Status,
    status_code: u8,
    line: String,
    summary: &'a str,
    expectations: Vec<String>,
    warn_on: Vec<&'static str>,
    reasons: &'a [Reason],
    perfdata: &'a [Perf],
    sockets: Vec<JsonSocket<'a>>,
    warnings: &'a [String],
}

pub(crate) fn write_json(v: &Verdict, report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let json = JsonCheck {
        schema_version: SCHEMA_VERSION,
        status: v.status,
        status_code: v.status.exit().number(),
        line: status_line(v),
        summary: &v.summary,
        expectations: v
            .expectations
            .iter()
            .map(|e| plugin_text(&e.to_string()))
            .collect(),
        warn_on: v.warn_on.iter().map(|w| w.as_str()).collect(),
        reasons: &v.reasons,
        perfdata: &v.perfdata,
        sockets: report.sockets.iter().map(JsonSocket::from_socket).collect(),
        warnings: &report.warnings,
    };
    serde_json::to_writer_pretty(&mut *out, &json)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Expectation;

    fn verdict(status: Status, summary: &str, perfdata: Vec<Perf>) -> Verdict {
        Verdict {
            status,
            summary: summary.to_string(),
            expectations: vec![Expectation::Listening],
            warn_on: Vec::new(),
            reasons: Vec::new(),
            perfdata,
        }
    }

    fn perf(label: &'static str, value: f64, uom: &'static str) -> Perf {
        Perf {
            label,
            value,
            uom,
            min: 0.0,
        }
    }

    #[test]
    fn status_lines() {
        let v = verdict(
            Status::Ok,
            "22/tcp listening, held by sshd (pid 611, root)",
            vec![perf("sockets", 1.0, ""), perf("time", 0.0042, "s")],
        );
        assert_eq!(
            status_line(&v),
            "WHOPORT OK - 22/tcp listening, held by sshd (pid 611, root) | \
             sockets=1;;;0 time=0.0042s;;;0"
        );
        // No performance data: no `|`.
        let v = verdict(Status::Unknown, "invalid port '70000'", Vec::new());
        assert_eq!(status_line(&v), "WHOPORT UNKNOWN - invalid port '70000'");
        // Untrusted text cannot start performance data or break the line.
        let v = verdict(Status::Critical, "held by a|b=1\nx", Vec::new());
        let line = status_line(&v);
        assert!(!line.contains('|') && !line.contains('\n'), "{line}");
    }

    #[test]
    fn perf_labels_are_quoted_when_needed() {
        assert_eq!(perf_label("sockets"), "sockets");
        assert_eq!(perf_label("open sockets"), "'open sockets'");
        assert_eq!(perf_label("it's"), "'it''s'");
        assert_eq!(perf_label("a=b"), "'a=b'");
    }
}
