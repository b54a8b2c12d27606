//! Whether /proc hides other users' processes from this run (`hidepid=`, proc(5)): then
//! they are not listed at all, so the scan cannot even count what it missed.

/// `Some("hidepid=2")` (the option as mounted) when /proc hides processes from this
/// run; `None` when it does not, or when that cannot be read.
pub(crate) fn restricted() -> Option<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let (hidepid, gid) = proc_options(&mountinfo)?;
    let in_group = gid.is_some_and(|gid| {
        nix::unistd::getegid().as_raw() == gid
            || nix::unistd::getgroups().is_ok_and(|g| g.iter().any(|g| g.as_raw() == gid))
    });
    (!in_group).then(|| format!("hidepid={hidepid}"))
}

/// The `hidepid=` value (when it hides anything) and the `gid=` exempted from it, of the
/// proc mounted last on /proc.
fn proc_options(mountinfo: &str) -> Option<(String, Option<u32>)> {
    let options = mountinfo.lines().rev().find_map(|line| {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPER
        let (mount, fs) = line.split_once(" - ")?;
        let mount_point = mount.split(' ').nth(4)?;
        let mut fs = fs.split(' ');
        let fstype = fs.next()?;
        let super_options = fs.nth(1)?;
        (mount_point == "/proc" && fstype == "proc").then_some(super_options)
    })?;
    let mut hidepid = None;
    let mut gid = None;
    for option in options.split(',') {
        if let Some(v) = option.strip_prefix("hidepid=") {
            hidepid = Some(v);
        } else if let Some(v) = option.strip_prefix("gid=") {
            gid = v.parse().ok();
        }
    }
    match hidepid? {
        "0" | "off" => None,
        v => Some((v.to_string(), gid)),
    }
}

#[cfg(test)]
mod tests {
    use super::proc_options;

    #[test]
    fn reads_the_proc_mount() {
        let plain = "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n";
        assert_eq!(proc_options(plain), None);
        let hidden = "22 1 0:21 / /proc rw,relatime shared:12 - proc proc rw,hidepid=2,gid=27\n";
        assert_eq!(proc_options(hidden), Some(("2".to_string(), Some(27))));
        // The mount on top counts.
        let both =
            format!("{hidden}40 22 0:50 / /proc rw,relatime - proc proc rw,hidepid=invisible\n");
        assert_eq!(proc_options(&both), Some(("invisible".to_string(), None)));
        let off = "22 1 0:21 / /proc rw - proc proc rw,hidepid=off\n";
        assert_eq!(proc_options(off), None);
        let elsewhere = "30 1 0:40 / /mnt/proc rw - proc proc rw,hidepid=2\n";
        assert_eq!(proc_options(elsewhere), None);
    }
}
