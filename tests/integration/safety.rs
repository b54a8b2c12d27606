//! Output that cannot be turned against its reader, end to end: `--output` on every kind of
//! file (devices made with mknod in a temporary directory, FIFOs, symbolic links, sockets,
//! the umask, a write killed with SIGKILL), the user's registry copy (a FIFO, a link to
//! /dev/zero, another user's HOME as root), Xsan executable directories others can write,
//! error messages, and names made of invisible characters.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{NOBODY, TestResult, hermetic, is_root, register_holder, skip, whoport};

/// Whether a test that needs root can run: with CI=true a missing root FAILS (naming what
/// is missing), otherwise the test is skipped visibly.
fn root_or_skip(test: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(test, "needs root (mknod, chown, another user's files)");
    false
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `whoport --format prometheus --output PATH` (the metrics of every listener), with its
/// exit code and standard error.
fn output_to(path: &Path) -> (Option<i32>, String) {
    let out = whoport()
        .args(["--format", "prometheus", "--output"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("whoport did not run: {e}"));
    (out.status.code(), text(&out.stderr))
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn mknod(path: &Path, kind: rustix::fs::FileType, major: u32, minor: u32) -> std::io::Result<()> {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        kind,
        rustix::fs::Mode::from_raw_mode(0o666),
        rustix::fs::makedev(major, minor),
    )
    .map_err(std::io::Error::from)
}

#[test]
fn output_writes_through_character_devices_and_never_replaces_them() -> TestResult {
    hermetic();
    // /dev/null itself: as root this used to become a regular file.
    let (code, err) = output_to(Path::new("/dev/null"));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        std::fs::symlink_metadata("/dev/null")?
            .file_type()
            .is_char_device()
    );
    if !root_or_skip("output_writes_through_character_devices_and_never_replaces_them") {
        return Ok(());
    }
    // A null device of our own, made with mknod in a temporary directory, and a link to it.
    let dir = tempfile::tempdir()?;
    let null = dir.path().join("null");
    mknod(&null, rustix::fs::FileType::CharacterDevice, 1, 3)?;
    let link = dir.path().join("link-to-null");
    std::os::unix::fs::symlink(&null, &link)?;
    for path in [&null, &link] {
        let (code, err) = output_to(path);
        assert_eq!(code, Some(0), "{}: {err}", path.display());
        assert!(std::fs::metadata(&null)?.file_type().is_char_device());
        assert_eq!(
            std::fs::metadata(&null)?.rdev(),
            std::fs::metadata("/dev/null")?.rdev()
        );
    }
    assert!(std::fs::symlink_metadata(&link)?.file_type().is_symlink());
    assert_eq!(names(dir.path()), ["link-to-null", "null"]);
    // /dev/stdout: a link to this process's standard output, here a pipe.
    let out = whoport()
        .args(["--format", "prometheus", "--output", "/dev/stdout"])
        .output()?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("# TYPE whoport_socket_info gauge"));
    Ok(())
}

#[test]
fn output_writes_through_a_fifo() -> TestResult {
    hermetic();
    let dir = tempfile::tempdir()?;
    let fifo = dir.path().join("metrics.fifo");
    mknod(&fifo, rustix::fs::FileType::Fifo, 0, 0)?;
    let reader_path = fifo.clone();
    let reader = std::thread::spawn(move || -> std::io::Result<String> {
        let mut s = String::new();
        std::fs::File::open(&reader_path)?.read_to_string(&mut s)?;
        Ok(s)
    });
    let (code, err) = output_to(&fifo);
    assert_eq!(code, Some(0), "{err}");
    let got = reader.join().map_err(|_| "the reader thread panicked")??;
    assert!(got.contains("# TYPE whoport_socket_info gauge"), "{got}");
    assert!(std::fs::symlink_metadata(&fifo)?.file_type().is_fifo());
    assert_eq!(names(dir.path()), ["metrics.fifo"]);
    Ok(())
}

#[test]
fn output_refuses_links_to_files_directories_sockets_and_block_devices() -> TestResult {
    hermetic();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("real.prom");
    std::fs::write(&file, "keep\n")?;
    let link = dir.path().join("link.prom");
    std::os::unix::fs::symlink(&file, &link)?;
    let sub = dir.path().join("subdir");
    std::fs::create_dir(&sub)?;
    let sock = dir.path().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock)?;
    let mut cases: Vec<(PathBuf, &str)> = vec![
        (link.clone(), "is a symbolic link to a regular file"),
        (sub.clone(), "is a directory"),
        (sock.clone(), "is a socket"),
    ];
    if is_root() {
        let block = dir.path().join("loop");
        mknod(&block, rustix::fs::FileType::BlockDevice, 7, 0)?;
        cases.push((block, "is a block device"));
    } else {
        skip(
            "output_refuses_…: the block device case",
            "needs root (mknod)",
        );
    }
    for (path, words) in &cases {
        let (code, err) = output_to(path);
        assert_eq!(code, Some(2), "{}: {err}", path.display());
        assert!(
            err.starts_with("whoport: cannot write ")
                && err.contains(&path.display().to_string())
                && err.contains(words),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // Each left as it was, and nothing else made.
    assert_eq!(std::fs::read_to_string(&file)?, "keep\n");
    assert!(std::fs::symlink_metadata(&link)?.file_type().is_symlink());
    assert!(std::fs::symlink_metadata(&sock)?.file_type().is_socket());
    assert!(sub.is_dir() && names(&sub).is_empty());
    let mut want = vec!["link.prom", "real.prom", "sock", "subdir"];
    if is_root() {
        want.insert(1, "loop");
    }
    assert_eq!(names(dir.path()), want);
    Ok(())
}

/// Runs `whoport --format prometheus --output PATH` under `umask MASK` (through sh: the
/// umask is the parent's to set).
fn output_with_umask(mask: &str, path: &Path) -> TestResult {
    let bin = assert_cmd::cargo::cargo_bin("whoport");
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "umask {mask}; exec \"$0\" --format prometheus --output \"$1\""
        ))
        .arg(&bin)
        .arg(path)
        .env("NO_COLOR", "1")
        .status()?;
    assert_eq!(status.code(), Some(0));
    Ok(())
}

#[test]
fn output_mode_new_files_from_the_umask_existing_files_keep_mode_and_owner() -> TestResult {
    hermetic();
    let dir = tempfile::tempdir()?;
    for (mask, mode) in [("022", 0o644), ("077", 0o600), ("027", 0o640)] {
        let path = dir.path().join(format!("new-{mask}.prom"));
        output_with_umask(mask, &path)?;
        let meta = std::fs::metadata(&path)?;
        assert_eq!(meta.mode() & 0o7777, mode, "umask {mask}");
        assert!(std::fs::read_to_string(&path)?.contains("whoport_socket_info"));
    }
    // An existing file keeps its mode, also when the umask would give another.
    let existing = dir.path().join("existing.prom");
    std::fs::write(&existing, "old\n")?;
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o604))?;
    let inode = std::fs::metadata(&existing)?.ino();
    output_with_umask("077", &existing)?;
    let meta = std::fs::metadata(&existing)?;
    assert_eq!(meta.mode() & 0o7777, 0o604);
    assert_ne!(
        meta.ino(),
        inode,
        "replaced by a new file, not rewritten in place"
    );
    assert!(std::fs::read_to_string(&existing)?.contains("whoport_socket_info"));
    if root_or_skip("output_mode_…: the owner of an existing file") {
        std::os::unix::fs::chown(&existing, Some(NOBODY), Some(NOBODY))?;
        let (code, err) = output_to(&existing);
        assert_eq!(code, Some(0), "{err}");
        let meta = std::fs::metadata(&existing)?;
        assert_eq!((meta.uid(), meta.gid()), (NOBODY, NOBODY));
        assert_eq!(meta.mode() & 0o7777, 0o604);
    }
    assert!(
        names(dir.path())
            .iter()
            .all(|n| !n.starts_with(".whoport-"))
    );
    Ok(())
}

#[test]
fn output_killed_mid_write_leaves_no_temporary_file() -> TestResult {
    hermetic();
    let dir = tempfile::tempdir()?;
    let target = dir.path().join("whoport.json");
    let bin = assert_cmd::cargo::cargo_bin("whoport");
    // SIGKILL at spread-out moments of a run: while collecting, rendering, writing,
    // linking. Whatever the moment, the directory holds the complete file or nothing,
    // except a kill in the two system calls between naming the complete copy and renaming
    // it over the file: that copy is removed by the next write.
    let mut windows = 0;
    for round in 0..40u64 {
        let mut child = Command::new(&bin)
            .args(["--json", "-a", "--output"])
            .arg(&target)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        std::thread::sleep(Duration::from_micros(round * 997 % 40_000));
        let pid = child.id();
        let _ = child.kill();
        let _ = child.wait();
        let left = names(dir.path());
        let killed_copy = format!(".whoport-{pid}-");
        for n in left.iter().filter(|n| *n != "whoport.json") {
            assert!(
                n.starts_with(&killed_copy) && n.ends_with(".tmp"),
                "round {round}: {left:?}"
            );
            windows += 1;
            // The complete copy, never a partial one.
            let data = std::fs::read(dir.path().join(n))?;
            assert!(
                serde_json::from_slice::<Value>(&data).is_ok(),
                "round {round}"
            );
        }
        if let Ok(data) = std::fs::read(&target) {
            let parsed: Result<Value, _> = serde_json::from_slice(&data);
            assert!(parsed.is_ok(), "round {round}: a partial file was left");
        }
    }
    // The next write cleans up after a killed one.
    let out = whoport()
        .args(["--json", "--output"])
        .arg(&target)
        .output()?;
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    assert_eq!(
        names(dir.path()),
        ["whoport.json"],
        "{windows} window kills"
    );
    Ok(())
}

/// A command that must finish: killed (it is ours) and failed after 20 seconds.
fn finishes(mut cmd: Command) -> Result<std::process::Output, Box<dyn std::error::Error>> {
    let mut child: Child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let started = Instant::now();
    while child.try_wait()?.is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            return Err("whoport hung".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(child.wait_with_output()?)
}

const CSV_HEADER: &str = "Service Name,Port Number,Transport Protocol,Description,Assignee,\
                          Contact,Registration Date,Modification Date,Reference,Service Code,\
                          Unauthorized Use Reported,Assignment Notes";

#[test]
fn registry_copy_that_is_a_fifo_or_a_device_is_not_read() -> TestResult {
    hermetic();
    let dir = tempfile::tempdir()?;
    let copy = dir.path().join("iana-service-names-port-numbers.csv");
    mknod(&copy, rustix::fs::FileType::Fifo, 0, 0)?;
    // Every command still answers, the check included (it used to hang on the FIFO).
    let mut check = whoport();
    check
        .args(["check", "22", "--expect", "free"])
        .env("WHOPORT_DATA_DIR", dir.path());
    let out = finishes(check)?;
    assert!(text(&out.stdout).starts_with("WHOPORT "), "{out:?}");
    let mut list = whoport();
    list.args(["--json", "ssh"])
        .env("WHOPORT_DATA_DIR", dir.path());
    let out = finishes(list)?;
    let report: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(report["ports"][0]["port"], 22);
    assert_eq!(report["registry"]["copy"], "built-in");
    let warned = report["warnings"].to_string();
    assert!(
        warned.contains("is not a regular file (it is a FIFO)"),
        "{warned}"
    );
    // A link to /dev/zero: refused before a byte is read.
    std::fs::remove_file(&copy)?;
    std::os::unix::fs::symlink("/dev/zero", &copy)?;
    let mut status = whoport();
    status
        .args(["registry", "status"])
        .env("WHOPORT_DATA_DIR", dir.path());
    let out = finishes(status)?;
    let said = text(&out.stdout);
    assert!(said.starts_with("in use: the built-in copy"), "{said}");
    assert!(
        said.contains("not a regular file (it is a character device)")
            || said.contains("writable by users other than root"),
        "{said}"
    );
    Ok(())
}

#[test]
fn as_root_another_users_registry_copy_is_ignored_and_never_written() -> TestResult {
    hermetic();
    if !root_or_skip("as_root_another_users_registry_copy_is_ignored_and_never_written") {
        return Ok(());
    }
    // `sudo -E whoport ssh`: HOME is another user's, whose copy says ssh is 4444.
    let home = tempfile::tempdir()?;
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755))?;
    let data = home.path().join(".local/share/whoport");
    std::fs::create_dir_all(&data)?;
    std::fs::write(
        data.join("iana-service-names-port-numbers.csv"),
        format!("{CSV_HEADER}\nssh,4444,tcp,Not SSH,,,,,,,,\n"),
    )?;
    for sub in [".local/share/whoport", ".local/share", ".local", ""] {
        std::os::unix::fs::chown(home.path().join(sub), Some(NOBODY), Some(NOBODY))?;
    }
    std::os::unix::fs::chown(
        data.join("iana-service-names-port-numbers.csv"),
        Some(NOBODY),
        Some(NOBODY),
    )?;
    let as_sudo_e = |args: &[&str]| {
        whoport()
            .args(args)
            .env("HOME", home.path())
            .env_remove("XDG_DATA_HOME")
            .env_remove("WHOPORT_DATA_DIR")
            .output()
    };
    let out = as_sudo_e(&["--json", "ssh"])?;
    let report: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(report["ports"][0]["port"], 22, "{report}");
    assert_eq!(report["registry"]["copy"], "built-in");
    let warned = report["warnings"].to_string();
    assert!(
        warned.contains(&format!("is owned by uid {NOBODY}, not root")),
        "{warned}"
    );
    // The table says it on standard error.
    let out = as_sudo_e(&["ssh"])?;
    assert!(text(&out.stderr).contains("cannot be used (running as root"));
    // Nor does root import into that user's directory.
    let mine = home.path().join("mine.csv");
    std::fs::write(&mine, format!("{CSV_HEADER}\nssh,22,tcp,SSH,,,,,,,,\n"))?;
    let before = std::fs::read(data.join("iana-service-names-port-numbers.csv"))?;
    let out = as_sudo_e(&["registry", "import", &mine.display().to_string()])?;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("not root"), "{out:?}");
    assert_eq!(
        std::fs::read(data.join("iana-service-names-port-numbers.csv"))?,
        before
    );

    // A data directory that is a symbolic link (root's own tree): import does not follow it.
    let root_dir = tempfile::tempdir()?;
    let elsewhere = root_dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere)?;
    let linked = root_dir.path().join("data");
    std::os::unix::fs::symlink(&elsewhere, &linked)?;
    let out = whoport()
        .args(["registry", "import"])
        .arg(&mine)
        .env("WHOPORT_DATA_DIR", &linked)
        .output()?;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("is a symbolic link"), "{out:?}");
    assert!(names(&elsewhere).is_empty());
    // A link planted at the copy's name is replaced, never written through.
    let data = root_dir.path().join("real-data");
    std::fs::create_dir(&data)?;
    let victim = root_dir.path().join("victim");
    std::fs::write(&victim, "keep\n")?;
    std::os::unix::fs::symlink(&victim, data.join("iana-service-names-port-numbers.csv"))?;
    let out = whoport()
        .args(["registry", "import"])
        .arg(&mine)
        .env("WHOPORT_DATA_DIR", &data)
        .output()?;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(std::fs::read_to_string(&victim)?, "keep\n");
    let copy = data.join("iana-service-names-port-numbers.csv");
    assert!(std::fs::symlink_metadata(&copy)?.is_file());
    Ok(())
}

#[test]
fn xsan_executable_directory_others_can_write_is_warned_about() -> TestResult {
    hermetic();
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&config)?;
    std::fs::create_dir(&bin)?;
    std::fs::write(config.join("fsnameservers"), "127.0.0.1\n")?;
    std::fs::write(config.join(".xsanrc"), "XSAN_ALT_BINDIR=/tmp\n")?;
    let out = whoport()
        .args(["--xsan", "--json"])
        .env("WHOPORT_XSAN_CONFIG_DIR", &config)
        .env("WHOPORT_XSAN_BIN_DIR", &bin)
        .output()?;
    let report: Value = serde_json::from_slice(&out.stdout)?;
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains(
            "Xsan: the executable directory /tmp can be changed by users other than root"
        ),
        "{warnings}"
    );
    // Its own directory, root's and 0700, is not warned about.
    assert!(!warnings.contains(&bin.display().to_string()), "{warnings}");
    Ok(())
}

#[test]
fn errors_name_the_value_exactly_escaped_and_short() -> TestResult {
    hermetic();
    let err = |args: &[&OsStr]| -> Result<String, Box<dyn std::error::Error>> {
        let out = whoport().args(args).output()?;
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let e = text(&out.stderr);
        assert_eq!(e.lines().count(), 1, "{e}");
        Ok(e)
    };
    let os = |s: &'static str| OsStr::new(s);
    assert_eq!(
        err(&[os("-80")])?,
        "whoport: invalid port '-80': ports are numbers from 1 to 65535\n"
    );
    assert_eq!(
        err(&[os("80-")])?,
        "whoport: invalid port range '80-': incomplete range (write LO-HI, e.g. 8000-8100)\n"
    );
    let long = "x".repeat(5000);
    let e = err(&[OsStr::new(&long)])?;
    assert!(e.len() < 200 && e.contains("… (5000 characters)"), "{e}");
    let e = err(&[OsStr::from_bytes(b"80\xff\xfe")])?;
    assert!(e.contains("'80\\xff\\xfe': not valid UTF-8"), "{e}");
    let e = err(&[OsStr::new("ss\u{200b}hd")])?;
    assert!(e.contains("'ss\\u{200b}hd'"), "{e}");
    // A pid that no process has.
    let mut pid = 4_000_000u32;
    while Path::new(&format!("/proc/{pid}")).exists() {
        pid += 1;
    }
    let e = err(&[os("--pid"), OsStr::new(&pid.to_string())])?;
    assert_eq!(
        e,
        format!("whoport: no process with pid {pid} (--pid {pid})\n")
    );
    // A check over 10,000 ports: one status line, bounded.
    let ports: Vec<String> = (1..=10_000).map(|p| p.to_string()).collect();
    let out = whoport().arg("check").args(&ports).output()?;
    let line = text(&out.stdout);
    assert_eq!(line.lines().count(), 1);
    assert!(line.len() < 2000, "{} characters", line.len());
    assert!(line.contains("more)"), "{line}");
    Ok(())
}

/// Listens on 127.0.0.1 (any port) as `$0 = NAME` (unless NAME is empty: setting `$0`
/// replaces the whole command line), prints the port, waits for stdin.
const LISTEN_AS: &str = r#"$| = 1; $0 = $ARGV[0] if length $ARGV[0];
my $s = IO::Socket::INET->new(Listen => 5, LocalAddr => "127.0.0.1", LocalPort => 0,
    Proto => "tcp");
if (!$s) { print "error $!\n"; exit 3; }
print $s->sockport, "\n";
<STDIN>;"#;

/// A perl listener named `name` (its comm and argv[0]), ended when dropped.
struct Named {
    child: Child,
    port: u16,
}

impl Named {
    fn start(exe: &Path, name: &str) -> Result<Named, Box<dyn std::error::Error>> {
        Named::start_with(exe, name, &[])
    }

    /// With more arguments after the name (they stay in the command line).
    fn start_with(
        exe: &Path,
        name: &str,
        extra: &[&OsStr],
    ) -> Result<Named, Box<dyn std::error::Error>> {
        let mut child = Command::new(exe)
            .args(["-MIO::Socket::INET", "-e", LISTEN_AS, name])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            BufReader::new(out).read_line(&mut line)?;
        }
        let Ok(port) = line.trim().parse::<u16>() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the listener did not start: {line:?}").into());
        };
        register_holder(u64::from(child.id()));
        Ok(Named { child, port })
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn invisible_characters_in_a_name_are_shown_everywhere() -> TestResult {
    hermetic();
    let perl = Path::new("/usr/bin/perl");
    if !perl.is_file() {
        return Err("this test needs /usr/bin/perl (scripts/test-deps.sh)".into());
    }
    let l = Named::start(perl, "ss\u{200b}hd")?;
    let port = l.port.to_string();
    let shown = "ss\\u{200b}hd";
    let table = whoport().arg(&port).output()?;
    let t = text(&table.stdout);
    assert!(t.contains(shown) && !t.contains('\u{200b}'), "{t}");
    let check = whoport()
        .args(["check", &port, "--expect", "process=sshd"])
        .output()?;
    let line = text(&check.stdout);
    // Not OK: CRITICAL, or UNKNOWN where a process even root cannot inspect may hold it
    // (one whose name rules it out does not: CRITICAL).
    assert!(matches!(check.status.code(), Some(2 | 3)), "{line}");
    assert!(
        line.contains("not process=sshd") || line.contains("expected process=sshd"),
        "{line}"
    );
    assert!(line.contains(shown) && !line.contains('\u{200b}'), "{line}");
    let metrics = whoport().args(["--format", "prometheus"]).output()?;
    let m = text(&metrics.stdout);
    assert!(m.contains("process=\"ss\\\\u{200b}hd\""), "{m}");
    assert!(!m.contains('\u{200b}'));
    // JSON keeps the exact name.
    let json = whoport().args(["--json", &port]).output()?;
    let report: Value = serde_json::from_slice(&json.stdout)?;
    assert_eq!(report["sockets"][0]["processes"][0]["name"], "ss\u{200b}hd");
    Ok(())
}

fn perl() -> Result<&'static Path, Box<dyn std::error::Error>> {
    let perl = Path::new("/usr/bin/perl");
    if perl.is_file() {
        Ok(perl)
    } else {
        Err("this test needs /usr/bin/perl (scripts/test-deps.sh)".into())
    }
}

fn json_of(args: &[&str]) -> Result<Value, Box<dyn std::error::Error>> {
    let out = whoport().arg("--json").args(args).output()?;
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[test]
fn a_borrowed_name_shows_the_real_executable_and_fails_process_checks() -> TestResult {
    hermetic();
    // The issue's perl script: comm and argv[0] say sshd.
    let l = Named::start(perl()?, "sshd: /usr/sbin/sshd -D [listener]")?;
    let port = l.port.to_string();
    let table = text(&whoport().arg(&port).output()?.stdout);
    assert!(table.contains("(perl)"), "{table}");
    assert!(table.contains("[exe /usr/bin/perl]"), "{table}");
    let report = json_of(&[&port])?;
    let p = &report["sockets"][0]["processes"][0];
    assert_eq!(p["name_mismatch"], true, "{p}");
    assert_eq!(p["exe"], "/usr/bin/perl");
    // perl puts $0 in comm too, cut to 15 bytes.
    let name = p["name"].as_str().unwrap_or_default().to_string();
    let out = whoport()
        .args(["check", &port, "--expect", &format!("process={name}")])
        .output()?;
    let line = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{line}");
    assert!(line.contains("but runs /usr/bin/perl"), "{line}");
    // The executable itself passes.
    let out = whoport()
        .args(["check", &port, "--expect", "exe=/usr/bin/perl"])
        .output()?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    Ok(())
}

#[test]
fn a_deleted_executable_is_marked_and_exe_checks_say_it() -> TestResult {
    hermetic();
    let dir = tempfile::tempdir()?;
    let exe = dir.path().join("server");
    std::fs::copy(perl()?, &exe)?;
    let mut tries = 0;
    let l = loop {
        match Named::start(&exe, "server") {
            // A fork in another test thread may hold the fresh copy open for a moment.
            Err(e) if e.to_string().contains("busy") && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            other => break other?,
        }
    };
    std::fs::remove_file(&exe)?;
    let port = l.port.to_string();
    let report = json_of(&[&port])?;
    let p = &report["sockets"][0]["processes"][0];
    assert_eq!(p["exe_deleted"], true, "{p}");
    assert_eq!(p["exe"], exe.display().to_string(), "{p}");
    let table = text(&whoport().arg(&port).output()?.stdout);
    assert!(table.contains("server (deleted)"), "{table}");
    assert!(table.contains("[deleted exe "), "{table}");
    let out = whoport()
        .args(["check", &port, "--expect"])
        .arg(format!("exe={}", exe.display()))
        .output()?;
    let line = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{line}");
    assert!(line.contains("runs a deleted executable"), "{line}");
    Ok(())
}

#[test]
fn arguments_that_are_not_utf8_keep_their_bytes() -> TestResult {
    hermetic();
    let l = Named::start_with(
        perl()?,
        "",
        &[OsStr::from_bytes(b"caf\xe9"), OsStr::new("ok")],
    )?;
    let port = l.port.to_string();
    let report = json_of(&[&port])?;
    let p = &report["sockets"][0]["processes"][0];
    let hex = p["cmdline_hex"].as_array().cloned().unwrap_or_default();
    assert!(hex.contains(&Value::from("636166e9")), "{p}");
    assert!(hex.contains(&Value::from("6f6b")), "{p}");
    let args = p["cmdline"].as_array().cloned().unwrap_or_default();
    assert!(args.contains(&Value::from("caf\u{fffd}")), "{p}");
    let table = text(&whoport().arg(&port).output()?.stdout);
    assert!(table.contains("caf\\xe9 ok"), "{table}");
    Ok(())
}

/// whoport in a pseudo-terminal of `cols` columns (util-linux `script`).
fn in_terminal(cols: u16, args: &str) -> Result<String, Box<dyn std::error::Error>> {
    let bin = assert_cmd::cargo::cargo_bin("whoport");
    let out = Command::new("script")
        .args(["-qec"])
        .arg(format!(
            "stty cols {cols} rows 50; {} {args}",
            bin.display()
        ))
        .arg("/dev/null")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()?;
    Ok(text(&out.stdout).replace('\r', ""))
}

#[test]
fn the_terminal_table_is_one_line_per_row_and_pipes_get_whole_values() -> TestResult {
    hermetic();
    if Command::new("script").arg("--version").output().is_err() {
        skip(
            "the_terminal_table_is_one_line_per_row…",
            "needs util-linux script (scripts/test-deps.sh)",
        );
        return Ok(());
    }
    // A 100 KB command line.
    let long = "x".repeat(100_000);
    let l = Named::start_with(perl()?, "", &[OsStr::new("longcmd"), OsStr::new(&long)])?;
    let port = l.port.to_string();
    for cols in [50u16, 80, 160] {
        let shown = in_terminal(cols, &port)?;
        let lines: Vec<&str> = shown.lines().filter(|l| !l.is_empty()).collect();
        // The header, the row, then the port's notes.
        assert!(lines[0].trim_start().starts_with("PROTO"), "{shown}");
        assert!(
            lines[1].contains(&port) && lines[1].contains("perl"),
            "{shown}"
        );
        if cols >= 80 {
            assert!(
                lines[..2]
                    .iter()
                    .all(|l| l.chars().count() <= usize::from(cols)),
                "{shown}"
            );
            assert!(lines[1].contains('…'), "{shown}");
        }
        assert!(
            !shown.contains(&"x".repeat(200)),
            "{cols}: the long value was not cut"
        );
    }
    // -w/--wide: whole values in the terminal too.
    let wide = in_terminal(80, &format!("-w {port}"))?;
    assert!(wide.contains(&long), "--wide cut the command line");
    // A pipe: whole values, one line per row.
    let piped = text(&whoport().arg(&port).output()?.stdout);
    let row: Vec<&str> = piped.lines().filter(|l| l.contains("longcmd")).collect();
    assert_eq!(row.len(), 1);
    assert!(row[0].contains(&long));
    Ok(())
}
