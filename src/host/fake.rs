//! A host made up for tests: its users, registry, Xsan configuration, ephemeral range and
//! terminal are whatever the test says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Host, Terminal};
use crate::iana::Registry;
use crate::model::{EphemeralRange, XsanHost};

pub(crate) struct FakeHost {
    pub(crate) users: BTreeMap<u32, String>,
    pub(crate) registry: Registry,
    pub(crate) xsan: XsanHost,
    pub(crate) ephemeral: Option<EphemeralRange>,
    pub(crate) warnings: Vec<String>,
    /// Paths and the files they name after links are followed.
    pub(crate) links: BTreeMap<PathBuf, PathBuf>,
    pub(crate) terminal: Terminal,
}

impl Default for FakeHost {
    /// root, www-data and nobody; the built-in registry; no Xsan; Linux's default
    /// ephemeral range; no terminal.
    fn default() -> FakeHost {
        FakeHost {
            users: [
                (0, "root"),
                (33, "www-data"),
                (106, "postgres"),
                (1000, "alice"),
                (65534, "nobody"),
            ]
            .into_iter()
            .map(|(uid, name)| (uid, name.to_string()))
            .collect(),
            registry: Registry::builtin(),
            xsan: XsanHost::default(),
            ephemeral: Some(EphemeralRange {
                first: 32768,
                last: 60999,
                source: "/proc/sys/net/ipv4/ip_local_port_range",
            }),
            warnings: Vec::new(),
            links: BTreeMap::new(),
            terminal: Terminal::default(),
        }
    }
}

impl Host for FakeHost {
    fn user_name(&self, uid: u32) -> Option<String> {
        self.users.get(&uid).cloned()
    }

    fn user_uid(&self, name: &str) -> Option<u32> {
        self.users
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map(|(uid, _)| *uid)
    }

    fn registry(&self) -> &Registry {
        &self.registry
    }

    fn xsan(&self) -> &XsanHost {
        &self.xsan
    }

    fn ephemeral(&self) -> Option<&EphemeralRange> {
        self.ephemeral.as_ref()
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    fn real_path(&self, path: &Path) -> Option<PathBuf> {
        self.links.get(path).cloned()
    }

    fn terminal(&self) -> Terminal {
        self.terminal
    }
}
