//! The command lines of the processes that hold a container's published port on the host:
//! Docker's `docker-proxy` and Podman's `conmon`. Pure.

use std::net::IpAddr;

use crate::model::Protocol;

/// What `docker-proxy` forwards: `-proto tcp -host-ip 127.0.0.1 -host-port 18080
/// -container-ip 172.17.0.2 -container-port 80` (Go's flag syntax: `-f v`, `-f=v`,
/// `--f v`). Newer Docker adds `-use-listen-fd`, a flag without a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DockerProxy {
    pub(crate) protocol: Option<Protocol>,
    pub(crate) host_ip: Option<IpAddr>,
    pub(crate) host_port: Option<u16>,
    pub(crate) container_ip: IpAddr,
    pub(crate) container_port: u16,
}

/// The flag values of a Go-style command line (boolean flags take no value).
fn go_flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let mut it = args.iter().skip(1);
    while let Some(arg) = it.next() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            continue;
        };
        match flag.split_once('=') {
            Some((f, v)) if f == name => return Some(v),
            Some(_) => {}
            None if flag == name => return it.next().map(String::as_str),
            None => {}
        }
    }
    None
}

pub(crate) fn docker_proxy(args: &[String]) -> Option<DockerProxy> {
    Some(DockerProxy {
        protocol: match go_flag(args, "proto") {
            Some("tcp") => Some(Protocol::Tcp),
            Some("udp") => Some(Protocol::Udp),
            _ => None,
        },
        host_ip: go_flag(args, "host-ip").and_then(|v| v.parse().ok()),
        host_port: go_flag(args, "host-port").and_then(|v| v.parse().ok()),
        container_ip: go_flag(args, "container-ip")?.parse().ok()?,
        container_port: go_flag(args, "container-port")?.parse().ok()?,
    })
}

/// What conmon's command line says about its container: `-c <id>` (`--cid`), `-n <name>`
/// (`--name`), and whether Podman started it (its `--exit-command` is podman's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Conmon {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) podman: bool,
}

pub(crate) fn conmon(args: &[String]) -> Option<Conmon> {
    let mut id = None;
    let mut name = None;
    let mut podman = false;
    let mut it = args.iter().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let slot = match flag {
            "-c" | "--cid" => &mut id,
            "-n" | "--name" => &mut name,
            "--exit-command" => {
                let value = inline.or_else(|| it.next().cloned());
                podman |= value.is_some_and(|v| v.rsplit('/').next() == Some("podman"));
                continue;
            }
            _ => continue,
        };
        *slot = inline.or_else(|| it.next().cloned());
    }
    let id = id.filter(|i| super::cgroup::is_container_id(i))?;
    Some(Conmon {
        id,
        name: name.filter(|n| !n.is_empty()),
        podman,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn docker_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        let cases = [
            (
                "/usr/sbin/docker-proxy -proto tcp -host-ip 127.0.0.1 -host-port 18080 -container-ip 172.17.0.2 -container-port 80",
                Some((
                    Some(Protocol::Tcp),
                    ip("127.0.0.1"),
                    Some(18080),
                    "172.17.0.2",
                    80,
                )),
            ),
            (
                "/usr/bin/docker-proxy -proto udp -host-ip :: -host-port 53 -container-ip fd00::2 -container-port 5353 -use-listen-fd",
                Some((Some(Protocol::Udp), ip("::"), Some(53), "fd00::2", 5353)),
            ),
            (
                "docker-proxy -use-listen-fd --proto=tcp -host-port=8080 -container-ip=10.0.0.5 -container-port=8080",
                Some((Some(Protocol::Tcp), None, Some(8080), "10.0.0.5", 8080)),
            ),
            ("docker-proxy -proto tcp -host-port 1", None),
            ("docker-proxy -container-ip x -container-port 80", None),
            (
                "docker-proxy -container-ip 10.0.0.1 -container-port 70000",
                None,
            ),
            ("docker-proxy", None),
        ];
        for (line, want) in cases {
            let want = want.and_then(|(protocol, host_ip, host_port, cip, cport)| {
                Some(DockerProxy {
                    protocol,
                    host_ip,
                    host_port,
                    container_ip: ip(cip)?,
                    container_port: cport,
                })
            });
            assert_eq!(docker_proxy(&args(line)), want, "{line}");
        }
    }

    #[test]
    fn conmons() {
        let id = "8621072303ce5b172160b72b685fc127bdf76243680b894b191ad10edd5495c4";
        let podman = format!(
            "/usr/bin/conmon --api-version 1 -c {id} -u {id} -r /usr/bin/runc -b /var/lib/containers/storage/overlay-containers/{id}/userdata -n web --exit-dir /run/libpod/exits --exit-command /usr/bin/podman --exit-command-arg --root"
        );
        let crio = format!(
            "/usr/bin/conmon -b /run/containers/storage/x --cid={id} --name=k8s_web_pod_ns_uid_0"
        );
        let cases = [
            (
                podman,
                Some(Conmon {
                    id: id.to_string(),
                    name: Some("web".to_string()),
                    podman: true,
                }),
            ),
            (
                crio,
                Some(Conmon {
                    id: id.to_string(),
                    name: Some("k8s_web_pod_ns_uid_0".to_string()),
                    podman: false,
                }),
            ),
            ("/usr/bin/conmon -c short -n x".to_string(), None),
            ("/usr/bin/conmon -n x -c".to_string(), None),
            ("/usr/bin/conmon".to_string(), None),
        ];
        for (line, want) in cases {
            assert_eq!(conmon(&args(&line)), want, "{line}");
        }
    }
}
