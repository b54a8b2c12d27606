//! The kill engine on a simulated host: processes with parents, listeners and a way of
//! reacting to signals; time advances only when the engine sleeps.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use super::*;
use crate::model::testing;
use crate::model::{Container, HiddenReason, Protocol, Published, Runtime, State, Via};

const PORT: u16 = 3000;

#[derive(Clone, Debug)]
struct Sim {
    pid: u32,
    ppid: u32,
    name: &'static str,
    inodes: Vec<u64>,
    alive: bool,
    /// Signals it ignores.
    ignores: Vec<Signal>,
    /// How long after a signal it takes to exit.
    exit_after: Duration,
    /// When it will exit.
    dying_at: Option<Duration>,
    /// Whether its children exit with it (a master stopping its workers).
    takes_children: bool,
}

fn sim(pid: u32, ppid: u32, name: &'static str, inodes: &[u64]) -> Sim {
    Sim {
        pid,
        ppid,
        name,
        inodes: inodes.to_vec(),
        alive: true,
        ignores: Vec::new(),
        exit_after: Duration::from_millis(50),
        dying_at: None,
        takes_children: false,
    }
}

struct Host {
    base: Instant,
    t: Duration,
    procs: Vec<Sim>,
    /// Listener inodes; a listener with no live holder is closed.
    listeners: Vec<u64>,
    hidden: Vec<u64>,
    sent: Vec<(u32, Signal, Duration)>,
    /// Started (as by a supervisor) when the process with the first pid exits.
    respawn: Option<(u32, Sim)>,
    /// (listener inode, forwarder pid, container name): what the container runtime's
    /// files say about a published port.
    published: Option<(u64, u32, &'static str)>,
}

impl Host {
    fn new(procs: Vec<Sim>) -> Host {
        let mut listeners: Vec<u64> = procs.iter().flat_map(|p| p.inodes.clone()).collect();
        listeners.sort_unstable();
        listeners.dedup();
        Host {
            base: Instant::now(),
            t: Duration::ZERO,
            procs,
            listeners,
            hidden: Vec::new(),
            sent: Vec::new(),
            respawn: None,
            published: None,
        }
    }

    fn settle(&mut self) {
        let t = self.t;
        let mut died = Vec::new();
        for p in &mut self.procs {
            if p.alive && p.dying_at.is_some_and(|d| d <= t) {
                p.alive = false;
                if p.takes_children {
                    died.push(p.pid);
                }
                if let Some((trigger, _)) = &self.respawn
                    && *trigger == p.pid
                {
                    died.push(u32::MAX);
                }
            }
        }
        for p in &mut self.procs {
            if died.contains(&p.ppid) {
                p.alive = false;
            }
        }
        if died.contains(&u32::MAX)
            && let Some((_, fresh)) = self.respawn.take()
        {
            self.procs.push(fresh);
        }
    }

    fn sent(&self) -> Vec<(u32, &'static str)> {
        self.sent
            .iter()
            .map(|(pid, s, _)| (*pid, super::super::signal::name(*s)))
            .collect()
    }
}

fn listener(inode: u64, owner: Owner) -> Socket {
    let mut s = testing::socket(
        Protocol::Tcp,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        PORT,
        State::Listen,
        owner,
    );
    s.raw.inode = Some(inode);
    s
}

impl World for Host {
    fn scan(&mut self) -> Result<Vec<Socket>> {
        self.settle();
        let mut out = Vec::new();
        for &inode in &self.listeners {
            if self.hidden.contains(&inode) {
                out.push(listener(
                    inode,
                    Owner::Hidden {
                        reason: HiddenReason::NotPermitted,
                        uid: Some(1001),
                        user: Some("bob".into()),
                    },
                ));
                continue;
            }
            let holders: Vec<Process> = self
                .procs
                .iter()
                .filter(|p| p.alive && p.inodes.contains(&inode))
                .map(|p| {
                    let mut pr = testing::process(p.pid, p.name, Some("alice"), 1000, "/usr/bin/x");
                    pr.exe = Some(format!("/usr/bin/{}", p.name));
                    pr
                })
                .collect();
            if !holders.is_empty() {
                let mut socket = listener(inode, Owner::Known(Arc::from(holders)));
                if let Some((_, pid, name)) = self.published.filter(|p| p.0 == inode) {
                    socket.context_mut().published = Some(Box::new(Published {
                        container: Some(Container {
                            runtime: Runtime::Docker,
                            id: "ab".repeat(32),
                            name: Some(name.to_string()),
                            pod: None,
                        }),
                        via: Via::DockerProxy,
                        pid,
                        target: None,
                    }));
                }
                out.push(socket);
            }
        }
        Ok(out)
    }

    fn parent_of(&self, pid: u32) -> Option<u32> {
        self.procs.iter().find(|p| p.pid == pid).map(|p| p.ppid)
    }

    fn send(&mut self, target: &Target<'_>, signal: Signal) -> Result<Delivery, SendError> {
        self.settle();
        let t = self.t;
        let Some(p) = self
            .procs
            .iter_mut()
            .find(|p| p.pid == target.pid && p.alive)
        else {
            return Ok(Delivery::Exited);
        };
        if !p.inodes.iter().any(|i| target.inodes.contains(i)) {
            return Ok(Delivery::Released);
        }
        self.sent.push((target.pid, signal, t));
        if signal == Signal::SIGKILL {
            // Killed outright: no time to stop its workers.
            p.takes_children = false;
        }
        if signal == Signal::SIGKILL || !p.ignores.contains(&signal) {
            let after = if signal == Signal::SIGKILL {
                Duration::ZERO
            } else {
                p.exit_after
            };
            let at = t + after;
            p.dying_at = Some(p.dying_at.map_or(at, |d| d.min(at)));
        }
        Ok(Delivery::Sent)
    }

    fn now(&self) -> Instant {
        self.base + self.t
    }

    fn sleep(&mut self, duration: Duration) {
        self.t += duration;
    }
}

fn options() -> Options {
    Options {
        signal: Signal::SIGTERM,
        timeout: Duration::from_secs(5),
        escalate: true,
        dry_run: false,
        force: false,
        interval: Duration::from_millis(100),
    }
}

fn guard() -> Guard {
    Guard {
        own_pid: 9000,
        ancestors: vec![8999, 100, 1],
    }
}

/// A master (200, child of the shell 100) with two forked workers sharing listener 1.
fn prefork() -> Vec<Sim> {
    let mut master = sim(200, 100, "nginx", &[1]);
    master.takes_children = true;
    vec![
        master,
        sim(201, 200, "nginx", &[1]),
        sim(202, 200, "nginx", &[1]),
    ]
}

#[test]
fn master_first_and_only_master_when_it_takes_its_workers() -> Result<()> {
    let mut host = Host::new(prefork());
    let report = run(&options(), &guard(), &mut host)?;
    assert_eq!(report.outcome, Outcome::Killed);
    assert_eq!(host.sent(), vec![(200, "TERM")]);
    assert!(report.after.is_empty());
    assert_eq!(report.actions.len(), 1);
    assert_eq!(report.actions[0].role, Role::Master);
    assert!(report.elapsed < Duration::from_secs(1));
    Ok(())
}

#[test]
fn holders_left_after_the_master_get_the_signal_next() -> Result<()> {
    // The master exits on TERM but its workers keep the listener (orphans).
    let mut procs = prefork();
    procs[0].takes_children = false;
    let mut host = Host::new(procs);
    let report = run(&options(), &guard(), &mut host)?;
    assert_eq!(report.outcome, Outcome::Killed);
    assert_eq!(
        host.sent(),
        vec![(200, "TERM"), (201, "TERM"), (202, "TERM")]
    );
    assert!(host.sent[1].2 > host.sent[0].2, "workers after the master");
    assert_eq!(report.actions[1].role, Role::Worker);
    Ok(())
}

#[test]
fn escalates_to_kill_after_the_timeout_master_first() -> Result<()> {
    let mut procs = prefork();
    procs[0].ignores = vec![Signal::SIGTERM];
    let mut host = Host::new(procs);
    let report = run(&options(), &guard(), &mut host)?;
    assert_eq!(report.outcome, Outcome::Killed);
    assert_eq!(
        host.sent(),
        vec![(200, "TERM"), (200, "KILL"), (201, "KILL"), (202, "KILL")]
    );
    assert_eq!(
        host.sent[1].2,
        Duration::from_secs(5),
        "KILL at the timeout"
    );
    Ok(())
}

#[test]
fn no_escalate_leaves_it_held() -> Result<()> {
    let mut procs = prefork();
    procs[0].ignores = vec![Signal::SIGTERM];
    let mut host = Host::new(procs);
    let report = run(
        &Options {
            escalate: false,
            timeout: Duration::from_secs(1),
            ..options()
        },
        &guard(),
        &mut host,
    )?;
    assert_eq!(report.outcome, Outcome::StillHeld);
    assert!(!report.outcome.success());
    assert_eq!(host.sent(), vec![(200, "TERM")]);
    assert_eq!(report.after.len(), 1);
    assert!(report.elapsed >= Duration::from_secs(1));
    Ok(())
}

#[test]
fn kill_signal_needs_no_escalation() -> Result<()> {
    let mut host = Host::new(prefork());
    let report = run(
        &Options {
            signal: Signal::SIGKILL,
            ..options()
        },
        &guard(),
        &mut host,
    )?;
    assert_eq!(report.outcome, Outcome::Killed);
    // No second phase; the workers, left holding the listener, get it once the master
    // is gone.
    assert_eq!(
        host.sent(),
        vec![(200, "KILL"), (201, "KILL"), (202, "KILL")]
    );
    assert!(report.actions.iter().all(|a| a.signal == Signal::SIGKILL));
    Ok(())
}

#[test]
fn already_free() -> Result<()> {
    let mut host = Host::new(Vec::new());
    let report = run(&options(), &guard(), &mut host)?;
    assert_eq!(report.outcome, Outcome::AlreadyFree);
    assert!(report.outcome.success());
    assert!(host.sent.is_empty() && report.actions.is_empty());
    Ok(())
}

#[test]
fn dry_run_plans_and_sends_nothing() -> Result<()> {
    let mut host = Host::new(prefork());
    let report = run(
        &Options {
            dry_run: true,
            ..options()
        },
        &guard(),
        &mut host,
    )?;
    assert_eq!(report.outcome, Outcome::DryRun);
    assert!(host.sent.is_empty());
    let plan: Vec<(u32, Role, Option<Signal>)> = report
        .plan
        .iter()
        .map(|p| (p.process.pid, p.role, p.then))
        .collect();
    assert_eq!(
        plan,
        vec![
            (200, Role::Master, Some(Signal::SIGKILL)),
            (201, Role::Worker, Some(Signal::SIGKILL)),
            (202, Role::Worker, Some(Signal::SIGKILL)),
        ]
    );
    Ok(())
}

#[test]
fn container_plumbing_is_refused_unless_forced() -> Result<()> {
    let procs = vec![
        sim(3100, 900, "docker-proxy", &[1]),
        sim(4000, 100, "node", &[2]),
    ];
    let mut host = Host::new(procs.clone());
    let report = run(&options(), &guard(), &mut host)?;
    assert_eq!(report.outcome, Outcome::Refused);
    assert!(
        host.sent.is_empty(),
        "all or nothing: node is not signalled either"
    );
    assert_eq!(report.refusals.len(), 1);
    assert_eq!(report.refusals[0].0, PORT);
    assert_eq!(report.refusals[0].1.rule(), "container");

    let mut host = Host::new(procs);
    let report = run(
        &Options {
            force: true,
            ..options()
        },
        &guard(),
        &mut host,
    )?;
    assert_eq!(report.outcome, Outcome::Killed);
    assert_eq!(host.sent(), vec![(3100, "TERM"), (4000, "TERM")]);
    Ok(())
}

#[test]
fn ancestors_are_refused_even_forced() -> Result<()> {
    // The shell (100) inherited the listener.
    let procs = vec![sim(100, 1, "bash", &[1]), sim(200, 100, "server", &[1])];
    let mut host = Host::new(procs);
    let report = run(
        &Options {
            force: true,
            ..options()
        },
        &guard(),
        &mut host,
    )?;
    assert_eq!(report.outcome, Outcome::Refused);
    assert!(host.sent.is_empty());
    assert_eq!(report.refusals[0].1.rule(), "ancestor");
    Ok(())
}

#[test]
fn hidden_holders_are_refused() -> Result<()> {
    let mut host = Host::new(vec![sim(200, 100, "server", &[1])]);
    host.hidden = vec![1];
    let report = run(&options(), &guard(), &mut host)?;
    assert_eq!(report.outcome, Outcome::Refused);
    assert!(host.sent.is_empty());
    assert!(
        report.refusals[0]
            .1
            .message(PORT)
            .contains("sudo whoport kill 3000")
    );
    Ok(())
}

#[test]
fn a_holder_that_appears_meanwhile_is_not_signalled() -> Result<()> {
    // A supervisor starts a new server (pid 300) when 200 exits.
    let mut host = Host::new(vec![sim(200, 100, "server", &[1])]);
    host.respawn = Some((200, sim(300, 100, "server", &[1])));
    let report = run(&options(), &guard(), &mut host)?;
    assert_eq!(report.outcome, Outcome::StillHeld);
    assert_eq!(report.appeared, vec![300]);
    assert_eq!(host.sent(), vec![(200, "TERM")]);
    Ok(())
}

#[test]
fn slow_exit_within_the_timeout_needs_no_kill() -> Result<()> {
    let mut p = sim(200, 100, "server", &[1]);
    p.exit_after = Duration::from_millis(4_900);
    let mut host = Host::new(vec![p]);
    let report = run(&options(), &guard(), &mut host)?;
    assert_eq!(report.outcome, Outcome::Killed);
    assert_eq!(host.sent(), vec![(200, "TERM")]);
    Ok(())
}

#[test]
fn a_published_port_names_its_container() -> Result<()> {
    // The runtime's files say pid 3100 forwards listener 1 for container "web".
    let mut host = Host::new(vec![sim(3100, 900, "forwarder", &[1])]);
    host.published = Some((1, 3100, "web"));
    let report = run(&options(), &guard(), &mut host)?;
    assert_eq!(report.outcome, Outcome::Refused);
    assert!(host.sent.is_empty());
    let message = report.refusals[0].1.message(PORT);
    assert!(
        message
            .starts_with("published by container web (docker-proxy pid 3100): `docker stop web`"),
        "{message}"
    );
    Ok(())
}
