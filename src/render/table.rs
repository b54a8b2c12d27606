//! The default table: one row per (socket, owner process), every untrusted string made
//! terminal-safe, fitted to the terminal's width when there is one.

use std::io::{self, Write};

use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table as Grid, presets};

use super::Render;
use crate::annotate::range_explanation;
use crate::annotate::xsan::APPLE_REFERENCE;
use crate::model::{
    IanaEntry, Owner, PortInfo, Report, Socket, State, XsanHost, XsanPort, XsanVerdict, endpoint,
};
use crate::sanitize::terminal_safe;

pub struct Table {
    pub color: bool,
    /// The terminal's width, when writing to one.
    pub width: Option<u16>,
}

fn remote(s: &Socket) -> String {
    if s.raw.state.is_listening() || s.raw.state == State::Close {
        "*".to_string()
    } else {
        endpoint(&s.raw.remote_address, s.raw.remote_port)
    }
}

fn user_label(name: Option<&str>, uid: Option<u32>) -> String {
    match (name, uid) {
        (Some(n), _) => terminal_safe(n).into_owned(),
        (None, Some(u)) => u.to_string(),
        (None, None) => "?".to_string(),
    }
}

impl Table {
    fn cell(&self, text: impl Into<String>, color: Option<Color>) -> Cell {
        let cell = Cell::new(text.into());
        match (self.color, color) {
            (true, Some(c)) => cell.fg(c),
            _ => cell,
        }
    }

    fn rows(&self, s: &Socket, show_remote: bool, show_xsan: bool) -> Vec<Vec<Cell>> {
        let mut proto = s.raw.protocol.as_str().to_string();
        if s.flags.iter().any(|f| f == "dual_stack") {
            proto.push_str("46");
        }
        let service = match (&s.knowledge.service, &s.knowledge.remote_service) {
            (Some(local), _) => terminal_safe(local).into_owned(),
            (None, Some(remote)) => format!("->{}", terminal_safe(remote)),
            (None, None) => "-".to_string(),
        };
        let lead = |owner_cells: Vec<Cell>| {
            let mut row = vec![
                self.cell(proto.clone(), None),
                self.cell(endpoint(&s.raw.local_address, s.raw.local_port), None),
            ];
            if show_remote {
                row.push(self.cell(remote(s), None));
            }
            row.push(self.cell(s.raw.state.as_str(), None));
            row.push(self.cell(service.clone(), None));
            row.extend(owner_cells);
            if show_xsan {
                row.push(self.xsan_cell(s));
            }
            row
        };
        match &s.owner {
            Owner::Known(processes) => processes
                .iter()
                .map(|p| {
                    let name = p.name.as_deref().map_or("?".into(), terminal_safe);
                    let command = p
                        .cmdline
                        .as_ref()
                        .map(|c| c.join(" "))
                        .or_else(|| p.exe.clone())
                        .unwrap_or_default();
                    lead(vec![
                        self.cell(p.pid.to_string(), None),
                        self.cell(name.into_owned(), Some(Color::Green)),
                        self.cell(user_label(p.user.as_deref(), p.uid), None),
                        self.cell(terminal_safe(&command).into_owned(), None),
                    ])
                })
                .collect(),
            Owner::Hidden { uid, user, reason } => vec![lead(vec![
                self.cell("-", None),
                self.cell("(hidden)", Some(Color::Yellow)),
                self.cell(user_label(user.as_deref(), *uid), None),
                self.cell(reason.describe(), Some(Color::Yellow)),
            ])],
            Owner::None { reason } => vec![lead(vec![
                self.cell("-", None),
                self.cell("(none)", None),
                self.cell(user_label(s.user.as_deref(), s.raw.uid), None),
                self.cell(reason.describe(), None),
            ])],
        }
    }

    /// The XSAN column: the verdict, marked so that a flag cannot be missed.
    fn xsan_cell(&self, s: &Socket) -> Cell {
        match s.knowledge.xsan.as_ref().map(|c| c.verdict) {
            Some(XsanVerdict::Xsan) => self.cell("ok: Xsan", Some(Color::Green)),
            Some(XsanVerdict::NotXsan) => {
                let c = self.cell("!! NOT XSAN", Some(Color::Red));
                if self.color {
                    c.add_attribute(Attribute::Bold)
                } else {
                    c
                }
            }
            Some(XsanVerdict::CannotVerify) => self.cell("?? cannot verify", Some(Color::Yellow)),
            None => self.cell("-", None),
        }
    }

    /// A whole line in a colour (SGR codes), when colours are on.
    fn paint(&self, text: String, color: Color) -> String {
        let code = match color {
            Color::Red => "31",
            Color::Green => "32",
            Color::Yellow => "33",
            _ => return text,
        };
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text
        }
    }
}

/// The verdict lines under the table: which process, which executable, why.
fn xsan_lines(report: &Report, audit: bool) -> Vec<(XsanVerdict, String)> {
    report
        .sockets
        .iter()
        .filter_map(|s| {
            let check = s.knowledge.xsan.as_ref()?;
            if check.verdict == XsanVerdict::Xsan && !audit {
                return None;
            }
            let mark = match check.verdict {
                XsanVerdict::Xsan => "ok",
                XsanVerdict::NotXsan => "!!",
                XsanVerdict::CannotVerify => "??",
            };
            Some((
                check.verdict,
                format!(
                    "{mark} {}/{} ({}): {}",
                    endpoint(&s.raw.local_address, s.raw.local_port),
                    s.raw.protocol,
                    xsan_port_text(check.port),
                    terminal_safe(&check.reason)
                ),
            ))
        })
        .collect()
}

fn xsan_port_text(port: XsanPort) -> &'static str {
    match port {
        XsanPort::ServerAdmin => "Apple: server administration incl. Xsan Admin",
        XsanPort::XsanAdmin => "Apple: Xsan Administration",
        XsanPort::FsportsWindow => "in this host's Xsan fsports window",
        XsanPort::AltPmap => "this host's Xsan AltPmap port",
        XsanPort::ConfiguredRange => "Xsan is configured here: Apple's Xsan range",
        XsanPort::AskedRange => "asked by number, in Apple's Xsan range",
    }
}

/// The audit's head: is Xsan configured, its window, its executables.
fn xsan_head(host: &XsanHost) -> Vec<String> {
    let list = |dirs: &[std::path::PathBuf]| {
        dirs.iter()
            .map(|d| terminal_safe(&d.display().to_string()).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = vec![match &host.configured_in {
        Some(dir) => format!(
            "Xsan on this host: configured (fsnameservers in {})",
            terminal_safe(&dir.display().to_string())
        ),
        None => format!(
            "Xsan on this host: not configured (no fsnameservers in {})",
            list(&host.config_dirs)
        ),
    }];
    out.push(match (&host.fsports, &host.configured_in) {
        (Some(f), _) => format!(
            "Xsan port window: {}-{}/tcp{} (from {}), and 311/tcp, 312/tcp",
            f.min_port,
            f.max_port,
            f.alt_pmap
                .map(|a| format!(", AltPmap {a}"))
                .unwrap_or_default(),
            terminal_safe(&f.path.display().to_string())
        ),
        (None, Some(_)) => {
            "Xsan port window: 49152-65535/tcp (Apple's; no fsports file), and 311/tcp, 312/tcp"
                .to_string()
        }
        (None, None) => "Xsan port window: none (not configured): only 311/tcp and 312/tcp, \
                         and ports asked about by number in 49152-65535"
            .to_string(),
    });
    out.push(format!("Xsan executables: {}", list(&host.bin_dirs)));
    out.push(format!(
        "Apple: 311/tcp server administration incl. Xsan Admin; 312/tcp Xsan Administration; \
         49152-65535/tcp Xsan Filesystem Access ({APPLE_REFERENCE})"
    ));
    out
}

/// IANA rows of a port, one line per service name and description, with its protocols.
fn iana_lines(entries: &[IanaEntry]) -> Vec<String> {
    // (service, first line of the description, ports) → protocols
    type Key<'a> = (Option<&'a str>, &'a str, (u16, u16));
    let mut groups: Vec<(Key, Vec<&str>)> = Vec::new();
    for e in entries {
        let key = (
            e.service.as_deref(),
            e.description.lines().next().unwrap_or(""),
            (e.first_port, e.last_port),
        );
        let proto = e.protocol.unwrap_or("any protocol");
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(proto),
            None => groups.push((key, vec![proto])),
        }
    }
    groups
        .into_iter()
        .map(|((service, summary, (a, b)), protos)| {
            let range = if a == b {
                String::new()
            } else {
                format!("; {a}-{b}")
            };
            let protos = protos.join(", ");
            match service {
                Some(name) if summary.trim().is_empty() => {
                    format!("{} ({protos}{range})", terminal_safe(name))
                }
                Some(name) => format!(
                    "{} ({protos}{range}): {}",
                    terminal_safe(name),
                    terminal_safe(summary)
                ),
                None => format!("{} ({protos}{range})", terminal_safe(summary)),
            }
        })
        .collect()
}

fn port_lines(p: &PortInfo) -> Vec<String> {
    let mut out = vec![if p.sockets == 0 {
        format!(
            "port {}: no socket (free in this network namespace); {}",
            p.port,
            range_explanation(p.range)
        )
    } else {
        format!("port {}: {}", p.port, range_explanation(p.range))
    }];
    for line in iana_lines(&p.iana) {
        out.push(format!("  {:<6} {line}", "IANA"));
    }
    for n in &p.notes {
        out.push(format!(
            "  {:<6} {}",
            n.source.as_str(),
            terminal_safe(&n.text)
        ));
    }
    out
}

impl Render for Table {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        if let Some(host) = &report.xsan {
            for line in xsan_head(host) {
                writeln!(out, "{line}")?;
            }
            writeln!(out)?;
            if report.sockets.is_empty() {
                writeln!(out, "no listener on 311/tcp, 312/tcp or in the Xsan window")?;
            }
        }
        let show_xsan =
            report.xsan.is_some() || report.sockets.iter().any(|s| s.knowledge.xsan.is_some());
        if !report.sockets.is_empty() {
            let show_remote = report.sockets.iter().any(|s| !s.raw.state.is_listening());
            let mut grid = Grid::new();
            grid.load_style(presets::NOTHING);
            match self.width {
                Some(w) => {
                    grid.set_width(w)
                        .set_content_arrangement(ContentArrangement::Dynamic);
                }
                None => {
                    grid.force_no_tty()
                        .set_content_arrangement(ContentArrangement::Disabled);
                }
            }
            if self.color {
                grid.enforce_styling();
            }
            let mut header = vec!["PROTO", "LOCAL"];
            if show_remote {
                header.push("REMOTE");
            }
            header.extend(["STATE", "SERVICE", "PID", "PROCESS", "USER", "COMMAND"]);
            if show_xsan {
                header.push("XSAN");
            }
            grid.set_header(header.into_iter().map(|h| {
                let c = Cell::new(h);
                if self.color {
                    c.add_attribute(Attribute::Bold)
                } else {
                    c
                }
            }));
            for s in &report.sockets {
                for row in self.rows(s, show_remote, show_xsan) {
                    grid.add_row(row);
                }
            }
            for line in grid.lines() {
                writeln!(out, "{}", line.trim_end())?;
            }
        }
        for (verdict, line) in xsan_lines(report, report.xsan.is_some()) {
            let color = match verdict {
                XsanVerdict::Xsan => Color::Green,
                XsanVerdict::NotXsan => Color::Red,
                XsanVerdict::CannotVerify => Color::Yellow,
            };
            writeln!(out, "{}", self.paint(line, color))?;
        }
        for p in &report.ports {
            for line in port_lines(p) {
                writeln!(out, "{line}")?;
            }
        }
        Ok(())
    }
}
