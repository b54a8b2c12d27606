//! Whom `whoport kill` will not signal, and what to do instead. Pure: decided on the
//! data of a scan (the holder's pid, name, executable and command line; whoport's own pid
//! and ancestors), so every rule is unit-tested on hand-built processes.
//!
//! The rules, in order:
//! 1. pid 1 (init; with socket activation it holds the listeners of its `.socket` units);
//! 2. whoport itself and its ancestors (the shell, `sudo`, the terminal, `sshd`…): a
//!    listener inherited by one of them must not take the session down;
//! 3. an owner whoport cannot see (`hidden`): nothing can be verified, so nothing is
//!    signalled; for another user's socket the answer is `sudo`;
//! 4. a listener no process holds (a kernel socket): nothing to signal;
//! 5. container plumbing (`docker-proxy`, a `dockerd` reservation, `conmon`,
//!    `rootlessport`, `pasta`, `slirp4netns`): killing it unpublishes the port but leaves
//!    the container running, and Docker or Podman may start it again. The right command is
//!    to stop the container; `--force` signals the plumbing anyway.
//!
//! Plumbing is recognised by the name of the process, its executable's or its argv\[0\]'s
//! file name. A name can be chosen by anyone, so this errs on the side of refusing; that is
//! the safe side (`--force` exists), unlike the Xsan verdicts, which must not be fooled
//! into calling a process trustworthy.

use serde::Serialize;

use crate::model::{HiddenReason, NoneReason, Process, Via};

/// What whoport knows about its own line of processes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Guard {
    pub(crate) own_pid: u32,
    /// whoport's ancestors, its parent first.
    pub(crate) ancestors: Vec<u32>,
}

/// Software that holds a published port on a container's behalf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Plumbing {
    /// Docker's userland proxy, one process per published port.
    DockerProxy,
    /// dockerd itself, reserving the port of a container published with
    /// `--userland-proxy=false` (the traffic goes through DNAT).
    Dockerd,
    /// Podman's container monitor (rootful Podman holds published ports there).
    Conmon,
    /// Rootless Podman's port forwarder.
    Rootlessport,
    /// Rootless Podman's (or another engine's) user-mode network: pasta…
    Pasta,
    /// …or slirp4netns.
    Slirp4netns,
}

impl Plumbing {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Plumbing::DockerProxy => "docker-proxy",
            Plumbing::Dockerd => "dockerd",
            Plumbing::Conmon => "conmon",
            Plumbing::Rootlessport => "rootlessport",
            Plumbing::Pasta => "pasta",
            Plumbing::Slirp4netns => "slirp4netns",
        }
    }

    /// The container command line tool that stops what it publishes.
    fn engine(self) -> &'static str {
        match self {
            Plumbing::DockerProxy | Plumbing::Dockerd => "docker",
            _ => "podman",
        }
    }

    /// The plumbing the runtime's files name as a socket's forwarder.
    pub(crate) fn from_via(via: Via) -> Plumbing {
        match via {
            Via::DockerProxy => Plumbing::DockerProxy,
            Via::Dockerd => Plumbing::Dockerd,
            Via::Conmon => Plumbing::Conmon,
            Via::Rootlessport => Plumbing::Rootlessport,
        }
    }

    /// Which plumbing a process is, by its name, its executable's or its argv\[0\]'s file
    /// name.
    pub(crate) fn of(process: &Process) -> Option<Plumbing> {
        let exe = process.exe.as_deref().map(file_name);
        let argv0 = process
            .cmdline
            .as_ref()
            .and_then(|c| c.first())
            .map(|a| file_name(a));
        [process.name.as_deref(), exe, argv0]
            .into_iter()
            .flatten()
            .find_map(|name| match name {
                "docker-proxy" => Some(Plumbing::DockerProxy),
                "dockerd" => Some(Plumbing::Dockerd),
                "conmon" => Some(Plumbing::Conmon),
                "rootlessport" => Some(Plumbing::Rootlessport),
                "pasta" | "pasta.avx2" => Some(Plumbing::Pasta),
                "slirp4netns" => Some(Plumbing::Slirp4netns),
                _ => None,
            })
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The value following `flag` on a command line (`-n web`, `-container-ip 172.17.0.2`).
fn option_value<'a>(cmdline: &'a [String], flag: &str) -> Option<&'a str> {
    let at = cmdline.iter().position(|a| a == flag)?;
    cmdline.get(at + 1).map(String::as_str)
}

/// Why a socket's holders are not signalled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// pid 1.
    Init { name: Option<String> },
    /// This whoport.
    Whoport { pid: u32 },
    /// An ancestor of this whoport.
    Ancestor { pid: u32, name: Option<String> },
    /// The holder cannot be seen.
    Hidden {
        reason: HiddenReason,
        uid: Option<u32>,
        user: Option<String>,
    },
    /// No process holds the listener (a kernel socket): there is nothing to signal.
    NoProcess { reason: NoneReason },
    /// Container plumbing; `container` is the container's name where it is known.
    Container {
        pid: u32,
        plumbing: Plumbing,
        container: Option<String>,
        /// Where the plumbing forwards to (docker-proxy's `-container-ip:port`).
        forwards_to: Option<String>,
        user: Option<String>,
    },
}

impl Refusal {
    /// A stable word for JSON (`refusals[].rule`).
    pub(crate) fn rule(&self) -> &'static str {
        match self {
            Refusal::Init { .. } => "init",
            Refusal::Whoport { .. } => "self",
            Refusal::Ancestor { .. } => "ancestor",
            Refusal::Hidden { .. } => "hidden",
            Refusal::NoProcess { .. } => "no_process",
            Refusal::Container { .. } => "container",
        }
    }

    /// The pid concerned, where there is one.
    pub(crate) fn pid(&self) -> Option<u32> {
        match self {
            Refusal::Init { .. } => Some(1),
            Refusal::Whoport { pid }
            | Refusal::Ancestor { pid, .. }
            | Refusal::Container { pid, .. } => Some(*pid),
            Refusal::Hidden { .. } | Refusal::NoProcess { .. } => None,
        }
    }

    /// Whether `--force` overrides it (only container plumbing).
    pub(crate) fn forcible(&self) -> bool {
        matches!(self, Refusal::Container { .. })
    }

    /// One line: why, and the command to run instead. `port` is the port asked about.
    pub(crate) fn message(&self, port: u16) -> String {
        match self {
            Refusal::Init { name } => format!(
                "pid 1 ({}) is the init process: whoport never signals it; if it holds the \
                 port for a socket unit, find it with `systemctl list-sockets` and stop it \
                 with `systemctl stop UNIT.socket`",
                name.as_deref().unwrap_or("init")
            ),
            Refusal::Whoport { pid } => format!("pid {pid} is this whoport"),
            Refusal::Ancestor { pid, name } => format!(
                "pid {pid} ({}) is an ancestor of this whoport (its shell, terminal or \
                 session): not signalled",
                name.as_deref().unwrap_or("?")
            ),
            Refusal::Hidden {
                reason: HiddenReason::NotPermitted,
                uid,
                user,
            } => format!(
                "whoport may not see which process holds it (the socket belongs to {}): \
                 run `sudo whoport kill {port}`",
                who(*uid, user.as_deref())
            ),
            Refusal::Hidden {
                reason:
                    reason @ (HiddenReason::NotInAnyProcess
                    | HiddenReason::OutsidePidNamespace
                    | HiddenReason::AwaitingAccept),
                ..
            } => format!("{}: there is no process to signal", reason.describe()),
            Refusal::Hidden {
                reason: HiddenReason::Unreadable,
                uid,
                user,
            } => format!(
                "the process holding it (the socket belongs to {}) cannot be inspected, \
                 even as root (another pid namespace or a sandbox): nothing can be verified, \
                 so nothing is signalled",
                who(*uid, user.as_deref())
            ),
            Refusal::NoProcess { reason } => {
                format!("{}: there is no process to signal", reason.describe())
            }
            Refusal::Container {
                pid,
                plumbing,
                container,
                forwards_to,
                user,
            } => {
                let engine = plumbing.engine();
                let holder = format!("{} pid {pid}", plumbing.as_str());
                let as_user = match (plumbing.engine(), user.as_deref()) {
                    ("podman", Some(u)) if u != "root" => format!(" (as {u})"),
                    _ => String::new(),
                };
                let published = match (container, forwards_to) {
                    (Some(c), _) => format!("published by container {c} ({holder})"),
                    (None, Some(to)) => {
                        format!("published by a container ({holder} forwards it to {to})")
                    }
                    (None, None) if *plumbing == Plumbing::Dockerd => format!(
                        "reserved by dockerd (pid {pid}) for a container's published port; \
                         signalling it would stop the Docker daemon"
                    ),
                    (None, None) => format!("published by a container ({holder})"),
                };
                let stop = match container {
                    Some(c) => format!("`{engine} stop {c}`{as_user}"),
                    None => format!(
                        "`{engine} ps --filter publish={port}` names the container{as_user}, \
                         then `{engine} stop NAME`"
                    ),
                };
                format!(
                    "{published}: {stop}; --force signals {} anyway",
                    plumbing.as_str()
                )
            }
        }
    }
}

fn who(uid: Option<u32>, user: Option<&str>) -> String {
    match (user, uid) {
        (Some(u), Some(id)) => format!("{u}, uid {id}"),
        (Some(u), None) => u.to_string(),
        (None, Some(id)) => format!("uid {id}"),
        (None, None) => "another user".to_string(),
    }
}

/// Whether `process`, a holder of a listening socket on the port, may be signalled.
/// `container` is the name of the container it publishes and `via` the forwarder it is,
/// where the container runtime's files said so (`collect`'s container attribution);
/// otherwise the process's name tells.
pub(crate) fn judge(
    process: &Process,
    guard: &Guard,
    force: bool,
    container: Option<&str>,
    via: Option<Plumbing>,
) -> Option<Refusal> {
    let pid = process.pid;
    if pid == 1 {
        return Some(Refusal::Init {
            name: process.name.clone(),
        });
    }
    if pid == guard.own_pid {
        return Some(Refusal::Whoport { pid });
    }
    if guard.ancestors.contains(&pid) {
        return Some(Refusal::Ancestor {
            pid,
            name: process.name.clone(),
        });
    }
    let plumbing = via.or_else(|| Plumbing::of(process))?;
    if force {
        return None;
    }
    let cmdline = process.cmdline.as_deref().unwrap_or(&[]);
    let container = container.map(str::to_string).or_else(|| match plumbing {
        // conmon's command line names the container: `-n web` (`--name`).
        Plumbing::Conmon => option_value(cmdline, "-n")
            .or_else(|| option_value(cmdline, "--name"))
            .map(str::to_string),
        _ => None,
    });
    let forwards_to = match plumbing {
        Plumbing::DockerProxy => option_value(cmdline, "-container-ip").map(|ip| {
            let port = option_value(cmdline, "-container-port").unwrap_or("?");
            if ip.contains(':') {
                format!("[{ip}]:{port}")
            } else {
                format!("{ip}:{port}")
            }
        }),
        _ => None,
    };
    Some(Refusal::Container {
        pid,
        plumbing,
        container,
        forwards_to,
        user: process.user.as_deref().map(str::to_string),
    })
}

/// The refusal for a socket whose holder is hidden.
pub(crate) fn hidden(reason: HiddenReason, uid: Option<u32>, user: Option<String>) -> Refusal {
    Refusal::Hidden { reason, uid, user }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(pid: u32, name: &str, exe: &str, cmdline: &[&str]) -> Process {
        let mut p = Process::unknown(pid);
        p.name = Some(name.to_string());
        p.user = Some("root".into());
        p.uid = Some(0);
        p.exe = Some(exe.to_string());
        p.cmdline = Some(cmdline.iter().map(|s| s.to_string()).collect());
        p
    }

    fn guard() -> Guard {
        Guard {
            own_pid: 500,
            ancestors: vec![400, 300, 1],
        }
    }

    fn server(pid: u32) -> Process {
        process(pid, "node", "/usr/bin/node", &["node", "server.js"])
    }

    const DOCKER_PROXY: &[&str] = &[
        "/usr/sbin/docker-proxy",
        "-proto",
        "tcp",
        "-host-ip",
        "127.0.0.1",
        "-host-port",
        "18080",
        "-container-ip",
        "172.17.0.2",
        "-container-port",
        "80",
    ];

    #[test]
    fn ordinary_servers_are_signalled() {
        assert_eq!(judge(&server(4242), &guard(), false, None, None), None);
        assert_eq!(
            judge(&Process::unknown(4242), &guard(), false, None, None),
            None
        );
    }

    #[test]
    fn init_self_and_ancestors_never_even_forced() {
        for force in [false, true] {
            let r = judge(
                &process(1, "systemd", "/usr/lib/systemd/systemd", &[]),
                &guard(),
                force,
                None,
                None,
            );
            assert!(matches!(r, Some(Refusal::Init { .. })), "{r:?}");
            let r = judge(&server(500), &guard(), force, None, None);
            assert_eq!(r, Some(Refusal::Whoport { pid: 500 }));
            let r = judge(
                &process(300, "sshd", "/usr/sbin/sshd", &["sshd"]),
                &guard(),
                force,
                None,
                None,
            );
            assert_eq!(
                r,
                Some(Refusal::Ancestor {
                    pid: 300,
                    name: Some("sshd".into())
                })
            );
            assert!(r.is_some_and(|r| !r.forcible()));
        }
        // pid 1 even when the guard did not list it, and even as a container's plumbing.
        let bare = Guard {
            own_pid: 7,
            ancestors: vec![],
        };
        let r = judge(
            &process(1, "docker-proxy", "/usr/sbin/docker-proxy", &[]),
            &bare,
            true,
            None,
            None,
        );
        assert!(r.is_some_and(|r| r.rule() == "init"));
    }

    #[test]
    fn docker_proxy_names_the_container_and_the_command() {
        let p = process(3100, "docker-proxy", "/usr/sbin/docker-proxy", DOCKER_PROXY);
        let r = judge(&p, &guard(), false, Some("web"), None);
        let Some(r) = r else {
            panic!("docker-proxy signalled")
        };
        assert_eq!(r.rule(), "container");
        assert!(r.forcible());
        let m = r.message(18080);
        assert!(
            m.starts_with("published by container web (docker-proxy pid 3100): `docker stop web`"),
            "{m}"
        );
        assert!(m.contains("--force"), "{m}");
        // Without the container's name: where it forwards to, and how to find the name.
        let m = judge(&p, &guard(), false, None, None).map(|r| r.message(18080));
        assert_eq!(
            m.as_deref(),
            Some(
                "published by a container (docker-proxy pid 3100 forwards it to 172.17.0.2:80): \
                 `docker ps --filter publish=18080` names the container, then `docker stop NAME`; \
                 --force signals docker-proxy anyway"
            )
        );
        // --force: signalled.
        assert_eq!(judge(&p, &guard(), true, None, None), None);
    }

    #[test]
    fn the_runtimes_word_names_plumbing_and_container() {
        // A forwarder renamed beyond recognition, which the runtime's files name.
        let p = process(3500, "fwd", "/opt/fwd", &["fwd"]);
        assert_eq!(judge(&p, &guard(), false, None, None), None);
        let m = judge(
            &p,
            &guard(),
            false,
            Some("web"),
            Some(Plumbing::from_via(Via::DockerProxy)),
        )
        .map(|r| r.message(18080));
        assert_eq!(
            m.as_deref(),
            Some(
                "published by container web (docker-proxy pid 3500): `docker stop web`; \
                 --force signals docker-proxy anyway"
            )
        );
    }

    #[test]
    fn recognised_by_executable_or_argv0_too() {
        // A comm cut or renamed: the executable's file name still tells.
        let p = process(3101, "docker-prox", "/usr/bin/docker-proxy", &["x"]);
        assert_eq!(Plumbing::of(&p), Some(Plumbing::DockerProxy));
        let mut p = Process::unknown(3102);
        p.cmdline = Some(vec!["/usr/libexec/podman/rootlessport".into()]);
        assert_eq!(Plumbing::of(&p), Some(Plumbing::Rootlessport));
        for (name, kind) in [
            ("dockerd", Plumbing::Dockerd),
            ("conmon", Plumbing::Conmon),
            ("pasta.avx2", Plumbing::Pasta),
            ("slirp4netns", Plumbing::Slirp4netns),
        ] {
            assert_eq!(
                Plumbing::of(&process(9, name, "/x/y", &[])),
                Some(kind),
                "{name}"
            );
        }
        assert_eq!(Plumbing::of(&server(9)), None);
        assert_eq!(Plumbing::of(&Process::unknown(9)), None);
    }

    #[test]
    fn conmon_names_its_container() {
        let p = process(
            3200,
            "conmon",
            "/usr/bin/conmon",
            &[
                "/usr/bin/conmon",
                "--api-version",
                "1",
                "-c",
                "0123abcd",
                "-n",
                "db",
            ],
        );
        let m = judge(&p, &guard(), false, None, None).map(|r| r.message(5432));
        assert_eq!(
            m.as_deref(),
            Some(
                "published by container db (conmon pid 3200): `podman stop db`; \
                 --force signals conmon anyway"
            )
        );
    }

    #[test]
    fn rootless_podman_says_as_whom() {
        let mut p = process(
            3300,
            "rootlessport",
            "/usr/libexec/podman/rootlessport",
            &[],
        );
        p.user = Some("alice".into());
        let m = judge(&p, &guard(), false, None, None).map(|r| r.message(8080));
        assert_eq!(
            m.as_deref(),
            Some(
                "published by a container (rootlessport pid 3300): `podman ps --filter \
                 publish=8080` names the container (as alice), then `podman stop NAME`; \
                 --force signals rootlessport anyway"
            )
        );
    }

    #[test]
    fn dockerd_reservation() {
        let p = process(900, "dockerd", "/usr/sbin/dockerd", &["/usr/sbin/dockerd"]);
        let m = judge(&p, &guard(), false, None, None).map(|r| r.message(18080));
        assert_eq!(
            m.as_deref(),
            Some(
                "reserved by dockerd (pid 900) for a container's published port; signalling \
                 it would stop the Docker daemon: `docker ps --filter publish=18080` names the \
                 container, then `docker stop NAME`; --force signals dockerd anyway"
            )
        );
    }

    #[test]
    fn hidden_says_sudo() {
        let r = hidden(HiddenReason::NotPermitted, Some(1001), Some("alice".into()));
        assert_eq!(r.rule(), "hidden");
        assert!(!r.forcible());
        assert_eq!(r.pid(), None);
        assert_eq!(
            r.message(8080),
            "whoport may not see which process holds it (the socket belongs to alice, uid \
             1001): run `sudo whoport kill 8080`"
        );
        let m = hidden(HiddenReason::Unreadable, Some(0), None).message(8080);
        assert!(m.contains("even as root") && m.contains("uid 0"), "{m}");
    }

    #[test]
    fn ipv6_container_address_in_brackets() {
        let mut cmd: Vec<&str> = DOCKER_PROXY.to_vec();
        cmd[8] = "fd00::2";
        let p = process(3400, "docker-proxy", "/usr/sbin/docker-proxy", &cmd);
        assert!(
            judge(&p, &guard(), false, None, None)
                .is_some_and(|r| r.message(1).contains("forwards it to [fd00::2]:80"))
        );
    }
}
