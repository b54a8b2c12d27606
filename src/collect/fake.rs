//! Collectors made up for tests: a fixed snapshot and fixed process details.

use std::collections::HashMap;

use anyhow::Result;

use super::{Collector, ProcessSource, Sources};
use crate::model::{Process, Snapshot, SocketQuery};

/// Answers every query with the sockets of its snapshot that match it, as a real
/// collector does.
pub(crate) struct FakeSockets(pub(crate) Snapshot);

impl Collector for FakeSockets {
    fn collect(&self, query: &SocketQuery) -> Result<Snapshot> {
        let mut snapshot = self.0.clone();
        snapshot.sockets.retain(|s| query.matches(s));
        Ok(snapshot)
    }
}

/// Knows the details of these processes.
pub(crate) struct FakeProcesses(pub(crate) Vec<Process>);

impl ProcessSource for FakeProcesses {
    fn processes(&self, pids: &[u32]) -> HashMap<u32, Process> {
        self.0
            .iter()
            .filter(|p| pids.contains(&p.pid))
            .map(|p| (p.pid, p.clone()))
            .collect()
    }
}

/// Both, as one run's sources.
pub(crate) fn sources(snapshot: Snapshot, processes: Vec<Process>) -> Sources {
    Sources {
        sockets: Box::new(FakeSockets(snapshot)),
        processes: Box::new(FakeProcesses(processes)),
    }
}
