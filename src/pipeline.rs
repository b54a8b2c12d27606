//! One pass through the layers: collect the sockets a query asks for (with the pids that
//! hold them), resolve their owners and the filters that need them, look up where the
//! holders live (containers, units, parents), and annotate what is known about their
//! ports. Every mode that looks at sockets goes through here.

use anyhow::{Context as _, Result, bail};

use crate::annotate::{self, Context};
use crate::collect::{Sources, context};
use crate::host::Host;
use std::collections::BTreeMap;

use crate::model::{
    Family, Filters, LeftOut, NetnsScope, Note, NoteSource, PortSet, Protocol, Report, Socket,
    SocketQuery, State, asked_by_number, endpoint,
};
use crate::resolve;

/// Which network namespaces a pass looks in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Namespaces {
    /// `--netns`.
    pub(crate) scope: NetnsScope,
    /// When a port asked about is free in whoport's namespace, look for it in the others
    /// (`Report::elsewhere`; root only, and only then is any other namespace looked at).
    pub(crate) hint: bool,
}

/// The annotated report for a query and its filters. With `xsan_audit`, the report also
/// carries the Xsan audit view; `xsan_asked` (the audit, `--expect xsan`, `--warn-on
/// xsan-conflict`) raises the Xsan alarm also where Xsan is not configured.
pub(crate) fn report(
    sources: &Sources,
    host: &dyn Host,
    query: &SocketQuery,
    filters: &Filters,
    xsan_audit: bool,
    xsan_asked: bool,
    namespaces: &Namespaces,
) -> Result<Report> {
    let hint = namespaces.hint && namespaces.scope == NetnsScope::Current;
    // Asked about ports, the hint may follow: the other namespaces are found meanwhile.
    if hint && !filters.port_args.is_empty() {
        sources.sockets.look_ahead_to_others();
    }
    let mut snapshot = sources
        .sockets
        .collect_in(query, &namespaces.scope)
        .context("collecting sockets")?;
    sources.context.adopt(std::mem::take(&mut snapshot.cgroups));
    let mut report = resolve::build(snapshot, filters, sources.processes.as_ref(), host);
    if let Some(pid) = filters.pid
        && report.sockets.is_empty()
        && !sources.processes.exists(pid)
    {
        bail!("no process with pid {pid} (--pid {pid})");
    }
    report.netns_scope = namespaces.scope.clone();
    // Parents only for the holders of ports asked about: the detail lines are theirs.
    let detail = !filters.port_args.is_empty();
    context::attach(&mut report.sockets, sources.context.as_ref(), detail);
    let asked = asked_by_number(&filters.port_args);
    let mut ctx = Context::new(host, &asked);
    ctx.xsan_asked = xsan_asked;
    annotate::annotate(&mut report, &ctx);
    explain_ipv4(&mut report, query);
    look_around(sources, query, filters, &namespaces.scope, &mut report)?;
    // Once it is known which ports are free (no socket at all, not just none the filters
    // let through): the hint is for those.
    if hint {
        report.elsewhere = elsewhere(sources, host, query, filters, &report);
    }
    report.warnings.extend(sources.context.notes());
    if xsan_audit {
        report.xsan = Some(annotate::xsan_audit(host.xsan(), &asked));
    }
    Ok(report)
}

/// Says why `-4` lists an IPv6 socket: it accepts IPv4, so an IPv4 bind to its port fails.
fn explain_ipv4(report: &mut Report, query: &SocketQuery) {
    for s in &report.sockets {
        if !query.only_as_ipv4(&s.raw) {
            continue;
        }
        let at = endpoint(&s.raw.local_address, s.raw.local_port);
        let why = if s.raw.is_ipv4_mapped() {
            "is an IPv6 socket bound to an IPv4-mapped address: it accepts IPv4 only"
        } else if s.raw.v6only == Some(false) {
            "is an IPv6 socket with IPV6_V6ONLY off: it accepts IPv4 too"
        } else {
            "is an IPv6 wildcard socket that may accept IPv4 too (whether IPV6_V6ONLY is \
             on is not known on this collection path; Linux's default is off)"
        };
        let text = format!(
            "{at}/{} {why}, so -4 lists it (an IPv4 bind to port {} fails with EADDRINUSE)",
            s.raw.protocol, s.raw.local_port
        );
        if let Some(port) = report.ports.iter_mut().find(|p| p.port == s.raw.local_port) {
            port.notes.push(Note {
                source: NoteSource::Host,
                text,
            });
        }
    }
}

/// For each port asked about where no socket matched, what is on it that the filters
/// left out (nothing: the port is free). Only the filters' absence makes "no socket"
/// mean "free".
fn look_around(
    sources: &Sources,
    query: &SocketQuery,
    filters: &Filters,
    scope: &NetnsScope,
    report: &mut Report,
) -> Result<()> {
    let empty: Vec<u16> = report
        .ports
        .iter()
        .filter(|p| p.sockets == 0)
        .map(|p| p.port)
        .collect();
    if empty.is_empty() {
        return Ok(());
    }
    let mut all = Vec::new();
    if !(query.is_widest() && filters.pid.is_none() && filters.user.is_none()) {
        let wide = SocketQuery {
            ports: Some(PortSet::new(empty.iter().map(|&p| (p, p)).collect())),
            tcp: true,
            udp: true,
            ipv4: true,
            ipv6: true,
            listening_only: false,
            owners: false,
        };
        all = sources
            .sockets
            .collect_in(&wide, scope)
            .context("looking for sockets the filters left out")?
            .sockets;
    }
    for port in report.ports.iter_mut().filter(|p| p.sockets == 0) {
        let mut counts: BTreeMap<(Protocol, Family, State), usize> = BTreeMap::new();
        for s in all.iter().filter(|s| s.local_port == port.port) {
            *counts.entry((s.protocol, s.family(), s.state)).or_default() += 1;
        }
        // `-6` left out IPv4 listeners: an IPv6 bind that accepts IPv4 too (the default)
        // collides with them all the same.
        let ipv4_held = all
            .iter()
            .filter(|s| {
                s.local_port == port.port
                    && s.family() == Family::Ipv4
                    && s.protocol.base() == Protocol::Tcp
                    && s.state == State::Listen
            })
            .count();
        if query.ipv6 && !query.ipv4 && ipv4_held > 0 {
            port.notes.push(Note {
                source: NoteSource::Host,
                text: format!(
                    "-6 left out {ipv4_held} IPv4 TCP listener{} on port {}: an IPv6 wildcard \
                     bind that accepts IPv4 too (IPV6_V6ONLY off, Linux's default) fails there \
                     with EADDRINUSE; one with IPV6_V6ONLY on does not",
                    if ipv4_held == 1 { "" } else { "s" },
                    port.port
                ),
            });
        }
        port.left_out = Some(
            counts
                .into_iter()
                .map(|((protocol, family, state), sockets)| LeftOut {
                    protocol,
                    family,
                    state,
                    sockets,
                })
                .collect(),
        );
    }
    Ok(())
}

/// The sockets other network namespaces have on the ports asked about that are free in
/// whoport's own. Best effort: a failure here only leaves the hint out.
fn elsewhere(
    sources: &Sources,
    host: &dyn Host,
    query: &SocketQuery,
    filters: &Filters,
    report: &Report,
) -> Vec<Socket> {
    let free: Vec<(u16, u16)> = report
        .ports
        .iter()
        .filter(|p| p.is_free())
        .map(|p| (p.port, p.port))
        .collect();
    if free.is_empty() {
        return Vec::new();
    }
    let query = SocketQuery {
        ports: Some(PortSet::new(free)),
        ..query.clone()
    };
    let Ok(snapshot) = sources.sockets.collect_in(&query, &NetnsScope::Others) else {
        return Vec::new();
    };
    if snapshot.sockets.is_empty() {
        return Vec::new();
    }
    let mut snapshot = snapshot;
    sources.context.adopt(std::mem::take(&mut snapshot.cgroups));
    let mut found = resolve::build(snapshot, filters, sources.processes.as_ref(), host);
    context::attach(&mut found.sockets, sources.context.as_ref(), false);
    found.sockets
}
