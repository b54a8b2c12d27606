//! Output formats, one file each behind one small trait.

use std::io::{self, Write};

use crate::model::Report;

mod json;
mod table;

pub use json::Json;
pub use table::Table;

/// Writes a report in one format.
pub trait Render {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()>;
}
