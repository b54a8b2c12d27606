//! The Linux-only fields of netstat2's socket record.

use netstat2::SocketInfo;

/// The socket's inode and uid, where netstat2 gives them.
pub(crate) fn inode_and_uid(info: &SocketInfo) -> (Option<u64>, Option<u32>) {
    (Some(u64::from(info.inode)), Some(info.uid))
}
