//! `--json`: the stable, documented schema (docs/json.md). These structs *are* the
//! contract; the internal model may change behind them.

use std::io::{self, Write};

use serde::Serialize;

use super::Render;
use crate::annotate::range_explanation;
use crate::model::{
    Container, EphemeralRange, IanaEntry, NetnsInfo, Note, Owner, Process, Published, RegistryInfo,
    Report, Socket, SocketFlag, XsanAudit, XsanCheck,
};

pub(crate) const SCHEMA_VERSION: u32 = 1;

pub(crate) struct Json;

#[derive(Serialize)]
pub(crate) struct JsonReport<'a> {
    pub(crate) schema_version: u32,
    pub(crate) sockets: JsonSockets<'a>,
    pub(crate) ports: Vec<JsonPort<'a>>,
    pub(crate) warnings: &'a [String],
    /// The IANA registry copy that annotated this report.
    pub(crate) registry: Option<JsonRegistry<'a>>,
    /// This OS's ephemeral port range; null where it could not be read.
    pub(crate) ephemeral_range: Option<JsonEphemeral<'a>>,
    /// The Xsan audit (`--xsan` only; absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) xsan: Option<JsonXsanHost>,
    /// Sockets other network namespaces have on ports free in whoport's own.
    pub(crate) elsewhere: JsonSockets<'a>,
}

#[derive(Serialize)]
pub(crate) struct JsonNetns<'a> {
    pub(crate) inode: u64,
    /// Its `ip netns` name.
    pub(crate) name: Option<&'a str>,
    /// whoport's own namespace.
    pub(crate) current: bool,
}

#[derive(Serialize)]
pub(crate) struct JsonPublished {
    /// `docker-proxy`, `dockerd`, `conmon`, `rootlessport`.
    pub(crate) via: &'static str,
    /// The forwarder holding the host socket.
    pub(crate) pid: u32,
    /// Where the traffic goes inside the container, where known.
    pub(crate) container_address: Option<String>,
    pub(crate) container_port: Option<u16>,
}

#[derive(Serialize)]
pub(crate) struct JsonRegistry<'a> {
    /// `built-in` or `user`.
    pub(crate) copy: &'static str,
    pub(crate) path: Option<String>,
    pub(crate) date: Option<&'a str>,
    pub(crate) rows: usize,
}

#[derive(Serialize)]
pub(crate) struct JsonEphemeral<'a> {
    pub(crate) first: u16,
    pub(crate) last: u16,
    pub(crate) source: &'a str,
}

#[derive(Serialize)]
pub(crate) struct JsonIana<'a> {
    /// Null for Reserved and Unassigned rows.
    pub(crate) service: Option<&'a str>,
    /// Null when the row names no protocol (it applies to all).
    pub(crate) protocol: Option<&'static str>,
    pub(crate) description: &'a str,
    pub(crate) first_port: u16,
    pub(crate) last_port: u16,
}

#[derive(Serialize)]
pub(crate) struct JsonNote<'a> {
    /// `IANA`, `Apple` or `host`.
    pub(crate) source: &'static str,
    pub(crate) text: &'a str,
}

#[derive(Serialize)]
pub(crate) struct JsonXsanCheck<'a> {
    /// Why the port is an Xsan port: `server_admin`, `xsan_admin`, `fsports_window`,
    /// `alt_pmap`, `configured_range`, `asked_range`.
    pub(crate) port: &'static str,
    /// `xsan`, `not_xsan`, `cannot_verify`.
    pub(crate) verdict: &'static str,
    pub(crate) reason: &'a str,
}

#[derive(Serialize)]
pub(crate) struct JsonXsanHost {
    pub(crate) configured: bool,
    /// The directory holding fsnameservers.
    pub(crate) config_dir: Option<String>,
    /// Every configuration directory looked in.
    pub(crate) config_dirs_searched: Vec<String>,
    pub(crate) fsports: Option<JsonFsPorts>,
    /// The ports a listener must be Xsan's on: 311, 312 and the window.
    pub(crate) window: Vec<JsonPortRange>,
    pub(crate) bin_dirs: Vec<String>,
    pub(crate) alt_bin_dir: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct JsonFsPorts {
    pub(crate) path: String,
    pub(crate) min_port: u16,
    pub(crate) max_port: u16,
    pub(crate) alt_pmap: Option<u16>,
}

#[derive(Serialize)]
pub(crate) struct JsonPortRange {
    pub(crate) first: u16,
    pub(crate) last: u16,
}

/// The sockets, each turned into a [`JsonSocket`] only as it is written: a report of
/// every socket on a busy host is never held twice.
pub(crate) struct JsonSockets<'a>(pub &'a [Socket]);

impl Serialize for JsonSockets<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(JsonSocket::from_socket))
    }
}

#[derive(Serialize)]
pub(crate) struct JsonSocket<'a> {
    pub(crate) protocol: &'static str,
    pub(crate) family: &'static str,
    pub(crate) local_address: String,
    pub(crate) local_port: u16,
    pub(crate) remote_address: String,
    pub(crate) remote_port: u16,
    pub(crate) state: &'static str,
    pub(crate) uid: Option<u32>,
    pub(crate) user: Option<&'a str>,
    pub(crate) inode: Option<u64>,
    pub(crate) owner: &'static str,
    /// Why the owner is hidden or none; null when known.
    pub(crate) owner_reason: Option<&'static str>,
    pub(crate) processes: Vec<JsonProcess<'a>>,
    pub(crate) flags: crate::model::Flags,
    /// The IANA service name of the local port (null for a client's ephemeral port).
    pub(crate) service: Option<&'a str>,
    /// The IANA service name of the remote port, for a client-side socket.
    pub(crate) remote_service: Option<&'a str>,
    /// The Xsan verdict, for a TCP listener on an Xsan port; null otherwise.
    pub(crate) xsan: Option<JsonXsanCheck<'a>>,
    /// The network namespace it was found in; null when whoport looked only in its own.
    pub(crate) netns: Option<JsonNetns<'a>>,
    /// The container it lives in or is published to.
    pub(crate) container: Option<&'a Container>,
    /// How it is published to a container, when a runtime's forwarder holds it.
    pub(crate) published: Option<JsonPublished>,
    /// The `.socket` unit, when the service manager holds it (socket activation).
    pub(crate) socket_unit: Option<&'a str>,
}

#[derive(Serialize)]
pub(crate) struct JsonPort<'a> {
    pub(crate) port: u16,
    pub(crate) range: &'static str,
    pub(crate) range_description: &'static str,
    pub(crate) sockets: usize,
    /// Every IANA registry row of the port.
    pub(crate) iana: Vec<JsonIana<'a>>,
    /// What else is known, with its source.
    pub(crate) notes: Vec<JsonNote<'a>>,
    /// Whether this OS hands the port out as an ephemeral port; null when unknown.
    pub(crate) in_ephemeral_range: Option<bool>,
    /// No socket at all is on the port (any protocol, family, state) in this network
    /// namespace.
    pub(crate) free: bool,
    /// When no socket matched: the sockets on the port that the filters left out.
    pub(crate) left_out: Vec<JsonLeftOut>,
}

/// Sockets of one kind on a port that the filters left out.
#[derive(Serialize)]
pub(crate) struct JsonLeftOut {
    pub(crate) protocol: &'static str,
    pub(crate) family: &'static str,
    pub(crate) state: &'static str,
    pub(crate) sockets: usize,
}

/// A holder of a socket, with its descriptors referring to that socket.
#[derive(Serialize)]
pub(crate) struct JsonProcess<'a> {
    #[serde(flatten)]
    pub(crate) process: &'a Process,
    /// The descriptor numbers by which this process holds the socket (several for a
    /// duplicated one; empty for a connection not yet accepted); null where the
    /// platform does not say (the portable path).
    pub(crate) fds: Option<Vec<u32>>,
}

impl<'a> JsonSocket<'a> {
    pub(crate) fn from_socket(s: &'a Socket) -> JsonSocket<'a> {
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
            processes: s
                .owner
                .processes()
                .iter()
                .map(|process| JsonProcess {
                    process,
                    fds: (!s.raw.fds.is_empty()
                        || s.raw.marks.contains(&SocketFlag::AwaitingAccept))
                    .then(|| {
                        s.raw
                            .fds
                            .iter()
                            .filter(|&&(pid, _)| pid == process.pid)
                            .map(|&(_, fd)| fd)
                            .collect()
                    }),
                })
                .collect(),
            flags: s.flags,
            service: s.knowledge.service().map(|n| &**n),
            remote_service: s.knowledge.remote_service().map(|n| &**n),
            xsan: s.knowledge.xsan.as_deref().map(JsonXsanCheck::from_check),
            netns: s.context().netns.as_deref().map(netns),
            container: s.context().container.as_deref(),
            published: s.context().published.as_deref().map(published),
            socket_unit: s.context().socket_unit.as_deref(),
        }
    }
}

fn netns(n: &NetnsInfo) -> JsonNetns<'_> {
    JsonNetns {
        inode: n.inode,
        name: n.name.as_deref(),
        current: n.current,
    }
}

fn published(p: &Published) -> JsonPublished {
    JsonPublished {
        via: p.via.as_str(),
        pid: p.pid,
        container_address: p.target.and_then(|(a, _)| a).map(|a| a.to_string()),
        container_port: p.target.map(|(_, port)| port),
    }
}

impl<'a> JsonXsanCheck<'a> {
    fn from_check(c: &'a XsanCheck) -> JsonXsanCheck<'a> {
        JsonXsanCheck {
            port: c.port.as_str(),
            verdict: c.verdict.as_str(),
            reason: &c.reason,
        }
    }
}

fn iana(e: &IanaEntry) -> JsonIana<'_> {
    JsonIana {
        service: e.service.as_deref(),
        protocol: e.protocol,
        description: &e.description,
        first_port: e.first_port,
        last_port: e.last_port,
    }
}

fn note(n: &Note) -> JsonNote<'_> {
    JsonNote {
        source: n.source.as_str(),
        text: &n.text,
    }
}

fn registry(r: &RegistryInfo) -> JsonRegistry<'_> {
    JsonRegistry {
        copy: r.copy.as_str(),
        path: r.path.as_ref().map(|p| p.display().to_string()),
        date: r.date.as_deref(),
        rows: r.rows,
    }
}

fn ephemeral(e: &EphemeralRange) -> JsonEphemeral<'_> {
    JsonEphemeral {
        first: e.first,
        last: e.last,
        source: e.source,
    }
}

impl JsonXsanHost {
    pub(crate) fn new(audit: &XsanAudit) -> JsonXsanHost {
        let host = &audit.host;
        let path = |p: &std::path::Path| p.display().to_string();
        JsonXsanHost {
            configured: host.configured_in.is_some(),
            config_dir: host.configured_in.as_deref().map(path),
            config_dirs_searched: host.config_dirs.iter().map(|p| path(p)).collect(),
            fsports: host.fsports.as_ref().map(|f| JsonFsPorts {
                path: path(&f.path),
                min_port: f.min_port,
                max_port: f.max_port,
                alt_pmap: f.alt_pmap,
            }),
            window: audit
                .window
                .iter()
                .map(|&(first, last)| JsonPortRange { first, last })
                .collect(),
            bin_dirs: host.bin_dirs.iter().map(|p| path(p)).collect(),
            alt_bin_dir: host.alt_bin_dir.as_deref().map(path),
        }
    }
}

impl<'a> JsonReport<'a> {
    pub(crate) fn new(report: &'a Report) -> JsonReport<'a> {
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
                    iana: p.iana.iter().map(iana).collect(),
                    notes: p.notes.iter().map(note).collect(),
                    in_ephemeral_range: p.in_ephemeral_range,
                    free: p.is_free(),
                    left_out: p
                        .left_out
                        .iter()
                        .flatten()
                        .map(|l| JsonLeftOut {
                            protocol: l.protocol.as_str(),
                            family: l.family.as_str(),
                            state: l.state.as_str(),
                            sockets: l.sockets,
                        })
                        .collect(),
                })
                .collect(),
            warnings: &report.warnings,
            registry: report.registry.as_ref().map(registry),
            ephemeral_range: report.ephemeral.as_ref().map(ephemeral),
            xsan: report.xsan.as_ref().map(JsonXsanHost::new),
            elsewhere: JsonSockets(&report.elsewhere),
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
