//! The default table: one row per (socket, owner process), one line per row, every
//! untrusted string made terminal-safe.
//!
//! Written by whoport itself, in two passes over the report (column widths, then rows)
//! with cell buffers reused from row to row: no cell is kept, so memory does not grow with
//! rows × the longest cell (a 100 KB command line among thousands of listeners costs one
//! 100 KB buffer). *Why not a table crate:* comfy-table, used before, keeps every cell
//! and every line (260 MiB for a 100 KB command line among 2,000 rows), wraps a value
//! that does not fit over several lines (an address split as `[::]:1211` / `1`), and its
//! colours follow `NO_COLOR` even when `--color always` asks for them.
//!
//! Layout:
//! - **Whole values** (a pipe or file, or `-w/--wide`): every value whole, one line per
//!   row, columns as wide as their widest value; COMMAND is last, so a long command line
//!   pads nothing.
//! - **A terminal**: one line per row, fitted to its width. Addresses, ports, states,
//!   pids, users, process names and the Xsan verdict are never cut. What does not fit
//!   is taken, in this order, from the command line (down to 12 columns) and the
//!   service name (down to 7), each cut shown by `…`; then from the spaces between
//!   columns (one instead of two); then from the command line down to 7; then the
//!   COMMAND column is
//!   left out, then SERVICE, then XSAN (a verdict that is not `ok` is also a line under
//!   the table). Columns that are never cut are laid out for at most 16
//!   (PROCESS), 12 (USER) or 30 (addresses) columns: a longer value is printed whole
//!   and pushes the rest of its own row right, instead of widening every row. A table
//!   whose remaining columns are still wider than the terminal (`-a` with remote
//!   addresses at 50 columns) is printed as it is, and the terminal wraps it.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;

use super::Render;
use crate::annotate::range_explanation;
use crate::annotate::xsan::APPLE_REFERENCE;
use crate::model::{
    Container, IanaEntry, NetnsScope, Owner, PortInfo, Process, Report, Socket, SocketFlag, State,
    Via, XsanAudit, XsanPort, XsanVerdict, endpoint,
};
use crate::sanitize::{bytes_safe, terminal_safe};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

pub(crate) struct Table {
    pub(crate) color: bool,
    /// The terminal's width, when writing to one (and not asked for whole values).
    pub(crate) width: Option<u16>,
}

/// A cell's colour, as an SGR code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Color {
    Red,
    Green,
    Yellow,
}

impl Color {
    fn sgr(self) -> &'static str {
        match self {
            Color::Red => "31",
            Color::Green => "32",
            Color::Yellow => "33",
        }
    }
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
    match (
        &s.context().container,
        &s.context().published,
        &s.context().netns,
    ) {
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

/// The PROCESS cell: the name, and what the executable says when it disagrees
/// (`sshd (perl)`: a program named sshd that runs perl) or is gone (`nginx (deleted)`).
fn process_into(out: &mut String, p: &Process) -> Option<Color> {
    match p.name.as_deref() {
        Some(n) => out.push_str(&terminal_safe(n)),
        None => out.push('?'),
    }
    let mismatch = p.name_mismatch() == Some(true);
    match (mismatch, p.exe_deleted) {
        (true, deleted) => {
            out.push_str(" (");
            out.push_str(&terminal_safe(p.exe_name().unwrap_or("?")));
            out.push_str(if deleted { ", deleted)" } else { ")" });
            Some(Color::Red)
        }
        (false, true) => {
            out.push_str(" (deleted)");
            Some(Color::Yellow)
        }
        (false, false) => Some(Color::Green),
    }
}

/// The COMMAND cell: the real executable first when the name disagrees with it or it was
/// deleted (`[exe /usr/bin/perl] sshd: …`), then the command line.
fn command_into(out: &mut String, p: &Process) {
    let mismatch = p.name_mismatch() == Some(true);
    if let Some(exe) = p.exe.as_deref().filter(|_| mismatch || p.exe_deleted) {
        out.push_str(if p.exe_deleted {
            "[deleted exe "
        } else {
            "[exe "
        });
        out.push_str(exe);
        out.push_str("] ");
    }
    match (&p.cmdline_raw, &p.cmdline, &p.exe) {
        // Arguments that are not UTF-8: their bytes, invalid ones as `\xff` (already
        // terminal-safe), not U+FFFD.
        (Some(raw), _, _) => {
            let mut args = String::new();
            for (i, arg) in raw.iter().enumerate() {
                if i > 0 {
                    args.push(' ');
                }
                args.push_str(&bytes_safe(arg));
            }
            if let Cow::Owned(safe) = terminal_safe(out) {
                *out = safe;
            }
            out.push_str(&args);
            return;
        }
        (None, Some(args), _) => {
            for (i, arg) in args.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(arg);
            }
        }
        (None, None, Some(exe)) if !mismatch && !p.exe_deleted => out.push_str(exe),
        _ => {}
    }
    if let Cow::Owned(safe) = terminal_safe(out) {
        *out = safe;
    }
}

/// How the columns are laid out: each one's width (`None`: left out), the spaces before
/// the first and between two.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Layout {
    widths: Vec<Option<usize>>,
    lead: usize,
    gap: usize,
}

impl Layout {
    fn total(&self) -> usize {
        let shown: Vec<usize> = self.widths.iter().flatten().copied().collect();
        self.lead + shown.iter().sum::<usize>() + self.gap * shown.len().saturating_sub(1)
    }
}

/// The narrowest a shortened column gets before it is left out: its header's width.
const MIN_SHORTENED: usize = 7;
/// The command line is first cut to this, before the service name is touched.
const COMMAND_FIRST: usize = 12;

/// Fits the natural column widths into `width` columns (module documentation): the
/// command line is cut to 12 columns, then the service name to 7; then the same with one
/// space between columns instead of two, then the command line to 7; then COMMAND is left
/// out, then SERVICE, then XSAN.
fn fit(
    natural: &[usize],
    command: usize,
    service: usize,
    xsan: Option<usize>,
    width: Option<usize>,
) -> Layout {
    let whole = |lead, gap| Layout {
        widths: natural.iter().map(|&w| Some(w)).collect(),
        lead,
        gap,
    };
    let Some(width) = width else {
        return whole(1, 2);
    };
    let shrink = |layout: &mut Layout, col: usize, floor: usize| {
        let total = layout.total();
        if total <= width {
            return;
        }
        if let Some(w) = layout.widths[col] {
            let floor = floor.min(w);
            layout.widths[col] = Some(w - (total - width).min(w - floor));
        }
    };
    // Two spaces between columns while the command line keeps 12 columns; one space
    // before it goes below that.
    for (lead, gap, command_floor) in [
        (1, 2, COMMAND_FIRST),
        (0, 1, COMMAND_FIRST),
        (0, 1, MIN_SHORTENED),
    ] {
        let mut layout = whole(lead, gap);
        shrink(&mut layout, command, COMMAND_FIRST);
        shrink(&mut layout, service, MIN_SHORTENED);
        shrink(&mut layout, command, command_floor);
        if layout.total() <= width {
            return layout;
        }
    }
    let mut layout = whole(0, 1);
    layout.widths[command] = None;
    shrink(&mut layout, service, MIN_SHORTENED);
    if layout.total() > width {
        layout.widths[service] = None;
    }
    // The XSAN column last: every verdict that is not `ok` is also a line under the table.
    if let Some(xsan) = xsan
        && layout.total() > width
    {
        layout.widths[xsan] = None;
    }
    layout
}

/// In a terminal, the widest a column that is never cut is laid out for: a longer value
/// (a process name of 200 characters) is still printed whole, pushing the rest of its own
/// row to the right, instead of widening every row.
fn column_cap(header: &str) -> Option<usize> {
    match header {
        "PROCESS" => Some(16),
        "USER" => Some(12),
        "LOCAL" | "REMOTE" => Some(30),
        _ => None,
    }
}

/// `text` cut to at most `width` columns, the cut shown by `…`.
fn shorten(text: &str, width: usize) -> Cow<'_, str> {
    if text_width(text) <= width {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(width + 3);
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    Cow::Owned(out)
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
                if s.raw.state.is_listening()
                    || matches!(s.raw.state, State::Close | State::BoundInactive)
                {
                    remote.push('*');
                } else {
                    endpoint_into(remote, &s.raw.remote_address, s.raw.remote_port);
                }
            }
            row.next(None).push_str(s.raw.state.as_str());
            let service = row.next(None);
            match (s.knowledge.service(), s.knowledge.remote_service()) {
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
        // The XSAN column, before COMMAND: the verdict, marked so that a flag cannot be
        // missed, and never cut.
        let xsan = |row: &mut RowCells| {
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
                    let i = row.len;
                    let color = process_into(row.next(None), p);
                    row.colors[i] = color;
                    user_into(row.next(None), p.user.as_deref(), p.uid);
                    xsan(row);
                    command_into(row.next(None), p);
                    emit(row)?;
                }
                Ok(())
            }
            Owner::Hidden { uid, user, reason } => {
                lead(row);
                row.next(None).push('-');
                row.next(Some(Color::Yellow)).push_str("(hidden)");
                user_into(row.next(None), user.as_deref(), *uid);
                xsan(row);
                row.next(Some(Color::Yellow)).push_str(reason.describe());
                emit(row)
            }
            Owner::None { reason } => {
                lead(row);
                row.next(None).push('-');
                row.next(None).push_str("(none)");
                user_into(row.next(None), s.user.as_deref(), s.raw.uid);
                xsan(row);
                row.next(None).push_str(reason.describe());
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
        header.extend(["PID", "PROCESS", "USER"]);
        if show_xsan {
            header.push("XSAN");
        }
        header.push("COMMAND");
        header
    }

    /// A whole line in a colour (SGR codes), when colours are on.
    fn paint(&self, text: String, color: Color) -> String {
        if self.color {
            format!("\x1b[{}m{text}\x1b[0m", color.sgr())
        } else {
            text
        }
    }

    /// The table: the column widths in a first pass over the report, then the rows.
    fn render_rows(
        &self,
        report: &Report,
        show_remote: bool,
        show_xsan: bool,
        show_place: bool,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let header = Self::header(show_remote, show_xsan, show_place);
        let column = |name: &str| header.iter().position(|h| *h == name).unwrap_or(0);
        let (command, service) = (column("COMMAND"), column("SERVICE"));
        let last = header.len() - 1;
        // The last column (COMMAND) only pads the end of the line, which is trimmed: its
        // width matters only for fitting a terminal.
        let mut natural: Vec<usize> = header.iter().map(|h| h.width()).collect();
        let caps: Vec<Option<usize>> = header.iter().map(|h| column_cap(h)).collect();
        let mut row = RowCells::new();
        for s in &report.sockets {
            Self::rows(
                s,
                show_remote,
                show_xsan,
                show_place,
                &mut row,
                &mut |row| {
                    for (i, (width, (text, _))) in natural.iter_mut().zip(row.cells()).enumerate() {
                        if i == last && self.width.is_none() {
                            continue;
                        }
                        let mut w = text_width(text);
                        if self.width.is_some()
                            && let Some(cap) = caps[i]
                        {
                            w = w.min(cap);
                        }
                        *width = (*width).max(w);
                    }
                    Ok(())
                },
            )?;
        }
        let xsan = header.iter().position(|h| *h == "XSAN");
        let layout = fit(
            &natural,
            command,
            service,
            xsan,
            self.width.map(usize::from),
        );
        let mut line = String::new();
        let mut write_line = |cells: &mut dyn Iterator<Item = (&str, Option<Color>)>,
                              bold: bool|
         -> io::Result<()> {
            line.clear();
            line.extend(std::iter::repeat_n(' ', layout.lead));
            let mut first = true;
            let shown = cells.zip(&layout.widths).enumerate();
            for (i, ((text, color), width)) in shown {
                let Some(width) = *width else { continue };
                if !first {
                    line.extend(std::iter::repeat_n(' ', layout.gap));
                }
                first = false;
                // Only COMMAND and SERVICE are ever cut; a longer value elsewhere (past
                // its column's cap) is written whole.
                let text = if self.width.is_some() && (i == command || i == service) {
                    shorten(text, width)
                } else {
                    Cow::Borrowed(text)
                };
                let sgr = match (self.color, color, bold) {
                    (true, _, true) => Some("1"),
                    (true, Some(c), false) => Some(c.sgr()),
                    _ => None,
                };
                match sgr {
                    Some(code) => {
                        let _ = write!(line, "\x1b[{code}m{text}\x1b[0m");
                    }
                    None => line.push_str(&text),
                }
                if i < last {
                    line.extend(std::iter::repeat_n(
                        ' ',
                        width.saturating_sub(text_width(&text)),
                    ));
                }
            }
            writeln!(out, "{}", line.trim_end())
        };
        write_line(&mut header.iter().map(|h| (*h, None)), true)?;
        for s in &report.sockets {
            Self::rows(
                s,
                show_remote,
                show_xsan,
                show_place,
                &mut row,
                &mut |row| write_line(&mut row.cells(), false),
            )?;
        }
        Ok(())
    }
}

/// Display width (unicode-width), with printable ASCII, the common case, counted without
/// decoding.
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
    let mut out = vec![if p.is_free() {
        format!(
            "port {}: no socket (free {looked}); {}",
            p.port,
            range_explanation(p.range)
        )
    } else if p.sockets == 0 {
        let left_out: Vec<String> = p.left_out.iter().flatten().map(|l| l.describe()).collect();
        format!(
            "port {}: no socket matched the filters, which left out {}; {}",
            p.port,
            if left_out.is_empty() {
                "what is on it (not looked at)".to_string()
            } else {
                left_out.join(", ")
            },
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
                s.context().container.is_some()
                    || s.context().netns.as_ref().is_some_and(|n| !n.current)
            });
            self.render_rows(report, show_remote, show_xsan, show_place, out)?;
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
        let Some(p) = &s.context().published else {
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
        if let Some(unit) = &s.context().socket_unit {
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
            let netns = s.context().netns.as_ref();
            let where_ = match netns.and_then(|n| n.name.as_deref()) {
                Some(name) => format!("network namespace {}", terminal_safe(name)),
                None => format!(
                    "another network namespace (net:[{}])",
                    netns.map_or(0, |n| n.inode)
                ),
            };
            let text = match (
                &s.context().container,
                netns.and_then(|n| n.name.as_deref()),
            ) {
                (Some(c), _) if s.context().published.is_some() => format!(
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
                pids: crate::model::Few::default(),
                fds: crate::model::Few::default(),
                marks: crate::model::Flags::default(),
                netns: None,
            },
            user: port.is_multiple_of(3).then(|| "svc".into()),
            owner,
            flags: if v6 {
                [SocketFlag::DualStack].into()
            } else {
                crate::model::Flags::default()
            },
            // Some sockets with a service name (one with an odd one), a client's remote
            // service, and each Xsan verdict.
            knowledge: {
                let mut k = SocketKnowledge::default();
                match port {
                    22 => k.set_service(Some("ssh".into())),
                    53 => k.set_service(Some("dom\x1bain".into())),
                    443 => k.set_remote_service(Some("https".into())),
                    _ => {}
                }
                k.xsan = [
                    XsanVerdict::Xsan,
                    XsanVerdict::NotXsan,
                    XsanVerdict::CannotVerify,
                ]
                .get(usize::from(port % 4))
                .map(|&verdict| {
                    Box::new(XsanCheck {
                        port: XsanPort::AskedRange,
                        verdict,
                        reason: "test".into(),
                    })
                });
                k
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
            user: pid.is_multiple_of(2).then(|| "ユーザー".into()),
            uid: (!pid.is_multiple_of(3)).then_some(pid),
            exe: exe.map(str::to_string),
            cmdline: cmdline.map(|c| c.iter().map(|a| a.to_string()).collect()),
            exe_deleted: false,
            cmdline_raw: None,
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
                reason: NoneReason::NoFile,
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

    fn rendered(report: &Report, width: Option<u16>, color: bool) -> io::Result<String> {
        let mut out = Vec::new();
        Table { color, width }.render(report, &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Text without its SGR colour codes.
    fn uncoloured(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find("\x1b[") {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            rest = rest.find('m').map_or("", |m| &rest[m + 1..]);
        }
        out.push_str(rest);
        out
    }

    fn row_count(report: &Report) -> usize {
        report
            .sockets
            .iter()
            .map(|s| s.owner.processes().len().max(1))
            .sum()
    }

    #[test]
    fn one_line_per_row_essentials_whole_at_every_width() -> io::Result<()> {
        for report in reports() {
            // Verdict lines under the table (a verified one only in the audit).
            let verdicts = report
                .sockets
                .iter()
                .filter(|s| s.xsan().is_some_and(|v| v != XsanVerdict::Xsan))
                .count();
            for width in [None, Some(50), Some(80), Some(160)] {
                let text = rendered(&report, width, false)?;
                let lines: Vec<&str> = text.lines().collect();
                assert_eq!(
                    lines.len(),
                    1 + row_count(&report) + verdicts,
                    "{width:?}\n{text}"
                );
                for s in &report.sockets {
                    let local = endpoint(&s.raw.local_address, s.raw.local_port);
                    assert!(text.contains(&local), "{width:?}: {local}\n{text}");
                    assert!(text.contains(s.raw.state.as_str()), "{text}");
                    for p in s.owner.processes() {
                        assert!(text.contains(&p.pid.to_string()), "{text}");
                        let name = terminal_safe(p.name.as_deref().unwrap_or("?"));
                        assert!(text.contains(name.as_ref()), "{width:?}: {name}\n{text}");
                    }
                }
                let table = &lines[..1 + row_count(&report)];
                match width {
                    // Whole values: every command line whole.
                    None => {
                        for p in report.sockets.iter().flat_map(|s| s.owner.processes()) {
                            let mut command = String::new();
                            command_into(&mut command, p);
                            assert!(text.contains(command.trim_end()), "{command}\n{text}");
                        }
                    }
                    Some(w) => {
                        let fits = table.iter().all(|l| l.width() <= usize::from(w));
                        // Wider only when COMMAND and SERVICE are already left out.
                        assert!(
                            fits || !(lines[0].contains("COMMAND") || lines[0].contains("SERVICE")),
                            "{w}\n{text}"
                        );
                    }
                }
                // Colour changes no character.
                assert_eq!(uncoloured(&rendered(&report, width, true)?), text);
            }
        }
        // A 70,000-character command line: whole, on its one line, in a pipe.
        let wide = &reports()[2];
        let text = rendered(wide, None, false)?;
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains(&"x".repeat(70_000)));
        let fitted = rendered(wide, Some(80), false)?;
        assert!(fitted.lines().all(|l| l.width() <= 80), "{fitted}");
        Ok(())
    }

    #[test]
    fn fitting_takes_from_the_command_then_the_service() {
        // PROTO LOCAL STATE SERVICE PID PROCESS USER COMMAND, lead 1, gap 2.
        let natural = [5, 15, 11, 14, 5, 8, 8, 60];
        let (command, service) = (7, 3);
        let total = |l: &Layout| l.total();
        let wide = fit(&natural, command, service, None, None);
        assert_eq!(total(&wide), 1 + 126 + 14);
        let w100 = fit(&natural, command, service, None, Some(100));
        assert_eq!(total(&w100), 100);
        assert_eq!(w100.widths[service], Some(14));
        let w90 = fit(&natural, command, service, None, Some(90));
        assert_eq!(total(&w90), 90);
        assert_eq!(w90.widths[command], Some(12));
        assert_eq!(w90.widths[service], Some(11));
        assert_eq!(w90.widths[..3], [Some(5), Some(15), Some(11)]);
        // Narrower: one space between columns before anything is left out.
        let w80 = fit(&natural, command, service, None, Some(80));
        assert_eq!((w80.lead, w80.gap), (0, 1));
        assert_eq!(total(&w80), 80);
        assert_eq!(w80.widths[command], Some(12));
        assert_eq!(w80.widths[service], Some(9));
        let w60 = fit(&natural, command, service, None, Some(60));
        assert_eq!((w60.widths[command], w60.widths[service]), (None, None));
        assert_eq!((w60.lead, w60.gap), (0, 1));
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("日本語", 4), "日…");
        assert_eq!(shorten("abc", 4), "abc");
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
