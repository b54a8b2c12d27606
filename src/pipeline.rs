//! One pass through the layers: collect the sockets a query asks for (with the pids that
//! hold them), resolve their owners and the filters that need them, look up where the
//! holders live (containers, units, parents), and annotate what is known about their
//! ports. Every mode that looks at sockets goes through here.

use anyhow::{Context as _, Result, bail};

use crate::annotate::{self, Context};
use crate::collect::{Sources, context};
use crate::host::Host;
use crate::model::{Filters, NetnsScope, PortSet, Report, Socket, SocketQuery, asked_by_number};
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
    let snapshot = sources
        .sockets
        .collect_in(query, &namespaces.scope)
        .context("collecting sockets")?;
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
    if namespaces.hint && namespaces.scope == NetnsScope::Current {
        report.elsewhere = elsewhere(sources, host, query, filters, &report);
    }
    report.warnings.extend(sources.context.notes());
    let asked = asked_by_number(&filters.port_args);
    let mut ctx = Context::new(host, &asked);
    ctx.xsan_asked = xsan_asked;
    annotate::annotate(&mut report, &ctx);
    if xsan_audit {
        report.xsan = Some(annotate::xsan_audit(host.xsan(), &asked));
    }
    Ok(report)
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
        .filter(|p| p.sockets == 0)
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
    let mut found = resolve::build(snapshot, filters, sources.processes.as_ref(), host);
    context::attach(&mut found.sockets, sources.context.as_ref(), false);
    found.sockets
}
