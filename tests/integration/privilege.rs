//! An unprivileged whoport looking at another user's listener: hidden, with the socket's
//! uid, never free and never a made-up owner. Needs root to set the scene.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use crate::support::*;

const LISTENER_UID: u32 = 65534; // nobody
const VIEWER_UID: u32 = 1; // daemon

#[test]
fn other_users_listener_is_hidden_with_its_uid() -> TestResult {
    if !is_root() {
        println!(
            "SKIP other_users_listener_is_hidden_with_its_uid: needs root to run as other uids"
        );
        return Ok(());
    }
    // The system's python, which any user may run (not one under /root).
    let Some(python) = ["/usr/bin/python3", "/bin/python3"]
        .into_iter()
        .map(std::path::Path::new)
        .find(|p| p.is_file())
    else {
        println!(
            "SKIP other_users_listener_is_hidden_with_its_uid: /usr/bin/python3 is not installed"
        );
        return Ok(());
    };
    // A listener created and held by uid 65534.
    let mut child = Command::new(python)
        .args([
            "-c",
            "import socket,sys,time\n\
             s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
             print(s.getsockname()[1], flush=True)\n\
             sys.stdin.read()",
        ])
        .uid(LISTENER_UID)
        .gid(LISTENER_UID)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut line)?;
    }
    let port = line.trim().to_string();
    assert!(
        port.parse::<u16>().is_ok(),
        "listener did not start: {line:?}"
    );
    let owner_pid = u64::from(child.id());
    register_holder(owner_pid);

    // Root sees the exact owner.
    let (code, v) = json(&[&port], "native");
    assert_eq!(code, 0);
    let s = &sockets(&v)[0];
    assert_eq!(
        (pids(s), &s["uid"]),
        (vec![owner_pid], &LISTENER_UID.into())
    );

    // Another unprivileged user sees that the port is held, by uid 65534, owner hidden.
    // A copy of the binary in a world-readable place: the build tree may not be.
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let exe = dir.path().join("whoport");
    std::fs::copy(assert_cmd::cargo::cargo_bin("whoport"), &exe)?;
    for backend in ["native", "procfs", "portable"] {
        let out = Command::new(&exe)
            .args(["--json", &port])
            .env("WHOPORT_BACKEND", backend)
            .uid(VIEWER_UID)
            .gid(VIEWER_UID)
            .output()?;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{backend}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let s = sockets(&v);
        assert_eq!(s.len(), 1, "{backend}: {v}");
        assert_eq!(s[0]["owner"], "hidden", "{backend}: {v}");
        assert_eq!(s[0]["uid"], LISTENER_UID, "{backend}");
        assert_eq!(s[0]["user"], "nobody", "{backend}");
        assert!(pids(&s[0]).is_empty(), "{backend}: no made-up owner");
        assert!(
            !v["warnings"].as_array().is_some_and(|w| w.is_empty()),
            "{backend}: says why"
        );
        // The table says hidden and the uid's name, and how to see more.
        let table = Command::new(&exe)
            .args([&port])
            .env("WHOPORT_BACKEND", backend)
            .uid(VIEWER_UID)
            .gid(VIEWER_UID)
            .output()?;
        let text = String::from_utf8_lossy(&table.stdout);
        assert!(
            text.contains("(hidden)") && text.contains("nobody") && text.contains("sudo whoport"),
            "{text}"
        );
        assert!(!text.contains("free"), "{text}");
    }
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    Ok(())
}
