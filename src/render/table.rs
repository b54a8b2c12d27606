//! The default table: one row per (socket, owner process), every untrusted string made
//! terminal-safe, fitted to the terminal's width when there is one.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;

use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table as Grid, presets};

use super::Render;
use crate::annotate::range_explanation;
use crate::annotate::xsan::APPLE_REFERENCE;
use crate::model::{
    Container, IanaEntry, NetnsScope, Owner, PortInfo, Process, Report, Socket, SocketFlag, State,
    Via, XsanAudit, XsanPort, XsanVerdict, endpoint,
};
use crate::sanitize::terminal_safe;
use unicode_width::UnicodeWidthStr;

pub(crate) struct Table {
    pub(crate) color: bool,
    /// The terminal's width, when writing to one.
    pub(crate) width: Option<u16>,
}

/// The cells of one output row, written into buffers that are reused from row to row.
struct RowCells {
    texts: [String; MAX_COLUMNS],
    colors: [Option<Color>; MAX_COLUMNS],
    len: usize,
}

const MAX_COLUMNS: usize = 11;

impl RowCells {
    fn new() -> RowCells {
        RowCells {
            texts: Default::default(),
            colors: [None; MAX_COLUMNS],
            len: 0,
        }
    }

    /// Starts a new cell and gives its (empty) text.
    fn next(&mut self, color: Option<Color>) -> &mut String {
        let i = self.len.min(MAX_COLUMNS - 1);
        self.len = i + 1;
        self.colors[i] = color;
        let text = &mut self.texts[i];
        text.clear();
        text
    }

    fn cells(&self) -> impl Iterator<Item = (&str, Option<Color>)> {
        self.texts[..self.len]
            .iter()
            .map(String::as_str)
            .zip(self.colors[..self.len].iter().copied())
    }
}

fn endpoint_into(out: &mut String, addr: &IpAddr, port: u16) {
    let _ = match addr {
        IpAddr::V4(a) => write!(out, "{a}:{port}"),
        IpAddr::V6(a) => write!(out, "[{a}]:{port}"),
    };
}

/// Where a socket lives: its container (published to one: "web (published)"), or the
/// network namespace it was found in when that is not whoport's own.
fn place_into(out: &mut String, s: &Socket) {
    match (&s.context.container, &s.context.published, &s.context.netns) {
        (Some(c), Some(_), _) => {
            out.push_str(&terminal_safe(c.label()));
            out.push_str(" (published)");
        }
        (Some(c), None, _) => out.push_str(&terminal_safe(c.label())),
        (None, _, Some(n)) if !n.current => match &n.name {
            Some(name) => out.push_str(&terminal_safe(name)),
            None => {
                let _ = write!(out, "net:[{}]", n.inode);
            }
        },
        _ => out.push('-'),
    }
}

fn user_into(out: &mut String, name: Option<&str>, uid: Option<u32>) {
    match (name, uid) {
        (Some(n), _) => out.push_str(&terminal_safe(n)),
        (None, Some(u)) => {
            let _ = write!(out, "{u}");
        }
        (None, None) => out.push('?'),
    }
}

impl Table {
    /// Calls `emit` once per output row of a socket: one row per owner process.
    fn rows(
        s: &Socket,
        show_remote: bool,
        show_xsan: bool,
        show_place: bool,
        row: &mut RowCells,
        emit: &mut dyn FnMut(&RowCells) -> io::Result<()>,
    ) -> io::Result<()> {
        let lead = |row: &mut RowCells| {
            row.len = 0;
            let proto = row.next(None);
            proto.push_str(s.raw.protocol.as_str());
            if s.flags.contains(&SocketFlag::DualStack) {
                proto.push_str("46");
            }
            endpoint_into(row.next(None), &s.raw.local_address, s.raw.local_port);
            if show_remote {
                let remote = row.next(None);
                if s.raw.state.is_listening() || s.raw.state == State::Close {
                    remote.push('*');
                } else {
                    endpoint_into(remote, &s.raw.remote_address, s.raw.remote_port);
                }
            }
            row.next(None).push_str(s.raw.state.as_str());
            let service = row.next(None);
            match (&s.knowledge.service, &s.knowledge.remote_service) {
                (Some(local), _) => service.push_str(&terminal_safe(local)),
                (None, Some(remote)) => {
                    service.push_str("->");
                    service.push_str(&terminal_safe(remote));
                }
                (None, None) => service.push('-'),
            }
            if show_place {
                place_into(row.next(None), s);
            }
        };
        // The XSAN column, last: the verdict, marked so that a flag cannot be missed.
        let tail = |row: &mut RowCells| {
            if show_xsan {
                let (text, color) = match s.knowledge.xsan.as_ref().map(|c| c.verdict) {
                    Some(XsanVerdict::Xsan) => ("ok: Xsan", Some(Color::Green)),
                    Some(XsanVerdict::NotXsan) => ("!! NOT XSAN", Some(Color::Red)),
                    Some(XsanVerdict::CannotVerify) => ("?? cannot verify", Some(Color::Yellow)),
                    None => ("-", None),
                };
                row.next(color).push_str(text);
            }
        };
        match &s.owner {
            Owner::Known(processes) => {
                for p in processes.iter() {
                    lead(row);
                    let _ = write!(row.next(None), "{}", p.pid);
                    let name = row.next(Some(Color::Green));
                    match p.name.as_deref() {
                        Some(n) => name.push_str(&terminal_safe(n)),
                        None => name.push('?'),
                    }
                    user_into(row.next(None), p.user.as_deref(), p.uid);
                    let command = row.next(None);
                    match (&p.cmdline, &p.exe) {
                        (Some(args), _) => {
                            for (i, arg) in args.iter().enumerate() {
                                if i > 0 {
                                    command.push(' ');
                                }
                                command.push_str(arg);
                            }
                        }
                        (None, Some(exe)) => command.push_str(exe),
                        (None, None) => {}
                    }
                    if let Cow::Owned(safe) = terminal_safe(command) {
                        *command = safe;
                    }
                    tail(row);
                    emit(row)?;
                }
                Ok(())
            }
            Owner::Hidden { uid, user, reason } => {
                lead(row);
                row.next(None).push('-');
                row.next(Some(Color::Yellow)).push_str("(hidden)");
                user_into(row.next(None), user.as_deref(), *uid);
                row.next(Some(Color::Yellow)).push_str(reason.describe());
                tail(row);
                emit(row)
            }
            Owner::None { reason } => {
                lead(row);
                row.next(None).push('-');
                row.next(None).push_str("(none)");
                user_into(row.next(None), s.user.as_deref(), s.raw.uid);
                row.next(None).push_str(reason.describe());
                tail(row);
                emit(row)
            }
        }
    }

    fn header(show_remote: bool, show_xsan: bool, show_place: bool) -> Vec<&'static str> {
        let mut header = vec!["PROTO", "LOCAL"];
        if show_remote {
            header.push("REMOTE");
        }
        header.extend(["STATE", "SERVICE"]);
        if show_place {
            header.push("NETNS/CONTAINER");
        }
        header.extend(["PID", "PROCESS", "USER", "COMMAND"]);
        if show_xsan {
            header.push("XSAN");
        }
        header
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

    /// The table through comfy-table: for a terminal (fitted to its width) and for colour.
    fn render_grid(
        &self,
        report: &Report,
        show_remote: bool,
        show_xsan: bool,
        show_place: bool,
        out: &mut dyn Write,
    ) -> io::Result<()> {
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
        grid.set_header(
            Self::header(show_remote, show_xsan, show_place)
                .into_iter()
                .map(|h| {
                    let c = Cell::new(h);
                    if self.color {
                        c.add_attribute(Attribute::Bold)
                    } else {
                        c
                    }
                }),
        );
        let mut row = RowCells::new();
        for s in &report.sockets {
            Self::rows(
                s,
                show_remote,
                show_xsan,
                show_place,
                &mut row,
                &mut |row| {
                    grid.add_row(row.cells().map(|(text, color)| {
                        let cell = Cell::new(text);
                        match (self.color, color) {
                            (true, Some(c)) => cell.fg(c),
                            _ => cell,
                        }
                    }));
                    Ok(())
                },
            )?;
        }
        for line in grid.lines() {
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }

    /// The same text as `render_grid` without width or colour, in two passes over the
    /// report (column widths, then rows) and without keeping any cell: a table of every
    /// socket on a busy host costs neither a copy of each cell nor its time.
    fn render_plain(
        report: &Report,
        show_remote: bool,
        show_xsan: bool,
        show_place: bool,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let header = Self::header(show_remote, show_xsan, show_place);
        let last = header.len() - 1;
        // comfy-table's rule: the widest line of each column, at least 1; a line wider than
        // u16::MAX is wrapped. The last column's width only pads the end of the line, which
        // is trimmed, so it is needed only to tell a line that wide (never narrower than
        // its length in bytes).
        let mut widths: Vec<usize> = header.iter().map(|h| h.width().max(1)).collect();
        let mut row = RowCells::new();
        let mut too_wide = false;
        for s in &report.sockets {
            Self::rows(
                s,
                show_remote,
                show_xsan,
                show_place,
                &mut row,
                &mut |row| {
                    for (i, (width, (text, _))) in widths.iter_mut().zip(row.cells()).enumerate() {
                        if i == last && text.len() <= usize::from(u16::MAX) {
                            continue;
                        }
                        let w = text_width(text);
                        too_wide |= w > usize::from(u16::MAX);
                        *width = (*width).max(w);
                    }
                    Ok(())
                },
            )?;
        }
        if too_wide {
            // comfy-table wraps such a cell over several lines: leave that to it.
            return Table {
                color: false,
                width: None,
            }
            .render_grid(report, show_remote, show_xsan, show_place, out);
        }
        let mut line = String::new();
        let mut write_line = |cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
            line.clear();
            for (i, (text, width)) in cells.zip(&widths).enumerate() {
                // One space of padding on each side, the text, then spaces to the width.
                line.push(' ');
                line.push_str(text);
                if i < last {
                    line.extend(std::iter::repeat_n(' ', width + 1 - text_width(text)));
                }
            }
            writeln!(out, "{}", line.trim_end())
        };
        write_line(&mut header.iter().copied())?;
        for s in &report.sockets {
            Self::rows(
                s,
                show_remote,
                show_xsan,
                show_place,
                &mut row,
                &mut |row| write_line(&mut row.cells().map(|(text, _)| text)),
            )?;
        }
        Ok(())
    }
}

/// Display width as comfy-table measures it (unicode-width), with printable ASCII, the
/// common case, counted without decoding.
fn text_width(text: &str) -> usize {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        text.len()
    } else {
        text.width()
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
fn xsan_head(audit: &XsanAudit) -> Vec<String> {
    let host = &audit.host;
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

fn port_lines(p: &PortInfo, scope: &NetnsScope) -> Vec<String> {
    let looked = match scope {
        NetnsScope::Current | NetnsScope::Others => "in this network namespace".to_string(),
        NetnsScope::All => "in every network namespace looked at".to_string(),
        NetnsScope::Named(name) => format!("in network namespace {}", terminal_safe(name)),
        NetnsScope::Pid(pid) => format!("in the network namespace of pid {pid}"),
        NetnsScope::Path(path) => format!(
            "in network namespace {}",
            terminal_safe(&path.display().to_string())
        ),
    };
    let mut out = vec![if p.sockets == 0 {
        format!(
            "port {}: no socket (free {looked}); {}",
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
        if let Some(audit) = &report.xsan {
            for line in xsan_head(audit) {
                writeln!(out, "{line}")?;
            }
            writeln!(out)?;
            if report.sockets.is_empty() {
                writeln!(out, "no listener on 311/tcp, 312/tcp or in the Xsan window")?;
            }
        }
        if !report.sockets.is_empty() {
            let show_remote = report.sockets.iter().any(|s| !s.raw.state.is_listening());
            let show_xsan =
                report.xsan.is_some() || report.sockets.iter().any(|s| s.knowledge.xsan.is_some());
            let show_place = report.sockets.iter().any(|s| {
                s.context.container.is_some()
                    || s.context.netns.as_ref().is_some_and(|n| !n.current)
            });
            if self.color || self.width.is_some() {
                self.render_grid(report, show_remote, show_xsan, show_place, out)?;
            } else {
                Self::render_plain(report, show_remote, show_xsan, show_place, out)?;
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
        // Where the holders of the ports asked about live, and why they run.
        if !report.ports.is_empty() {
            for line in context_lines(report) {
                writeln!(out, "{line}")?;
            }
        }
        for p in &report.ports {
            for line in port_lines(p, &report.netns_scope) {
                writeln!(out, "{line}")?;
            }
            for line in elsewhere_lines(p.port, &report.elsewhere) {
                writeln!(out, "{line}")?;
            }
        }
        Ok(())
    }
}

/// "web (docker, 3f2a9c8e01b2…)", with the pod where there is one.
fn container_text(c: &Container) -> String {
    let mut text = format!(
        "{} ({}, {}…",
        terminal_safe(c.label()),
        c.runtime.as_str(),
        c.short_id()
    );
    if let Some(pod) = &c.pod {
        match (&pod.namespace, &pod.name) {
            (Some(ns), Some(name)) => {
                let _ = write!(text, ", pod {}/{}", terminal_safe(ns), terminal_safe(name));
            }
            _ => {
                let _ = write!(text, ", pod {}", terminal_safe(&pod.uid));
            }
        }
    }
    text.push(')');
    text
}

fn process_text(p: &Process) -> String {
    format!(
        "{} (pid {})",
        terminal_safe(p.name.as_deref().unwrap_or("?")),
        p.pid
    )
}

/// Under the table, for the ports asked about: which container a forwarder publishes,
/// and for each holder its container or unit and its parents.
fn context_lines(report: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for s in &report.sockets {
        let Some(p) = &s.context.published else {
            continue;
        };
        let holder = s
            .owner
            .processes()
            .iter()
            .find(|h| h.pid == p.pid)
            .map_or_else(|| format!("pid {}", p.pid), process_text);
        let what = format!("{}/{}", s.raw.local_port, s.raw.protocol);
        let how = match (p.via, p.target) {
            (Via::Dockerd, Some((_, port))) => format!(
                "{holder} holds it as a reservation (--userland-proxy=false); traffic goes by \
                 DNAT to container port {port}"
            ),
            (_, Some((Some(addr), port))) => {
                format!("{holder} holds it, forwarding to {}", endpoint(&addr, port))
            }
            (_, Some((None, port))) => format!("{holder} holds it, forwarding to port {port}"),
            (_, None) => format!("{holder} holds it"),
        };
        out.push(match &p.container {
            Some(c) => format!("{what} published by container {}: {how}", container_text(c)),
            None => format!(
                "{what} published to a container by {}: {how}; which container is not known",
                p.via.as_str()
            ),
        });
    }
    for s in &report.sockets {
        if let Some(unit) = &s.context.socket_unit {
            out.push(format!(
                "{}/{}: socket unit {} (the service manager holds it for socket activation)",
                s.raw.local_port,
                s.raw.protocol,
                terminal_safe(unit)
            ));
        }
    }
    let mut seen = Vec::new();
    for s in &report.sockets {
        for p in s.owner.processes() {
            if seen.contains(&p.pid) {
                continue;
            }
            seen.push(p.pid);
            let c = &p.context;
            let mut parts = Vec::new();
            if let Some(container) = &c.container {
                parts.push(format!("container {}", container_text(container)));
            }
            if let Some(unit) = &c.unit {
                parts.push(match unit.user {
                    Some(uid) => {
                        format!("unit {} (user {uid}'s manager)", terminal_safe(&unit.name))
                    }
                    None => format!("unit {}", terminal_safe(&unit.name)),
                });
            }
            if !c.ancestors.is_empty() {
                let chain: Vec<String> = c
                    .ancestors
                    .iter()
                    .map(|a| format!("{} ({})", terminal_safe(&a.name), a.pid))
                    .collect();
                parts.push(format!("parents {}", chain.join(", ")));
            }
            if !parts.is_empty() {
                out.push(format!("  {}: {}", process_text(p), parts.join("; ")));
            }
        }
    }
    out
}

/// The free-port hint: what other network namespaces have on a port free in this one.
fn elsewhere_lines(port: u16, elsewhere: &[Socket]) -> Vec<String> {
    elsewhere
        .iter()
        .filter(|s| s.raw.local_port == port)
        .map(|s| {
            let does = if s.raw.state.is_listening() {
                format!("listens on {}/{}", port, s.raw.protocol)
            } else {
                format!(
                    "has a {} socket on {}/{}",
                    s.raw.state, port, s.raw.protocol
                )
            };
            let holders: Vec<String> = s.owner.processes().iter().map(process_text).collect();
            let who = match (&s.owner, holders.is_empty()) {
                (Owner::Hidden { .. }, _) => "a hidden process".to_string(),
                (_, true) => "no process".to_string(),
                (_, false) => holders.join(", "),
            };
            let netns = s.context.netns.as_ref();
            let where_ = match netns.and_then(|n| n.name.as_deref()) {
                Some(name) => format!("network namespace {}", terminal_safe(name)),
                None => format!(
                    "another network namespace (net:[{}])",
                    netns.map_or(0, |n| n.inode)
                ),
            };
            let text = match (&s.context.container, netns.and_then(|n| n.name.as_deref())) {
                (Some(c), _) if s.context.published.is_some() => format!(
                    "free here; {who} {does} in {where_}, published by container {}",
                    container_text(c)
                ),
                (Some(c), _) => format!(
                    "free here; container {} {does} in its own network namespace: {who}",
                    container_text(c)
                ),
                (None, _) => format!("free here; {who} {does} in {where_}"),
            };
            format!("  {:<6} {text}", "netns")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::model::{
        HiddenReason, NoneReason, Process, Protocol, RawSocket, SocketKnowledge, XsanCheck,
    };

    fn socket(port: u16, state: State, owner: Owner, v6: bool) -> Socket {
        let (local, remote) = if v6 {
            (
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            )
        } else {
            (
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
            )
        };
        Socket {
            raw: RawSocket {
                protocol: if port.is_multiple_of(2) {
                    Protocol::Tcp
                } else {
                    Protocol::Udp
                },
                local_address: local,
                local_port: port,
                remote_address: remote,
                remote_port: 50000 + port,
                state,
                uid: Some(u32::from(port)),
                inode: Some(u64::from(port)),
                v6only: Some(false),
                pids: Vec::new(),
                netns: None,
            },
            user: port.is_multiple_of(3).then(|| "svc".into()),
            owner,
            flags: if v6 {
                vec![SocketFlag::DualStack]
            } else {
                Vec::new()
            },
            // Some sockets with a service name (one with an odd one), a client's remote
            // service, and each Xsan verdict.
            knowledge: SocketKnowledge {
                service: match port {
                    22 => Some("ssh".into()),
                    53 => Some("dom\x1bain".into()),
                    _ => None,
                },
                remote_service: (port == 443).then(|| "https".into()),
                xsan: [
                    XsanVerdict::Xsan,
                    XsanVerdict::NotXsan,
                    XsanVerdict::CannotVerify,
                ]
                .get(usize::from(port % 4))
                .map(|&verdict| XsanCheck {
                    port: XsanPort::AskedRange,
                    verdict,
                    reason: "test".into(),
                }),
            },
            context: Default::default(),
        }
    }

    fn process(
        pid: u32,
        name: Option<&str>,
        cmdline: Option<&[&str]>,
        exe: Option<&str>,
    ) -> Process {
        Process {
            pid,
            name: name.map(str::to_string),
            user: pid.is_multiple_of(2).then(|| "ユーザー".to_string()),
            uid: (!pid.is_multiple_of(3)).then_some(pid),
            exe: exe.map(str::to_string),
            cmdline: cmdline.map(|c| c.iter().map(|a| a.to_string()).collect()),
            context: Default::default(),
        }
    }

    fn reports() -> Vec<Report> {
        let odd = [
            process(1, Some("sshd"), Some(&["/usr/sbin/sshd", "-D"]), None),
            process(
                22,
                Some("名前のプロセス"),
                Some(&["漢字", "🦀 crab", ""]),
                None,
            ),
            process(
                333,
                Some("evil\x1b[31m"),
                Some(&["a\nb", "\u{202e}txt"]),
                None,
            ),
            process(4444, None, None, Some("/opt/only exe")),
            process(55555, Some(""), Some(&[]), None),
            process(6, Some("e\u{301}\u{200d}x"), None, None),
        ];
        let listening = Report {
            sockets: vec![
                socket(22, State::Listen, Owner::Known(odd[..2].into()), false),
                socket(53, State::Unconnected, Owner::Known(odd[2..].into()), true),
                socket(
                    80,
                    State::Listen,
                    Owner::Hidden {
                        reason: HiddenReason::NotPermitted,
                        uid: Some(33),
                        user: Some("www-data".into()),
                    },
                    false,
                ),
                socket(
                    81,
                    State::Listen,
                    Owner::Hidden {
                        reason: HiddenReason::Unreadable,
                        uid: None,
                        user: None,
                    },
                    true,
                ),
            ],
            ..Report::default()
        };
        let mut all = listening.clone();
        all.sockets.push(socket(
            8080,
            State::TimeWait,
            Owner::None {
                reason: NoneReason::NoFile,
            },
            true,
        ));
        all.sockets.push(socket(
            9,
            State::Close,
            Owner::None {
                reason: NoneReason::NoProcess,
            },
            false,
        ));
        all.sockets.push(socket(
            443,
            State::Established,
            Owner::Known([process(7, Some("x"), Some(&["x"; 40]), None)].into()),
            false,
        ));
        // A command line wider than comfy-table's widest column (u16::MAX), which it wraps.
        let long = "x".repeat(70_000);
        let mut wide = Report::default();
        wide.sockets.push(socket(
            8443,
            State::Listen,
            Owner::Known([process(8, Some("w"), Some(&[&long]), None)].into()),
            false,
        ));
        vec![listening, all, wide]
    }

    #[test]
    fn plain_output_is_comfy_tables_output() -> io::Result<()> {
        for report in reports() {
            let show_remote = report.sockets.iter().any(|s| !s.raw.state.is_listening());
            for (show_xsan, show_place) in [(false, false), (true, false), (false, true)] {
                let mut grid = Vec::new();
                Table {
                    color: false,
                    width: None,
                }
                .render_grid(
                    &report,
                    show_remote,
                    show_xsan,
                    show_place,
                    &mut grid,
                )?;
                let mut plain = Vec::new();
                Table::render_plain(&report, show_remote, show_xsan, show_place, &mut plain)?;
                assert_eq!(
                    String::from_utf8_lossy(&plain),
                    String::from_utf8_lossy(&grid)
                );
                assert!(grid.len() > 200);
            }
        }
        Ok(())
    }

    #[test]
    fn rows_are_one_per_owner_and_terminal_safe() -> io::Result<()> {
        // Without Xsan verdicts, which add their lines under the table.
        let mut report = reports()[0].clone();
        for s in &mut report.sockets {
            s.knowledge.xsan = None;
        }
        let mut out = Vec::new();
        Table {
            color: false,
            width: None,
        }
        .render(&report, &mut out)?;
        let text = String::from_utf8_lossy(&out);
        let lines: Vec<&str> = text.lines().collect();
        // A header, two owners, four owners, two hidden sockets.
        assert_eq!(lines.len(), 1 + 2 + 4 + 2, "{text}");
        assert!(lines[0].starts_with(" PROTO  LOCAL"), "{text}");
        assert!(
            !text.contains('\x1b') && !text.contains('\u{202e}'),
            "{text}"
        );
        assert!(text.contains("evil\\x1b[31m"), "{text}");
        assert!(text.contains("/opt/only exe"), "{text}");
        Ok(())
    }
}
