//! The default table: one row per (socket, owner process), every untrusted string made
//! terminal-safe, fitted to the terminal's width when there is one.

use std::io::{self, Write};

use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table as Grid, presets};

use super::Render;
use crate::annotate::range_explanation;
use crate::model::{Owner, Report, Socket, State, endpoint};
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

    fn rows(&self, s: &Socket, show_remote: bool) -> Vec<Vec<Cell>> {
        let mut proto = s.raw.protocol.as_str().to_string();
        if s.flags.iter().any(|f| f == "dual_stack") {
            proto.push_str("46");
        }
        let lead = |owner_cells: Vec<Cell>| {
            let mut row = vec![
                self.cell(proto.clone(), None),
                self.cell(endpoint(&s.raw.local_address, s.raw.local_port), None),
            ];
            if show_remote {
                row.push(self.cell(remote(s), None));
            }
            row.push(self.cell(s.raw.state.as_str(), None));
            row.extend(owner_cells);
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
}

impl Render for Table {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
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
            header.extend(["STATE", "PID", "PROCESS", "USER", "COMMAND"]);
            grid.set_header(header.into_iter().map(|h| {
                let c = Cell::new(h);
                if self.color {
                    c.add_attribute(Attribute::Bold)
                } else {
                    c
                }
            }));
            for s in &report.sockets {
                for row in self.rows(s, show_remote) {
                    grid.add_row(row);
                }
            }
            for line in grid.lines() {
                writeln!(out, "{}", line.trim_end())?;
            }
        }
        for p in &report.ports {
            if p.sockets == 0 {
                writeln!(
                    out,
                    "port {}: no socket (free in this network namespace); {}",
                    p.port,
                    range_explanation(p.range)
                )?;
            } else {
                writeln!(out, "port {}: {}", p.port, range_explanation(p.range))?;
            }
        }
        Ok(())
    }
}
