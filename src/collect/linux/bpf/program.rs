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

use super::btf::{Field, Layout};

/// What the kernel calls the programs (at most 15 bytes).
pub const NAME: &[u8] = b"whoport_sockets";
pub const TASKS_NAME: &[u8] = b"whoport_tasks";

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

// Opcode parts, from <linux/bpf_common.h> and <linux/bpf.h>.
const LDX_MEM: u8 = 0x01 | 0x60;
const STX_MEM: u8 = 0x03 | 0x60;
const ALU64: u8 = 0x07;
const JMP: u8 = 0x05;
const OP_ADD: u8 = 0x00;
const OP_AND: u8 = 0x50;
const OP_OR: u8 = 0x40;
const OP_RSH: u8 = 0x70;
const OP_MOV: u8 = 0xb0;
const OP_JEQ: u8 = 0x10;
const OP_JNE: u8 = 0x50;
const OP_CALL: u8 = 0x80;
const OP_EXIT: u8 = 0x90;
const SRC_X: u8 = 0x08;

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
            (0x05, 0x15) => format!("if r{dst} == {imm:#x} goto pc{off:+}"),
            (0x05, 0x55) => format!("if r{dst} != {imm:#x} goto pc{off:+}"),
            (0x05, 0x5d) => format!("if r{dst} != r{src} goto pc{off:+}"),
            (0x05, 0x1d) => format!("if r{dst} == r{src} goto pc{off:+}"),
            (0x05, 0x85) if imm == 127 => "call bpf_seq_write#127".to_string(),
            (0x05, 0x85) if imm == 14 => "call bpf_get_current_pid_tgid#14".to_string(),
            (0x05, 0x95) => "exit".to_string(),
            _ => format!("unknown {b:02x?}"),
        };
        format!("({code:02x}) {text}")
    }

    /// A listing with the layout's offsets in place of the braces, comments dropped.
    pub fn expected(listing: &str, l: &Layout) -> Vec<String> {
        let names = [
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
        }
    }

    #[test]
    fn the_bytes_are_the_listing() {
        let l = sample_layout();
        assert_eq!(listed(&assemble(&l)), expected(LISTING, &l));
        assert_eq!(listed(&assemble_tasks(&l)), expected(TASKS_LISTING, &l));
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
