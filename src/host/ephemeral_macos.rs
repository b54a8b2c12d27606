//! macOS: the ephemeral port range is `net.inet.ip.portrange.first` to `.last`.

use std::process::{Command, Stdio};

use crate::model::EphemeralRange;

const SOURCE: &str = "sysctl net.inet.ip.portrange.first/last";

pub(crate) fn ephemeral_range() -> Option<EphemeralRange> {
    let output = Command::new("/usr/sbin/sysctl")
        .args([
            "-n",
            "net.inet.ip.portrange.first",
            "net.inet.ip.portrange.last",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let (first, last) = super::parse_port_pair(&String::from_utf8_lossy(&output.stdout))?;
    Some(EphemeralRange {
        first,
        last,
        source: SOURCE,
    })
}
