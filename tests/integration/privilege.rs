//! An unprivileged whoport looking at another user's listener: hidden, with the socket's
//! uid, never free and never a made-up owner. Needs root to set the scene.

use crate::support::*;

const VIEWER_UID: u32 = 1; // daemon

#[test]
fn other_users_listener_is_hidden_with_its_uid() -> TestResult {
    hermetic();
    // A listener created and held by uid 65534.
    let Some(listener) = foreign_listener_or_skip("other_users_listener_is_hidden_with_its_uid")
    else {
        return Ok(());
    };
    let port = listener.port.to_string();
    let owner_pid = listener.pid();

    // Root sees the exact owner.
    let (code, v) = json(&[&port], "native");
    assert_eq!(code, 0);
    let s = &sockets(&v)[0];
    assert_eq!((pids(s), &s["uid"]), (vec![owner_pid], &NOBODY.into()));

    // Another unprivileged user sees that the port is held, by uid 65534, owner hidden.
    let exe = shared_whoport();
    for backend in ["native", "procfs", "portable"] {
        let out = run_as(&exe, VIEWER_UID, &["--json", &port], backend);
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
        assert_eq!(s[0]["uid"], NOBODY, "{backend}");
        assert_eq!(s[0]["user"], "nobody", "{backend}");
        assert!(pids(&s[0]).is_empty(), "{backend}: no made-up owner");
        assert!(
            !v["warnings"].as_array().is_some_and(|w| w.is_empty()),
            "{backend}: says why"
        );
        // The table says hidden and the uid's name, and how to see more.
        let table = run_as(&exe, VIEWER_UID, &[&port], backend);
        let text = String::from_utf8_lossy(&table.stdout);
        assert!(
            text.contains("(hidden)") && text.contains("nobody") && text.contains("sudo whoport"),
            "{text}"
        );
        assert!(!text.contains("free"), "{text}");
    }
    Ok(())
}
