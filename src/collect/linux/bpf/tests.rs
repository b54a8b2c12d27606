use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};

use super::*;

/// A test that cannot run here skips visibly, or fails under CI naming what is missing.
fn cannot_run(name: &str, why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{name} cannot run: {why}");
    }
    eprintln!("SKIP: {name}: {why}");
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The inode of a socket descriptor link target, as the `/proc` scan reads it.
fn socket_inode(pid: u32, fd: u32) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    super::super::fdscan::socket_inode(link.as_os_str().as_encoded_bytes())
}

/// Every (pid, fd, inode) of a socket descriptor of these processes, from `/proc`.
fn proc_walk(pids: &[u32]) -> Vec<(u32, u32, u64)> {
    let mut out = Vec::new();
    for &pid in pids {
        let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for entry in dir.flatten() {
            let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Some(inode) = socket_inode(pid, fd) {
                out.push((pid, fd, inode));
            }
        }
    }
    out.sort_unstable();
    out
}

/// Kills and reaps the child when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn usable_reads_capabilities_and_pid_namespaces() {
    let status = |caps: &str, nspid: &str| format!("Name:\tx\nNSpid:\t{nspid}\nCapEff:\t{caps}\n");
    let root = "000001ffffffffff";
    assert!(usable(&status(root, "42")).is_ok());
    // CAP_BPF + CAP_PERFMON without CAP_SYS_ADMIN.
    assert!(usable(&status("000000c000000000", "42")).is_ok());
    // Either alone, or nothing: EPERM.
    for caps in [
        "0000008000000000",
        "0000004000000000",
        "0000000000000000",
        "zz",
    ] {
        let e = usable(&status(caps, "42")).err();
        assert_eq!(e.as_ref().and_then(errno), Some(libc::EPERM), "{caps}");
    }
    // A child pid namespace: the iterator's pids would be the wrong ones.
    let e = usable(&status(root, "21665\t1"))
        .err()
        .map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.contains("pid namespace")));
}

#[test]
fn records_are_read_in_native_order() {
    let mut rec = Vec::new();
    rec.extend_from_slice(&4242u32.to_ne_bytes());
    rec.extend_from_slice(&7u32.to_ne_bytes());
    rec.extend_from_slice(&123_456_789_012u64.to_ne_bytes());
    let h = parse_record(&rec);
    assert_eq!(
        (h.pid, h.fd, h.inode, h.thread),
        (4242, 7, 123_456_789_012, false)
    );
    rec[4..8].copy_from_slice(&(7u32 | 1 << 31).to_ne_bytes());
    let h = parse_record(&rec);
    assert_eq!(
        (h.pid, h.fd, h.inode, h.thread),
        (4242, 7, 123_456_789_012, true)
    );
}

/// As root: the iterator finds exactly the socket descriptors the `/proc` walk finds, for
/// sockets this test made, in this process (with its many threads) and in a child, one of
/// them held by both.
#[test]
fn same_descriptors_as_the_proc_walk() -> anyhow::Result<()> {
    let name = "same_descriptors_as_the_proc_walk";
    if !is_root() {
        cannot_run(name, "needs root (or CAP_BPF + CAP_PERFMON) to load BPF");
        return Ok(());
    }
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let udp = UdpSocket::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(("127.0.0.1", port))?;
    let (accepted, _) = listener.accept()?;
    // The child holds the listener too (as its stdin) and a connection of its own (fd 3).
    let shared: OwnedFd = listener.try_clone()?.into();
    let mut child = Reaped(
        Command::new("bash")
            .arg("-c")
            .arg(format!(
                "exec 3<>/dev/tcp/127.0.0.1/{port} && echo ready && exec sleep 60"
            ))
            .stdin(Stdio::from(shared))
            .stdout(Stdio::piped())
            .spawn()?,
    );
    let child_pid = child.0.id();
    let mut line = String::new();
    if let Some(out) = child.0.stdout.take() {
        BufReader::new(out).read_line(&mut line)?;
    }
    assert_eq!(line.trim(), "ready", "the child did not connect");
    let (accepted_from_child, _) = listener.accept()?;

    let me = std::process::id();
    let mine = [
        listener.as_raw_fd(),
        udp.as_raw_fd(),
        client.as_raw_fd(),
        accepted.as_raw_fd(),
        accepted_from_child.as_raw_fd(),
    ];
    let mut made: BTreeSet<u64> = BTreeSet::new();
    for fd in mine {
        let fd = u32::try_from(fd)?;
        made.extend(socket_inode(me, fd));
    }
    made.extend(socket_inode(child_pid, 3));
    assert_eq!(made.len(), 6, "six sockets made");

    let from_proc: Vec<_> = proc_walk(&[me, child_pid])
        .into_iter()
        .filter(|t| made.contains(&t.2))
        .collect();
    let listener_inode = socket_inode(me, u32::try_from(listener.as_raw_fd())?);
    // Exact pids: the listener in both processes, the child's connection in the child.
    assert!(from_proc.contains(&(child_pid, 0, listener_inode.unwrap_or(0))));
    assert!(
        from_proc
            .iter()
            .any(|&(pid, fd, _)| (pid, fd) == (child_pid, 3))
    );
    assert_eq!(from_proc.len(), 7, "{from_proc:?}");
    // The program this kernel gets, and the two-pass one older kernels get.
    let default = SocketIter::load()?;
    if btf::kernel_layout()?.walk.is_some() {
        assert!(default.walks(), "{}", default.describe());
    }
    for iter in [default, SocketIter::load_pair_anyway()?] {
        let what = iter.describe();
        // Only these two processes: another test thread's fork holds copies of this
        // process's descriptors for a moment (close-on-exec closes them at its exec).
        let from_bpf: Vec<_> = iter
            .socket_fds()?
            .into_iter()
            .filter(|t| made.contains(&t.2) && (t.0 == me || t.0 == child_pid))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(from_bpf, from_proc, "{what}");
        // And no repeats from the iterator (the test's threads share its table).
        let wanted: Vec<u64> = made.iter().copied().collect();
        let scan = iter.scan(&wanted)?;
        let mut holders = scan.holders;
        holders.retain(|h| h.pid == me || h.pid == child_pid);
        assert_eq!(holders.len(), from_proc.len(), "{what}: {holders:?}");
        assert!(
            [me, child_pid]
                .iter()
                .all(|p| scan.processes.binary_search(p).is_ok()),
            "{what}"
        );
        // Every process once: the shards of the one pass split them, never share one.
        assert!(
            scan.processes.windows(2).all(|w| w[0] < w[1]),
            "{what}: a process twice"
        );
        // The one-pass program names each process as /proc/PID/status does.
        if iter.walks() {
            for pid in [me, child_pid] {
                let status = std::fs::read(format!("/proc/{pid}/status"))?;
                let at = scan.idents.binary_search_by_key(&pid, |i| i.pid);
                let ident = at.ok().map(|at| scan.idents[at]);
                assert_eq!(
                    ident.map(|i| String::from_utf8_lossy(i.comm()).into_owned()),
                    super::super::procs::status_name(&status),
                    "{pid}"
                );
                assert_eq!(
                    ident.and_then(|i| i.uid),
                    super::super::procs::real_uid(&status),
                    "{pid}"
                );
            }
        } else {
            assert!(scan.idents.is_empty());
        }
    }
    Ok(())
}

/// As root, the bytes loaded are the listing with this kernel's offsets, and the kernel's
/// verifier accepts them.
#[test]
fn this_kernel_loads_the_listing() -> anyhow::Result<()> {
    let name = "this_kernel_loads_the_listing";
    let Ok(layout) = btf::kernel_layout() else {
        cannot_run(name, "no readable /sys/kernel/btf/vmlinux");
        return Ok(());
    };
    let bytes = program::assemble(&layout);
    let tasks = program::assemble_tasks(&layout);
    assert_eq!(
        program::tests::listed(&bytes),
        program::tests::expected(program::LISTING, &layout)
    );
    assert_eq!(
        program::tests::listed(&tasks),
        program::tests::expected(program::TASKS_LISTING, &layout)
    );
    let walk = layout
        .walk
        .map(|w| program::assemble_walk(&layout, &w, 3, program::Shard { mask: 1, index: 1 }));
    if let Some(walk) = &walk {
        assert_eq!(
            program::tests::listed(walk),
            program::tests::expected(program::WALK_LISTING, &layout)
        );
    }
    load(&bytes, program::NAME, layout.attach_btf_id)?;
    load(&tasks, program::TASKS_NAME, layout.task_attach_btf_id)?;
    if let Some(walk) = &walk {
        load(walk, program::WALK_NAME, layout.task_attach_btf_id)?;
    }
    Ok(())
}

const CHILD_ENV: &str = "WHOPORT_BPF_TEST_UNPRIVILEGED";

/// Unprivileged, the iterator is refused with EPERM, both by whoport's own check and by
/// the kernel. As root, this runs itself again as `nobody`.
#[test]
fn unprivileged_is_a_clean_eperm() -> anyhow::Result<()> {
    if is_root() {
        return run_as_nobody("unprivileged_is_a_clean_eperm");
    }
    let e = socket_fds().err();
    assert_eq!(e.as_ref().and_then(errno), Some(libc::EPERM), "{e:?}");
    // Past whoport's own check, the kernel says the same.
    let e = SocketIter::load_unchecked().err();
    assert_eq!(e.as_ref().and_then(errno), Some(libc::EPERM), "{e:?}");
    if std::env::var_os(CHILD_ENV).is_some() {
        println!("unprivileged: EPERM");
    }
    Ok(())
}

/// Runs this test binary's test `name` as uid/gid 65534, from a copy that user can read.
fn run_as_nobody(name: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let copy = dir.path().join("unit-tests");
    std::fs::copy(std::env::current_exe()?, &copy)?;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))?;
    // This module's path without the crate's name, as the test harness names tests.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let test = format!("{module}::{name}");
    let mut tries = 0;
    let out = loop {
        let result = Command::new(&copy)
            .args(["--exact", &test, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .uid(65534)
            .gid(65534)
            .current_dir("/")
            .output();
        match result {
            // Another test thread's fork may hold the fresh copy open for a moment.
            Err(e) if e.kind() == io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other?,
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("unprivileged: EPERM"),
        "as nobody: {}\n{stdout}\n{stderr}",
        out.status
    );
    Ok(())
}

/// As root: an `O_PATH` descriptor of a Unix socket's path has a socket inode (the one on
/// disk) but is no socket; the one-pass program, which knows sockets by their file
/// operations, does not report it (its inode number could be a socket's). The task_file
/// program, which tests the inode's mode, does.
#[test]
fn an_o_path_descriptor_of_a_socket_path_is_no_socket() -> anyhow::Result<()> {
    let name = "an_o_path_descriptor_of_a_socket_path_is_no_socket";
    if !is_root() {
        cannot_run(name, "needs root (or CAP_BPF + CAP_PERFMON) to load BPF");
        return Ok(());
    }
    let iter = SocketIter::load()?;
    if !iter.walks() {
        cannot_run(name, "this kernel gets the two-pass programs");
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("sock");
    let listener = std::os::unix::net::UnixListener::bind(&path)?;
    let by_path = rustix::fs::open(
        &path,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    let me = std::process::id();
    let path_fd = u32::try_from(by_path.as_raw_fd())?;
    let listener_fd = u32::try_from(listener.as_raw_fd())?;
    let mine = |iter: &SocketIter| -> anyhow::Result<Vec<u32>> {
        Ok(iter
            .socket_fds()?
            .into_iter()
            .filter(|t| t.0 == me)
            .map(|t| t.1)
            .collect())
    };
    let walked = mine(&iter)?;
    assert!(walked.contains(&listener_fd), "{walked:?}");
    assert!(!walked.contains(&path_fd), "{walked:?}");
    let paired = mine(&SocketIter::load_pair_anyway()?)?;
    assert!(paired.contains(&path_fd), "{paired:?}");
    Ok(())
}
