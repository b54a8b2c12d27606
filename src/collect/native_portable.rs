//! Platforms without a fast path of their own use the portable collector.

use anyhow::{Result, bail};

use super::{Collector, ProcessSource};

pub(crate) fn collector() -> Box<dyn Collector> {
    Box::new(super::portable::Portable)
}

pub(crate) fn process_source() -> Box<dyn ProcessSource> {
    Box::new(super::details::SysinfoProcesses)
}

pub(crate) fn procfs_collector() -> Result<Box<dyn Collector>> {
    bail!("the procfs backend exists only on Linux")
}
