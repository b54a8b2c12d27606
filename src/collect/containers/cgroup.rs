//! `/proc/PID/cgroup` → the container a process runs in and the systemd unit it belongs to.
//!
//! The formats are the runtimes' own (runc `docs/systemd.md`, kubelet
//! `pkg/kubelet/cm/cgroup_manager_linux.go`, cri-o `internal/config/cgmgr/systemd.go`,
//! Podman's `libpod-<id>` names, Docker's cgroupfs `/docker/<id>`). Pure: text in, facts
//! out.

use super::{Runtime, Unit};
pub(crate) use crate::model::{CgroupFacts, ContainerRef};

/// Parses the text of `/proc/PID/cgroup` (v1, v2 or both). The `0::` line is looked at
/// first, then `name=systemd`, then the v1 controllers in file order: on a hybrid host
/// they can differ (the unified hierarchy may still say `/` while the v1 controllers
/// name the container). The first path that names a container wins; the unit is looked
/// for only below the container in that path (a unit above it is the runtime's, not the
/// process's), or, without a container, in the first path that names one.
pub(crate) fn parse(text: &str) -> CgroupFacts {
    let mut unified = Vec::new();
    let mut systemd = Vec::new();
    let mut others = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_hierarchy), Some(controllers), Some(path)) =
            (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let path = path.trim_end();
        if controllers.is_empty() {
            unified.push(path);
        } else if controllers == "name=systemd" {
            systemd.push(path);
        } else {
            others.push(path);
        }
    }
    let paths: Vec<&str> = unified.into_iter().chain(systemd).chain(others).collect();
    for path in &paths {
        let parts = components(path);
        if let Some((container, at)) = container_in(&parts) {
            return CgroupFacts {
                container: Some(container),
                unit: unit_in(&parts[at + 1..]),
            };
        }
    }
    CgroupFacts {
        container: None,
        unit: paths.iter().find_map(|p| unit_in(&components(p))),
    }
}

fn components(path: &str) -> Vec<&str> {
    path.split('/').filter(|c| !c.is_empty()).collect()
}

/// A container id: 64 lowercase hexadecimal characters.
pub(crate) fn is_container_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The innermost component naming a container, walking from the leaf up, and its index.
fn container_in(parts: &[&str]) -> Option<(ContainerRef, usize)> {
    for (at, part) in parts.iter().enumerate().rev() {
        let parent = at.checked_sub(1).map(|p| parts[p]);
        let found = named_container(part, parent).map(|(runtime, id)| ContainerRef {
            runtime,
            id: id.to_string(),
            pod_uid: pod_uid(&parts[..at]).or_else(|| colon_pod(part)),
        });
        if let Some(found) = found {
            return Some((found, at));
        }
    }
    None
}

/// The runtime and id one path component names, if it names a container.
fn named_container<'a>(part: &'a str, parent: Option<&str>) -> Option<(Runtime, &'a str)> {
    // kubelet's systemd driver with containerd's cgroup v2 naming:
    // `kubepods-besteffort-pod<uid>.slice:cri-containerd:<id>`.
    if let Some((_, rest)) = part.split_once(':') {
        let (kind, id) = rest.split_once(':')?;
        let runtime = match kind {
            "cri-containerd" => Runtime::Containerd,
            "crio" => Runtime::Crio,
            "docker" => Runtime::Docker,
            _ => return None,
        };
        return is_container_id(id).then_some((runtime, id));
    }
    let bare = part.strip_suffix(".scope").unwrap_or(part);
    // The monitors (conmon) sit beside their container, not in it.
    if bare.starts_with("libpod-conmon-") || bare.starts_with("crio-conmon-") {
        return None;
    }
    for (prefix, runtime) in [
        ("docker-", Runtime::Docker),
        ("libpod-", Runtime::Podman),
        ("cri-containerd-", Runtime::Containerd),
        ("crio-", Runtime::Crio),
    ] {
        if let Some(id) = bare.strip_prefix(prefix) {
            return is_container_id(id).then_some((runtime, id));
        }
    }
    if !is_container_id(part) {
        return None;
    }
    let runtime = match parent {
        Some("docker") => Runtime::Docker,
        // containerd's namespaces: Docker's own, and `ctr`'s default.
        Some("moby") => Runtime::Docker,
        Some("default") => Runtime::Containerd,
        // kubelet's cgroupfs driver: `/kubepods/<qos>/pod<uid>/<id>`; which CRI runtime
        // is not said.
        Some(p) if p.starts_with("pod") && p.len() > 3 => Runtime::Cri,
        _ => Runtime::Unknown,
    };
    Some((runtime, part))
}

/// The pod UID from kubelet's parent cgroups: `kubepods-<qos>-pod<uid with _>.slice`
/// (systemd driver) or `pod<uid>` under `kubepods` (cgroupfs driver).
fn pod_uid(parents: &[&str]) -> Option<String> {
    if !parents.iter().any(|p| p.starts_with("kubepods")) {
        return None;
    }
    parents.iter().rev().find_map(|p| {
        if let Some(slice) = p.strip_suffix(".slice") {
            let (_, uid) = slice.rsplit_once("-pod")?;
            return valid_uid(&uid.replace('_', "-"));
        }
        valid_uid(p.strip_prefix("pod")?)
    })
}

/// The pod UID in the prefix of `kubepods-…-pod<uid>.slice:cri-containerd:<id>`.
fn colon_pod(part: &str) -> Option<String> {
    let (slice, _) = part.split_once(':')?;
    pod_uid(&[slice])
}

/// A pod UID as kubelet writes it: 36 characters of hex digits and dashes.
fn valid_uid(uid: &str) -> Option<String> {
    (uid.len() == 36 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
        .then(|| uid.to_string())
}

/// The innermost systemd unit (`*.service`, `*.scope`) among the components, and the
/// user whose manager runs it when it sits under `user@UID.service`.
fn unit_in(parts: &[&str]) -> Option<Unit> {
    let at = parts
        .iter()
        .rposition(|p| p.ends_with(".service") || p.ends_with(".scope"))?;
    let user = parts[..at].iter().rev().find_map(|p| {
        p.strip_prefix("user@")?
            .strip_suffix(".service")?
            .parse::<u32>()
            .ok()
    });
    Some(Unit {
        name: parts[at].to_string(),
        user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "48125ae2481f224587d9f9bb20726c71ef0045f4a37dc3993f0e86832a18b64e";

    fn container(runtime: Runtime, pod: Option<&str>) -> Option<ContainerRef> {
        Some(ContainerRef {
            runtime,
            id: ID.to_string(),
            pod_uid: pod.map(str::to_string),
        })
    }

    fn unit(name: &str, user: Option<u32>) -> Option<Unit> {
        Some(Unit {
            name: name.to_string(),
            user,
        })
    }

    #[test]
    fn paths() {
        let pod = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        let pod_ = "0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0";
        let cases: Vec<(String, CgroupFacts)> = vec![
            // Docker, cgroupfs driver (this machine), as the whole v1 + v2 file.
            (
                format!("9:name=systemd:/docker/{ID}\n4:memory:/docker/{ID}\n0::/docker/{ID}\n"),
                CgroupFacts {
                    container: container(Runtime::Docker, None),
                    unit: None,
                },
            ),
            // Docker, systemd driver.
            (
                format!("0::/system.slice/docker-{ID}.scope\n"),
                CgroupFacts {
                    container: container(Runtime::Docker, None),
                    unit: None,
                },
            ),
            // Docker with --cgroup-parent: the runtime is left to the state files.
            (
                format!("0::/mine/{ID}\n"),
                CgroupFacts {
                    container: container(Runtime::Unknown, None),
                    unit: None,
                },
            ),
            // systemd inside a Docker container: the unit is the container's.
            (
                format!("0::/docker/{ID}/system.slice/nginx.service\n"),
                CgroupFacts {
                    container: container(Runtime::Docker, None),
                    unit: unit("nginx.service", None),
                },
            ),
            // Podman: cgroupfs (this machine), systemd, and the `container` sub-cgroup.
            (
                format!("0::/libpod_parent/libpod-{ID}\n"),
                CgroupFacts {
                    container: container(Runtime::Podman, None),
                    unit: None,
                },
            ),
            (
                format!("0::/machine.slice/libpod-{ID}.scope/container\n"),
                CgroupFacts {
                    container: container(Runtime::Podman, None),
                    unit: None,
                },
            ),
            // conmon is beside the container, in a scope unit of its own.
            (
                format!("0::/machine.slice/libpod-conmon-{ID}.scope\n"),
                CgroupFacts {
                    container: None,
                    unit: unit(&format!("libpod-conmon-{ID}.scope"), None),
                },
            ),
            // containerd under kubelet, systemd driver.
            (
                format!(
                    "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{pod_}.slice/cri-containerd-{ID}.scope\n"
                ),
                CgroupFacts {
                    container: container(Runtime::Containerd, Some(pod)),
                    unit: None,
                },
            ),
            // Guaranteed pods have no QoS level.
            (
                format!("0::/kubepods.slice/kubepods-pod{pod_}.slice/cri-containerd-{ID}.scope\n"),
                CgroupFacts {
                    container: container(Runtime::Containerd, Some(pod)),
                    unit: None,
                },
            ),
            // containerd's cgroup v2 naming under kubelet's systemd driver.
            (
                format!(
                    "0::/system.slice/containerd.service/kubepods-besteffort-pod{pod_}.slice:cri-containerd:{ID}\n"
                ),
                CgroupFacts {
                    container: container(Runtime::Containerd, Some(pod)),
                    unit: None,
                },
            ),
            // kubelet's cgroupfs driver: which CRI runtime is not said.
            (
                format!("0::/kubepods/besteffort/pod{pod}/{ID}\n"),
                CgroupFacts {
                    container: container(Runtime::Cri, Some(pod)),
                    unit: None,
                },
            ),
            (
                format!("0::/kubepods/pod{pod}/{ID}\n"),
                CgroupFacts {
                    container: container(Runtime::Cri, Some(pod)),
                    unit: None,
                },
            ),
            // CRI-O, systemd and cgroupfs; its conmon is not the container.
            (
                format!(
                    "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{pod_}.slice/crio-{ID}.scope\n"
                ),
                CgroupFacts {
                    container: container(Runtime::Crio, Some(pod)),
                    unit: None,
                },
            ),
            (
                format!("0::/kubepods/besteffort/pod{pod}/crio-{ID}\n"),
                CgroupFacts {
                    container: container(Runtime::Crio, Some(pod)),
                    unit: None,
                },
            ),
            (
                format!("0::/kubepods/besteffort/pod{pod}/crio-conmon-{ID}\n"),
                CgroupFacts::default(),
            ),
            // Plain containerd (`ctr run`).
            (
                format!("0::/default/{ID}\n"),
                CgroupFacts {
                    container: container(Runtime::Containerd, None),
                    unit: None,
                },
            ),
            // systemd units.
            (
                "0::/system.slice/postgresql@15-main.service\n".to_string(),
                CgroupFacts {
                    container: None,
                    unit: unit("postgresql@15-main.service", None),
                },
            ),
            (
                "0::/user.slice/user-1000.slice/user@1000.service/app.slice/web.service\n"
                    .to_string(),
                CgroupFacts {
                    container: None,
                    unit: unit("web.service", Some(1000)),
                },
            ),
            (
                "0::/user.slice/user-1000.slice/user@1000.service/init.scope\n".to_string(),
                CgroupFacts {
                    container: None,
                    unit: unit("init.scope", Some(1000)),
                },
            ),
            (
                "0::/user.slice/user-1000.slice/user@1000.service\n".to_string(),
                CgroupFacts {
                    container: None,
                    unit: unit("user@1000.service", None),
                },
            ),
            (
                "0::/user.slice/user-1000.slice/session-3.scope\n".to_string(),
                CgroupFacts {
                    container: None,
                    unit: unit("session-3.scope", None),
                },
            ),
            (
                "0::/init.scope\n".to_string(),
                CgroupFacts {
                    container: None,
                    unit: unit("init.scope", None),
                },
            ),
            // Hybrid host: v2 says `/`, name=systemd names the unit.
            (
                "9:name=systemd:/system.slice/cron.service\n4:memory:/\n0::/\n".to_string(),
                CgroupFacts {
                    container: None,
                    unit: unit("cron.service", None),
                },
            ),
            // A sandbox's own cgroup: a 32-character id is not a container's.
            (
                "4:memory:/sandbox/cf42f357fa6d9a5e476779e0e2e06364\n0::/\n".to_string(),
                CgroupFacts::default(),
            ),
            // Not containers: an uppercase or short id, garbage lines.
            (
                format!("0::/docker/{}\n", ID.to_uppercase()),
                CgroupFacts::default(),
            ),
            (format!("0::/docker/{}\n", &ID[1..]), CgroupFacts::default()),
            ("".to_string(), CgroupFacts::default()),
            ("garbage\n::\n0::\n".to_string(), CgroupFacts::default()),
        ];
        for (text, want) in cases {
            assert_eq!(parse(&text), want, "{text}");
        }
    }
}
