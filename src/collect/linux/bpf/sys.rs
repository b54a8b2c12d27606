//! The bpf(2) calls, and nothing else: the only `unsafe` in whoport.
//!
//! Each command's attribute block (`union bpf_attr` in `<linux/bpf.h>`) is built as plain
//! bytes in [`Attr`] by safe code; the unsafe part is handing its address to the kernel and
//! taking ownership of the descriptor the kernel returns.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// `enum bpf_cmd`.
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_ITER_CREATE: libc::c_long = 33;

/// `enum bpf_prog_type`: BPF_PROG_TYPE_TRACING.
const BPF_PROG_TYPE_TRACING: u32 = 26;
/// `enum bpf_attach_type`: BPF_TRACE_ITER.
const BPF_TRACE_ITER: u32 = 28;

/// A zeroed `union bpf_attr` prefix: large enough for the three commands used here
/// (`BPF_PROG_LOAD` needs 116 bytes). The kernel accepts a shorter block than its own
/// union, and a longer one only if the tail is zero, so 128 zeroed bytes work on every
/// kernel that has these commands.
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Self {
        Attr([0; 128])
    }

    fn u32_at(&mut self, offset: usize, value: u32) -> &mut Self {
        self.0[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
        self
    }

    fn u64_at(&mut self, offset: usize, value: u64) -> &mut Self {
        self.0[offset..offset + 8].copy_from_slice(&value.to_ne_bytes());
        self
    }
}

/// bpf(cmd, attr): the new descriptor the command returns.
///
/// Every pointer stored in `attr` must point to memory that stays valid, with the length
/// stored beside it, for the duration of the call; the callers below pass borrowed slices
/// that outlive the call.
fn bpf(cmd: libc::c_long, attr: &mut Attr) -> io::Result<OwnedFd> {
    let size = std::mem::size_of::<Attr>() as libc::c_long;
    // SAFETY: `attr` is a live, writable, 8-aligned block of `size` bytes that the kernel
    // reads (and for BPF_PROG_LOAD may write back into: the verifier's log size) only
    // during the call. The addresses inside it are of buffers borrowed by the caller for
    // the whole call, with their true lengths. bpf(2) touches no other memory of ours.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.0.as_mut_ptr(), size) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: these three commands return a new descriptor on success (a non-negative
    // return), which nothing else in the process knows of; ownership passes to the
    // OwnedFd, which closes it once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// BPF_PROG_LOAD of an iterator program (`BPF_PROG_TYPE_TRACING`, attached as
/// `BPF_TRACE_ITER` to the vmlinux BTF function `attach_btf_id`). With `log`, the verifier
/// writes its account into it (level 1) on failure.
pub fn prog_load(
    insns: &[u8],
    license: &std::ffi::CStr,
    name: &[u8],
    attach_btf_id: u32,
    log: Option<&mut [u8]>,
) -> io::Result<OwnedFd> {
    // `struct bpf_insn` is 8 bytes; the kernel copies them, so no alignment is needed.
    if !insns.len().is_multiple_of(8) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let insn_cnt =
        u32::try_from(insns.len() / 8).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let mut attr = Attr::new();
    attr.u32_at(0, BPF_PROG_TYPE_TRACING)
        .u32_at(4, insn_cnt)
        .u64_at(8, insns.as_ptr() as u64)
        .u64_at(16, license.as_ptr() as u64)
        .u32_at(68, BPF_TRACE_ITER)
        .u32_at(108, attach_btf_id);
    // prog_name: at most 15 bytes and a NUL (the rest of the block is zero).
    let name = &name[..name.len().min(15)];
    attr.0[48..48 + name.len()].copy_from_slice(name);
    if let Some(log) = log {
        // The kernel wants 128 ≤ size ≤ u32::MAX >> 2.
        let size = u32::try_from(log.len())
            .unwrap_or(u32::MAX)
            .min(u32::MAX >> 2);
        attr.u32_at(24, 1)
            .u32_at(28, size)
            .u64_at(32, log.as_mut_ptr() as u64);
        // `log` is borrowed until the call returns.
        return bpf(BPF_PROG_LOAD, &mut attr);
    }
    bpf(BPF_PROG_LOAD, &mut attr)
}

/// BPF_LINK_CREATE for an iterator program: no iterator options (every task).
pub fn link_create(prog: &OwnedFd) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let prog_fd =
        u32::try_from(prog.as_raw_fd()).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    let mut attr = Attr::new();
    attr.u32_at(0, prog_fd).u32_at(8, BPF_TRACE_ITER);
    bpf(BPF_LINK_CREATE, &mut attr)
}

/// BPF_ITER_CREATE: a descriptor whose `read` runs the iterator.
pub fn iter_create(link: &OwnedFd) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let link_fd =
        u32::try_from(link.as_raw_fd()).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    let mut attr = Attr::new();
    attr.u32_at(0, link_fd);
    bpf(BPF_ITER_CREATE, &mut attr)
}
