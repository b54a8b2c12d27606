//! Collectors made up for tests: a fixed snapshot and fixed process details.

use std::collections::HashMap;

use anyhow::Result;

use std::net::IpAddr;

use super::{Collector, ContextSource, ProcessSource, Sources};
use crate::model::{
    NetnsScope, Process, ProcessContext, Protocol, Published, Snapshot, SocketQuery,
};

/// Answers every query with the sockets of its snapshot that match it, as a real
/// collector does.
pub(crate) struct FakeSockets(pub(crate) Snapshot);

impl Collector for FakeSockets {
    fn collect(&self, query: &SocketQuery) -> Result<Snapshot> {
        let mut snapshot = self.0.clone();
        // Its own namespace's sockets only: those read elsewhere carry theirs.
        snapshot
            .sockets
            .retain(|s| query.matches(s) && s.netns.is_none());
        snapshot.namespaces.clear();
        Ok(snapshot)
    }

    /// The sockets with a namespace stand for those of other namespaces.
    fn collect_in(&self, query: &SocketQuery, scope: &NetnsScope) -> Result<Snapshot> {
        let mut snapshot = self.0.clone();
        snapshot.sockets.retain(|s| {
            query.matches(s)
                && match scope {
                    NetnsScope::Current => s.netns.is_none(),
                    NetnsScope::Others => s.netns.is_some(),
                    _ => true,
                }
        });
        Ok(snapshot)
    }
}

/// Containers, units and publications made up for tests: by pid, and by forwarder pid.
#[derive(Default)]
pub(crate) struct FakeContext {
    pub(crate) processes: HashMap<u32, ProcessContext>,
    pub(crate) published: HashMap<u32, Published>,
    /// By port: the `.socket` unit of a socket the service manager holds.
    pub(crate) socket_units: HashMap<u16, String>,
}

impl ContextSource for FakeContext {
    fn processes(&self, pids: &[u32], ancestors: bool) -> HashMap<u32, ProcessContext> {
        pids.iter()
            .filter_map(|pid| {
                let mut context = self.processes.get(pid).cloned()?;
                if !ancestors {
                    context.ancestors.clear();
                }
                Some((*pid, context))
            })
            .collect()
    }

    fn published(&self, pid: u32, _: &str, _: Protocol, _: IpAddr, _: u16) -> Option<Published> {
        self.published.get(&pid).cloned()
    }

    fn notes(&self) -> Vec<String> {
        Vec::new()
    }

    fn socket_unit(&self, _: Protocol, _: IpAddr, port: u16) -> Option<String> {
        self.socket_units.get(&port).cloned()
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
        context: Box::new(FakeContext::default()),
    }
}
