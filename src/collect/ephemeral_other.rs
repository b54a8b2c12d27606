//! Other systems: the ephemeral port range is not read.

use crate::model::EphemeralRange;

pub fn ephemeral_range() -> Option<EphemeralRange> {
    None
}
