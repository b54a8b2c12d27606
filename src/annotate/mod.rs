//! What is known about ports: pure functions over the report, no I/O at lookup time.

use anyhow::{Result, bail};

use crate::model::RangeClass;

/// Resolves a service name (`ssh`) to its ports.
pub fn lookup_service(name: &str) -> Result<Vec<u16>> {
    bail!(
        "invalid port '{name}': not a number, and service names need the built-in port \
         registry, which this build does not have yet"
    )
}

/// A plain explanation of an RFC 6335 range class.
pub fn range_explanation(range: RangeClass) -> &'static str {
    match range {
        RangeClass::System => "system port (0-1023): assigned by IETF review",
        RangeClass::User => "user port (1024-49151): assigned by IANA on request",
        RangeClass::Dynamic => {
            "dynamic port (49152-65535): never assigned by IANA; used for ephemeral ports"
        }
    }
}
