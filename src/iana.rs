//! The IANA "Service Name and Transport Protocol Port Number Registry".
//!
//! The built-in copy is generated at build time (build.rs, from data/iana-registry.tsv)
//! into static arrays sorted for binary search: nothing is parsed at start-up. A user copy
//! imported from IANA's CSV (`whoport registry import`) is parsed into the same shape when
//! it exists. Lookups here are pure.

use std::borrow::Cow;

use anyhow::{Result, anyhow, bail};

use crate::model::Protocol;

/// A row's transport protocol; `Any` for rows that name none (most Unassigned ranges).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Transport {
    Any,
    Tcp,
    Udp,
    Sctp,
    Dccp,
}

impl Transport {
    /// The name IANA uses; `None` for `Any`.
    pub(crate) fn as_str(self) -> Option<&'static str> {
        match self {
            Transport::Any => None,
            Transport::Tcp => Some("tcp"),
            Transport::Udp => Some("udp"),
            Transport::Sctp => Some("sctp"),
            Transport::Dccp => Some("dccp"),
        }
    }

    /// IANA's column value (any case; empty is `Any`).
    pub(crate) fn parse(text: &str) -> Option<Transport> {
        let text = text.trim();
        if text.is_empty() {
            return Some(Transport::Any);
        }
        [
            Transport::Tcp,
            Transport::Udp,
            Transport::Sctp,
            Transport::Dccp,
        ]
        .into_iter()
        .find(|t| t.as_str().is_some_and(|n| n.eq_ignore_ascii_case(text)))
    }
}

impl From<Protocol> for Transport {
    fn from(p: Protocol) -> Transport {
        match p {
            // MPTCP uses TCP's port numbers, UDP-Lite UDP's (IANA registers neither).
            Protocol::Tcp | Protocol::Mptcp => Transport::Tcp,
            Protocol::Udp | Protocol::UdpLite => Transport::Udp,
        }
    }
}

/// Text of the registry: a slice of the built-in string table, or owned (a user's copy).
/// The built-in tables hold offsets rather than pointers, so that they need no relocation
/// when whoport starts: pointers in static data are fixed up, and so paged in, at every
/// start, which for 14,000 rows cost over a megabyte of memory.
#[derive(Clone, Debug)]
pub(crate) enum Text {
    Builtin { at: u32, len: u32 },
    Owned(String),
}

impl Text {
    pub(crate) const fn builtin(at: u32, len: u32) -> Text {
        Text::Builtin { at, len }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Text::Builtin { at, len } => {
                let (at, len) = (*at as usize, *len as usize);
                builtin::STRINGS.get(at..at + len).unwrap_or("")
            }
            Text::Owned(s) => s,
        }
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

/// One registry row: a service name (possibly none: Reserved, Unassigned) on a port or an
/// inclusive range of ports (possibly none: DNS-SD names) for a protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) ports: Option<(u16, u16)>,
    pub(crate) transport: Transport,
    /// Empty when the row assigns no name.
    pub(crate) name: Text,
    /// IANA's text; later lines hold IANA's notes (e.g. which alias replaced which).
    pub(crate) description: Text,
}

impl Row {
    pub(crate) const fn builtin(
        ports: Option<(u16, u16)>,
        transport: Transport,
        name: Text,
        description: Text,
    ) -> Row {
        Row {
            ports,
            transport,
            name,
            description,
        }
    }

    /// The service name, if the row assigns one.
    pub(crate) fn service(&self) -> Option<&str> {
        (!self.name.is_empty()).then_some(&*self.name)
    }

    /// The first line of the description.
    #[cfg(test)]
    fn summary(&self) -> &str {
        self.description.lines().next().unwrap_or("")
    }

    /// Whether the row applies to sockets of this protocol.
    pub(crate) fn applies_to(&self, t: Transport) -> bool {
        self.transport == t || self.transport == Transport::Any
    }

    fn contains(&self, port: u16) -> bool {
        self.ports.is_some_and(|(a, b)| a <= port && port <= b)
    }

    fn order(&self) -> (u8, u16, u16) {
        match self.ports {
            Some((a, b)) if a == b => (0, a, b),
            Some((a, b)) => (1, a, b),
            None => (2, 0, 0),
        }
    }
}

/// A service name, lower-cased (IANA's names are case-insensitive), and its row.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct NameEntry {
    key: Text,
    row: usize,
}

impl NameEntry {
    pub(crate) const fn builtin(key: Text, row: usize) -> NameEntry {
        NameEntry { key, row }
    }
}

mod builtin {
    use super::{NameEntry, Row, Text, Transport};
    include!(concat!(env!("OUT_DIR"), "/iana_builtin.rs"));
}

/// Which copy of the registry this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Copy {
    /// The copy built into whoport.
    BuiltIn {
        /// When scripts/gen-iana.py made it.
        generated: &'static str,
        /// The npm packages it was made from, with versions, licences and dates.
        sources: &'static [&'static str],
    },
    /// A copy of IANA's CSV the user imported.
    User {
        path: std::path::PathBuf,
        /// The newest registration or modification date in it.
        newest_date: Option<String>,
    },
}

/// Row counts of a registry copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stats {
    pub(crate) rows: usize,
    pub(crate) single_ports: usize,
    pub(crate) ranges: usize,
    pub(crate) without_port: usize,
    pub(crate) names: usize,
}

/// Why a service name gives no port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NameError {
    /// Not in the registry; the closest names.
    Unknown { suggestions: Vec<String> },
    /// Registered without a port number (a DNS-SD service type such as `xsanclient`).
    NoPort,
}

#[derive(Clone, Debug)]
pub(crate) struct Registry {
    copy: Copy,
    /// Single ports by port, then ranges by first and last port, then rows without a port.
    rows: Cow<'static, [Row]>,
    singles_end: usize,
    ports_end: usize,
    /// The first port of each row up to `ports_end`: what lookups search.
    firsts: Cow<'static, [u16]>,
    /// The most ports one range spans, less one: a range around a port starts at most
    /// this far below it (IANA's span a few hundred at most, so few are looked at).
    widest: u16,
    names: Cow<'static, [NameEntry]>,
}

/// The most ports a range of `ranges` spans, less one.
fn widest(ranges: &[Row]) -> u16 {
    ranges
        .iter()
        .filter_map(|r| r.ports.map(|(a, b)| b.saturating_sub(a)))
        .max()
        .unwrap_or(0)
}

impl Registry {
    /// The copy built into the binary: static arrays, nothing to parse.
    pub(crate) fn builtin() -> Registry {
        let rows = &builtin::ROWS[..];
        Registry {
            widest: widest(&rows[builtin::SINGLES_END..builtin::PORTS_END]),
            firsts: Cow::Borrowed(&builtin::FIRSTS[..]),
            copy: Copy::BuiltIn {
                generated: builtin::GENERATED,
                sources: builtin::SOURCES,
            },
            rows: Cow::Borrowed(&builtin::ROWS[..]),
            singles_end: builtin::SINGLES_END,
            ports_end: builtin::PORTS_END,
            names: Cow::Borrowed(&builtin::NAMES[..]),
        }
    }

    /// A registry from rows in any order (the same order and index build.rs makes).
    pub(crate) fn from_rows(mut rows: Vec<Row>, copy: Copy) -> Registry {
        rows.sort_by_key(Row::order);
        let singles_end = rows.partition_point(|r| r.order().0 == 0);
        let ports_end = rows.partition_point(|r| r.order().0 <= 1);
        let widest = widest(&rows[singles_end..ports_end]);
        let firsts: Vec<u16> = rows[..ports_end]
            .iter()
            .map(|r| r.ports.map_or(0, |(a, _)| a))
            .collect();
        let mut names: Vec<NameEntry> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.name.is_empty())
            .map(|(row, r)| NameEntry {
                key: Text::Owned(r.name.to_lowercase()),
                row,
            })
            .collect();
        names.sort();
        Registry {
            copy,
            rows: Cow::Owned(rows),
            singles_end,
            ports_end,
            widest,
            firsts: Cow::Owned(firsts),
            names: Cow::Owned(names),
        }
    }

    pub(crate) fn copy(&self) -> &Copy {
        &self.copy
    }

    pub(crate) fn rows(&self) -> &[Row] {
        &self.rows
    }

    pub(crate) fn stats(&self) -> Stats {
        let mut distinct = 0;
        let mut last: Option<&str> = None;
        for n in self.names.iter() {
            if last != Some(&n.key) {
                distinct += 1;
                last = Some(&n.key);
            }
        }
        Stats {
            rows: self.rows.len(),
            single_ports: self.singles_end,
            ranges: self.ports_end - self.singles_end,
            without_port: self.rows.len() - self.ports_end,
            names: distinct,
        }
    }

    /// Every row of a port, any protocol: its single-port rows in registry order, then
    /// the ranges around it.
    pub(crate) fn at(&self, port: u16) -> Vec<&Row> {
        self.rows_at(port).collect()
    }

    /// [`Registry::at`], one row at a time.
    fn rows_at(&self, port: u16) -> impl Iterator<Item = &Row> {
        // Searched by first port alone (`firsts`), so that only the rows found are read.
        let firsts = &self.firsts[..self.singles_end];
        let start = firsts.partition_point(|&a| a < port);
        let stop = start + firsts[start..].partition_point(|&a| a == port);
        let singles = self.rows[start..stop].iter();
        // Ranges are sorted by first port: those around the port start no further below
        // it than the widest range spans.
        let firsts = &self.firsts[self.singles_end..self.ports_end];
        let end = firsts.partition_point(|&a| a <= port);
        let lowest = port.saturating_sub(self.widest);
        let begin = firsts[..end].partition_point(|&a| a < lowest);
        let ranges = &self.rows[self.singles_end + begin..self.singles_end + end];
        singles.chain(ranges.iter().filter(move |r| r.contains(port)))
    }

    /// The rows of a port that apply to one protocol.
    #[cfg(test)]
    pub(crate) fn for_port(&self, port: u16, t: Transport) -> Vec<&Row> {
        let mut rows = self.at(port);
        rows.retain(|r| r.applies_to(t));
        rows
    }

    /// The first service name registered for a port and protocol.
    pub(crate) fn service_name(&self, port: u16, t: Transport) -> Option<&str> {
        self.rows_at(port)
            .filter(|r| r.applies_to(t))
            .find_map(Row::service)
    }

    /// Every row with this service name (any case).
    pub(crate) fn named(&self, name: &str) -> impl Iterator<Item = &Row> {
        let key = name.to_lowercase();
        let start = self.names.partition_point(|n| *n.key < *key);
        self.names[start..]
            .iter()
            .take_while(move |n| *n.key == *key)
            .filter_map(|n| self.rows.get(n.row))
    }

    /// The ports of a service name, sorted, without repeats: `(first, last)` each.
    pub(crate) fn ports_for(&self, name: &str) -> Result<Vec<(u16, u16)>, NameError> {
        let mut any = false;
        let mut ports: Vec<(u16, u16)> = self
            .named(name)
            .inspect(|_| any = true)
            .filter_map(|r| r.ports)
            .collect();
        ports.sort_unstable();
        ports.dedup();
        match (any, ports.is_empty()) {
            (false, _) => Err(NameError::Unknown {
                suggestions: self.suggest(name),
            }),
            (true, true) => Err(NameError::NoPort),
            (true, false) => Ok(ports),
        }
    }

    /// Up to five registered names closest to a name that is not one.
    pub(crate) fn suggest(&self, name: &str) -> Vec<String> {
        let query = name.to_lowercase();
        let limit = (query.chars().count() / 3).max(1);
        let mut scored: Vec<(usize, &NameEntry)> = Vec::new();
        let mut last: Option<&str> = None;
        for n in self.names.iter() {
            if last == Some(&n.key) {
                continue;
            }
            last = Some(&n.key);
            let distance = strsim::damerau_levenshtein(&query, &n.key);
            let prefix = query.len() >= 3 && n.key.starts_with(&query);
            if distance <= limit || prefix {
                scored.push((
                    if prefix {
                        distance.min(limit)
                    } else {
                        distance
                    },
                    n,
                ));
            }
        }
        scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.key.cmp(&b.1.key)));
        scored
            .into_iter()
            .take(5)
            .filter_map(|(_, n)| self.rows.get(n.row).map(|r| r.name.to_string()))
            .collect()
    }
}

/// The columns of IANA's CSV that whoport reads, in IANA's order.
const CSV_HEADER: [&str; 4] = [
    "service name",
    "port number",
    "transport protocol",
    "description",
];

/// Parses IANA's CSV (service-names-port-numbers.csv): the rows, and the newest
/// registration or modification date in it. Every problem names its line.
pub(crate) fn parse_csv(data: &[u8]) -> Result<(Vec<Row>, Option<String>)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut rows = Vec::new();
    let mut newest: Option<String> = None;
    let mut header_seen = false;
    let mut last_line = 0;
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            anyhow!("line {line}: {}", csv_error_text(&e))
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        last_line = line;
        if !header_seen {
            let found: Vec<String> = record
                .iter()
                .take(4)
                .map(|f| f.trim().trim_start_matches('\u{feff}').to_lowercase())
                .collect();
            if found != CSV_HEADER {
                bail!(
                    "line {line}: not IANA's service-names-port-numbers CSV: the first line \
                     must start with the columns Service Name, Port Number, Transport \
                     Protocol, Description"
                );
            }
            header_seen = true;
            continue;
        }
        if record.len() < 4 {
            bail!(
                "line {line}: expected at least 4 fields (Service Name, Port Number, \
                 Transport Protocol, Description), found {}",
                record.len()
            );
        }
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let ports = parse_ports(field(1)).ok_or_else(|| {
            anyhow!(
                "line {line}: invalid port number {:?}: expected a number or a range \
                 from 0 to 65535",
                field(1)
            )
        })?;
        let transport = Transport::parse(field(2)).ok_or_else(|| {
            anyhow!(
                "line {line}: unknown transport protocol {:?}: expected tcp, udp, sctp, \
                 dccp or nothing",
                field(2)
            )
        })?;
        let name = field(0);
        if name.is_empty() && ports.is_none() {
            bail!("line {line}: the row has neither a service name nor a port number");
        }
        for i in [6, 7] {
            let date = field(i);
            if is_iso_date(date) && newest.as_deref().is_none_or(|n| n < date) {
                newest = Some(date.to_string());
            }
        }
        rows.push(Row {
            ports,
            transport,
            name: Text::Owned(name.to_string()),
            description: Text::Owned(clean_description(field(3))),
        });
    }
    if !header_seen {
        bail!("line 1: the file is empty, not IANA's service-names-port-numbers CSV");
    }
    // A quoted field left open swallows the rest of the file without a CSV error: in a
    // well-formed file quotes come in pairs (opening, closing, doubled inside).
    if data.iter().filter(|&&b| b == b'"').count() % 2 == 1 {
        bail!(
            "line {last_line}: a quoted field is never closed (unbalanced double quotes \
             from this row on)"
        );
    }
    if rows.is_empty() {
        bail!("the file has a header but no registry rows");
    }
    Ok((rows, newest))
}

fn csv_error_text(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_string(),
        _ => e.to_string(),
    }
}

/// `""` (no port), `"22"` or `"6000-6063"`; `None` when malformed. The outer `Option` is
/// the parse result, the inner one the row's port.
fn parse_ports(text: &str) -> Option<Option<(u16, u16)>> {
    if text.is_empty() {
        return Some(None);
    }
    let number = |s: &str| -> Option<u16> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (a, b) = match text.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => {
            let a = number(text)?;
            (a, a)
        }
    };
    (a <= b).then_some(Some((a, b)))
}

fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// IANA's description as the generator keeps it: each line's spaces collapsed, empty
/// lines dropped.
pub(crate) fn clean_description(text: &str) -> String {
    let clean = |w: &[u8]| {
        w.first().is_none_or(|b| !b.is_ascii_whitespace())
            && w.last().is_none_or(|b| !b.is_ascii_whitespace())
            && !w
                .windows(2)
                .any(|p| p[0].is_ascii_whitespace() && (p[0] != b' ' || p[1] == b' '))
    };
    if text.is_ascii() && clean(text.as_bytes()) {
        return text.to_string();
    }
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(rows: &[&Row]) -> Vec<String> {
        rows.iter()
            .map(|r| {
                format!(
                    "{}/{}",
                    if r.name.is_empty() {
                        format!("({})", r.summary())
                    } else {
                        r.name.to_string()
                    },
                    r.transport.as_str().unwrap_or("any")
                )
            })
            .collect()
    }

    #[test]
    fn rows_around_a_port_are_every_range_that_holds_it() {
        let builtin = Registry::builtin();
        let rebuilt = Registry::from_rows(builtin.rows().to_vec(), builtin.copy().clone());
        for reg in [builtin, rebuilt] {
            rows_at_every_port(&reg);
        }
    }

    fn rows_at_every_port(reg: &Registry) {
        let ranges = &reg.rows[reg.singles_end..reg.ports_end];
        assert!(reg.widest > 0);
        for port in (0..=u16::MAX).step_by(7).chain([u16::MAX]) {
            let singles = reg.rows[..reg.singles_end]
                .iter()
                .filter(|r| r.contains(port));
            let every: Vec<&Row> = singles
                .chain(ranges.iter().filter(|r| r.contains(port)))
                .collect();
            let found = reg.at(port);
            assert!(
                found.len() == every.len()
                    && found.iter().zip(&every).all(|(a, b)| std::ptr::eq(*a, *b)),
                "{port}"
            );
        }
    }

    #[test]
    fn port_lookups() {
        let reg = Registry::builtin();
        let cases: &[(u16, Transport, &[&str])] = &[
            (22, Transport::Tcp, &["ssh/tcp"]),
            (22, Transport::Udp, &["ssh/udp"]),
            (22, Transport::Sctp, &["ssh/sctp"]),
            // Several names on one port and protocol, in the registry's order.
            (80, Transport::Tcp, &["http/tcp", "www/tcp", "www-http/tcp"]),
            (625, Transport::Tcp, &["dec-dlm/tcp", "dec_dlm/tcp"]),
            // Ranges: first, inside, last, and just past.
            (6000, Transport::Tcp, &["x11/tcp"]),
            (6031, Transport::Udp, &["x11/udp"]),
            (6063, Transport::Tcp, &["x11/tcp"]),
            (4250, Transport::Udp, &["vrml-multi-use/any"]),
            // Protocols differ: IMAP kept TCP and gave UDP back.
            (143, Transport::Tcp, &["imap/tcp"]),
            (143, Transport::Udp, &["(Reserved)/udp"]),
            (49000, Transport::Tcp, &["matahari/tcp"]),
            (49000, Transport::Udp, &["(Reserved)/udp"]),
            // Apple's ports as IANA has them.
            (311, Transport::Tcp, &["asip-webadmin/tcp"]),
            (312, Transport::Tcp, &["vslmp/tcp"]),
            (626, Transport::Udp, &["asia/udp"]),
            // Reserved, Unassigned (a range without protocol), nothing (dynamic).
            (0, Transport::Tcp, &["(Reserved)/tcp"]),
            (275, Transport::Tcp, &["(Unassigned)/any"]),
            (285, Transport::Udp, &["(Unassigned)/any"]),
            (60322, Transport::Tcp, &[]),
            (60767, Transport::Tcp, &[]),
            (63146, Transport::Tcp, &[]),
            (65535, Transport::Udp, &[]),
            // Newer assignments (from port-numbers) over older Unassigned rows.
            (853, Transport::Tcp, &["domain-s/tcp"]),
            (853, Transport::Udp, &["domain-s/udp"]),
        ];
        for (port, t, want) in cases {
            assert_eq!(names(&reg.for_port(*port, *t)), *want, "{port}/{t:?}");
        }
        assert_eq!(reg.service_name(80, Transport::Tcp), Some("http"));
        assert_eq!(reg.service_name(143, Transport::Udp), None);
        assert_eq!(reg.service_name(6010, Transport::Tcp), Some("x11"));
        // No row of the registry lies in the dynamic range.
        assert!(
            reg.rows()
                .iter()
                .all(|r| r.ports.is_none_or(|(_, b)| b <= 49151))
        );
    }

    #[test]
    fn name_lookups() {
        let reg = Registry::builtin();
        let ok: &[(&str, &[(u16, u16)])] = &[
            ("ssh", &[(22, 22)]),
            ("SSH", &[(22, 22)]),
            ("http", &[(80, 80)]),
            ("www-http", &[(80, 80)]),
            ("https", &[(443, 443)]),
            ("x11", &[(6000, 6063)]),
            ("dec-dlm", &[(625, 625)]),
            ("dec_dlm", &[(625, 625)]),
            ("domain", &[(53, 53)]),
            ("asip-webadmin", &[(311, 311)]),
        ];
        for (name, want) in ok {
            assert_eq!(reg.ports_for(name).as_deref(), Ok(*want), "{name}");
        }
        assert_eq!(reg.ports_for("xsanclient"), Err(NameError::NoPort));
        match reg.ports_for("sshh") {
            Err(NameError::Unknown { suggestions }) => {
                assert!(suggestions.iter().any(|s| s == "ssh"), "{suggestions:?}")
            }
            other => panic!("sshh: {other:?}"),
        }
        match reg.ports_for("htpt") {
            Err(NameError::Unknown { suggestions }) => {
                assert!(suggestions.iter().any(|s| s == "http"), "{suggestions:?}")
            }
            other => panic!("htpt: {other:?}"),
        }
        assert!(matches!(
            reg.ports_for("no-such-service-anywhere"),
            Err(NameError::Unknown { .. })
        ));
    }

    #[test]
    fn builtin_copy_is_whole_and_sorted() {
        let reg = Registry::builtin();
        let stats = reg.stats();
        // The whole registry, not a curated subset like /etc/services.
        assert!(stats.rows > 14_000, "{stats:?}");
        assert!(stats.ranges > 700 && stats.without_port > 800, "{stats:?}");
        assert!(stats.names > 7_000, "{stats:?}");
        assert!(reg.rows().windows(2).all(|w| w[0].order() <= w[1].order()));
        // The static index is the one `from_rows` builds from the same rows.
        let rebuilt = Registry::from_rows(reg.rows().to_vec(), reg.copy().clone());
        assert_eq!(rebuilt.rows(), reg.rows());
        assert_eq!(rebuilt.names, reg.names);
        assert_eq!(rebuilt.stats(), stats);
        let Copy::BuiltIn { generated, sources } = reg.copy() else {
            panic!("not the built-in copy");
        };
        assert_eq!(generated.len(), 10);
        assert!(
            sources
                .iter()
                .any(|s| s.starts_with("service-names-port-numbers 2.0.0"))
        );
        assert!(sources.iter().any(|s| s.starts_with("port-numbers ")));
    }

    const GOOD: &str = "\
Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes
,0,tcp,Reserved,[Jon_Postel],[Jon_Postel],,,,,,
ssh,22,tcp,The Secure Shell (SSH) Protocol,,,,,[RFC4251],,,Defined TXT keys: u=<username> p=<password>
ssh,22,udp,The Secure Shell (SSH) Protocol,,,,,[RFC4251],,,
dec-dlm,625,tcp,\"DEC DLM
IANA assigned this well-formed service name as a replacement for \"\"dec_dlm\"\".\",[Rudi_Martin],[Rudi_Martin],,2024-02-03,,,,
dec_dlm,625,tcp,DEC DLM,[Rudi_Martin],[Rudi_Martin],,,,,,This entry is an alias to \"dec-dlm\".
x11,6000-6063,tcp,\"X Window System, all displays\",[Stephen_Gildea],[Stephen_Gildea],,,,,,
,6064-6065,,Unassigned,,,,,,,,
xsanclient,,tcp,\"Xsan Client\",,,2019-05-02,,,,,
";

    #[test]
    fn csv_import_good_file() -> Result<()> {
        let (rows, newest) = parse_csv(GOOD.as_bytes())?;
        assert_eq!(rows.len(), 8);
        assert_eq!(newest.as_deref(), Some("2024-02-03"));
        let reg = Registry::from_rows(
            rows,
            Copy::User {
                path: "x.csv".into(),
                newest_date: newest,
            },
        );
        assert_eq!(
            names(&reg.for_port(625, Transport::Tcp)),
            ["dec-dlm/tcp", "dec_dlm/tcp"]
        );
        let dlm = reg.for_port(625, Transport::Tcp);
        assert_eq!(dlm[0].summary(), "DEC DLM");
        assert!(dlm[0].description.contains("replacement for \"dec_dlm\""));
        assert_eq!(
            reg.for_port(6010, Transport::Tcp)[0].summary(),
            "X Window System, all displays"
        );
        assert_eq!(
            names(&reg.for_port(6065, Transport::Udp)),
            ["(Unassigned)/any"]
        );
        assert_eq!(reg.ports_for("X11"), Ok(vec![(6000, 6063)]));
        assert_eq!(reg.ports_for("xsanclient"), Err(NameError::NoPort));
        let stats = reg.stats();
        assert_eq!(
            (
                stats.rows,
                stats.single_ports,
                stats.ranges,
                stats.without_port,
                stats.names
            ),
            (8, 5, 2, 1, 5)
        );
        Ok(())
    }

    #[test]
    fn csv_import_names_the_bad_line() {
        let header = GOOD.lines().next().unwrap_or_default();
        // (file, the line the error must name, a word it must say)
        let cases: &[(String, usize, &str)] = &[
            (String::new(), 1, "empty"),
            ("name,port\nssh,22\n".to_string(), 1, "Service Name"),
            (format!("{header}\n"), 0, "no registry rows"),
            (
                format!("{header}\nssh,22,tcp,SSH\nbad,70000,tcp,x\n"),
                3,
                "70000",
            ),
            (
                format!("{header}\nssh,22,tcp,SSH\nbad,9-3,tcp,x\n"),
                3,
                "9-3",
            ),
            (format!("{header}\nbad,22a,tcp,x\n"), 2, "22a"),
            (format!("{header}\nbad,-22,tcp,x\n"), 2, "-22"),
            (format!("{header}\nbad,22,tcpp,x\n"), 2, "tcpp"),
            (format!("{header}\nbad,22,tcp\n"), 2, "at least 4 fields"),
            (format!("{header}\n,,tcp,nothing\n"), 2, "neither"),
            // A quoted description over two lines: the next row is line 5, not 4.
            (
                format!("{header}\nok,1,tcp,\"two\nlines\"\nok,2,udp,x\nbad,x,udp,y\n"),
                5,
                "\"x\"",
            ),
            (
                format!("{header}\nok,1,tcp,x\nok,2,tcp,\"never closed\nok,3,udp,x\n"),
                3,
                "never closed",
            ),
        ];
        for (text, line, word) in cases {
            let err = match parse_csv(text.as_bytes()) {
                Err(e) => format!("{e:#}"),
                Ok(rows) => panic!("accepted {text:?}: {rows:?}"),
            };
            if *line > 0 {
                assert!(err.starts_with(&format!("line {line}: ")), "{err}");
            }
            assert!(err.contains(word), "{err:?} does not say {word:?}");
            assert!(!err.contains('\n'), "{err:?}");
        }
        // Not UTF-8.
        let mut bytes = format!("{header}\nok,1,tcp,x\n").into_bytes();
        bytes.extend_from_slice(b"bad,2,tcp,\xff\xfe\n");
        let err = parse_csv(&bytes).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("line 3: not valid UTF-8"));
    }

    #[test]
    fn descriptions_are_cleaned_like_the_generator_does() {
        assert_eq!(
            clean_description("  DEC   DLM \n\n  IANA note  "),
            "DEC DLM\nIANA note"
        );
        assert_eq!(clean_description(""), "");
    }
}
