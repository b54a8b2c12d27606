//! Output formats, one file each behind one small trait (and `nagios`, which prints a
//! check's verdict rather than a report).

use std::io::{self, Write};

use crate::model::Report;

mod json;
pub mod nagios;
mod prometheus;
mod table;

pub use json::Json;
pub use prometheus::Prometheus;
pub use table::Table;

/// Writes a report in one format.
pub trait Render {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()>;
}
