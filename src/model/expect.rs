//! What `whoport check` is asked to hold true.

use std::fmt;

use super::query::UserFilter;

/// One `--expect` of `whoport check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expectation {
    /// No socket at all on the port.
    Free,
    /// Some socket on the port, in any state.
    Held,
    /// A listening socket on the port.
    Listening,
    /// Listening, and held only by verified Xsan processes (the verdict annotate set).
    Xsan,
    /// Held by a process matching this (with every other owner clause, at once).
    Owner(OwnerClause),
}

/// An expectation about the process holding a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OwnerClause {
    /// The process's full name, exactly.
    Process(String),
    User(UserFilter),
    Pid(u32),
    /// The executable's absolute path, exactly, or the file it names after symbolic links
    /// are followed (`/usr/bin/python3` → `/usr/bin/python3.11`), as the kernel reports it.
    Exe {
        path: String,
        real: Option<String>,
    },
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expectation::Free => f.write_str("free"),
            Expectation::Held => f.write_str("held"),
            Expectation::Listening => f.write_str("listening"),
            Expectation::Xsan => f.write_str("xsan"),
            Expectation::Owner(OwnerClause::Process(name)) => write!(f, "process={name}"),
            Expectation::Owner(OwnerClause::User(u)) => match &u.name {
                Some(name) => write!(f, "user={name}"),
                None => write!(f, "user={}", u.uid),
            },
            Expectation::Owner(OwnerClause::Pid(pid)) => write!(f, "pid={pid}"),
            Expectation::Owner(OwnerClause::Exe { path, .. }) => write!(f, "exe={path}"),
        }
    }
}

/// Conditions that make a check WARNING while its expectations hold (`--warn-on`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WarnOn {
    /// A listening socket on an Xsan port held by a known process that is not Xsan.
    XsanConflict,
}

impl WarnOn {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WarnOn::XsanConflict => "xsan-conflict",
        }
    }
}

/// What `whoport check` is asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CheckSpec {
    pub(crate) expectations: Vec<Expectation>,
    pub(crate) warn_on: Vec<WarnOn>,
}

impl CheckSpec {
    /// The check asks about Xsan (`--expect xsan`, `--warn-on xsan-conflict`): the Xsan
    /// alarm applies also on a host where Xsan is not configured.
    pub(crate) fn asks_xsan(&self) -> bool {
        self.expectations.contains(&Expectation::Xsan)
            || self.warn_on.contains(&WarnOn::XsanConflict)
    }
}
