//! Platforms without a fast path of their own use the portable collector.

use anyhow::{Result, bail};

use super::{Collector, OwnerPath, ProcessSource};

pub(crate) fn collector(owners: OwnerPath, _debug: bool) -> Result<Box<dyn Collector>> {
    if owners == OwnerPath::Bpf {
        bail!("the BPF owner scan exists only on Linux");
    }
    Ok(Box::new(super::portable::Portable))
}

pub(crate) fn process_source() -> Box<dyn ProcessSource> {
    Box::new(super::details::SysinfoProcesses)
}

pub(crate) fn procfs_collector(_owners: OwnerPath, _debug: bool) -> Result<Box<dyn Collector>> {
    bail!("the procfs backend exists only on Linux")
}
