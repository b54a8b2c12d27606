//! `--format prometheus`: the Prometheus text exposition format (version 0.0.4), ready for
//! node_exporter's textfile collector. Every series and label is documented in
//! docs/monitoring.md; label cardinality is bounded (no command lines, no remote ends).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use super::Render;
use crate::model::{Owner, Protocol, Report, Socket, XsanVerdict};
use crate::sanitize::terminal_safe;

pub(crate) struct Prometheus {
    /// How long the collection took, in seconds.
    pub(crate) scan_seconds: f64,
    /// The protocols asked for: each gets a `whoport_listening_sockets` series, 0 included.
    pub(crate) protocols: Vec<Protocol>,
}

/// The labels of `whoport_socket_info`, in order.
const INFO_LABELS: [&str; 11] = [
    "protocol",
    "family",
    "local_address",
    "port",
    "state",
    "pid",
    "process",
    "user",
    "owner",
    "service",
    "xsan",
];

/// A label value as the format wants it: terminal-safe first (no raw control characters
/// reach a file, a scrape or a dashboard), then `\`, `"` and newline escaped.
pub(crate) fn label_value(s: &str) -> String {
    let safe = terminal_safe(s);
    let mut out = String::with_capacity(safe.len() + 2);
    for c in safe.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// HELP text as the format wants it: `\` and newline escaped.
fn help_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// One metric family: HELP, TYPE (gauge) and its samples.
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            samples: Vec::new(),
        }
    }

    fn sample(mut self, labels: Vec<(&'static str, String)>, value: f64) -> Family {
        self.samples.push((labels, value));
        self
    }

    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "# HELP {} {}", self.name, help_text(self.help))?;
        writeln!(out, "# TYPE {} gauge", self.name)?;
        for (labels, value) in &self.samples {
            write!(out, "{}", self.name)?;
            if !labels.is_empty() {
                let text: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", label_value(v)))
                    .collect();
                write!(out, "{{{}}}", text.join(","))?;
            }
            writeln!(out, " {value}")?;
        }
        Ok(())
    }
}

fn user_label(name: Option<&str>, uid: Option<u32>) -> String {
    match (name, uid) {
        (Some(n), _) => n.to_string(),
        (None, Some(uid)) => uid.to_string(),
        (None, None) => String::new(),
    }
}

impl Prometheus {
    /// The info label values of a listening socket: one set per holding process.
    fn info_labels(&self, s: &Socket) -> Vec<Vec<String>> {
        let lead = [
            s.raw.protocol.as_str().to_string(),
            s.raw.family().as_str().to_string(),
            s.raw.local_address.to_string(),
            s.raw.local_port.to_string(),
            s.raw.state.as_str().to_string(),
        ];
        let tail = [
            s.owner.kind().to_string(),
            s.knowledge
                .service()
                .map(|n| &**n)
                .unwrap_or_default()
                .to_string(),
            s.xsan()
                .map(XsanVerdict::as_str)
                .unwrap_or_default()
                .to_string(),
        ];
        let row = |pid: String, process: String, user: String| {
            let mut v = lead.to_vec();
            v.extend([pid, process, user]);
            v.extend(tail.iter().cloned());
            v
        };
        match &s.owner {
            Owner::Known(processes) => processes
                .iter()
                .map(|p| {
                    row(
                        p.pid.to_string(),
                        p.name.clone().unwrap_or_default(),
                        user_label(p.user.as_deref(), p.uid),
                    )
                })
                .collect(),
            Owner::Hidden { uid, user, .. } => {
                vec![row(
                    String::new(),
                    String::new(),
                    user_label(user.as_deref(), *uid),
                )]
            }
            Owner::None { .. } => vec![row(
                String::new(),
                String::new(),
                user_label(s.user.as_deref(), s.raw.uid),
            )],
        }
    }

    fn families(&self, report: &Report) -> Vec<Family> {
        // One series per (listening socket, holder); sockets that share every label (an
        // SO_REUSEPORT group held by one process) are one series counting them.
        let mut info: Vec<(Vec<String>, u64)> = Vec::new();
        let mut index: HashMap<Vec<String>, usize> = HashMap::new();
        for s in report.sockets.iter().filter(|s| s.raw.state.is_listening()) {
            for labels in self.info_labels(s) {
                match index.get(&labels) {
                    Some(&i) => info[i].1 += 1,
                    None => {
                        index.insert(labels.clone(), info.len());
                        info.push((labels, 1));
                    }
                }
            }
        }
        let mut socket_info = Family::new(
            "whoport_socket_info",
            "A listening socket and one process holding it (pid, process and user empty when \
             the owner is hidden or none). 1, or the number of sockets sharing every label.",
        );
        for (values, n) in info {
            socket_info =
                socket_info.sample(INFO_LABELS.into_iter().zip(values).collect(), n as f64);
        }

        let mut by_state: BTreeMap<(Protocol, &str), u64> = BTreeMap::new();
        let mut listening: BTreeMap<Protocol, u64> = BTreeMap::new();
        for s in &report.sockets {
            *by_state
                .entry((s.raw.protocol, s.raw.state.as_str()))
                .or_default() += 1;
            if s.raw.state.is_listening() {
                *listening.entry(s.raw.protocol).or_default() += 1;
            }
        }
        let mut sockets = Family::new("whoport_sockets", "Sockets seen, by protocol and state.");
        for ((protocol, state), n) in by_state {
            sockets = sockets.sample(
                vec![
                    ("protocol", protocol.as_str().to_string()),
                    ("state", state.to_string()),
                ],
                n as f64,
            );
        }
        let mut listeners = Family::new(
            "whoport_listening_sockets",
            "Listening sockets (TCP LISTEN, bound unconnected UDP) by protocol.",
        );
        for protocol in [Protocol::Tcp, Protocol::Udp] {
            if self.protocols.contains(&protocol) {
                let n = listening.get(&protocol).copied().unwrap_or(0);
                listeners =
                    listeners.sample(vec![("protocol", protocol.as_str().to_string())], n as f64);
            }
        }
        let hidden = report
            .sockets
            .iter()
            .filter(|s| matches!(s.owner, Owner::Hidden { .. }))
            .count();
        let mut xsan = Family::new(
            "whoport_xsan_sockets",
            "Listening sockets on Xsan ports by verdict: not_xsan (held by a process that is \
             not Xsan), cannot_verify (owner hidden), xsan (held only by Xsan processes).",
        );
        for verdict in XsanVerdict::ALL {
            let n = report
                .sockets
                .iter()
                .filter(|s| s.raw.state.is_listening() && s.xsan() == Some(verdict))
                .count();
            xsan = xsan.sample(vec![("verdict", verdict.as_str().to_string())], n as f64);
        }
        vec![
            socket_info,
            sockets,
            listeners,
            Family::new(
                "whoport_hidden_owner_sockets",
                "Sockets whose holding process whoport could not inspect (run it as root).",
            )
            .sample(Vec::new(), hidden as f64),
            xsan,
            Family::new(
                "whoport_scan_duration_seconds",
                "How long collecting the sockets and their owners took.",
            )
            .sample(Vec::new(), self.scan_seconds),
        ]
    }
}

impl Render for Prometheus {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        for family in self.families(report) {
            family.write(out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
