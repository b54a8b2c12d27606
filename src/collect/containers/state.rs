//! The container runtimes' state files on disk, parsed (no daemon is asked):
//! Docker's `containers/<id>/config.v2.json`, Podman's `containers.json`, and the names
//! kubelet gives its log directories. Pure: text in, records out.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Deserialize;

use super::cgroup::is_container_id;
use crate::model::Protocol;

/// What whoport needs from one Docker container's `config.v2.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DockerContainer {
    pub(crate) id: String,
    /// Without Docker's leading `/`.
    pub(crate) name: Option<String>,
    pub(crate) running: bool,
    pub(crate) pid: Option<u32>,
    /// The container's addresses on its networks (what docker-proxy's `-container-ip` is).
    pub(crate) addresses: Vec<IpAddr>,
    /// Published ports: (host ip, host port, protocol, container port). The host port is
    /// the real one even for an ephemeral binding (`hostconfig.json` has `""` there).
    pub(crate) ports: Vec<DockerPort>,
    /// `/var/run/docker/netns/<12hex>`: the bind mount of its network namespace.
    pub(crate) sandbox_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DockerPort {
    /// `None`: every address (Docker writes `""`, `0.0.0.0` or `::`).
    pub(crate) host_ip: Option<IpAddr>,
    pub(crate) host_port: u16,
    pub(crate) protocol: Protocol,
    pub(crate) container_port: u16,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawConfig {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "State")]
    state: RawState,
    #[serde(rename = "NetworkSettings")]
    network: Option<RawNetwork>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawState {
    #[serde(rename = "Running")]
    running: bool,
    #[serde(rename = "Pid")]
    pid: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawNetwork {
    #[serde(rename = "Ports")]
    ports: Option<HashMap<String, Option<Vec<RawBinding>>>>,
    #[serde(rename = "Networks")]
    networks: Option<HashMap<String, RawEndpoint>>,
    #[serde(rename = "SandboxKey")]
    sandbox_key: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawBinding {
    #[serde(rename = "HostIp")]
    host_ip: String,
    #[serde(rename = "HostPort")]
    host_port: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawEndpoint {
    #[serde(rename = "IPAddress")]
    ip: String,
    #[serde(rename = "GlobalIPv6Address")]
    ipv6: String,
}

/// Parses `config.v2.json`; `None` when it is not one (no valid id).
pub(crate) fn docker_config(text: &str) -> Option<DockerContainer> {
    let raw: RawConfig = serde_json::from_str(text).ok()?;
    if !is_container_id(&raw.id) {
        return None;
    }
    let network = raw.network.unwrap_or_default();
    let mut addresses: Vec<IpAddr> = network
        .networks
        .unwrap_or_default()
        .values()
        .flat_map(|e| [e.ip.parse().ok(), e.ipv6.parse().ok()])
        .flatten()
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    let mut ports = Vec::new();
    for (key, bindings) in network.ports.unwrap_or_default() {
        // "80/tcp"
        let Some((port, proto)) = key.split_once('/') else {
            continue;
        };
        let (Ok(container_port), Some(protocol)) = (port.parse::<u16>(), protocol_named(proto))
        else {
            continue;
        };
        for b in bindings.unwrap_or_default() {
            let Ok(host_port) = b.host_port.parse::<u16>() else {
                continue;
            };
            let host_ip = b
                .host_ip
                .parse::<IpAddr>()
                .ok()
                .filter(|ip| !ip.is_unspecified());
            ports.push(DockerPort {
                host_ip,
                host_port,
                protocol,
                container_port,
            });
        }
    }
    ports.sort_unstable_by_key(|p| (p.host_port, p.protocol, p.host_ip, p.container_port));
    Some(DockerContainer {
        name: Some(raw.name.trim_start_matches('/').to_string()).filter(|n| !n.is_empty()),
        id: raw.id,
        running: raw.state.running,
        pid: u32::try_from(raw.state.pid).ok().filter(|&p| p > 0),
        addresses,
        ports,
        sandbox_key: Some(network.sandbox_key).filter(|k| !k.is_empty()),
    })
}

fn protocol_named(name: &str) -> Option<Protocol> {
    match name {
        "tcp" => Some(Protocol::Tcp),
        "udp" => Some(Protocol::Udp),
        _ => None,
    }
}

#[derive(Deserialize)]
struct RawPodman {
    id: String,
    #[serde(default)]
    names: Vec<String>,
}

/// Podman's (containers/storage's) `overlay-containers/containers.json`: id → first name.
/// `None` when the text is not such a list.
pub(crate) fn podman_containers(text: &str) -> Option<HashMap<String, Option<String>>> {
    let raw: Vec<RawPodman> = serde_json::from_str(text).ok()?;
    Some(
        raw.into_iter()
            .filter(|c| is_container_id(&c.id))
            .map(|c| (c.id, c.names.into_iter().next().filter(|n| !n.is_empty())))
            .collect(),
    )
}

/// A Kubernetes pod, from kubelet's `/var/log/pods/<namespace>_<pod>_<uid>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PodDir {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) uid: String,
}

/// Parses a `/var/log/pods` entry name. Namespaces and pod names are DNS names (no `_`).
pub(crate) fn pod_dir(entry: &str) -> Option<PodDir> {
    let mut parts = entry.split('_');
    let (Some(namespace), Some(name), Some(uid), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if namespace.is_empty() || name.is_empty() || uid.len() != 36 {
        return None;
    }
    Some(PodDir {
        namespace: namespace.to_string(),
        name: name.to_string(),
        uid: uid.to_string(),
    })
}

/// A container's name from kubelet's `/var/log/containers/<pod>_<namespace>_<name>-<id>.log`
/// link: (id, name).
pub(crate) fn container_log(entry: &str) -> Option<(String, String)> {
    let stem = entry.strip_suffix(".log")?;
    let (rest, id) = stem.rsplit_once('-')?;
    if !is_container_id(id) {
        return None;
    }
    let mut parts = rest.split('_');
    let (Some(_pod), Some(_namespace), Some(name), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    (!name.is_empty()).then(|| (id.to_string(), name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "48125ae2481f224587d9f9bb20726c71ef0045f4a37dc3993f0e86832a18b64e";

    /// A config.v2.json as Docker 20.10 wrote it on this machine (shortened).
    fn recorded(ports: &str) -> String {
        format!(
            r#"{{"StreamConfig":{{}},"State":{{"Running":true,"Paused":false,"Pid":10522,"ExitCode":0}},
            "ID":"{ID}","Created":"2026-12-01T07:04:40Z","Path":"/bin/busybox","Name":"/web",
            "NetworkSettings":{{"Bridge":"","SandboxID":"f16511d95a62e5a1",
              "Networks":{{"bridge":{{"IPAddress":"172.17.0.2","IPPrefixLen":16,"GlobalIPv6Address":""}}}},
              "Ports":{ports},
              "SandboxKey":"/var/run/docker/netns/f16511d95a62"}}}}"#
        )
    }

    #[test]
    fn docker_configs() {
        let c = docker_config(&recorded(
            r#"{"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":"18080"},{"HostIp":"::","HostPort":"18080"}],
                "53/udp":[{"HostIp":"","HostPort":"49153"}],"9000/tcp":null,"bad":[]}"#,
        ));
        let Some(c) = c else {
            panic!("recorded config.v2.json not parsed")
        };
        assert_eq!(c.id, ID);
        assert_eq!(c.name.as_deref(), Some("web"));
        assert!(c.running);
        assert_eq!(c.pid, Some(10522));
        assert_eq!(
            c.addresses,
            vec!["172.17.0.2".parse::<IpAddr>().ok()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
        );
        assert_eq!(
            c.sandbox_key.as_deref(),
            Some("/var/run/docker/netns/f16511d95a62")
        );
        let ports: Vec<_> = c
            .ports
            .iter()
            .map(|p| {
                (
                    p.host_ip.map(|i| i.to_string()),
                    p.host_port,
                    p.protocol,
                    p.container_port,
                )
            })
            .collect();
        assert_eq!(
            ports,
            vec![
                (None, 18080, Protocol::Tcp, 8080),
                (Some("127.0.0.1".to_string()), 18080, Protocol::Tcp, 8080),
                (None, 49153, Protocol::Udp, 53),
            ]
        );
        // A stopped container: no pid, no ports.
        let stopped = recorded("{}")
            .replace(r#""Running":true"#, r#""Running":false"#)
            .replace("10522", "0");
        let c = docker_config(&stopped);
        assert!(
            c.as_ref()
                .is_some_and(|c| !c.running && c.pid.is_none() && c.ports.is_empty()),
            "{c:?}"
        );
        for bad in ["", "[]", "{}", r#"{"ID":"short"}"#, "{\"ID\":", "null"] {
            assert_eq!(docker_config(bad), None, "{bad}");
        }
        // Null sections are tolerated.
        let nulls = format!(
            r#"{{"ID":"{ID}","Name":"","NetworkSettings":{{"Ports":null,"Networks":null}}}}"#
        );
        assert!(docker_config(&nulls).is_some_and(|c| c.name.is_none() && c.ports.is_empty()));
    }

    #[test]
    fn podman_lists() {
        let text = format!(
            r#"[{{"id":"{ID}","names":["web"],"image":"af12","layer":"2d92","metadata":"{{}}","created":"2026-12-01T07:04:47Z","flags":{{}}}},
               {{"id":"short","names":["x"]}},{{"id":"{}","names":[]}}]"#,
            ID.replace('4', "5")
        );
        let Some(map) = podman_containers(&text) else {
            panic!("containers.json not parsed")
        };
        assert_eq!(map.len(), 2);
        assert_eq!(map.get(ID), Some(&Some("web".to_string())));
        assert_eq!(map.get(&ID.replace('4', "5")), Some(&None));
        assert_eq!(podman_containers("{}"), None);
        assert_eq!(podman_containers("[]").map(|m| m.len()), Some(0));
    }

    #[test]
    fn kubelet_names() {
        let uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        assert_eq!(
            pod_dir(&format!("kube-system_coredns-5d78c9869d-abcde_{uid}")),
            Some(PodDir {
                namespace: "kube-system".to_string(),
                name: "coredns-5d78c9869d-abcde".to_string(),
                uid: uid.to_string(),
            })
        );
        for bad in [
            "",
            "a_b",
            "a_b_c",
            &format!("_b_{uid}"),
            &format!("a_b_{uid}_d"),
        ] {
            assert_eq!(pod_dir(bad), None, "{bad}");
        }
        assert_eq!(
            container_log(&format!(
                "coredns-5d78c9869d-abcde_kube-system_coredns-{ID}.log"
            )),
            Some((ID.to_string(), "coredns".to_string()))
        );
        for bad in [
            "x.log",
            &format!("a_b_c-{ID}"),
            &format!("a_b-{ID}.log"),
            "a_b_c-12.log",
        ] {
            assert_eq!(container_log(bad), None, "{bad}");
        }
    }
}
