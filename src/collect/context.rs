//! The context of the sockets and holders found: each holder's container and systemd unit
//! (and, for ports asked about, its parent chain), and the container a forwarder's socket
//! is published for. Looked up after the owners are resolved, only for the holders found.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::containers::Attributor;
use crate::model::{
    NoneReason, Owner, Process, ProcessContext, Protocol, Published, ReadCgroup, Socket,
};

/// Where containers, units and parents come from.
pub(crate) trait ContextSource {
    /// The processes' containers and units, and their parents when `ancestors`; a
    /// process that exited is left out.
    fn processes(&self, pids: &[u32], ancestors: bool) -> HashMap<u32, ProcessContext>;
    /// The container a forwarder (`docker-proxy`, `dockerd`, `conmon`, `rootlessport`,
    /// by process name) holds this socket for.
    fn published(
        &self,
        pid: u32,
        name: &str,
        protocol: Protocol,
        address: IpAddr,
        port: u16,
    ) -> Option<Published>;
    /// Why some of it could not be told (a runtime's file that could not be read).
    fn notes(&self) -> Vec<String>;
    /// What the collector read of some processes' cgroup files, to be used instead of
    /// reading them again.
    fn adopt(&self, _cgroups: Vec<(u32, ReadCgroup)>) {}
    /// The `.socket` unit of a socket the system's service manager holds.
    fn socket_unit(&self, _protocol: Protocol, _address: IpAddr, _port: u16) -> Option<String> {
        None
    }
}

/// The real one: `/proc` and the runtimes' files, each read at most once.
#[derive(Default)]
pub(crate) struct Runtimes(RefCell<Attributor>);

impl ContextSource for Runtimes {
    fn adopt(&self, cgroups: Vec<(u32, ReadCgroup)>) {
        self.0.borrow_mut().adopt(cgroups);
    }

    fn processes(&self, pids: &[u32], ancestors: bool) -> HashMap<u32, ProcessContext> {
        let mut attributor = self.0.borrow_mut();
        attributor
            .processes(pids)
            .into_iter()
            .map(|(pid, facts)| {
                let context = ProcessContext {
                    container: facts.container,
                    unit: facts.unit,
                    ancestors: if ancestors {
                        attributor.ancestors(pid)
                    } else {
                        Vec::new()
                    },
                    argv0_is_exe: false,
                };
                (pid, context)
            })
            .collect()
    }

    fn published(
        &self,
        pid: u32,
        name: &str,
        protocol: Protocol,
        address: IpAddr,
        port: u16,
    ) -> Option<Published> {
        self.0
            .borrow_mut()
            .published(pid, name, protocol, address, port)
    }

    fn notes(&self) -> Vec<String> {
        self.0.borrow().notes()
    }

    fn socket_unit(&self, protocol: Protocol, address: IpAddr, port: u16) -> Option<String> {
        self.0.borrow_mut().socket_unit(protocol, address, port)
    }
}

/// Gives each holder of the sockets its context, and each socket the container it lives
/// in (all its holders' container) or is published for. The process lists shared between
/// sockets stay shared, and are changed in place, not copied: the sockets' handles on
/// each list are taken out first, so that it has one holder left.
pub(crate) fn attach(sockets: &mut [Socket], source: &dyn ContextSource, ancestors: bool) {
    let mut pids: Vec<u32> = sockets
        .iter()
        .flat_map(|s| s.owner.processes().iter().map(|p| p.pid))
        .collect();
    if pids.is_empty() {
        return;
    }
    pids.sort_unstable();
    pids.dedup();
    let mut contexts = source.processes(&pids, ancestors);
    drop(pids);
    // Each list once, by its address (kept alive here, so that the address is not reused);
    // each socket's list, by the same.
    let mut lists: HashMap<*const Process, Arc<[Process]>> = HashMap::new();
    let mut owned: Vec<(usize, *const Process)> = Vec::new();
    for (i, s) in sockets.iter_mut().enumerate() {
        if !matches!(s.owner, Owner::Known(_)) {
            continue;
        }
        let placeholder = Owner::None {
            reason: NoneReason::NoFile,
        };
        if let Owner::Known(list) = std::mem::replace(&mut s.owner, placeholder) {
            let key = list.as_ptr();
            lists.entry(key).or_insert(list);
            owned.push((i, key));
        }
    }
    // A process in several lists: its context is copied into each; the others' moved.
    let mut several: HashMap<u32, bool> = HashMap::new();
    for list in lists.values() {
        for p in list.iter() {
            several
                .entry(p.pid)
                .and_modify(|again| *again = true)
                .or_insert(false);
        }
    }
    for list in lists.values_mut() {
        // Copies the list only if something else still holds it.
        for p in Arc::make_mut(list).iter_mut() {
            let argv0_is_exe = p.context.argv0_is_exe;
            p.context = if several.get(&p.pid) == Some(&true) {
                contexts.get(&p.pid).cloned()
            } else {
                contexts.remove(&p.pid)
            }
            .unwrap_or_default();
            p.context.argv0_is_exe = argv0_is_exe;
        }
    }
    drop(contexts);
    drop(several);
    for (i, key) in owned {
        let (Some(s), Some(list)) = (sockets.get_mut(i), lists.get(&key)) else {
            continue;
        };
        s.owner = Owner::Known(Arc::clone(list));
        let new = Arc::clone(list);
        let published = new.iter().find_map(|p| {
            let name = p.name.as_deref()?;
            // The system's Docker reads /var/lib/docker: a rootless one's forwarders (run
            // as their user) are not its.
            if matches!(name, "docker-proxy" | "dockerd") && p.uid != Some(0) {
                return None;
            }
            source.published(
                p.pid,
                name,
                s.raw.protocol,
                s.raw.local_address,
                s.raw.local_port,
            )
        });
        let first = new.first().and_then(|p| p.context.container.as_deref());
        let shared = first.filter(|c| {
            new.iter()
                .all(|p| p.context.container.as_deref() == Some(*c))
        });
        let container = published
            .as_ref()
            .and_then(|p| p.container.clone())
            .or_else(|| shared.cloned());
        if container.is_some() || published.is_some() {
            let context = s.context_mut();
            context.container = container.map(Box::new);
            context.published = published.map(Box::new);
        }
        // Socket activation: the system's service manager holds it for a .socket unit.
        if new
            .iter()
            .any(|p| p.name.as_deref() == Some("systemd") && p.uid == Some(0))
            && let Some(unit) =
                source.socket_unit(s.raw.protocol, s.raw.local_address, s.raw.local_port)
        {
            s.context_mut().socket_unit = Some(unit);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::model::testing::{process, socket};
    use crate::model::{Container, Runtime, State, Unit, Via};

    /// pid 10 is in container web; pid 20 is docker-proxy publishing web; pid 30 is in a
    /// unit.
    struct Fake;

    fn web() -> Container {
        Container {
            runtime: Runtime::Docker,
            id: "3f2a9c".repeat(10) + "abcd",
            name: Some("web".to_string()),
            pod: None,
        }
    }

    fn one(pid: u32, ancestors: bool) -> ProcessContext {
        ProcessContext {
            container: (pid == 10).then(|| Box::new(web())),
            unit: (pid == 30).then(|| Unit {
                name: "x.service".to_string(),
                user: None,
            }),
            ancestors: if ancestors {
                vec![crate::model::Ancestor {
                    pid: 1,
                    name: "systemd".to_string(),
                }]
            } else {
                Vec::new()
            },
            argv0_is_exe: false,
        }
    }

    impl ContextSource for Fake {
        fn processes(&self, pids: &[u32], ancestors: bool) -> HashMap<u32, ProcessContext> {
            pids.iter().map(|&pid| (pid, one(pid, ancestors))).collect()
        }

        fn published(
            &self,
            pid: u32,
            name: &str,
            _: Protocol,
            _: IpAddr,
            _: u16,
        ) -> Option<Published> {
            (name == "docker-proxy").then(|| Published {
                container: Some(web()),
                via: Via::DockerProxy,
                pid,
                target: Some((Some(IpAddr::V4(Ipv4Addr::new(172, 17, 0, 2))), 80)),
            })
        }

        fn notes(&self) -> Vec<String> {
            Vec::new()
        }
    }

    fn owned(port: u16, holders: &[(u32, &str)]) -> Socket {
        let list: Arc<[Process]> = holders
            .iter()
            .map(|&(pid, name)| process(pid, name, Some("root"), 0, "/x"))
            .collect::<Vec<_>>()
            .into();
        socket(
            Protocol::Tcp,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            port,
            State::Listen,
            Owner::Known(list),
        )
    }

    #[test]
    fn containers_units_and_publications() {
        let mut sockets = vec![
            owned(80, &[(10, "busybox")]),
            owned(8080, &[(20, "docker-proxy")]),
            owned(22, &[(30, "sshd")]),
            // Holders in different places: no container for the socket.
            owned(81, &[(10, "busybox"), (30, "sshd")]),
        ];
        // A rootless Docker's proxy (not root): not the system Docker's forwarder.
        let mut rootless = owned(8081, &[(21, "docker-proxy")]);
        if let Owner::Known(list) = &rootless.owner {
            let mut p = list[0].clone();
            p.uid = Some(1000);
            rootless.owner = Owner::Known(vec![p].into());
        }
        sockets.push(rootless);
        attach(&mut sockets, &Fake, true);
        let containers: Vec<Option<&str>> = sockets
            .iter()
            .map(|s| s.context().container.as_ref().map(|c| c.label()))
            .collect();
        assert_eq!(containers, vec![Some("web"), Some("web"), None, None, None]);
        assert!(sockets[4].context().published.is_none());
        assert_eq!(
            sockets[1]
                .context()
                .published
                .as_ref()
                .map(|p| (p.via, p.pid)),
            Some((Via::DockerProxy, 20))
        );
        assert!(sockets[0].context().published.is_none());
        let unit = sockets[2].owner.processes()[0].context.unit.clone();
        assert_eq!(unit.map(|u| u.name).as_deref(), Some("x.service"));
        assert_eq!(sockets[2].owner.processes()[0].context.ancestors.len(), 1);
    }

    #[test]
    fn shared_lists_stay_shared() {
        let list: Arc<[Process]> = vec![process(10, "busybox", None, 0, "/x")].into();
        let mut sockets: Vec<Socket> = [80, 443]
            .iter()
            .map(|&port| {
                socket(
                    Protocol::Tcp,
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                    port,
                    State::Listen,
                    Owner::Known(Arc::clone(&list)),
                )
            })
            .collect();
        attach(&mut sockets, &Fake, false);
        let (Owner::Known(a), Owner::Known(b)) = (&sockets[0].owner, &sockets[1].owner) else {
            panic!("owners lost")
        };
        assert!(Arc::ptr_eq(a, b));
        assert!(a[0].context.ancestors.is_empty());
        assert_eq!(a[0].context.container.as_deref(), Some(&web()));
    }
}
