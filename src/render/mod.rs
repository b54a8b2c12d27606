//! Output formats, one file each behind one small trait (and `nagios`, which prints a
//! check's verdict rather than a report).

use std::io::{self, Write};

use crate::model::Report;

pub(crate) mod json;
pub(crate) mod nagios;
mod prometheus;
mod table;

pub(crate) use json::Json;
pub(crate) use prometheus::Prometheus;
pub(crate) use table::Table;

/// Writes a report in one format.
pub(crate) trait Render {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()>;
}
