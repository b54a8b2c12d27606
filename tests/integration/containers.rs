//! Containers, network namespaces and services, against real dockerd, Podman, `ip netns`,
//! `unshare -n` and a unit-named cgroup (tests/integration/runtimes.rs starts and cleans
//! them up).
//!
//! dockerd must run in the host's network namespace (its published ports are there), so
//! a Docker test starts it, when it is not running, before the test thread goes into a
//! namespace of its own (`hermetic`); whoport then looks at the host's namespace with
//! `-N <pid of docker-proxy or dockerd>`, and a plain query from the test's namespace sees
//! the container's sockets only through the free-port hint. Podman publishes in the
//! namespace it runs in: the test's own.

use std::process::Output;

use serde_json::Value;

use crate::runtimes::{
    Docker, NamedNetns, Podman, Server, UnitCgroup, cgroup2_root, docker_proxy_pid, is_root, needs,
    program, sh,
};
use crate::support::{
    Holder, free_port, hermetic, json, run, run_as, shared_whoport, sleep_path, sockets,
    tcp_listener,
};

/// The pids holding a socket.
fn pids_of(s: &Value) -> Vec<u64> {
    let mut p: Vec<u64> = s["processes"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["pid"].as_u64()).collect())
        .unwrap_or_default();
    p.sort_unstable();
    p
}

fn name(prefix: &str) -> String {
    format!("whoport-{prefix}-{}", std::process::id())
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `whoport ARGS` (table) and its exit code.
fn table(args: &[&str]) -> (i32, String) {
    let out = run(args, "native");
    (out.status.code().unwrap_or(-1), text(&out))
}

#[test]
fn docker_published_port_names_its_container() {
    let test = "docker_published_port_names_its_container";
    let Some(mut docker) = Docker::start(test, &[]) else {
        return;
    };
    // Free in the host's namespace, where Docker publishes.
    let port = free_port();
    hermetic();
    let web = name("web");
    let id = docker.httpd(&web, &["-p", &format!("127.0.0.1:{port}:8080")], 8080);
    let Some(proxy) = docker_proxy_pid(port) else {
        panic!("no docker-proxy for {port}")
    };
    let p = port.to_string();
    let host_ns = proxy.to_string();
    // In the host's namespace (docker-proxy's): docker-proxy holds it, for web.
    let (code, v) = json(&["-N", &host_ns, &p], "native");
    assert_eq!(code, 0, "{v}");
    let s = &sockets(&v)[0];
    assert_eq!(pids_of(s), vec![u64::from(proxy)], "{v}");
    assert_eq!(s["container"]["runtime"], "docker", "{v}");
    assert_eq!(s["container"]["id"], id.as_str(), "{v}");
    assert_eq!(s["container"]["name"], web.as_str(), "{v}");
    assert_eq!(s["published"]["via"], "docker-proxy", "{v}");
    assert_eq!(s["published"]["pid"], proxy, "{v}");
    assert_eq!(s["published"]["container_port"], 8080, "{v}");
    let ancestors = &s["processes"][0]["ancestors"];
    assert_eq!(ancestors[0]["name"], "dockerd", "{v}");
    let (code, out) = table(&["-N", &host_ns, &p]);
    assert_eq!(code, 0, "{out}");
    let line = format!(
        "{port}/tcp published by container {web} (docker, {}…): docker-proxy (pid {proxy}) holds it",
        &id[..12]
    );
    assert!(out.contains(&line), "{out}");
    // From a namespace where the port is free: exit 1, and the hint names the container.
    if is_root() {
        let (code, v) = json(&[&p], "native");
        assert_eq!(code, 1, "{v}");
        assert!(sockets(&v).is_empty(), "{v}");
        let elsewhere = v["elsewhere"].as_array().cloned().unwrap_or_default();
        assert!(
            elsewhere
                .iter()
                .any(|s| pids_of(s) == vec![u64::from(proxy)]
                    && s["container"]["name"] == web.as_str()),
            "{v}"
        );
    }
    let started = docker.daemon_pid().is_some();
    drop(docker);
    if started {
        // The daemon this test started is gone, and with it the proxy.
        assert!(docker_proxy_pid(port).is_none());
        assert!(!crate::runtimes::docker_up());
    }
}

#[test]
fn docker_unpublished_listener_is_found_in_its_namespace() {
    let test = "docker_unpublished_listener_is_found_in_its_namespace";
    let Some(mut docker) = Docker::start(test, &[]) else {
        return;
    };
    // Free in the host's namespace, where Docker publishes.
    let port = free_port();
    hermetic();
    let p = port.to_string();
    let inner = name("inner");
    let id = docker.httpd(&inner, &[], port);
    let pid: u64 = docker.pid(&inner).parse().unwrap_or(0);
    // Free here; the hint says where it is held.
    let (code, v) = json(&[&p], "native");
    assert_eq!(code, 1, "{v}");
    assert!(sockets(&v).is_empty(), "{v}");
    let elsewhere = v["elsewhere"].as_array().cloned().unwrap_or_default();
    let Some(s) = elsewhere.iter().find(|s| pids_of(s) == vec![pid]) else {
        panic!("container's listener not in the hint: {v}")
    };
    assert_eq!(s["container"]["name"], inner.as_str(), "{v}");
    assert_eq!(s["container"]["id"], id.as_str(), "{v}");
    assert_eq!(s["netns"]["current"], false, "{v}");
    assert_eq!(
        s["processes"][0]["container"]["name"],
        inner.as_str(),
        "{v}"
    );
    let (code, out) = table(&[&p]);
    assert_eq!(code, 1, "{out}");
    let hint = format!(
        "free here; container {inner} (docker, {}…) listens on {port}/tcp in its own network namespace: busybox (pid {pid})",
        &id[..12]
    );
    assert!(out.contains(&hint), "{out}");
    // -N NAME: the container's namespace, by its name.
    let (code, v) = json(&["-N", &inner, &p], "native");
    assert_eq!(code, 0, "{v}");
    assert_eq!(pids_of(&sockets(&v)[0]), vec![pid], "{v}");
    assert_eq!(sockets(&v)[0]["container"]["name"], inner.as_str(), "{v}");
    // --netns all: it is among every namespace's listeners, with its container.
    let (code, out) = table(&["--netns", "all", "-l", &p]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains(&inner) && l.contains(&pid.to_string())),
        "{out}"
    );
}

#[test]
fn docker_without_userland_proxy_dockerd_holds_the_port() {
    let test = "docker_without_userland_proxy_dockerd_holds_the_port";
    let Some(mut docker) = Docker::start(test, &["--userland-proxy=false"]) else {
        return;
    };
    let port = free_port();
    hermetic();
    let Some(dockerd) = docker.daemon_pid() else {
        panic!("{test}: dockerd was not started here")
    };
    let p = port.to_string();
    let web = name("noproxy");
    let id = docker.httpd(&web, &["-p", &format!("127.0.0.1:{port}:8080")], 8080);
    assert!(docker_proxy_pid(port).is_none());
    let (code, v) = json(&["-N", &dockerd.to_string(), "-l", &p], "native");
    assert_eq!(code, 0, "{v}");
    let s = &sockets(&v)[0];
    assert_eq!(pids_of(s), vec![u64::from(dockerd)], "{v}");
    assert_eq!(s["published"]["via"], "dockerd", "{v}");
    assert_eq!(s["published"]["container_port"], 8080, "{v}");
    assert_eq!(s["container"]["id"], id.as_str(), "{v}");
    assert_eq!(s["container"]["name"], web.as_str(), "{v}");
}

#[test]
fn podman_published_port_names_its_container() {
    let test = "podman_published_port_names_its_container";
    // Podman publishes in the namespace it runs in: the test's own.
    hermetic();
    let Some(mut podman) = Podman::start(test) else {
        return;
    };
    let port = free_port();
    let p = port.to_string();
    let db = name("pod");
    let id = podman.httpd(&db, &["-p", &format!("127.0.0.1:{port}:8080")], 8080);
    let conmon: u64 = sh(
        "podman",
        &["inspect", "--format", "{{.State.ConmonPid}}", &db],
    )
    .parse()
    .unwrap_or(0);
    let (code, v) = json(&["-l", &p], "native");
    assert_eq!(code, 0, "{v}");
    let s = &sockets(&v)[0];
    assert_eq!(pids_of(s), vec![conmon], "{v}");
    assert_eq!(s["published"]["via"], "conmon", "{v}");
    assert_eq!(s["container"]["runtime"], "podman", "{v}");
    assert_eq!(s["container"]["id"], id.as_str(), "{v}");
    assert_eq!(s["container"]["name"], db.as_str(), "{v}");
    // The container's own process: in it, by its cgroup.
    let pid: u64 = podman.pid(&db).parse().unwrap_or(0);
    let (code, v) = json(&["-N", &pid.to_string(), "-l", "8080"], "native");
    assert_eq!(code, 0, "{v}");
    let s = &sockets(&v)[0];
    assert_eq!(pids_of(s), vec![pid], "{v}");
    assert_eq!(s["processes"][0]["container"]["name"], db.as_str(), "{v}");
}

#[test]
fn named_and_anonymous_namespaces() {
    let test = "named_and_anonymous_namespaces";
    if !needs(test, "root", is_root())
        || !needs(
            test,
            "ip and unshare",
            program("ip").is_some() && program("unshare").is_some(),
        )
        || !needs(
            test,
            "/bin/busybox",
            std::path::Path::new("/bin/busybox").is_file(),
        )
    {
        return;
    }
    hermetic();
    let port = free_port();
    let p = port.to_string();
    let ns = NamedNetns::add(&name("ns"));
    let named = ns.httpd(port);
    let anonymous = Server::start(&["unshare", "-n"], port);
    let (named_pid, anon_pid) = (u64::from(named.pid()), u64::from(anonymous.pid()));
    // Free here: exit 1, and the hint names both namespaces' holders.
    let (code, v) = json(&["-l", &p], "native");
    assert_eq!(code, 1, "{v}");
    let elsewhere = v["elsewhere"].as_array().cloned().unwrap_or_default();
    let by_pid = |pid: u64| elsewhere.iter().find(|s| pids_of(s) == vec![pid]).cloned();
    let Some(in_named) = by_pid(named_pid) else {
        panic!("{v}")
    };
    assert_eq!(in_named["netns"]["name"], ns.name.as_str(), "{v}");
    let Some(in_anon) = by_pid(anon_pid) else {
        panic!("{v}")
    };
    assert_eq!(in_anon["netns"]["name"], Value::Null, "{v}");
    assert_ne!(in_named["netns"]["inode"], in_anon["netns"]["inode"], "{v}");
    let (_, out) = table(&["-l", &p]);
    let hint = format!(
        "free here; busybox (pid {named_pid}) listens on {port}/tcp in network namespace {}",
        ns.name
    );
    assert!(out.contains(&hint), "{out}");
    // One namespace, by name, by path, by pid.
    let path = format!("/run/netns/{}", ns.name);
    let anon = anon_pid.to_string();
    for (netns, holder) in [
        (ns.name.as_str(), named_pid),
        (path.as_str(), named_pid),
        (anon.as_str(), anon_pid),
    ] {
        // sock_diag in the namespace, and its /proc/thread-self/net.
        for backend in ["native", "procfs"] {
            let (code, v) = json(&["-N", netns, "-l", &p], backend);
            assert_eq!(code, 0, "-N {netns} ({backend}): {v}");
            let found: Vec<Vec<u64>> = sockets(&v).iter().map(pids_of).collect();
            assert_eq!(found, vec![vec![holder]], "-N {netns} ({backend}): {v}");
        }
    }
    // All of them.
    let (code, v) = json(&["-N", "all", "-l", &p], "native");
    assert_eq!(code, 0, "{v}");
    let found: Vec<Vec<u64>> = sockets(&v).iter().map(pids_of).collect();
    assert!(
        found.contains(&vec![named_pid]) && found.contains(&vec![anon_pid]),
        "{v}"
    );
    // An unknown namespace: exit 2, naming it.
    let bogus = name("no-such-netns");
    let out = run(&["-N", &bogus, &p], "native");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("'{bogus}'")), "{err}");
}

#[test]
fn unprivileged_reads_only_its_own_namespace() {
    let test = "unprivileged_reads_only_its_own_namespace";
    if !needs(test, "root (to run whoport as nobody)", is_root()) {
        return;
    }
    hermetic();
    let exe = shared_whoport();
    let out = run_as(&exe, crate::support::NOBODY, &["--netns", "all"], "native");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("only this network namespace was read: entering another needs root"),
        "{err}"
    );
}

#[test]
fn a_process_in_a_unit_cgroup_names_its_unit() {
    let test = "a_process_in_a_unit_cgroup_names_its_unit";
    if !needs(test, "root", is_root())
        || !needs(test, "a cgroup v2 hierarchy", cgroup2_root().is_some())
    {
        return;
    }
    hermetic();
    let listener = tcp_listener("127.0.0.1:0");
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let holder = Holder::spawn(&sleep_path(), listener.into());
    let unit = format!("{}.service", name("unit"));
    let pid = u32::try_from(holder.pid()).unwrap_or(0);
    let cgroup = UnitCgroup::enter(&unit, pid);
    let (code, v) = json(&["-l", &port.to_string()], "native");
    assert_eq!(code, 0, "{v}");
    let held = sockets(&v)[0]["processes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let Some(p) = held.iter().find(|p| p["pid"] == pid) else {
        panic!("{v}")
    };
    assert_eq!(p["unit"]["name"], unit.as_str(), "{v}");
    assert_eq!(p["unit"]["user"], Value::Null, "{v}");
    assert_eq!(p["container"], Value::Null, "{v}");
    let (_, out) = table(&["-l", &port.to_string()]);
    assert!(
        out.contains(&format!("sleep (pid {pid}): unit {unit}")),
        "{out}"
    );
    drop(holder);
    drop(cgroup);
}

/// 50 `ip netns add` namespaces, a listener in each on one port: `--netns all` finds
/// every one, and what it adds per namespace is measured against a plain query (the
/// budget is ~2 ms per namespace).
#[test]
fn fifty_namespaces() {
    let test = "fifty_namespaces";
    if !needs(test, "root", is_root())
        || !needs(test, "ip", program("ip").is_some())
        || !needs(
            test,
            "/bin/busybox",
            std::path::Path::new("/bin/busybox").is_file(),
        )
    {
        return;
    }
    hermetic();
    const N: usize = 50;
    let port = free_port();
    let p = port.to_string();
    let namespaces: Vec<NamedNetns> = (0..N)
        .map(|i| NamedNetns::add(&format!("{}-{i}", name("fifty"))))
        .collect();
    let servers: Vec<Server> = namespaces.iter().map(|ns| ns.httpd(port)).collect();
    let (code, v) = json(&["-N", "all", "-l", &p], "native");
    assert_eq!(code, 0, "{v}");
    let found: Vec<Vec<u64>> = sockets(&v).iter().map(pids_of).collect();
    for s in &servers {
        assert!(
            found.contains(&vec![u64::from(s.pid())]),
            "{} missing: {v}",
            s.pid()
        );
    }
    // Best of 5 of each: the machine is shared. Quiet, so that the plain query does not
    // look at the other namespaces for the free-port hint.
    let time = |args: &[&str]| {
        (0..5)
            .map(|_| {
                let started = std::time::Instant::now();
                let out = run(args, "native");
                assert!(out.status.code().is_some());
                started.elapsed()
            })
            .min()
            .unwrap_or_default()
    };
    let all = time(&["-q", "-N", "all", "-l", &p]);
    let here = time(&["-q", "-l", &p]);
    let per_ns = all.saturating_sub(here) / N as u32;
    eprintln!(
        "{test}: --netns all {all:?}, current only {here:?}: {per_ns:?} per namespace ({N} + the host's)"
    );
    assert!(
        per_ns < std::time::Duration::from_millis(10),
        "{per_ns:?} per namespace"
    );
    drop(servers);
    drop(namespaces);
}

/// `--network host`: the socket is in the host's namespace, held by the container's own
/// process, whose cgroup names the container.
#[test]
fn docker_host_network_container_is_named_by_its_cgroup() {
    let test = "docker_host_network_container_is_named_by_its_cgroup";
    let Some(mut docker) = Docker::start(test, &[]) else {
        return;
    };
    // Free in the host's namespace, where Docker publishes.
    let port = free_port();
    hermetic();
    let p = port.to_string();
    let host = name("hostnet");
    // busybox httpd binds every address: in the host's namespace, on a port free there.
    let id = docker.httpd(&host, &["--network", "host"], port);
    let pid: u64 = docker.pid(&host).parse().unwrap_or(0);
    let (code, v) = json(&["-N", &pid.to_string(), "-l", &p], "native");
    assert_eq!(code, 0, "{v}");
    let s = &sockets(&v)[0];
    assert_eq!(pids_of(s), vec![pid], "{v}");
    assert_eq!(s["container"]["id"], id.as_str(), "{v}");
    assert_eq!(s["container"]["name"], host.as_str(), "{v}");
    assert_eq!(s["published"], Value::Null, "{v}");
    assert_eq!(
        s["processes"][0]["ancestors"][0]["name"], "containerd-shim",
        "{v}"
    );
}
