//! Process details (name, user, executable, command line) through sysinfo, for the
//! owners found only: no full process-table refresh, no per-thread work.

use std::collections::HashMap;
use std::path::Path;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

use super::ProcessSource;
use crate::model::Process;

/// The kernel keeps at most this many bytes of a process name (`TASK_COMM_LEN` - 1).
const COMM_MAX: usize = 15;

pub(crate) struct SysinfoProcesses;

impl ProcessSource for SysinfoProcesses {
    fn processes(&self, pids: &[u32]) -> HashMap<u32, Process> {
        if pids.is_empty() {
            return HashMap::new();
        }
        let wanted: Vec<Pid> = pids.iter().map(|&p| Pid::from_u32(p)).collect();
        let Ok(mut system) = System::new() else {
            return HashMap::new();
        };
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&wanted),
            true,
            ProcessRefreshKind::nothing()
                .without_tasks()
                .with_exe(UpdateKind::Always)
                .with_cmd(UpdateKind::Always)
                .with_user(UpdateKind::Always),
        );
        let mut out = HashMap::with_capacity(pids.len());
        for &pid in pids {
            let Some(p) = system.process(Pid::from_u32(pid)) else {
                continue;
            };
            let comm = p.name().to_string_lossy().into_owned();
            let exe = p.exe().map(|e| e.to_string_lossy().into_owned());
            let cmdline: Vec<String> = p
                .cmd()
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let cmdline_raw = p.cmd().iter().any(|a| a.to_str().is_none()).then(|| {
                p.cmd()
                    .iter()
                    .map(|a| std::os::unix::ffi::OsStrExt::as_bytes(a.as_os_str()).to_vec())
                    .collect()
            });
            let uid = p.user_id().map(|u| **u);
            out.insert(
                pid,
                Process {
                    pid,
                    name: Some(full_name(&comm, exe.as_deref(), cmdline.first())),
                    user: None, // named in resolve, through the host
                    uid,
                    exe: exe.filter(|e| !e.is_empty()),
                    // Kernel threads and zombies have an empty command line.
                    cmdline: (!cmdline.is_empty()).then_some(cmdline),
                    // sysinfo drops Linux's " (deleted)" without saying so; macOS has
                    // no such mark.
                    exe_deleted: false,
                    cmdline_raw,
                    context: Default::default(),
                },
            );
        }
        out
    }
}

/// The full process name. The kernel cuts names to 15 bytes; where the name is that long
/// and the executable's or argv\[0\]'s file name continues it, that longer name is the
/// real one (as `ps -o comm` cannot, but `top`/`htop` do).
pub(crate) fn full_name(comm: &str, exe: Option<&str>, argv0: Option<&String>) -> String {
    if comm.len() < COMM_MAX {
        return comm.to_string();
    }
    let base = |s: &str| {
        Path::new(s)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
    };
    // Linux shows a deleted executable as "/path/name (deleted)".
    let exe_base = exe.and_then(|e| base(e.strip_suffix(" (deleted)").unwrap_or(e)));
    let argv_base = argv0.and_then(|a| base(a.split(' ').next().unwrap_or(a)));
    [exe_base, argv_base]
        .into_iter()
        .flatten()
        .find(|candidate| candidate.len() > comm.len() && candidate.starts_with(comm))
        .unwrap_or_else(|| comm.to_string())
}

#[cfg(test)]
mod tests {
    use super::full_name;

    #[test]
    fn full_names() {
        let s = |x: &str| x.to_string();
        // Short names stand as they are.
        assert_eq!(full_name("sshd", Some("/usr/sbin/sshd"), None), "sshd");
        // A cut name is completed from the executable…
        assert_eq!(
            full_name(
                "systemd-resolve",
                Some("/usr/lib/systemd/systemd-resolved"),
                None
            ),
            "systemd-resolved"
        );
        // …or from argv[0] when the executable cannot be read.
        assert_eq!(
            full_name(
                "prometheus-node",
                None,
                Some(&s("/usr/bin/prometheus-node-exporter"))
            ),
            "prometheus-node-exporter"
        );
        // A name that the executable does not continue is kept (no guessing).
        assert_eq!(
            full_name(
                "abcdefghijklmno",
                Some("/usr/bin/python3"),
                Some(&s("python3"))
            ),
            "abcdefghijklmno"
        );
        assert_eq!(
            full_name(
                "very-long-daemo",
                Some("/opt/x/very-long-daemon (deleted)"),
                None
            ),
            "very-long-daemon"
        );
    }
}
