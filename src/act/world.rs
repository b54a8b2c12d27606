//! The real host for `kill`: scans through the same pipeline as a listing (collect →
//! resolve → annotate), parents from `lineage`, signals through `send`.

use std::time::{Duration, Instant};

use anyhow::Result;
use nix::sys::signal::Signal;

use super::kill::World;
use super::lineage::Parents;
use super::{Delivery, SendError, Target, send};
use crate::collect::Sources;
use crate::host::Host;
use crate::model::{Filters, Socket, SocketQuery};
use crate::pipeline::{self, Namespaces};

pub(crate) struct RealWorld<'a> {
    pub(crate) sources: &'a Sources,
    pub(crate) host: &'a dyn Host,
    /// The listening sockets of the ports asked about.
    pub(crate) query: SocketQuery,
    pub(crate) filters: Filters,
    parents: Parents,
}

impl<'a> RealWorld<'a> {
    pub(crate) fn new(
        sources: &'a Sources,
        host: &'a dyn Host,
        query: SocketQuery,
        filters: Filters,
    ) -> RealWorld<'a> {
        RealWorld {
            sources,
            host,
            query,
            filters,
            parents: Parents::new(),
        }
    }

    fn listeners(&self) -> Result<Vec<Socket>> {
        let report = pipeline::report(
            self.sources,
            self.host,
            &self.query,
            &self.filters,
            false,
            false,
            &Namespaces::default(),
        )?;
        Ok(report
            .sockets
            .into_iter()
            .filter(|s| s.raw.state.is_listening())
            .collect())
    }
}

impl World for RealWorld<'_> {
    fn scan(&mut self) -> Result<Vec<Socket>> {
        // Parents as they are now: a worker whose master exited has another one.
        self.parents = Parents::new();
        self.listeners()
    }

    fn parent_of(&self, pid: u32) -> Option<u32> {
        self.parents.parent_of(pid)
    }

    fn send(&mut self, target: &Target<'_>, signal: Signal) -> Result<Delivery, SendError> {
        // Where there is no pidfd: a fresh look at the socket table just before kill(2).
        // The same socket where inodes are known (Linux), any listener of the port where
        // they are not (macOS).
        let recheck = |t: &Target<'_>| -> Result<bool> {
            Ok(self.listeners()?.iter().any(|s| {
                s.owner.processes().iter().any(|p| p.pid == t.pid)
                    && (t.inodes.is_empty() || s.raw.inode.is_some_and(|i| t.inodes.contains(&i)))
            }))
        };
        send(target, signal, &recheck)
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&mut self, duration: Duration) {
        std::thread::sleep(duration);
    }
}
