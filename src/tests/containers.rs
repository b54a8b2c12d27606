//! Golden output for containers, units and network namespaces: a fake host where
//! docker-proxy publishes container web's port, postgres runs in a unit, web's httpd
//! listens in web's own network namespace and container inner listens on a port that is
//! free in whoport's namespace.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::collect::Sources;
use crate::collect::fake::{FakeContext, FakeProcesses, FakeSockets};
use crate::host::fake::FakeHost;
use crate::model::{
    Ancestor, Container, Filters, Kinds, NetnsInfo, NetnsScope, OwnerScan, PortArg, PortSet,
    Process, ProcessContext, Protocol, Published, RawSocket, Report, Runtime, Snapshot,
    SocketQuery, State, Unit, Via,
};
use crate::pipeline::{self, Namespaces};
use crate::render::{self, Render};

const WEB_NS: u64 = 4026532185;
const INNER_NS: u64 = 4026532260;

fn container(name: &str, id: char) -> Container {
    Container {
        runtime: Runtime::Docker,
        id: id.to_string().repeat(64),
        name: Some(name.to_string()),
        pod: None,
    }
}

fn process(pid: u32, name: &str, argv: &[&str]) -> Process {
    let mut p = Process::unknown(pid);
    p.name = Some(name.to_string());
    p.uid = Some(0);
    p.exe = argv.first().map(|a| a.to_string());
    p.cmdline = Some(argv.iter().map(|a| a.to_string()).collect());
    p
}

fn listener(addr: IpAddr, port: u16, inode: u64, pids: &[u32], netns: Option<u64>) -> RawSocket {
    RawSocket {
        protocol: Protocol::Tcp,
        local_address: addr,
        local_port: port,
        remote_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        remote_port: 0,
        state: State::Listen,
        uid: Some(0),
        inode: Some(inode),
        v6only: Some(false),
        pids: pids.to_vec().into(),
        fds: crate::model::Few::default(),
        marks: crate::model::Flags::default(),
        netns: netns.and_then(std::num::NonZeroU64::new),
    }
}

fn sources() -> Sources {
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    let snapshot = Snapshot {
        sockets: vec![
            listener(lo, 8080, 101, &[4242], None),
            listener(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5432, 102, &[812], None),
            // Socket activation: the service manager holds it.
            listener(any6, 8443, 105, &[1], None),
            // In other namespaces: web's httpd (published above), inner's (free here).
            listener(any6, 80, 103, &[900], Some(WEB_NS)),
            listener(any6, 9090, 104, &[901], Some(INNER_NS)),
        ],
        scan: OwnerScan {
            ran: true,
            privileged: true,
            ..OwnerScan::default()
        },
        warnings: Vec::new(),
        namespaces: vec![
            NetnsInfo {
                inode: WEB_NS,
                name: None,
                current: false,
            },
            NetnsInfo {
                inode: INNER_NS,
                name: Some("blue".to_string()),
                current: false,
            },
        ],
        processes: Vec::new(),
        cgroups: Vec::new(),
    };
    let processes = vec![
        process(
            4242,
            "docker-proxy",
            &[
                "/usr/sbin/docker-proxy",
                "-proto",
                "tcp",
                "-host-ip",
                "127.0.0.1",
                "-host-port",
                "8080",
                "-container-ip",
                "172.17.0.2",
                "-container-port",
                "80",
            ],
        ),
        process(812, "postgres", &["/usr/lib/postgresql/15/bin/postgres"]),
        // As on Debian: /sbin/init is a link to systemd (the fake host knows the link).
        {
            let mut init = process(1, "systemd", &["/sbin/init"]);
            init.exe = Some("/usr/lib/systemd/systemd".to_string());
            init
        },
        process(900, "busybox", &["/bin/busybox", "httpd", "-f", "-p", "80"]),
        process(
            901,
            "busybox",
            &["/bin/busybox", "httpd", "-f", "-p", "9090"],
        ),
    ];
    let ancestor = |pid, name: &str| Ancestor {
        pid,
        name: name.to_string(),
    };
    let processes_context = HashMap::from([
        (
            4242,
            ProcessContext {
                container: None,
                unit: Some(Unit {
                    name: "docker.service".to_string(),
                    user: None,
                }),
                ancestors: vec![ancestor(4100, "dockerd"), ancestor(1, "systemd")],
                ..ProcessContext::default()
            },
        ),
        (
            812,
            ProcessContext {
                container: None,
                unit: Some(Unit {
                    name: "postgresql@15-main.service".to_string(),
                    user: None,
                }),
                ancestors: vec![ancestor(1, "systemd")],
                ..ProcessContext::default()
            },
        ),
        (
            900,
            ProcessContext {
                container: Some(Box::new(container("web", 'a'))),
                unit: None,
                ancestors: vec![ancestor(880, "containerd-shim")],
                ..ProcessContext::default()
            },
        ),
        (
            901,
            ProcessContext {
                container: Some(Box::new(container("inner", 'b'))),
                unit: None,
                ancestors: Vec::new(),
                ..ProcessContext::default()
            },
        ),
    ]);
    let published = HashMap::from([(
        4242,
        Published {
            container: Some(container("web", 'a')),
            via: Via::DockerProxy,
            pid: 4242,
            target: Some((Some(IpAddr::V4(Ipv4Addr::new(172, 17, 0, 2))), 80)),
        },
    )]);
    Sources {
        sockets: Box::new(FakeSockets(snapshot)),
        processes: Box::new(FakeProcesses(processes)),
        context: Box::new(FakeContext {
            processes: processes_context,
            published,
            socket_units: HashMap::from([(8443, "web.socket".to_string())]),
        }),
    }
}

fn report(ports: &[u16], scope: NetnsScope) -> Report {
    let port_args: Vec<PortArg> = ports.iter().map(|&p| PortArg::Single(p)).collect();
    let set = (!ports.is_empty()).then(|| PortSet::new(ports.iter().map(|&p| (p, p)).collect()));
    let query = SocketQuery::new(set.clone(), Kinds::default(), set.is_none());
    let filters = Filters {
        port_args,
        ..Filters::default()
    };
    let namespaces = Namespaces { scope, hint: true };
    let mut host = FakeHost::default();
    host.links
        .insert("/sbin/init".into(), "/usr/lib/systemd/systemd".into());
    match pipeline::report(
        &sources(),
        &host,
        &query,
        &filters,
        false,
        false,
        &namespaces,
    ) {
        Ok(r) => r,
        Err(e) => panic!("pipeline: {e:#}"),
    }
}

fn text(render: &dyn Render, report: &Report) -> String {
    let mut out = Vec::new();
    if let Err(e) = render.render(report, &mut out) {
        panic!("render: {e}");
    }
    String::from_utf8_lossy(&out).into_owned()
}

const TABLE: render::Table = render::Table {
    color: false,
    width: None,
};

#[test]
fn published_port_unit_and_parents() {
    let r = report(&[8080, 5432, 8443], NetnsScope::Current);
    assert!(r.elsewhere.is_empty());
    insta::assert_snapshot!("containers_table_ports", text(&TABLE, &r));
    insta::assert_snapshot!("containers_json_ports", text(&render::Json, &r));
}

#[test]
fn free_here_held_elsewhere() {
    let r = report(&[9090], NetnsScope::Current);
    // Free here: the exit code's report has no socket; the hint names the other one.
    assert!(r.sockets.is_empty());
    assert_eq!(r.elsewhere.len(), 1);
    let table = text(&TABLE, &r);
    assert!(
        table.contains(
            "free here; container inner (docker, bbbbbbbbbbbb…) listens on 9090/tcp in its own \
             network namespace: busybox (pid 901)"
        ),
        "{table}"
    );
    insta::assert_snapshot!("containers_table_elsewhere", table);
    // No hint for a port that is held here.
    assert!(report(&[8080], NetnsScope::Current).elsewhere.is_empty());
}

#[test]
fn every_namespace() {
    let r = report(&[], NetnsScope::All);
    assert_eq!(r.sockets.len(), 5);
    assert!(r.elsewhere.is_empty());
    insta::assert_snapshot!("containers_table_all", text(&TABLE, &r));
    // A port free everywhere: said for every namespace, and no hint.
    let free = report(&[9999], NetnsScope::All);
    assert!(free.elsewhere.is_empty());
    assert!(
        text(&TABLE, &free)
            .starts_with("port 9999: no socket (free in every network namespace looked at)"),
        "{}",
        text(&TABLE, &free)
    );
}
