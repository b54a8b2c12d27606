//! Containers, network namespaces and services, against real dockerd, Podman, `ip netns`
//! and `unshare -n` (tests/integration/runtimes.rs starts and cleans them up).

use serde_json::Value;

use crate::runtimes::{
    Docker, NamedNetns, Podman, Server, UnitCgroup, cgroup2_root, docker_proxy_pid, needs, program,
    sh,
};
use crate::support::{Holder, free_port, json, sleep_path, sockets, tcp_listener};

/// The pids holding each socket of a one-port JSON report.
fn holders(v: &Value) -> Vec<Vec<u64>> {
    sockets(v)
        .iter()
        .map(|s| {
            let mut p: Vec<u64> = s["processes"]
                .as_array()
                .map(|a| a.iter().filter_map(|p| p["pid"].as_u64()).collect())
                .unwrap_or_default();
            p.sort_unstable();
            p
        })
        .collect()
}

fn name(prefix: &str) -> String {
    format!("whoport-{prefix}-{}", std::process::id())
}

#[test]
fn docker_published_port_is_held_by_docker_proxy() {
    let Some(mut docker) = Docker::start("docker_published_port_is_held_by_docker_proxy", &[])
    else {
        return;
    };
    let port = free_port();
    let web = name("web");
    docker.httpd(&web, &["-p", &format!("127.0.0.1:{port}:8080")], 8080);
    let proxy = docker_proxy_pid(port);
    assert!(proxy.is_some(), "no docker-proxy for {port}");
    let (code, v) = json(&["-l", &port.to_string()], "native");
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        holders(&v),
        vec![vec![u64::from(proxy.unwrap_or(0))]],
        "{v}"
    );
    let started = docker.daemon_pid().is_some();
    drop(docker);
    if started {
        // The daemon this test started is gone, and with it the proxy.
        assert!(docker_proxy_pid(port).is_none());
        assert!(!crate::runtimes::docker_up());
    }
}

#[test]
fn docker_unpublished_listener_is_not_in_this_namespace() {
    let Some(mut docker) =
        Docker::start("docker_unpublished_listener_is_not_in_this_namespace", &[])
    else {
        return;
    };
    let port = free_port();
    let web = name("inner");
    docker.httpd(&web, &[], port);
    let (code, v) = json(&["-l", &port.to_string()], "native");
    assert_eq!(code, 1, "{v}");
    assert!(sockets(&v).is_empty(), "{v}");
}

#[test]
fn podman_published_port_is_held_by_conmon() {
    let Some(mut podman) = Podman::start("podman_published_port_is_held_by_conmon") else {
        return;
    };
    let port = free_port();
    let db = name("pod");
    podman.httpd(&db, &["-p", &format!("127.0.0.1:{port}:8080")], 8080);
    let conmon = sh(
        "podman",
        &["inspect", "--format", "{{.State.ConmonPid}}", &db],
    );
    let (code, v) = json(&["-l", &port.to_string()], "native");
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        holders(&v),
        vec![vec![conmon.parse::<u64>().unwrap_or(0)]],
        "{v}"
    );
}

#[test]
fn listeners_in_other_namespaces_are_not_here() {
    let test = "listeners_in_other_namespaces_are_not_here";
    if !needs(test, "root", crate::runtimes::is_root())
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
    let port = free_port();
    let ns = NamedNetns::add(&name("ns"));
    let named = ns.httpd(port);
    let anonymous = Server::start(&["unshare", "-n"], port);
    assert_ne!(named.pid(), anonymous.pid());
    let (code, v) = json(&["-l", &port.to_string()], "native");
    assert_eq!(code, 1, "{v}");
    assert!(sockets(&v).is_empty(), "{v}");
}

#[test]
fn a_process_in_a_unit_cgroup() {
    let test = "a_process_in_a_unit_cgroup";
    if !needs(test, "root", crate::runtimes::is_root())
        || !needs(test, "a cgroup v2 hierarchy", cgroup2_root().is_some())
    {
        return;
    }
    let listener = tcp_listener("127.0.0.1:0");
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let holder = Holder::spawn(&sleep_path(), listener.into());
    let unit = format!("{}.service", name("unit"));
    let pid = u32::try_from(holder.pid()).unwrap_or(0);
    let cgroup = UnitCgroup::enter(&unit, pid);
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    assert!(
        text.lines()
            .any(|l| l == format!("0::/system.slice/{unit}")),
        "{text}"
    );
    let (code, v) = json(&["-l", &port.to_string()], "native");
    assert_eq!(code, 0, "{v}");
    assert!(holders(&v).iter().any(|h| h.contains(&holder.pid())), "{v}");
    drop(holder);
    drop(cgroup);
}
