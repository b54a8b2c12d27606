//! Linux: the ephemeral port range is `net.ipv4.ip_local_port_range` (it applies to IPv6
//! too).

use crate::model::EphemeralRange;

const SOURCE: &str = "/proc/sys/net/ipv4/ip_local_port_range";

pub(crate) fn ephemeral_range() -> Option<EphemeralRange> {
    let text = std::fs::read_to_string(SOURCE).ok()?;
    let (first, last) = super::parse_port_pair(&text)?;
    Some(EphemeralRange {
        first,
        last,
        source: SOURCE,
    })
}
