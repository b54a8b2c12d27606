//! Bad input: exit 2, one line naming the bad value, never a panic.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use crate::support::*;

#[test]
fn bad_input_exits_2_with_one_line() {
    hermetic();
    let cases: &[(&[&str], &str)] = &[
        (&["70000"], "70000"),
        (&["-1"], "-1"),
        (&["--", "-1"], "-1"),
        (&["65536-70000"], "65536-70000"),
        (&["9000-8000"], "9000-8000"),
        (&["0"], "'0'"),
        (&["abc"], "abc"),
        (&[""], "''"),
        (&["22", "x-y"], "x-y"),
        (&["--pid", "notanumber"], "notanumber"),
        (&["--pid", "-4"], "-4"),
        (&["--user", "no-such-user-here"], "no-such-user-here"),
        (&["--user", ""], "''"),
        (&["--color", "sometimes"], "sometimes"),
        (&["--bogus"], "--bogus"),
    ];
    for (args, named) in cases {
        let out = whoport()
            .args(*args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err:?}");
        assert!(err.starts_with("whoport: "), "{args:?}: {err:?}");
        assert!(
            err.contains(named),
            "{args:?}: does not name {named}: {err:?}"
        );
        for bad in ["panicked", "backtrace", "RUST_BACKTRACE"] {
            assert!(!err.contains(bad), "{args:?}: {err:?}");
        }
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn help_and_version() {
    hermetic();
    let out = whoport()
        .arg("--help")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in ["Examples:", "Exit codes:", "whoport 8000-8100", "--json"] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
    assert!(!help.contains("--backend"), "the backend switch is hidden");
    let out = whoport()
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("whoport "));
}

#[test]
fn broken_pipe_exits_0_silently() -> TestResult {
    hermetic();
    // Enough output that it cannot all fit in the pipe before the reader closes it.
    let _keep: Vec<_> = (0..300).map(|_| tcp_listener("127.0.0.1:0")).collect();
    let mut child = whoport()
        .args(["--json", "-a"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut first = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut first)?;
        // Dropping the reader closes the pipe, as `head -1` does.
    }
    let status = child.wait()?;
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err)?;
    }
    assert!(!first.is_empty());
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert!(
        !err.contains("Broken pipe") && !err.contains("panicked"),
        "{err}"
    );
    Ok(())
}

#[test]
fn colour_only_when_asked() -> TestResult {
    hermetic();
    let l = tcp_listener("127.0.0.1:0");
    let port = l.local_addr()?.port().to_string();
    let table = |args: &[&str], no_color: Option<&str>| {
        let mut cmd = whoport();
        cmd.env_remove("NO_COLOR").args(args).arg(&port);
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        cmd.output().map(|o| o.stdout).unwrap_or_default()
    };
    // Not a terminal: no colour by default, nor with NO_COLOR; always means always.
    assert!(!table(&[], None).contains(&0x1b));
    assert!(!table(&["--color", "never"], None).contains(&0x1b));
    assert!(!table(&["--color", "auto"], Some("1")).contains(&0x1b));
    assert!(table(&["--color", "always"], None).contains(&0x1b));
    Ok(())
}
