//! One pass through the layers: collect the sockets a query asks for (with the pids that
//! hold them), resolve their owners and the filters that need them, and annotate what is
//! known about their ports. Every mode that looks at sockets goes through here.

use anyhow::{Context as _, Result, bail};

use crate::annotate::{self, Context};
use crate::collect::Sources;
use crate::host::Host;
use crate::model::{Filters, Report, SocketQuery, asked_by_number};
use crate::resolve;

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
) -> Result<Report> {
    let snapshot = sources
        .sockets
        .collect(query)
        .context("collecting sockets")?;
    let mut report = resolve::build(snapshot, filters, sources.processes.as_ref(), host);
    if let Some(pid) = filters.pid
        && report.sockets.is_empty()
        && !sources.processes.exists(pid)
    {
        bail!("no process with pid {pid} (--pid {pid})");
    }
    let asked = asked_by_number(&filters.port_args);
    let mut ctx = Context::new(host, &asked);
    ctx.xsan_asked = xsan_asked;
    annotate::annotate(&mut report, &ctx);
    if xsan_audit {
        report.xsan = Some(annotate::xsan_audit(host.xsan(), &asked));
    }
    Ok(report)
}
