//! `--json`: the stable, documented schema (docs/json.md). These structs *are* the
//! contract; the internal model may change behind them.

use std::io::{self, Write};

use serde::Serialize;

use super::Render;
use crate::annotate::range_explanation;
use crate::model::{Owner, Process, Report, Socket};

pub const SCHEMA_VERSION: u32 = 1;

pub struct Json;

#[derive(Serialize)]
pub struct JsonReport<'a> {
    pub schema_version: u32,
    pub sockets: JsonSockets<'a>,
    pub ports: Vec<JsonPort>,
    pub warnings: &'a [String],
}

/// The sockets, each turned into a [`JsonSocket`] only as it is written: a report of
/// every socket on a busy host is never held twice.
pub struct JsonSockets<'a>(pub &'a [Socket]);

impl Serialize for JsonSockets<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(JsonSocket::from_socket))
    }
}

#[derive(Serialize)]
pub struct JsonSocket<'a> {
    pub protocol: &'static str,
    pub family: &'static str,
    pub local_address: String,
    pub local_port: u16,
    pub remote_address: String,
    pub remote_port: u16,
    pub state: &'static str,
    pub uid: Option<u32>,
    pub user: Option<&'a str>,
    pub inode: Option<u64>,
    pub owner: &'static str,
    /// Why the owner is hidden or none; null when known.
    pub owner_reason: Option<&'static str>,
    pub processes: &'a [Process],
    pub flags: &'a [String],
}

#[derive(Serialize)]
pub struct JsonPort {
    pub port: u16,
    pub range: &'static str,
    pub range_description: &'static str,
    pub sockets: usize,
}

impl<'a> JsonSocket<'a> {
    pub fn from_socket(s: &'a Socket) -> JsonSocket<'a> {
        let owner_reason = match &s.owner {
            Owner::Known(_) => None,
            Owner::Hidden { reason, .. } => Some(reason.describe()),
            Owner::None { reason } => Some(reason.describe()),
        };
        JsonSocket {
            protocol: s.raw.protocol.as_str(),
            family: s.raw.family().as_str(),
            local_address: s.raw.local_address.to_string(),
            local_port: s.raw.local_port,
            remote_address: s.raw.remote_address.to_string(),
            remote_port: s.raw.remote_port,
            state: s.raw.state.as_str(),
            uid: s.raw.uid,
            user: s.user.as_deref(),
            inode: s.raw.inode,
            owner: s.owner.kind(),
            owner_reason,
            processes: s.owner.processes(),
            flags: &s.flags,
        }
    }
}

impl<'a> JsonReport<'a> {
    pub fn new(report: &'a Report) -> JsonReport<'a> {
        JsonReport {
            schema_version: SCHEMA_VERSION,
            sockets: JsonSockets(&report.sockets),
            ports: report
                .ports
                .iter()
                .map(|p| JsonPort {
                    port: p.port,
                    range: p.range.as_str(),
                    range_description: range_explanation(p.range),
                    sockets: p.sockets,
                })
                .collect(),
            warnings: &report.warnings,
        }
    }
}

impl Render for Json {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        // serde_json writes token by token; a buffer it knows the type of takes each
        // token without a dynamic call (`out` is reached once per 64 KiB).
        let mut buffered = io::BufWriter::with_capacity(64 * 1024, out);
        serde_json::to_writer_pretty(&mut buffered, &JsonReport::new(report))?;
        writeln!(buffered)?;
        buffered.flush()
    }
}
