//! The commands that do something beyond reporting: `whoport registry` (and room for
//! `kill`, `wait` and `watch`).

pub(crate) mod registry;
