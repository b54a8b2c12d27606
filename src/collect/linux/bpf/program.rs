//! The iterator program, assembled at run time with the running kernel's field offsets.
//!
//! In C it would read (libbpf style; whoport has no C toolchain at build time, so it is
//! assembled here instead, and a test holds the bytes to [`LISTING`]):
//!
//! ```c
//! SEC("iter/task_file")
//! int whoport_sockets(struct bpf_iter__task_file *ctx)
//! {
//!     struct task_struct *task = ctx->task;
//!     struct file *file = ctx->file;
//!     if (!task || !file)                            /* the end of the walk */
//!         return 0;
//!     struct inode *inode = file->f_inode;
//!     if (!inode || (inode->i_mode & S_IFMT) != S_IFSOCK)
//!         return 0;
//!     /* A thread is visited only for a table of its own (the kernel skips those that
//!        share the leader's, from 5.9): its descriptors are marked by the fd's top bit. */
//!     u32 fd = ctx->fd;
//!     if (task->pid != task->tgid)
//!         fd |= 0x80000000;
//!     struct { u32 tgid, fd; u64 ino; } rec = { task->tgid, fd, inode->i_ino };
//!     bpf_seq_write(ctx->meta->seq, &rec, sizeof rec);
//!     return 0;
//! }
//! char LICENSE[] SEC("license") = "Dual MIT/GPL";
//! ```

use super::btf::{Field, Layout, Walk};

/// What the kernel calls the programs (at most 15 bytes).
pub const NAME: &[u8] = b"whoport_sockets";
pub const TASKS_NAME: &[u8] = b"whoport_tasks";
pub const WALK_NAME: &[u8] = b"whoport_owners";

/// The fd of a walk record that stands for a process, not a descriptor: its inode field
/// is then the reader's tgid as the iterator numbers it.
pub const PROCESS_FD: u32 = u32::MAX;
/// The fd of a walk record that says a descriptor table was too large to walk (its
/// inode field: the table's size); the whole walk is then not to be trusted.
pub const TOO_MANY_FD: u32 = u32::MAX - 1;
/// The fd of a walk record that says the socket file operations could not be learnt
/// from the reader's own socket: no socket could be told, and the walk is not to be
/// trusted.
pub const NO_SOCKET_OPS_FD: u32 = u32::MAX - 2;
/// The size of a walk's process record: u32 tgid, u32 PROCESS_FD, u32 the reader's tgid,
/// u32 the real uid, 16 bytes of command name.
pub const PROCESS_RECORD: usize = 32;
/// The largest table the walk takes: `bpf_iter_num` counts at most 2^23 steps.
pub const MAX_TABLE: i32 = 1 << 23;

/// GPL-compatible, as `bpf_seq_write` and `struct bpf_iter_meta` require; the project is
/// MIT, which this dual string includes.
pub const LICENSE: &std::ffi::CStr = c"Dual MIT/GPL";

/// The size of one record the program writes: u32 tgid, u32 fd, u64 inode.
pub const RECORD: usize = 16;

/// The fd's top bit in a record: a descriptor of a thread's own table, not the leader's.
/// (Descriptor numbers stay below 2^30.)
pub const THREAD_FD: i32 = i32::MIN;

/// The size of one record of the task program: u32 tgid, u32 the reader's tgid.
pub const TASK_RECORD: usize = 8;

/// `bpf_seq_write` and `bpf_get_current_pid_tgid` in `enum bpf_func_id`.
const BPF_FUNC_SEQ_WRITE: i32 = 127;
const BPF_FUNC_GET_CURRENT_PID_TGID: i32 = 14;
/// `bpf_get_current_task`: the reader's task, as a plain number.
const BPF_FUNC_GET_CURRENT_TASK: i32 = 35;
/// S_IFMT and S_IFSOCK, from `<sys/stat.h>`.
const S_IFMT: i32 = 0o170000;
const S_IFSOCK: i32 = 0o140000;

/// The program as the kernel's verifier log (and `bpftool prog dump xlated`) prints it,
/// one instruction a line, with the offsets read from BTF in braces. A test assembles the
/// program and prints it back the kernel's way to compare with this.
#[cfg_attr(not(test), allow(dead_code))] // the source of record, read by people and tests
pub const LISTING: &str = "\
(bf) r6 = r1                              ; r6 = ctx
(79) r7 = *(u64 *)(r6 +{ctx.task})        ; r7 = ctx->task
(15) if r7 == 0x0 goto pc+22              ; no task: done
(79) r8 = *(u64 *)(r6 +{ctx.file})        ; r8 = ctx->file
(15) if r8 == 0x0 goto pc+20              ; no file: done
(79) r4 = *(u64 *)(r8 +{file.f_inode})    ; r4 = file->f_inode
(15) if r4 == 0x0 goto pc+18              ; no inode: skip
(69) r5 = *(u16 *)(r4 +{inode.i_mode})    ; r5 = inode->i_mode
(57) r5 &= 61440                          ; r5 &= S_IFMT
(55) if r5 != 0xc000 goto pc+15           ; not S_IFSOCK: skip
(79) r5 = *(u64 *)(r4 +{inode.i_ino})     ; r5 = inode->i_ino
(61) r2 = *(u32 *)(r7 +{task.pid})        ; r2 = task->pid
(61) r3 = *(u32 *)(r7 +{task.tgid})       ; r3 = task->tgid
(63) *(u32 *)(r10 -16) = r3               ; rec.tgid = tgid
(61) r1 = *(u32 *)(r6 +{ctx.fd})          ; r1 = ctx->fd
(1d) if r2 == r3 goto pc+1                ; the leader's table: as it is
(47) r1 |= -2147483648                    ; a thread's own table: the top bit
(63) *(u32 *)(r10 -12) = r1               ; rec.fd = fd
(7b) *(u64 *)(r10 -8) = r5                ; rec.ino = i_ino
(79) r1 = *(u64 *)(r6 +{ctx.meta})        ; r1 = ctx->meta
(79) r1 = *(u64 *)(r1 +{meta.seq})        ; r1 = meta->seq
(bf) r2 = r10                             ; r2 = frame pointer
(07) r2 += -16                            ; r2 = &rec
(b7) r3 = 16                              ; r3 = sizeof rec
(85) call bpf_seq_write#127               ; bpf_seq_write(seq, &rec, 16)
(b7) r0 = 0                               ; return 0
(95) exit
";

/// The second program, over every task (`iter/task`): the pid of every process the
/// iterators can see, so that a process the kernel keeps from them (some hardened or
/// sandboxed kernels hide tasks from BPF iterators) is counted as not inspected instead
/// of its sockets being called unowned; and, in every record, the pid of the reader
/// (whoport) as the iterators number it, which must be the pid whoport has: in a child pid
/// namespace they number processes as the initial namespace does. In C:
///
/// ```c
/// SEC("iter/task")
/// int whoport_tasks(struct bpf_iter__task *ctx)
/// {
///     struct { u32 tgid, reader; } rec;
///     rec.reader = bpf_get_current_pid_tgid() >> 32;
///     struct task_struct *task = ctx->task;
///     if (!task || task->pid != task->tgid)
///         return 0;
///     rec.tgid = task->tgid;
///     bpf_seq_write(ctx->meta->seq, &rec, sizeof rec);
///     return 0;
/// }
/// ```
#[cfg_attr(not(test), allow(dead_code))] // the source of record, read by people and tests
pub const TASKS_LISTING: &str = "\
(bf) r6 = r1                              ; r6 = ctx
(85) call bpf_get_current_pid_tgid#14     ; r0 = the reader's tgid << 32 | pid
(77) r0 >>= 32                            ; r0 = the reader's tgid
(63) *(u32 *)(r10 -4) = r0                ; rec.reader = r0
(79) r7 = *(u64 *)(r6 +{task_ctx.task})   ; r7 = ctx->task
(15) if r7 == 0x0 goto pc+10              ; no task: done
(61) r2 = *(u32 *)(r7 +{task.pid})        ; r2 = task->pid
(61) r3 = *(u32 *)(r7 +{task.tgid})       ; r3 = task->tgid
(5d) if r2 != r3 goto pc+7                ; a thread, not the leader: skip
(63) *(u32 *)(r10 -8) = r3                ; rec.tgid = tgid
(79) r1 = *(u64 *)(r6 +{task_ctx.meta})   ; r1 = ctx->meta
(79) r1 = *(u64 *)(r1 +{meta.seq})        ; r1 = meta->seq
(bf) r2 = r10                             ; r2 = frame pointer
(07) r2 += -8                             ; r2 = &rec
(b7) r3 = 8                               ; r3 = sizeof rec
(85) call bpf_seq_write#127               ; bpf_seq_write(seq, &rec, 8)
(b7) r0 = 0                               ; return 0
(95) exit
";

/// The one-pass program, over every task (`iter/task`), for kernels with open-coded
/// iterators (6.4+): it walks each process's descriptor table itself, so the kernel's
/// `task_file` iterator — which takes and drops a reference on every file it visits —
/// is not used, and the process records of the task program come in the same pass. In C:
///
/// ```c
/// SEC("iter/task")
/// int whoport_owners(struct bpf_iter__task *ctx)
/// {
///     /* Read through an untrusted cast: the loads are checked loads that read 0 rather
///        than fault, and the verifier need not look up whether each pointer it follows
///        is trusted (a search of the kernel's BTF each, ten times the whole check). */
///     struct task_struct *task = bpf_rdonly_cast(ctx->task, bpf_core_type_id_kernel(struct task_struct));
///     struct seq_file *seq = ctx->meta->seq;
///     struct { u32 tgid, fd; u64 ino; } rec;
///     struct { u32 tgid, fd, reader, uid; char comm[16]; } prec;
///     u32 mark = 0;
///     if (!task)
///         return 0;
///     /* socket_file_ops (not in kallsyms): the operations of a socket whoport holds open
///        at descriptor OWN_SOCKET (an immediate). Every socket's file has them, and no
///        other file has: an O_PATH descriptor of a socket's path has an S_IFSOCK inode
///        but not these, and is not a socket. */
///     struct task_struct *me = bpf_rdonly_cast(bpf_get_current_task(), bpf_core_type_id_kernel(struct task_struct));
///     const void *sock_ops = bpf_rdonly_cast(&me->files->fdt->fd[OWN_SOCKET], bpf_core_type_id_kernel(struct kiocb))->ki_filp->f_op;
///     if (!sock_ops) {
///         rec.tgid = 0; rec.fd = NO_SOCKET_OPS_FD; rec.ino = 0;
///         bpf_seq_write(seq, &rec, sizeof rec);
///         return 0;
///     }
///     struct files_struct *files = task->files;
///     rec.tgid = task->tgid;
///     /* Copies of the program (SHARD_MASK, SHARD_INDEX: immediates) split the processes
///        between them, each read on a core of its own. */
///     if ((task->tgid & SHARD_MASK) != SHARD_INDEX)
///         return 0;
///     if (task->pid != task->tgid) {
///         /* A thread: only a table of its own, its descriptors marked. */
///         if (task->group_leader->files == files)
///             return 0;
///         mark = 0x80000000;
///     } else {
///         /* A process: one record, with the reader's tgid as this iterator numbers it,
///            and the real uid and command name, which /proc/PID/status need not give. */
///         prec.tgid = task->tgid;
///         prec.fd = PROCESS_FD;
///         prec.reader = bpf_get_current_pid_tgid() >> 32;
///         prec.uid = task->real_cred ? task->real_cred->uid.val : -1;
///         memcpy(prec.comm, task->comm, 16);
///         bpf_seq_write(seq, &prec, sizeof prec);
///     }
///     if (!files || !files->fdt)                     /* a kernel thread, or exiting */
///         return 0;
///     u32 max = files->fdt->max_fds;
///     struct file **fd = files->fdt->fd;
///     if (max > MAX_TABLE) {                         /* more than bpf_iter_num counts */
///         rec.fd = TOO_MANY_FD;
///         rec.ino = max;
///         bpf_seq_write(seq, &rec, sizeof rec);
///         return 0;
///     }
///     int *i;
///     bpf_for_each(num, i, 0, max) {                 /* bpf_iter_num_new/next/destroy */
///         /* The slot, read as the kiocb whose first member is a struct file *: the
///            loads below are then checked loads that read 0 rather than fault. */
///         struct file *f = bpf_rdonly_cast(&fd[*i], bpf_core_type_id_kernel(struct kiocb))->ki_filp;
///         if (!f || f->f_op != sock_ops || !f->f_inode)
///             continue;
///         rec.fd = *i | mark;                    /* mark: kept on the stack */
///         rec.ino = f->f_inode->i_ino;
///         bpf_seq_write(seq, &rec, sizeof rec);
///     }
///     return 0;
/// }
/// ```
#[cfg_attr(not(test), allow(dead_code))] // the source of record, read by people and tests
pub const WALK_LISTING: &str = "\
(bf) r6 = r1                              ; r6 = ctx
(79) r1 = *(u64 *)(r6 +{task_ctx.task})   ; r1 = ctx->task
(b7) r2 = {task_struct}                   ; r2 = the BTF id of struct task_struct
(85) call bpf_rdonly_cast#{rdonly_cast}   ; r0 = (struct task_struct *)ctx->task, untrusted
(bf) r7 = r0                              ; r7 = task
(15) if r7 == 0x0 goto pc+105             ; no task: done
(79) r1 = *(u64 *)(r6 +{task_ctx.meta})   ; r1 = ctx->meta
(79) r6 = *(u64 *)(r1 +{meta.seq})        ; r6 = meta->seq
(85) call bpf_get_current_task#35         ; r0 = the reader (whoport), a number
(bf) r1 = r0                              ; r1 = r0
(b7) r2 = {task_struct}                   ; r2 = the BTF id of struct task_struct
(85) call bpf_rdonly_cast#{rdonly_cast}   ; r0 = (struct task_struct *)reader
(79) r1 = *(u64 *)(r0 +{task.files})      ; r1 = reader->files
(79) r1 = *(u64 *)(r1 +{files.fdt})       ; r1 = ->fdt
(79) r1 = *(u64 *)(r1 +{fdtable.fd})      ; r1 = ->fd
(07) r1 += {own_socket*8}                 ; r1 = &fd[own_socket]
(b7) r2 = {kiocb}                         ; r2 = the BTF id of struct kiocb
(85) call bpf_rdonly_cast#{rdonly_cast}   ; r0 = (struct kiocb *)&fd[own_socket]
(79) r1 = *(u64 *)(r0 +{kiocb.ki_filp})   ; r1 = the reader's socket file
(79) r9 = *(u64 *)(r1 +{file.f_op})       ; r9 = socket_file_ops
(15) if r9 == 0x0 goto pc+82              ; not learnt: say so
(79) r8 = *(u64 *)(r7 +{task.files})      ; r8 = task->files
(61) r2 = *(u32 *)(r7 +{task.pid})        ; r2 = task->pid
(61) r3 = *(u32 *)(r7 +{task.tgid})       ; r3 = task->tgid
(63) *(u32 *)(r10 -24) = r3               ; rec.tgid = tgid
(62) *(u32 *)(r10 -64) = 0                ; mark = 0
(bf) r1 = r3                              ; r1 = tgid
(57) r1 &= {shard.mask}                   ; r1 &= the shard's mask
(55) if r1 != {shard.index} goto pc+82    ; not this shard's: done
(1d) if r2 == r3 goto pc+5                ; the leader: a process record
(79) r1 = *(u64 *)(r7 +{task.group_leader}) ; r1 = task->group_leader
(79) r1 = *(u64 *)(r1 +{task.files})      ; r1 = leader->files
(1d) if r1 == r8 goto pc+78               ; the leader's table: done
(62) *(u32 *)(r10 -64) = -2147483648      ; mark = the top bit
(05) goto pc+19                           ; to the walk
(63) *(u32 *)(r10 -56) = r3               ; prec.tgid = tgid
(62) *(u32 *)(r10 -52) = -1               ; prec.fd = PROCESS_FD
(85) call bpf_get_current_pid_tgid#14     ; r0 = the reader's tgid << 32 | pid
(77) r0 >>= 32                            ; r0 = the reader's tgid
(63) *(u32 *)(r10 -48) = r0               ; prec.reader = r0
(62) *(u32 *)(r10 -44) = -1               ; prec.uid = unknown
(79) r1 = *(u64 *)(r7 +{task.real_cred})  ; r1 = task->real_cred
(15) if r1 == 0x0 goto pc+2               ; no credentials: uid unknown
(61) r1 = *(u32 *)(r1 +{cred.uid})        ; r1 = cred->uid
(63) *(u32 *)(r10 -44) = r1               ; prec.uid = uid
(79) r1 = *(u64 *)(r7 +{task.comm})       ; r1 = task->comm[0..8]
(7b) *(u64 *)(r10 -40) = r1               ; prec.comm[0..8] = r1
(79) r1 = *(u64 *)(r7 +{task.comm+8})     ; r1 = task->comm[8..16]
(7b) *(u64 *)(r10 -32) = r1               ; prec.comm[8..16] = r1
(bf) r1 = r6                              ; r1 = seq
(bf) r2 = r10                             ; r2 = frame pointer
(07) r2 += -56                            ; r2 = &prec
(b7) r3 = 32                              ; r3 = sizeof prec
(85) call bpf_seq_write#127               ; bpf_seq_write(seq, &prec, 32)
(15) if r8 == 0x0 goto pc+56              ; no table: done
(79) r1 = *(u64 *)(r8 +{files.fdt})       ; r1 = files->fdt
(15) if r1 == 0x0 goto pc+54              ; no table: done
(61) r3 = *(u32 *)(r1 +{fdtable.max_fds}) ; r3 = fdt->max_fds
(79) r7 = *(u64 *)(r1 +{fdtable.fd})      ; r7 = fdt->fd
(25) if r3 > 0x800000 goto pc+35          ; too large: say so
(bf) r1 = r10                             ; r1 = frame pointer
(07) r1 += -8                             ; r1 = &it
(b7) r2 = 0                               ; r2 = 0
(85) call bpf_iter_num_new#{iter_num_new} ; bpf_iter_num_new(&it, 0, max)
(bf) r1 = r10                             ; r1 = frame pointer
(07) r1 += -8                             ; r1 = &it
(85) call bpf_iter_num_next#{iter_num_next} ; r0 = bpf_iter_num_next(&it)
(15) if r0 == 0x0 goto pc+23              ; the end of the table
(61) r8 = *(u32 *)(r0 +0)                 ; r8 = i
(bf) r1 = r8                              ; r1 = i
(67) r1 <<= 3                             ; r1 = i * 8
(0f) r1 += r7                             ; r1 = &fd[i]
(b7) r2 = {kiocb}                         ; r2 = the BTF id of struct kiocb
(85) call bpf_rdonly_cast#{rdonly_cast}   ; r0 = (struct kiocb *)&fd[i]
(79) r1 = *(u64 *)(r0 +{kiocb.ki_filp})   ; r1 = fd[i]
(15) if r1 == 0x0 goto pc-12              ; no file: the next
(79) r2 = *(u64 *)(r1 +{file.f_op})       ; r2 = file->f_op
(5d) if r2 != r9 goto pc-14               ; not a socket: the next
(79) r1 = *(u64 *)(r1 +{file.f_inode})    ; r1 = file->f_inode
(15) if r1 == 0x0 goto pc-16              ; no inode: the next
(79) r2 = *(u64 *)(r1 +{inode.i_ino})     ; r2 = inode->i_ino
(7b) *(u64 *)(r10 -16) = r2               ; rec.ino = i_ino
(61) r1 = *(u32 *)(r10 -64)               ; r1 = mark
(4f) r8 |= r1                             ; r8 = i | mark
(63) *(u32 *)(r10 -20) = r8               ; rec.fd = r8
(bf) r1 = r6                              ; r1 = seq
(bf) r2 = r10                             ; r2 = frame pointer
(07) r2 += -24                            ; r2 = &rec
(b7) r3 = 16                              ; r3 = sizeof rec
(85) call bpf_seq_write#127               ; bpf_seq_write(seq, &rec, 16)
(05) goto pc-27                           ; the next
(bf) r1 = r10                             ; r1 = frame pointer
(07) r1 += -8                             ; r1 = &it
(85) call bpf_iter_num_destroy#{iter_num_destroy} ; bpf_iter_num_destroy(&it)
(05) goto pc+16                           ; done
(7b) *(u64 *)(r10 -16) = r3               ; rec.ino = max
(62) *(u32 *)(r10 -20) = -2               ; rec.fd = TOO_MANY_FD
(bf) r1 = r6                              ; r1 = seq
(bf) r2 = r10                             ; r2 = frame pointer
(07) r2 += -24                            ; r2 = &rec
(b7) r3 = 16                              ; r3 = sizeof rec
(85) call bpf_seq_write#127               ; bpf_seq_write(seq, &rec, 16)
(05) goto pc+8                            ; done
(62) *(u32 *)(r10 -24) = 0                ; rec.tgid = 0
(62) *(u32 *)(r10 -20) = -3               ; rec.fd = NO_SOCKET_OPS_FD
(7a) *(u64 *)(r10 -16) = 0                ; rec.ino = 0
(bf) r1 = r6                              ; r1 = seq
(bf) r2 = r10                             ; r2 = frame pointer
(07) r2 += -24                            ; r2 = &rec
(b7) r3 = 16                              ; r3 = sizeof rec
(85) call bpf_seq_write#127               ; bpf_seq_write(seq, &rec, 16)
(b7) r0 = 0                               ; return 0
(95) exit
";

// Opcode parts, from <linux/bpf_common.h> and <linux/bpf.h>.
const LDX_MEM: u8 = 0x01 | 0x60;
const ST_MEM: u8 = 0x02 | 0x60;
const STX_MEM: u8 = 0x03 | 0x60;
const ALU64: u8 = 0x07;
const JMP: u8 = 0x05;
const OP_ADD: u8 = 0x00;
const OP_AND: u8 = 0x50;
const OP_OR: u8 = 0x40;
const OP_RSH: u8 = 0x70;
const OP_LSH: u8 = 0x60;
const OP_JA: u8 = 0x00;
const OP_JGT: u8 = 0x20;
const OP_MOV: u8 = 0xb0;
const OP_JEQ: u8 = 0x10;
const OP_JNE: u8 = 0x50;
const OP_CALL: u8 = 0x80;
const OP_EXIT: u8 = 0x90;
const SRC_X: u8 = 0x08;
/// `src_reg` of a call of a kernel function named by BTF id.
const PSEUDO_KFUNC_CALL: u8 = 2;

/// One `struct bpf_insn`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// The 8 bytes the kernel reads: the register nibbles are a C bitfield
    /// (`dst_reg:4, src_reg:4`), whose order follows the byte order.
    pub fn encode(&self) -> [u8; 8] {
        let regs = if cfg!(target_endian = "little") {
            (self.src << 4) | (self.dst & 0xf)
        } else {
            (self.dst << 4) | (self.src & 0xf)
        };
        let off = self.off.to_ne_bytes();
        let imm = self.imm.to_ne_bytes();
        [
            self.code, regs, off[0], off[1], imm[0], imm[1], imm[2], imm[3],
        ]
    }
}

fn size_code(size: u8) -> u8 {
    match size {
        1 => 0x10,
        2 => 0x08,
        4 => 0x00,
        _ => 0x18,
    }
}

/// dst = *(size *)(src + field.offset)
fn load(dst: u8, src: u8, field: Field) -> Insn {
    Insn {
        code: LDX_MEM | size_code(field.size),
        dst,
        src,
        off: field.offset,
        imm: 0,
    }
}

/// *(size *)(dst + off) = src
fn store(size: u8, dst: u8, off: i16, src: u8) -> Insn {
    Insn {
        code: STX_MEM | size_code(size),
        dst,
        src,
        off,
        imm: 0,
    }
}

fn alu_imm(op: u8, dst: u8, imm: i32) -> Insn {
    Insn {
        code: ALU64 | op,
        dst,
        src: 0,
        off: 0,
        imm,
    }
}

fn mov_reg(dst: u8, src: u8) -> Insn {
    Insn {
        code: ALU64 | OP_MOV | SRC_X,
        dst,
        src,
        off: 0,
        imm: 0,
    }
}

/// The offset of a jump to the end (`return 0`), filled in by `finish`.
const TO_END: i16 = i16::MIN;

/// A jump to the end.
fn jump_imm(op: u8, dst: u8, imm: i32) -> Insn {
    Insn {
        code: JMP | op,
        dst,
        src: 0,
        off: TO_END,
        imm,
    }
}

/// A jump over the next `off` instructions.
fn jump_reg_by(op: u8, dst: u8, src: u8, off: i16) -> Insn {
    Insn {
        code: JMP | op | SRC_X,
        dst,
        src,
        off,
        imm: 0,
    }
}

/// A jump to the end.
fn jump_reg(op: u8, dst: u8, src: u8) -> Insn {
    jump_reg_by(op, dst, src, TO_END)
}

/// `call imm` or `exit`.
fn special(op: u8, imm: i32) -> Insn {
    Insn {
        code: JMP | op,
        dst: 0,
        src: 0,
        off: 0,
        imm,
    }
}

/// The program's instructions for this kernel's layout.
pub fn instructions(l: &Layout) -> Vec<Insn> {
    let p = vec![
        mov_reg(6, 1),                        // r6 = ctx
        load(7, 6, l.ctx_task),               // r7 = ctx->task
        jump_imm(OP_JEQ, 7, 0),               // no task: done
        load(8, 6, l.ctx_file),               // r8 = ctx->file
        jump_imm(OP_JEQ, 8, 0),               // no file: done
        load(4, 8, l.file_f_inode),           // r4 = file->f_inode
        jump_imm(OP_JEQ, 4, 0),               // no inode: skip
        load(5, 4, l.inode_i_mode),           // r5 = inode->i_mode
        alu_imm(OP_AND, 5, S_IFMT),           // r5 &= S_IFMT
        jump_imm(OP_JNE, 5, S_IFSOCK),        // not a socket: skip
        load(5, 4, l.inode_i_ino),            // r5 = inode->i_ino
        load(2, 7, l.task_pid),               // r2 = task->pid
        load(3, 7, l.task_tgid),              // r3 = task->tgid
        store(4, 10, -16, 3),                 // rec.tgid = tgid
        load(1, 6, l.ctx_fd),                 // r1 = ctx->fd
        jump_reg_by(OP_JEQ, 2, 3, 1),         // the leader's table: as it is
        alu_imm(OP_OR, 1, THREAD_FD),         // a thread's own table: the top bit
        store(4, 10, -12, 1),                 // rec.fd = fd
        store(8, 10, -8, 5),                  // rec.ino = i_ino
        load(1, 6, l.ctx_meta),               // r1 = ctx->meta
        load(1, 1, l.meta_seq),               // r1 = meta->seq
        mov_reg(2, 10),                       // r2 = frame pointer
        alu_imm(OP_ADD, 2, -(RECORD as i32)), // r2 = &rec
        alu_imm(OP_MOV, 3, RECORD as i32),    // r3 = sizeof rec
        special(OP_CALL, BPF_FUNC_SEQ_WRITE), // bpf_seq_write(seq, &rec, 16)
    ];
    finish(p)
}

/// The task program's instructions for this kernel's layout.
pub fn task_instructions(l: &Layout) -> Vec<Insn> {
    let rec = TASK_RECORD as i32;
    let p = vec![
        mov_reg(6, 1),                                   // r6 = ctx
        special(OP_CALL, BPF_FUNC_GET_CURRENT_PID_TGID), // r0 = tgid << 32 | pid
        alu_imm(OP_RSH, 0, 32),                          // r0 = the reader's tgid
        store(4, 10, -4, 0),                             // rec.reader = r0
        load(7, 6, l.task_ctx_task),                     // r7 = ctx->task
        jump_imm(OP_JEQ, 7, 0),                          // no task: done
        load(2, 7, l.task_pid),                          // r2 = task->pid
        load(3, 7, l.task_tgid),                         // r3 = task->tgid
        jump_reg(OP_JNE, 2, 3),                          // a thread, not the leader: skip
        store(4, 10, -8, 3),                             // rec.tgid = tgid
        load(1, 6, l.task_ctx_meta),                     // r1 = ctx->meta
        load(1, 1, l.meta_seq),                          // r1 = meta->seq
        mov_reg(2, 10),                                  // r2 = frame pointer
        alu_imm(OP_ADD, 2, -rec),                        // r2 = &rec
        alu_imm(OP_MOV, 3, rec),                         // r3 = sizeof rec
        special(OP_CALL, BPF_FUNC_SEQ_WRITE),            // bpf_seq_write(seq, &rec, 8)
    ];
    finish(p)
}

/// Points every conditional jump at the end, and ends with `return 0`.
fn finish(mut p: Vec<Insn>) -> Vec<Insn> {
    let end = p.len();
    for (i, insn) in p.iter_mut().enumerate() {
        if insn.code & 0x07 == JMP && insn.off == TO_END {
            insn.off = i16::try_from(end - i - 1).unwrap_or(i16::MAX);
        }
    }
    p.push(alu_imm(OP_MOV, 0, 0)); // r0 = 0
    p.push(special(OP_EXIT, 0)); // exit
    p
}

/// Where a jump of the walk program goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Label {
    End,
    Leader,
    Walk,
    Loop,
    Done,
    TooMany,
    Comm,
    NoOps,
}

/// A program being assembled: instructions, and jumps to labels resolved at the end.
#[derive(Default)]
struct Asm {
    p: Vec<Insn>,
    labels: Vec<(Label, usize)>,
    jumps: Vec<(usize, Label)>,
}

impl Asm {
    fn put(&mut self, insns: &[Insn]) {
        self.p.extend_from_slice(insns);
    }

    fn label(&mut self, l: Label) {
        self.labels.push((l, self.p.len()));
    }

    /// A jump (conditional or not) to `l`.
    fn jump(&mut self, insn: Insn, l: Label) {
        self.jumps.push((self.p.len(), l));
        self.p.push(insn);
    }

    /// `bpf_seq_write(seq, r10 + at, size)`, with `seq` in r6.
    fn write(&mut self, at: i32, size: usize) {
        self.put(&[
            mov_reg(1, 6),
            mov_reg(2, 10),
            alu_imm(OP_ADD, 2, at),
            alu_imm(OP_MOV, 3, size as i32),
            special(OP_CALL, BPF_FUNC_SEQ_WRITE),
        ]);
    }

    /// `bpf_seq_write(seq, &rec, 16)`, with `seq` in r6 and the record at r10 - 24.
    fn write_record(&mut self) {
        self.write(-(RECORD as i32) - 8, RECORD);
    }

    fn finish(mut self) -> Vec<Insn> {
        for (at, l) in self.jumps {
            let to = self
                .labels
                .iter()
                .find(|(m, _)| *m == l)
                .map_or(self.p.len(), |&(_, to)| to);
            let off = to as i64 - at as i64 - 1;
            self.p[at].off = i16::try_from(off).unwrap_or(i16::MAX);
        }
        self.p
    }
}

/// A call of a kernel function by its BTF id (`BPF_PSEUDO_KFUNC_CALL`, in vmlinux).
fn kfunc(btf_id: u32) -> Insn {
    Insn {
        code: JMP | OP_CALL,
        dst: 0,
        src: PSEUDO_KFUNC_CALL,
        off: 0,
        imm: i32::try_from(btf_id).unwrap_or(-1),
    }
}

/// *(size *)(dst + off) = imm
fn store_imm(size: u8, dst: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code: ST_MEM | size_code(size),
        dst,
        src: 0,
        off,
        imm,
    }
}

fn alu_reg(op: u8, dst: u8, src: u8) -> Insn {
    Insn {
        code: ALU64 | op | SRC_X,
        dst,
        src,
        off: 0,
        imm: 0,
    }
}

/// Which processes one copy of the one-pass program walks: those whose tgid & mask is
/// index (mask 0: all). Copies read side by side, one per core, split the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub mask: u32,
    pub index: u32,
}

impl Shard {
    pub const ALL: Shard = Shard { mask: 0, index: 0 };
}

/// The one-pass program's instructions for this kernel's layout. `own_socket` is a
/// socket descriptor of the reader's (whoport's), open while the iterator runs: its file
/// operations are `socket_file_ops`, which every socket's file has and no other file has.
pub fn walk_instructions(l: &Layout, w: &Walk, own_socket: u32, shard: Shard) -> Vec<Insn> {
    use Label::*;
    let mut a = Asm::default();
    // The iterator's state at r10 - 8; the record at r10 - 24: tgid, fd, inode; the
    // thread mark at r10 - 64.
    let (it, tgid, fd, ino, mark) = (-8, -24, -20, -16, -64);
    let task_id = i32::try_from(w.task_btf_id).unwrap_or(-1);
    let kiocb_id = i32::try_from(w.kiocb_btf_id).unwrap_or(-1);
    let own_slot = i32::try_from(own_socket).unwrap_or(0).saturating_mul(8);
    a.put(&[
        mov_reg(6, 1),
        load(1, 6, l.task_ctx_task),
        alu_imm(OP_MOV, 2, task_id),
        kfunc(w.rdonly_cast),
        mov_reg(7, 0),
    ]);
    a.jump(jump_imm(OP_JEQ, 7, 0), End);
    a.put(&[
        load(1, 6, l.task_ctx_meta),
        load(6, 1, l.meta_seq),
        // socket_file_ops, from the reader's own socket.
        special(OP_CALL, BPF_FUNC_GET_CURRENT_TASK),
        mov_reg(1, 0),
        alu_imm(OP_MOV, 2, task_id),
        kfunc(w.rdonly_cast),
        load(1, 0, w.task_files),
        load(1, 1, w.files_fdt),
        load(1, 1, w.fdt_fd),
        alu_imm(OP_ADD, 1, own_slot),
        alu_imm(OP_MOV, 2, kiocb_id),
        kfunc(w.rdonly_cast),
        load(1, 0, w.kiocb_ki_filp),
        load(9, 1, w.file_f_op),
    ]);
    a.jump(jump_imm(OP_JEQ, 9, 0), NoOps);
    a.put(&[
        load(8, 7, w.task_files),
        load(2, 7, l.task_pid),
        load(3, 7, l.task_tgid),
        store(4, 10, tgid, 3),
        store_imm(4, 10, mark, 0),
        // This program's share of the processes: tgid & mask == index.
        mov_reg(1, 3),
        alu_imm(OP_AND, 1, i32::try_from(shard.mask).unwrap_or(0)),
    ]);
    a.jump(
        jump_imm(OP_JNE, 1, i32::try_from(shard.index).unwrap_or(0)),
        End,
    );
    a.jump(jump_reg_by(OP_JEQ, 2, 3, 0), Leader);
    a.put(&[load(1, 7, w.task_group_leader), load(1, 1, w.task_files)]);
    a.jump(jump_reg_by(OP_JEQ, 1, 8, 0), End);
    a.put(&[store_imm(4, 10, mark, THREAD_FD)]);
    a.jump(special(OP_JA, 0), Walk);
    a.label(Leader);
    // The process record at r10 - 56: tgid, PROCESS_FD, the reader's tgid, the real uid
    // (u32::MAX if unknown), the command name (16 bytes).
    let word = |offset: i16| Field { offset, size: 8 };
    a.put(&[
        store(4, 10, -56, 3),
        store_imm(4, 10, -52, PROCESS_FD.cast_signed()),
        special(OP_CALL, BPF_FUNC_GET_CURRENT_PID_TGID),
        alu_imm(OP_RSH, 0, 32),
        store(4, 10, -48, 0),
        store_imm(4, 10, -44, -1),
        load(1, 7, w.task_real_cred),
    ]);
    a.jump(jump_imm(OP_JEQ, 1, 0), Comm);
    a.put(&[load(1, 1, w.cred_uid), store(4, 10, -44, 1)]);
    a.label(Comm);
    a.put(&[
        load(1, 7, word(w.task_comm.offset)),
        store(8, 10, -40, 1),
        load(1, 7, word(w.task_comm.offset + 8)),
        store(8, 10, -32, 1),
    ]);
    a.write(-56, PROCESS_RECORD);
    a.label(Walk);
    a.jump(jump_imm(OP_JEQ, 8, 0), End);
    a.put(&[load(1, 8, w.files_fdt)]);
    a.jump(jump_imm(OP_JEQ, 1, 0), End);
    a.put(&[load(3, 1, w.fdt_max_fds), load(7, 1, w.fdt_fd)]);
    a.jump(jump_imm(OP_JGT, 3, MAX_TABLE), TooMany);
    a.put(&[
        mov_reg(1, 10),
        alu_imm(OP_ADD, 1, it),
        alu_imm(OP_MOV, 2, 0),
        kfunc(w.iter_num_new),
    ]);
    a.label(Loop);
    a.put(&[
        mov_reg(1, 10),
        alu_imm(OP_ADD, 1, it),
        kfunc(w.iter_num_next),
    ]);
    a.jump(jump_imm(OP_JEQ, 0, 0), Done);
    a.put(&[
        load(8, 0, Field { offset: 0, size: 4 }),
        mov_reg(1, 8),
        alu_imm(OP_LSH, 1, 3),
        alu_reg(OP_ADD, 1, 7),
        alu_imm(OP_MOV, 2, kiocb_id),
        kfunc(w.rdonly_cast),
        load(1, 0, w.kiocb_ki_filp),
    ]);
    a.jump(jump_imm(OP_JEQ, 1, 0), Loop);
    a.put(&[load(2, 1, w.file_f_op)]);
    a.jump(jump_reg_by(OP_JNE, 2, 9, 0), Loop);
    a.put(&[load(1, 1, l.file_f_inode)]);
    a.jump(jump_imm(OP_JEQ, 1, 0), Loop);
    a.put(&[
        load(2, 1, l.inode_i_ino),
        store(8, 10, ino, 2),
        load(
            1,
            10,
            Field {
                offset: mark,
                size: 4,
            },
        ),
        alu_reg(OP_OR, 8, 1),
        store(4, 10, fd, 8),
    ]);
    a.write_record();
    a.jump(special(OP_JA, 0), Loop);
    a.label(Done);
    a.put(&[
        mov_reg(1, 10),
        alu_imm(OP_ADD, 1, it),
        kfunc(w.iter_num_destroy),
    ]);
    a.jump(special(OP_JA, 0), End);
    a.label(TooMany);
    a.put(&[
        store(8, 10, ino, 3),
        store_imm(4, 10, fd, TOO_MANY_FD.cast_signed()),
    ]);
    a.write_record();
    a.jump(special(OP_JA, 0), End);
    a.label(NoOps);
    a.put(&[
        store_imm(4, 10, tgid, 0),
        store_imm(4, 10, fd, NO_SOCKET_OPS_FD.cast_signed()),
        store_imm(8, 10, ino, 0),
    ]);
    a.write_record();
    a.label(End);
    a.put(&[alu_imm(OP_MOV, 0, 0), special(OP_EXIT, 0)]);
    a.finish()
}

/// The one-pass program as bytes for BPF_PROG_LOAD.
pub fn assemble_walk(l: &Layout, w: &Walk, own_socket: u32, shard: Shard) -> Vec<u8> {
    walk_instructions(l, w, own_socket, shard)
        .iter()
        .flat_map(Insn::encode)
        .collect()
}

/// The socket program as bytes for BPF_PROG_LOAD.
pub fn assemble(l: &Layout) -> Vec<u8> {
    instructions(l).iter().flat_map(Insn::encode).collect()
}

/// The task program as bytes for BPF_PROG_LOAD.
pub fn assemble_tasks(l: &Layout) -> Vec<u8> {
    task_instructions(l).iter().flat_map(Insn::encode).collect()
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Prints one instruction as the kernel's verifier log does (`kernel/bpf/disasm.c`),
    /// for the instructions this program uses, from its bytes.
    fn disassemble(b: [u8; 8]) -> String {
        let code = b[0];
        let (dst, src) = if cfg!(target_endian = "little") {
            (b[1] & 0xf, b[1] >> 4)
        } else {
            (b[1] >> 4, b[1] & 0xf)
        };
        let off = i16::from_ne_bytes([b[2], b[3]]);
        let imm = i32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
        let size = |c: u8| match c & 0x18 {
            0x10 => "u8",
            0x08 => "u16",
            0x00 => "u32",
            _ => "u64",
        };
        let text = match (code & 0x07, code) {
            (0x01, _) if code & 0xe0 == 0x60 => {
                format!("r{dst} = *({} *)(r{src} {off:+})", size(code))
            }
            (0x03, _) if code & 0xe0 == 0x60 => {
                format!("*({} *)(r{dst} {off:+}) = r{src}", size(code))
            }
            (0x07, 0xbf) => format!("r{dst} = r{src}"),
            (0x07, 0xb7) => format!("r{dst} = {imm}"),
            (0x07, 0x57) => format!("r{dst} &= {imm}"),
            (0x07, 0x47) => format!("r{dst} |= {imm}"),
            (0x07, 0x07) => format!("r{dst} += {imm}"),
            (0x07, 0x77) => format!("r{dst} >>= {imm}"),
            (0x07, 0x67) => format!("r{dst} <<= {imm}"),
            (0x07, 0x0f) => format!("r{dst} += r{src}"),
            (0x07, 0x4f) => format!("r{dst} |= r{src}"),
            (0x02, _) if code & 0xe0 == 0x60 => {
                format!("*({} *)(r{dst} {off:+}) = {imm}", size(code))
            }
            (0x05, 0x05) => format!("goto pc{off:+}"),
            (0x05, 0x25) => format!("if r{dst} > {imm:#x} goto pc{off:+}"),
            (0x05, 0x85) if src == 2 => format!("call kfunc#{imm}"),
            (0x05, 0x15) => format!("if r{dst} == {imm:#x} goto pc{off:+}"),
            (0x05, 0x55) => format!("if r{dst} != {imm:#x} goto pc{off:+}"),
            (0x05, 0x5d) => format!("if r{dst} != r{src} goto pc{off:+}"),
            (0x05, 0x1d) => format!("if r{dst} == r{src} goto pc{off:+}"),
            (0x05, 0x85) if imm == 127 => "call bpf_seq_write#127".to_string(),
            (0x05, 0x85) if imm == 14 => "call bpf_get_current_pid_tgid#14".to_string(),
            (0x05, 0x85) if imm == 35 => "call bpf_get_current_task#35".to_string(),
            (0x05, 0x95) => "exit".to_string(),
            _ => format!("unknown {b:02x?}"),
        };
        format!("({code:02x}) {text}")
    }

    /// A listing with the layout's offsets in place of the braces, comments dropped.
    pub fn expected(listing: &str, l: &Layout) -> Vec<String> {
        let w = l.walk.unwrap_or(sample_walk());
        let kfuncs = [
            ("bpf_iter_num_new#{iter_num_new}", w.iter_num_new),
            ("bpf_iter_num_next#{iter_num_next}", w.iter_num_next),
            (
                "bpf_iter_num_destroy#{iter_num_destroy}",
                w.iter_num_destroy,
            ),
            ("bpf_rdonly_cast#{rdonly_cast}", w.rdonly_cast),
        ];
        let ids = [
            ("{kiocb}", w.kiocb_btf_id),
            ("{task_struct}", w.task_btf_id),
        ];
        let comm8 = Field {
            offset: w.task_comm.offset + 8,
            size: 8,
        };
        let names = [
            ("{file.f_op}", w.file_f_op),
            ("{task.files}", w.task_files),
            ("{task.group_leader}", w.task_group_leader),
            ("{task.comm+8}", comm8),
            ("{task.comm}", w.task_comm),
            ("{task.real_cred}", w.task_real_cred),
            ("{cred.uid}", w.cred_uid),
            ("{files.fdt}", w.files_fdt),
            ("{fdtable.max_fds}", w.fdt_max_fds),
            ("{fdtable.fd}", w.fdt_fd),
            ("{kiocb.ki_filp}", w.kiocb_ki_filp),
            ("{task_ctx.meta}", l.task_ctx_meta),
            ("{task_ctx.task}", l.task_ctx_task),
            ("{ctx.meta}", l.ctx_meta),
            ("{ctx.task}", l.ctx_task),
            ("{ctx.fd}", l.ctx_fd),
            ("{ctx.file}", l.ctx_file),
            ("{meta.seq}", l.meta_seq),
            ("{task.pid}", l.task_pid),
            ("{task.tgid}", l.task_tgid),
            ("{file.f_inode}", l.file_f_inode),
            ("{inode.i_mode}", l.inode_i_mode),
            ("{inode.i_ino}", l.inode_i_ino),
        ];
        listing
            .lines()
            .map(|line| {
                let mut line = line.split(';').next().unwrap_or("").trim_end().to_string();
                for (name, id) in kfuncs {
                    line = line.replace(name, &format!("kfunc#{id}"));
                }
                for (name, id) in ids {
                    line = line.replace(name, &id.to_string());
                }
                // The tests assemble the walk with the reader's socket at fd 3, as the
                // second of two shards.
                line = line
                    .replace("{own_socket*8}", "24")
                    .replace("{shard.mask}", "1")
                    .replace("{shard.index}", "0x1");
                for (name, field) in names {
                    line = line.replace(name, &field.offset.to_string());
                }
                line
            })
            .collect()
    }

    pub fn listed(bytes: &[u8]) -> Vec<String> {
        bytes
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                disassemble(b)
            })
            .collect()
    }

    pub fn sample_walk() -> Walk {
        let f = |offset, size| Field { offset, size };
        Walk {
            task_files: f(2968, 8),
            task_group_leader: f(2584, 8),
            task_comm: f(3024, 16),
            task_real_cred: f(3000, 8),
            cred_uid: f(8, 4),
            files_fdt: f(32, 8),
            fdt_max_fds: f(0, 4),
            fdt_fd: f(8, 8),
            kiocb_ki_filp: f(0, 8),
            kiocb_btf_id: 3101,
            file_f_op: f(40, 8),
            task_btf_id: 144,
            iter_num_new: 61001,
            iter_num_next: 61002,
            iter_num_destroy: 61003,
            rdonly_cast: 61004,
        }
    }

    pub fn sample_layout() -> Layout {
        let f = |offset, size| Field { offset, size };
        Layout {
            ctx_meta: f(0, 8),
            ctx_task: f(8, 8),
            ctx_fd: f(16, 4),
            ctx_file: f(24, 8),
            meta_seq: f(0, 8),
            task_pid: f(2464, 4),
            task_tgid: f(2468, 4),
            file_f_inode: f(32, 8),
            inode_i_mode: f(0, 2),
            inode_i_ino: f(64, 8),
            attach_btf_id: 1,
            task_ctx_meta: f(0, 8),
            task_ctx_task: f(8, 8),
            task_attach_btf_id: 2,
            walk: Some(sample_walk()),
        }
    }

    #[test]
    fn the_bytes_are_the_listing() {
        let l = sample_layout();
        assert_eq!(listed(&assemble(&l)), expected(LISTING, &l));
        assert_eq!(listed(&assemble_tasks(&l)), expected(TASKS_LISTING, &l));
        let w = sample_walk();
        let got = listed(&assemble_walk(&l, &w, 3, Shard { mask: 1, index: 1 }));
        if std::env::var_os("WHOPORT_PRINT_LISTING").is_some() {
            eprintln!("{}", got.join("\n"));
        }
        assert_eq!(got, expected(WALK_LISTING, &l));
    }

    #[test]
    fn known_encodings() {
        // Bytes as clang emits them for these instructions (little-endian).
        if cfg!(target_endian = "little") {
            let p = assemble(&sample_layout());
            assert_eq!(&p[..8], &[0xbf, 0x16, 0, 0, 0, 0, 0, 0]); // r6 = r1
            assert_eq!(&p[8..16], &[0x79, 0x67, 8, 0, 0, 0, 0, 0]); // r7 = *(u64 *)(r6 + 8)
            assert_eq!(&p[16..24], &[0x15, 0x07, 22, 0, 0, 0, 0, 0]); // if r7 == 0 goto +22
            assert_eq!(&p[p.len() - 8..], &[0x95, 0, 0, 0, 0, 0, 0, 0]); // exit
        }
    }

    #[test]
    fn the_record_is_what_the_reader_reads() {
        // tgid at -16, fd at -12, inode at -8 from the frame pointer: 16 bytes from r2.
        let insns = instructions(&sample_layout());
        let stores: Vec<(i16, u8)> = insns
            .iter()
            .filter(|i| i.code & 0x07 == 0x03)
            .map(|i| (i.off, i.code))
            .collect();
        assert_eq!(stores, vec![(-16, 0x63), (-12, 0x63), (-8, 0x7b)]);
        assert_eq!(RECORD, 16);
    }
}
