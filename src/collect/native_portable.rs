//! Platforms without a fast path of their own use the portable collector.

use anyhow::{Result, bail};

use super::{Collector, ProcessSource};

pub fn collector() -> Box<dyn Collector> {
    Box::new(super::portable::Portable)
}

pub fn process_source() -> Box<dyn ProcessSource> {
    Box::new(super::SysinfoProcesses)
}

pub fn procfs_collector() -> Result<Box<dyn Collector>> {
    bail!("the procfs backend exists only on Linux")
}
