//! Other systems: the ephemeral port range is not read.

use crate::model::EphemeralRange;

pub(crate) fn ephemeral_range() -> Option<EphemeralRange> {
    None
}
