//! One pass through the layers: collect the sockets a query asks for (with the pids that
//! hold them), resolve their owners and the filters that need them, and annotate what is
//! known about their ports. Every mode that looks at sockets goes through here.

use anyhow::{Context as _, Result};

use crate::annotate::{self, Context};
use crate::collect::Sources;
use crate::host::Host;
use crate::model::{Filters, Report, SocketQuery, asked_by_number};
use crate::resolve;

/// The annotated report for a query and its filters. With `xsan_audit`, the report also
/// carries the Xsan audit view.
pub(crate) fn report(
    sources: &Sources,
    host: &dyn Host,
    query: &SocketQuery,
    filters: &Filters,
    xsan_audit: bool,
) -> Result<Report> {
    let snapshot = sources
        .sockets
        .collect(query)
        .context("collecting sockets")?;
    let mut report = resolve::build(snapshot, filters, sources.processes.as_ref(), host);
    let asked = asked_by_number(&filters.port_args);
    annotate::annotate(&mut report, &Context::new(host, &asked));
    if xsan_audit {
        report.xsan = Some(annotate::xsan_audit(host.xsan(), &asked));
    }
    Ok(report)
}
