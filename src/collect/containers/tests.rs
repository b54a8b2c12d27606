//! The file readers on a recorded tree: `/proc` entries and the runtimes' files laid out
//! under a temporary root as this machine's Docker 20.10 and Podman 4.3 wrote them.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;

const ID: &str = "48125ae2481f224587d9f9bb20726c71ef0045f4a37dc3993f0e86832a18b64e";
const PID2: &str = "8621072303ce5b172160b72b685fc127bdf76243680b894b191ad10edd5495c4";
const KUBE: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const UID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn process(root: &Path, pid: u32, name: &str, parent: u32, cgroup: &str, cmdline: &[&str]) {
    write(
        root,
        &format!("proc/{pid}/stat"),
        &format!("{pid} ({name}) S {parent} {pid} {pid} 0 -1 4194560 0 0"),
    );
    write(root, &format!("proc/{pid}/cgroup"), cgroup);
    let mut args = cmdline.join("\0");
    args.push('\0');
    write(root, &format!("proc/{pid}/cmdline"), &args);
}

fn docker_config(name: &str, ip: &str, ports: &str, running: bool) -> String {
    format!(
        r#"{{"State":{{"Running":{running},"Pid":100}},"ID":"{ID}","Name":"/{name}",
        "NetworkSettings":{{"Networks":{{"bridge":{{"IPAddress":"{ip}"}}}},"Ports":{ports},
        "SandboxKey":"/var/run/docker/netns/f16511d95a62"}}}}"#
    )
}

/// The recorded machine: a Docker container `web` (pid 100, under containerd-shim 90,
/// containerd 80) published by docker-proxy 200 (under dockerd 210); a Podman container
/// `db` published by conmon 300; a Kubernetes container 500; a unit process 600.
fn machine() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let root = dir.path();
    let docker_cg = format!("9:name=systemd:/docker/{ID}\n0::/docker/{ID}\n");
    process(
        root,
        100,
        "busybox",
        90,
        &docker_cg,
        &["/bin/busybox", "httpd"],
    );
    process(
        root,
        90,
        "containerd-shim",
        80,
        "0::/\n",
        &["containerd-shim-runc-v2"],
    );
    process(
        root,
        80,
        "containerd",
        1,
        "0::/system.slice/containerd.service\n",
        &["containerd"],
    );
    process(root, 1, "systemd", 0, "0::/init.scope\n", &["/sbin/init"]);
    let proxy = "/usr/sbin/docker-proxy -proto tcp -host-ip 127.0.0.1 -host-port 18080 -container-ip 172.17.0.2 -container-port 8080";
    process(
        root,
        200,
        "docker-proxy",
        210,
        "0::/system.slice/docker.service\n",
        &proxy.split(' ').collect::<Vec<_>>(),
    );
    process(
        root,
        210,
        "dockerd",
        1,
        "0::/system.slice/docker.service\n",
        &["/usr/sbin/dockerd"],
    );
    write(
        root,
        &format!("var/lib/docker/containers/{ID}/config.v2.json"),
        &docker_config(
            "web",
            "172.17.0.2",
            r#"{"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":"18080"}]}"#,
            true,
        ),
    );
    let conmon = format!(
        "/usr/bin/conmon --api-version 1 -c {PID2} -u {PID2} -r /usr/bin/runc -n db --exit-command /usr/bin/podman"
    );
    process(
        root,
        300,
        "conmon",
        1,
        "0::/\n",
        &conmon.split(' ').collect::<Vec<_>>(),
    );
    process(
        root,
        310,
        "postgres",
        300,
        &format!("0::/libpod_parent/libpod-{PID2}\n"),
        &["postgres"],
    );
    write(
        root,
        "var/lib/containers/storage/overlay-containers/containers.json",
        &format!(r#"[{{"id":"{PID2}","names":["db"],"image":"x"}}]"#),
    );
    write(
        root,
        &format!("run/containers/storage/overlay-containers/{PID2}/userdata/pidfile"),
        "310",
    );
    let uid_ = UID.replace('-', "_");
    process(
        root,
        500,
        "coredns",
        1,
        &format!(
            "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice/cri-containerd-{KUBE}.scope\n"
        ),
        &["coredns"],
    );
    fs::create_dir_all(root.join(format!(
        "var/log/pods/kube-system_coredns-abc_{UID}/coredns"
    )))
    .unwrap_or_else(|e| panic!("{e}"));
    write(
        root,
        &format!("var/log/containers/coredns-abc_kube-system_coredns-{KUBE}.log"),
        "",
    );
    process(
        root,
        600,
        "postgres",
        1,
        "9:name=systemd:/system.slice/postgresql@15-main.service\n0::/\n",
        &["postgres"],
    );
    dir
}

fn docker_web() -> Container {
    Container {
        runtime: Runtime::Docker,
        id: ID.to_string(),
        name: Some("web".to_string()),
        pod: None,
    }
}

fn podman_db() -> Container {
    Container {
        runtime: Runtime::Podman,
        id: PID2.to_string(),
        name: Some("db".to_string()),
        pod: None,
    }
}

#[test]
fn processes_in_containers_and_units() {
    let dir = machine();
    let mut a = Attributor::with_root(dir.path());
    assert_eq!(
        a.process(100),
        ProcessFacts {
            container: Some(Box::new(docker_web())),
            unit: None
        }
    );
    assert_eq!(a.process(310).container.map(|c| *c), Some(podman_db()));
    assert_eq!(
        a.process(500).container.map(|c| *c),
        Some(Container {
            runtime: Runtime::Containerd,
            id: KUBE.to_string(),
            name: Some("coredns".to_string()),
            pod: Some(Pod {
                uid: UID.to_string(),
                namespace: Some("kube-system".to_string()),
                name: Some("coredns-abc".to_string()),
            }),
        })
    );
    assert_eq!(
        a.process(600),
        ProcessFacts {
            container: None,
            unit: Some(Unit {
                name: "postgresql@15-main.service".to_string(),
                user: None
            })
        }
    );
    assert_eq!(
        a.process(200).unit.map(|u| u.name),
        Some("docker.service".to_string())
    );
    // A process that exited: nothing, no note.
    assert_eq!(a.process(999), ProcessFacts::default());
    assert_eq!(a.notes(), Vec::<String>::new());
}

#[test]
fn forwarders_name_their_container() {
    let dir = machine();
    let mut a = Attributor::with_root(dir.path());
    let lo = IpAddr::from([127, 0, 0, 1]);
    assert_eq!(
        a.published(200, "docker-proxy", Protocol::Tcp, lo, 18080),
        Some(Published {
            container: Some(docker_web()),
            via: Via::DockerProxy,
            pid: 200,
            target: Some((Some(IpAddr::from([172, 17, 0, 2])), 8080)),
        })
    );
    // --userland-proxy=false: dockerd's own reservation, matched by host address and port.
    assert_eq!(
        a.published(210, "dockerd", Protocol::Tcp, lo, 18080),
        Some(Published {
            container: Some(docker_web()),
            via: Via::Dockerd,
            pid: 210,
            target: Some((None, 8080)),
        })
    );
    assert_eq!(a.published(210, "dockerd", Protocol::Udp, lo, 18080), None);
    assert_eq!(
        a.published(
            210,
            "dockerd",
            Protocol::Tcp,
            IpAddr::from([127, 0, 0, 2]),
            18080
        ),
        None
    );
    assert_eq!(a.published(210, "dockerd", Protocol::Tcp, lo, 2375), None);
    assert_eq!(
        a.published(300, "conmon", Protocol::Tcp, lo, 18081),
        Some(Published {
            container: Some(podman_db()),
            via: Via::Conmon,
            pid: 300,
            target: None,
        })
    );
    // Not a forwarder.
    assert_eq!(a.published(100, "busybox", Protocol::Tcp, lo, 8080), None);
    // A proxy to web's address for a host port web does not publish: not web's.
    let other =
        "docker-proxy -proto tcp -host-port 19999 -container-ip 172.17.0.2 -container-port 80";
    process(
        dir.path(),
        201,
        "docker-proxy",
        210,
        "0::/\n",
        &other.split(' ').collect::<Vec<_>>(),
    );
    assert_eq!(
        a.published(201, "docker-proxy", Protocol::Tcp, lo, 19999)
            .map(|p| p.container),
        Some(None)
    );
    assert_eq!(a.find("web"), Some((docker_web(), Some(100))));
    assert_eq!(a.find(&ID[..12]), Some((docker_web(), Some(100))));
    assert_eq!(a.find("db"), Some((podman_db(), Some(310))));
    assert_eq!(a.find("nope"), None);
    assert_eq!(a.find(&ID[..6]), None);
}

#[test]
fn unreadable_files_give_a_note_not_an_error() {
    let dir = machine();
    let root = dir.path();
    // A directory where the file should be: reading it fails as a root-only file would.
    let config = root.join(format!("var/lib/docker/containers/{ID}/config.v2.json"));
    fs::remove_file(&config).unwrap_or_else(|e| panic!("{e}"));
    fs::create_dir(&config).unwrap_or_else(|e| panic!("{e}"));
    let mut a = Attributor::with_root(root);
    let facts = a.process(100);
    assert_eq!(
        facts.container.map(|c| *c),
        Some(Container {
            name: None,
            ..docker_web()
        })
    );
    let lo = IpAddr::from([127, 0, 0, 1]);
    // docker-proxy: the target is known, the container is not.
    assert_eq!(
        a.published(200, "docker-proxy", Protocol::Tcp, lo, 18080),
        Some(Published {
            container: None,
            via: Via::DockerProxy,
            pid: 200,
            target: Some((Some(IpAddr::from([172, 17, 0, 2])), 8080)),
        })
    );
    let notes = a.notes();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("config.v2.json"), "{notes:?}");
    // A damaged list: a note, no names.
    write(
        root,
        "var/lib/containers/storage/overlay-containers/containers.json",
        "[{",
    );
    let mut a = Attributor::with_root(root);
    assert_eq!(a.process(310).container.and_then(|c| c.name), None);
    assert!(a.notes().iter().any(|n| n.contains("not a container list")));
}

#[test]
fn files_are_read_once() {
    let dir = machine();
    let mut a = Attributor::with_root(dir.path());
    assert_eq!(a.process(100).container.map(|c| *c), Some(docker_web()));
    // Changed on disk after the first read: the run keeps what it read.
    write(
        dir.path(),
        &format!("var/lib/docker/containers/{ID}/config.v2.json"),
        &docker_config("renamed", "172.17.0.2", "{}", true),
    );
    assert_eq!(a.process(100).container.map(|c| *c), Some(docker_web()));
}

#[test]
fn parent_chains() {
    let dir = machine();
    let a = Attributor::with_root(dir.path());
    let chain = |pid| {
        a.ancestors(pid)
            .into_iter()
            .map(|x| (x.pid, x.name))
            .collect::<Vec<_>>()
    };
    // Up to the runtime: containerd-shim ends the chain.
    assert_eq!(chain(100), vec![(90, "containerd-shim".to_string())]);
    assert_eq!(chain(200), vec![(210, "dockerd".to_string())]);
    assert_eq!(chain(600), vec![(1, "systemd".to_string())]);
    assert_eq!(chain(1), vec![]);
    assert_eq!(chain(999), vec![]);
    // A loop (impossible in /proc, possible in damaged input) ends.
    process(dir.path(), 700, "a", 701, "", &["a"]);
    process(dir.path(), 701, "b", 700, "", &["b"]);
    assert_eq!(
        chain(700),
        vec![(701, "b".to_string()), (700, "a".to_string())]
    );
}

#[test]
fn stat_lines() {
    assert_eq!(
        parse_stat("42 (a (b) c) S 7 42 42 0"),
        Some(("a (b) c".to_string(), 7))
    );
    assert_eq!(
        parse_stat("1 (systemd) S 0 1 1"),
        Some(("systemd".to_string(), 0))
    );
    for bad in ["", "1 systemd S 0", "1 (x) S", "1 (x) S y"] {
        assert_eq!(parse_stat(bad), None, "{bad}");
    }
}

fn home_u(uid: u32) -> Option<PathBuf> {
    (uid == 1000).then(|| PathBuf::from("/home/u"))
}

#[test]
fn rootless_podman() {
    let dir = machine();
    let root = dir.path();
    let storage = "home/u/.local/share/containers/storage/overlay-containers";
    write(
        root,
        &format!("{storage}/containers.json"),
        &format!(r#"[{{"id":"{ID}","names":["app"]}}]"#),
    );
    write(
        root,
        &format!("{storage}/{ID}/userdata/config.json"),
        r#"{"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/run/user/1000/netns/netns-3c1e"}]}}"#,
    );
    process(root, 400, "rootlessport", 1, "0::/\n", &["rootlessport"]);
    write(
        root,
        "proc/400/status",
        "Name:\trootlessport\nUid:\t1000\t1000\t1000\t1000\n",
    );
    fs::create_dir_all(root.join("proc/400/fd")).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(
        "/run/user/1000/netns/netns-3c1e",
        root.join("proc/400/fd/7"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut a = Attributor::with_root(root).with_homes(home_u);
    let lo = IpAddr::from([127, 0, 0, 1]);
    assert_eq!(
        a.published(400, "rootlessport", Protocol::Tcp, lo, 8080),
        Some(Published {
            container: Some(Container {
                runtime: Runtime::Podman,
                id: ID.to_string(),
                name: Some("app".to_string()),
                pod: None,
            }),
            via: Via::Rootlessport,
            pid: 400,
            target: None,
        })
    );
    // Another user's rootlessport: not this storage.
    write(root, "proc/400/status", "Uid:\t1001\t1001\t1001\t1001\n");
    let mut a = Attributor::with_root(root).with_homes(home_u);
    assert_eq!(
        a.published(400, "rootlessport", Protocol::Tcp, lo, 8080)
            .map(|p| p.container),
        Some(None)
    );
}

#[test]
fn bounded_reads() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("f");
    fs::write(&path, "x".repeat(11)).unwrap_or_else(|e| panic!("{e}"));
    assert!(read_bounded(&path, 11).is_ok_and(|t| t.len() == 11));
    assert!(read_bounded(&path, 10).is_err_and(|e| e.kind() == io::ErrorKind::InvalidData));
}

#[test]
fn many_processes_are_read_on_two_threads_alike() {
    let dir = machine();
    let cgroup = format!("0::/docker/{ID}\n");
    let pids: Vec<u32> = (1000..1000 + 2 * PARALLEL_FROM as u32).collect();
    for &pid in &pids {
        process(dir.path(), pid, "busybox", 90, &cgroup, &["busybox"]);
    }
    let mut a = Attributor::with_root(dir.path());
    let mut asked = pids.clone();
    asked.push(999_999); // gone
    let found = a.processes(&asked);
    assert_eq!(found.len(), pids.len());
    assert!(
        found
            .values()
            .all(|f| f.container.as_deref() == Some(&docker_web()))
    );
}

#[test]
fn socket_activation_units_on_disk() {
    let dir = machine();
    let root = dir.path();
    write(
        root,
        "lib/systemd/system/web.socket",
        "[Socket]\nListenStream=8080\n",
    );
    write(
        root,
        "lib/systemd/system/dns.socket",
        "[Socket]\nListenDatagram=127.0.0.1:53\n",
    );
    // Overridden by a drop-in in /etc: 9090, not 8081.
    write(
        root,
        "lib/systemd/system/api.socket",
        "[Socket]\nListenStream=8081\n",
    );
    write(
        root,
        "etc/systemd/system/api.socket.d/port.conf",
        "[Socket]\nListenStream=\nListenStream=9090\n",
    );
    // Two units on 7000: the started one is the answer; with none started, none is.
    write(
        root,
        "lib/systemd/system/a.socket",
        "[Socket]\nListenStream=7000\n",
    );
    write(
        root,
        "lib/systemd/system/b.socket",
        "[Socket]\nListenStream=7000\n",
    );
    let mut a = Attributor::with_root(root);
    let any6 = IpAddr::from([0u16; 8]);
    let lo = IpAddr::from([127, 0, 0, 1]);
    assert_eq!(
        a.socket_unit(Protocol::Tcp, any6, 8080).as_deref(),
        Some("web.socket")
    );
    assert_eq!(
        a.socket_unit(Protocol::Udp, lo, 53).as_deref(),
        Some("dns.socket")
    );
    assert_eq!(a.socket_unit(Protocol::Tcp, lo, 53), None);
    assert_eq!(a.socket_unit(Protocol::Tcp, any6, 8081), None);
    assert_eq!(
        a.socket_unit(Protocol::Tcp, any6, 9090).as_deref(),
        Some("api.socket")
    );
    assert_eq!(a.socket_unit(Protocol::Tcp, any6, 7000), None);
    fs::create_dir_all(root.join("run/systemd/units")).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(
        "1234abcd",
        root.join("run/systemd/units/invocation:b.socket"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut a = Attributor::with_root(root);
    assert_eq!(
        a.socket_unit(Protocol::Tcp, any6, 7000).as_deref(),
        Some("b.socket")
    );
}

#[test]
fn cgroup_files_the_collector_read_are_not_read_again() {
    let dir = machine();
    let mut a = Attributor::with_root(dir.path());
    // Process 100 is in Docker's web container on disk; what the collector read says
    // otherwise (as a process that moved would), and that is what counts. Process 999
    // has no files at all, yet its adopted facts name a container.
    let adopted = |id: &str| {
        Some(Box::new(cgroup::parse(&format!(
            "0::/system.slice/docker-{id}.scope\n"
        ))))
    };
    // An empty file's facts are adopted as `None`.
    a.adopt(vec![(100, None), (999, adopted(ID))]);
    let found = a.processes(&[100, 999, 310]);
    assert_eq!(found.get(&100).map(|f| f.container.clone()), Some(None));
    assert_eq!(
        found.get(&999).and_then(|f| f.container.clone()),
        Some(Box::new(docker_web()))
    );
    // Not adopted: read from its file as before.
    assert_eq!(
        found.get(&310).and_then(|f| f.container.clone()),
        Some(Box::new(podman_db()))
    );
    // Taken as used: asked again, 100 is read from its file.
    assert_eq!(a.process(100).container, Some(Box::new(docker_web())));
}
