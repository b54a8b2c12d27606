//! Uid ↔ user name, through the system's user database (NSS: /etc/passwd, LDAP, …).

use std::cell::RefCell;
use std::collections::HashMap;

use nix::unistd::{Uid, User};

thread_local! {
    static NAMES: RefCell<HashMap<u32, Option<String>>> = RefCell::new(HashMap::new());
}

/// The name of a uid, if the user database knows it. Cached per thread.
pub(crate) fn user_name(uid: u32) -> Option<String> {
    NAMES.with(|names| {
        names
            .borrow_mut()
            .entry(uid)
            .or_insert_with(|| {
                User::from_uid(Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
            .clone()
    })
}

/// The uid of a user name.
pub(crate) fn user_uid(name: &str) -> Option<u32> {
    User::from_name(name).ok().flatten().map(|u| u.uid.as_raw())
}
