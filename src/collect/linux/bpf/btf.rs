//! The few facts the iterator program needs from the running kernel's BTF
//! (`/sys/kernel/btf/vmlinux`): where `pid`, `tgid`, `f_inode`, `i_mode`, `i_ino` and the
//! iterator's context fields sit, how wide they are, and the BTF id of the
//! `bpf_iter_task_file` function the program attaches to. CO-RE in spirit: nothing here
//! is hard-coded per kernel.
//!
//! The file is about 5.5 MB; it is read in small pieces, never whole, so that the
//! owner scan does not raise whoport's peak memory: one pass over the string section
//! finds where the dozen names needed are, one pass over the type section finds the
//! types bearing them (keeping one position every [`STRIDE`] types), and the few types
//! followed from there are read in place.
//!
//! Format: `Documentation/bpf/btf.rst` in the kernel tree. A header, then a type section
//! (records numbered from 1, each 12 bytes plus data that depends on its kind) and a
//! string section (NUL-terminated names, referred to by byte offset).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use anyhow::{Context, Result, bail};

const MAGIC: u16 = 0xeb9f;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// A position is kept for every STRIDE-th type: finding a type reads at most STRIDE - 1
/// records before it.
const STRIDE: u32 = 32;

/// Kernel pointers, as BPF loads them (BTF gives pointers no size).
const POINTER_SIZE: u32 = 8;

/// Every name looked for, in one list: the string pass finds all of them at once.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Name {
    IterCtx,
    TaskIterCtx,
    IterMeta,
    TaskStruct,
    File,
    Inode,
    IterFunc,
    TaskIterFunc,
    Meta,
    Task,
    Fd,
    Seq,
    Pid,
    Tgid,
    FInode,
    IMode,
    IIno,
    FilesStruct,
    Fdtable,
    Kiocb,
    Files,
    GroupLeader,
    Fdt,
    MaxFds,
    KiFilp,
    IterNumNew,
    IterNumNext,
    IterNumDestroy,
    RdonlyCast,
    Cred,
    Comm,
    RealCred,
    Uid,
    FOp,
}

const NAMES: [(&[u8], Name); 34] = [
    (b"bpf_iter__task_file", Name::IterCtx),
    (b"bpf_iter__task", Name::TaskIterCtx),
    (b"bpf_iter_meta", Name::IterMeta),
    (b"task_struct", Name::TaskStruct),
    (b"file", Name::File),
    (b"inode", Name::Inode),
    (b"bpf_iter_task_file", Name::IterFunc),
    (b"bpf_iter_task", Name::TaskIterFunc),
    (b"meta", Name::Meta),
    (b"task", Name::Task),
    (b"fd", Name::Fd),
    (b"seq", Name::Seq),
    (b"pid", Name::Pid),
    (b"tgid", Name::Tgid),
    (b"f_inode", Name::FInode),
    (b"i_mode", Name::IMode),
    (b"i_ino", Name::IIno),
    (b"files_struct", Name::FilesStruct),
    (b"fdtable", Name::Fdtable),
    (b"kiocb", Name::Kiocb),
    (b"files", Name::Files),
    (b"group_leader", Name::GroupLeader),
    (b"fdt", Name::Fdt),
    (b"max_fds", Name::MaxFds),
    (b"ki_filp", Name::KiFilp),
    (b"bpf_iter_num_new", Name::IterNumNew),
    (b"bpf_iter_num_next", Name::IterNumNext),
    (b"bpf_iter_num_destroy", Name::IterNumDestroy),
    (b"bpf_rdonly_cast", Name::RdonlyCast),
    (b"cred", Name::Cred),
    (b"comm", Name::Comm),
    (b"real_cred", Name::RealCred),
    (b"uid", Name::Uid),
    (b"f_op", Name::FOp),
];

const LONGEST_NAME: usize = 20;

/// A field the program reads: its byte offset in its struct and its width in bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Field {
    pub offset: i16,
    pub size: u8,
}

/// Everything the program is assembled from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Layout {
    /// `struct bpf_iter__task_file`, the program's context.
    pub ctx_meta: Field,
    pub ctx_task: Field,
    pub ctx_fd: Field,
    pub ctx_file: Field,
    /// `struct bpf_iter_meta`.
    pub meta_seq: Field,
    /// `struct task_struct`.
    pub task_pid: Field,
    pub task_tgid: Field,
    /// `struct file`.
    pub file_f_inode: Field,
    /// `struct inode`.
    pub inode_i_mode: Field,
    pub inode_i_ino: Field,
    /// The BTF id of the function `bpf_iter_task_file`: the program's attach point.
    pub attach_btf_id: u32,
    /// `struct bpf_iter__task`, the context of the task iterator (every task).
    pub task_ctx_meta: Field,
    pub task_ctx_task: Field,
    /// The BTF id of the function `bpf_iter_task`.
    pub task_attach_btf_id: u32,
    /// What the one-pass walk needs (kernels with open-coded iterators, 6.4+); `None`
    /// where this kernel's BTF lacks any of it (the two-iterator programs then serve).
    pub walk: Option<Walk>,
}

/// The one-pass program's fields and kernel functions: it walks each task's descriptor
/// table itself (`task->files->fdt->fd[i]`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Walk {
    /// `struct task_struct`.
    pub task_files: Field,
    pub task_group_leader: Field,
    /// `task_struct.comm`: 16 bytes, read as two 8-byte words.
    pub task_comm: Field,
    pub task_real_cred: Field,
    /// `struct cred`: the real uid (`kuid_t`, a 4-byte struct).
    pub cred_uid: Field,
    /// `struct files_struct`.
    pub files_fdt: Field,
    /// `struct fdtable`.
    pub fdt_max_fds: Field,
    pub fdt_fd: Field,
    /// `struct kiocb`, whose first member is a `struct file *`: the type a slot of the
    /// descriptor array is read as.
    pub kiocb_ki_filp: Field,
    pub kiocb_btf_id: u32,
    /// `file.f_op`: a socket's is `socket_file_ops`, learnt from a socket of whoport's.
    pub file_f_op: Field,
    /// The BTF id of `struct task_struct`: the task is read through an untrusted cast
    /// too, which spares the verifier a search of the kernel's BTF at every pointer it
    /// follows from a trusted one.
    pub task_btf_id: u32,
    /// BTF ids of the kernel functions (kfuncs) called.
    pub iter_num_new: u32,
    pub iter_num_next: u32,
    pub iter_num_destroy: u32,
    pub rdonly_cast: u32,
}

/// Random access to the BTF bytes: the kernel's file, or bytes in memory (tests).
pub trait Source {
    /// Fills as much of `buf` as there is from `offset` on; 0 at the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// Fills `buf` unless the source ends first: how much was read.
    fn read_full(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match self.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

impl Source for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        FileExt::read_at(self, buf, offset)
    }
}

impl Source for [u8] {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
}

/// Reads the layout from the running kernel's BTF.
pub fn kernel_layout() -> Result<Layout> {
    let file = File::open("/sys/kernel/btf/vmlinux").context("opening /sys/kernel/btf/vmlinux")?;
    layout(&file).context("reading /sys/kernel/btf/vmlinux")
}

/// Reads the layout from BTF bytes.
pub fn layout<S: Source + ?Sized>(src: &S) -> Result<Layout> {
    let btf = Btf::open(src)?;
    let ctx = btf.named(Name::IterCtx)?;
    let task_ctx = btf.named(Name::TaskIterCtx)?;
    let meta = btf.named(Name::IterMeta)?;
    let task = btf.named(Name::TaskStruct)?;
    let file = btf.named(Name::File)?;
    let inode = btf.named(Name::Inode)?;
    let pointer = |s, n, what| btf.field(s, n, what, Want::Pointer);
    let int = |s, n, what, sizes| btf.field(s, n, what, Want::Int(sizes));
    Ok(Layout {
        ctx_meta: pointer(ctx, Name::Meta, "bpf_iter__task_file.meta")?,
        ctx_task: pointer(ctx, Name::Task, "bpf_iter__task_file.task")?,
        ctx_fd: int(ctx, Name::Fd, "bpf_iter__task_file.fd", &[4])?,
        ctx_file: pointer(ctx, Name::File, "bpf_iter__task_file.file")?,
        meta_seq: pointer(meta, Name::Seq, "bpf_iter_meta.seq")?,
        task_pid: int(task, Name::Pid, "task_struct.pid", &[4])?,
        task_tgid: int(task, Name::Tgid, "task_struct.tgid", &[4])?,
        file_f_inode: pointer(file, Name::FInode, "file.f_inode")?,
        inode_i_mode: int(inode, Name::IMode, "inode.i_mode", &[2, 4])?,
        inode_i_ino: int(inode, Name::IIno, "inode.i_ino", &[4, 8])?,
        attach_btf_id: btf.funcs[0].context("no function bpf_iter_task_file in BTF")?,
        task_ctx_meta: pointer(task_ctx, Name::Meta, "bpf_iter__task.meta")?,
        task_ctx_task: pointer(task_ctx, Name::Task, "bpf_iter__task.task")?,
        task_attach_btf_id: btf.funcs[1].context("no function bpf_iter_task in BTF")?,
        walk: walk(&btf, task).ok(),
    })
}

/// The one-pass program's part of the layout.
fn walk<S: Source + ?Sized>(btf: &Btf<'_, S>, task: u32) -> Result<Walk> {
    let files = btf.named(Name::FilesStruct)?;
    let fdt = btf.named(Name::Fdtable)?;
    let kiocb = btf.named(Name::Kiocb)?;
    let cred = btf.named(Name::Cred)?;
    let pointer = |s, n, what| btf.field(s, n, what, Want::Pointer);
    let func = |slot: usize, what: &str| {
        btf.funcs[slot].with_context(|| format!("no function {what} in BTF"))
    };
    let kiocb_ki_filp = pointer(kiocb, Name::KiFilp, "kiocb.ki_filp")?;
    if kiocb_ki_filp.offset != 0 {
        bail!("kiocb.ki_filp is not its first member");
    }
    Ok(Walk {
        task_files: pointer(task, Name::Files, "task_struct.files")?,
        task_group_leader: pointer(task, Name::GroupLeader, "task_struct.group_leader")?,
        task_comm: btf.field(task, Name::Comm, "task_struct.comm", Want::Bytes(16))?,
        task_real_cred: pointer(task, Name::RealCred, "task_struct.real_cred")?,
        cred_uid: btf.field(cred, Name::Uid, "cred.uid", Want::Bytes(4))?,
        files_fdt: pointer(files, Name::Fdt, "files_struct.fdt")?,
        fdt_max_fds: btf.field(fdt, Name::MaxFds, "fdtable.max_fds", Want::Int(&[4]))?,
        fdt_fd: pointer(fdt, Name::Fd, "fdtable.fd")?,
        kiocb_ki_filp,
        kiocb_btf_id: kiocb,
        file_f_op: pointer(btf.named(Name::File)?, Name::FOp, "file.f_op")?,
        task_btf_id: task,
        iter_num_new: func(2, "bpf_iter_num_new")?,
        iter_num_next: func(3, "bpf_iter_num_next")?,
        iter_num_destroy: func(4, "bpf_iter_num_destroy")?,
        rdonly_cast: func(5, "bpf_rdonly_cast")?,
    })
}

#[derive(Clone, Copy)]
enum Want {
    Pointer,
    Int(&'static [u8]),
    /// Anything of this many bytes (an array, a one-member struct such as `kuid_t`).
    Bytes(u32),
}

/// A type record's fixed part.
#[derive(Clone, Copy, Debug)]
struct Header {
    name_off: u32,
    kind: u32,
    vlen: u32,
    kind_flag: bool,
    /// `size` or `type`, by kind.
    size_type: u32,
}

impl Header {
    #[inline]
    fn parse(b: &[u8]) -> Header {
        let name_off = ne32(&b[0..4]);
        let info = ne32(&b[4..8]);
        Header {
            name_off,
            kind: (info >> 24) & 0x1f,
            vlen: info & 0xffff,
            kind_flag: info >> 31 == 1,
            size_type: ne32(&b[8..12]),
        }
    }

    /// Bytes of kind-specific data after the 12-byte header.
    fn data_len(&self) -> Result<u64> {
        let vlen = u64::from(self.vlen);
        Ok(match self.kind {
            KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
            KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
            | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
            KIND_ARRAY => 12,
            KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
            KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
            other => bail!("unknown BTF kind {other}"),
        })
    }
}

#[inline]
fn ne32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_ne_bytes(a)
}

/// Sequential reading of a byte range through a small buffer.
struct Stream<'a, S: Source + ?Sized> {
    src: &'a S,
    buf: Vec<u8>,
    /// Unread bytes are buf[at..filled]; buf[0] is at `base` in the source.
    at: usize,
    filled: usize,
    base: u64,
    end: u64,
}

impl<'a, S: Source + ?Sized> Stream<'a, S> {
    fn new(src: &'a S, start: u64, end: u64, capacity: usize) -> Self {
        Stream {
            src,
            buf: vec![0; capacity],
            at: 0,
            filled: 0,
            base: start,
            end,
        }
    }

    /// Where the next byte read comes from.
    fn position(&self) -> u64 {
        self.base + self.at as u64
    }

    fn at_end(&self) -> bool {
        self.position() >= self.end
    }

    /// The next `n` bytes (n ≤ the buffer's size).
    #[inline]
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if self.filled - self.at < n {
            self.refill(n)?;
        }
        let out = &self.buf[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    /// Moves the unread bytes to the front and reads until `n` are there.
    #[cold]
    fn refill(&mut self, n: usize) -> Result<()> {
        self.buf.copy_within(self.at..self.filled, 0);
        self.base += self.at as u64;
        self.filled -= self.at;
        self.at = 0;
        while self.filled < n {
            let room = self.buf.len() - self.filled;
            let left = self.end.saturating_sub(self.base + self.filled as u64);
            let want = room.min(usize::try_from(left).unwrap_or(usize::MAX));
            let got = match want {
                0 => 0,
                _ => self.src.read_at(
                    &mut self.buf[self.filled..self.filled + want],
                    self.base + self.filled as u64,
                )?,
            };
            if got == 0 {
                bail!("BTF ends inside a record at byte {}", self.position());
            }
            self.filled += got;
        }
        Ok(())
    }

    #[inline]
    fn header(&mut self) -> Result<Header> {
        Ok(Header::parse(self.take(12)?))
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        let buffered = (self.filled - self.at) as u64;
        if n <= buffered {
            self.at += n as usize;
        } else {
            self.base = self.position() + n;
            self.at = 0;
            self.filled = 0;
            if self.base > self.end {
                bail!("BTF ends inside a record");
            }
        }
        Ok(())
    }
}

struct Btf<'a, S: Source + ?Sized> {
    src: &'a S,
    /// The type section: [types, types_end) in the source.
    types: u64,
    types_end: u64,
    /// Offsets in the string section of the names looked for.
    names: Vec<(u32, Name)>,
    /// Position of type 1 + k·STRIDE, for every k.
    marks: Vec<u64>,
    /// Struct ids of IterCtx, IterMeta, TaskStruct, File, Inode, TaskIterCtx,
    /// FilesStruct, Fdtable, Kiocb, Cred.
    structs: [Option<u32>; 10],
    /// Function ids of IterFunc, TaskIterFunc, IterNumNew, IterNumNext, IterNumDestroy,
    /// RdonlyCast.
    funcs: [Option<u32>; 6],
}

impl<'a, S: Source + ?Sized> Btf<'a, S> {
    fn open(src: &'a S) -> Result<Self> {
        let mut h = [0u8; 24];
        if src.read_full(&mut h, 0)? < 24 {
            bail!("too short for a BTF header");
        }
        let magic = u16::from_ne_bytes([h[0], h[1]]);
        if magic != MAGIC {
            bail!("not BTF (magic {magic:#x})");
        }
        if h[2] != 1 {
            bail!("BTF version {} (1 is known)", h[2]);
        }
        let hdr_len = u64::from(ne32(&h[4..8]));
        let type_off = u64::from(ne32(&h[8..12]));
        let type_len = u64::from(ne32(&h[12..16]));
        let str_off = u64::from(ne32(&h[16..20]));
        let str_len = u64::from(ne32(&h[20..24]));
        let mut btf = Btf {
            src,
            types: hdr_len + type_off,
            types_end: hdr_len + type_off + type_len,
            names: Vec::new(),
            marks: Vec::new(),
            structs: [None; 10],
            funcs: [None; 6],
        };
        btf.find_names(hdr_len + str_off, hdr_len + str_off + str_len)?;
        btf.scan_types()?;
        Ok(btf)
    }

    /// The offset in the string section of each wanted name: of a string that is exactly
    /// the name. (BTF writers store each string once, whole; were a name kept only as the
    /// tail of a longer string, it would not be found here, and whoport would fall back to
    /// the /proc scan: never a wrong offset.)
    fn find_names(&mut self, start: u64, end: u64) -> Result<()> {
        const CHUNK: usize = 64 * 1024;
        // Bit n set: some name is n bytes long.
        let lengths: u32 = NAMES.iter().fold(0, |m, (n, _)| m | 1 << n.len());
        let mut buf = vec![0u8; CHUNK + LONGEST_NAME];
        // buf[..keep] is the tail of the previous chunk; buf[0] is at `base`.
        let mut keep = 0;
        let mut base = start;
        // Where the string being read starts (just after the last NUL).
        let mut string_start = start;
        loop {
            let left = end.saturating_sub(base + keep as u64);
            let want = CHUNK.min(usize::try_from(left).unwrap_or(CHUNK));
            if want == 0 {
                break;
            }
            let got = self
                .src
                .read_at(&mut buf[keep..keep + want], base + keep as u64)?;
            if got == 0 {
                bail!("BTF string section cut short");
            }
            let filled = keep + got;
            for i in memchr::memchr_iter(0, &buf[keep..filled]).map(|i| i + keep) {
                let nul = base + i as u64;
                let len = nul - string_start;
                string_start = nul + 1;
                if len > LONGEST_NAME as u64 || lengths & (1 << len) == 0 {
                    continue;
                }
                // The whole string is in the buffer: the tail kept is as long as a name.
                let len = len as usize;
                let string = &buf[i - len..i];
                if let Some(&(_, which)) = NAMES.iter().find(|(n, _)| *n == string) {
                    let at =
                        u32::try_from(nul - len as u64 - start).context("BTF string offset")?;
                    self.names.push((at, which));
                }
            }
            let tail = filled.min(LONGEST_NAME);
            buf.copy_within(filled - tail..filled, 0);
            base += (filled - tail) as u64;
            keep = tail;
        }
        self.names.sort_unstable_by_key(|&(at, _)| at);
        self.names.dedup_by_key(|&mut (at, _)| at);
        Ok(())
    }

    fn name(&self, name_off: u32) -> Option<Name> {
        // Sorted by offset, one entry per name.
        self.names
            .binary_search_by_key(&name_off, |&(at, _)| at)
            .ok()
            .map(|i| self.names[i].1)
    }

    /// One pass over the types: the five structs, the function, and the marks.
    fn scan_types(&mut self) -> Result<()> {
        let mut s = Stream::new(self.src, self.types, self.types_end, 64 * 1024);
        let mut id: u32 = 1;
        while !s.at_end() {
            if (id - 1).is_multiple_of(STRIDE) {
                self.marks.push(s.position());
            }
            let h = s.header()?;
            let named = match h.kind {
                KIND_STRUCT | KIND_FUNC => self.name(h.name_off),
                _ => None,
            };
            let slot = match named {
                Some(Name::IterCtx) => Some(0),
                Some(Name::IterMeta) => Some(1),
                Some(Name::TaskStruct) => Some(2),
                Some(Name::File) => Some(3),
                Some(Name::Inode) => Some(4),
                Some(Name::TaskIterCtx) => Some(5),
                Some(Name::FilesStruct) => Some(6),
                Some(Name::Fdtable) => Some(7),
                Some(Name::Kiocb) => Some(8),
                Some(Name::Cred) => Some(9),
                Some(func) if h.kind == KIND_FUNC => {
                    let slot = match func {
                        Name::IterFunc => Some(0),
                        Name::TaskIterFunc => Some(1),
                        Name::IterNumNew => Some(2),
                        Name::IterNumNext => Some(3),
                        Name::IterNumDestroy => Some(4),
                        Name::RdonlyCast => Some(5),
                        _ => None,
                    };
                    if let Some(slot) = slot {
                        self.funcs[slot].get_or_insert(id);
                    }
                    None
                }
                _ => None,
            };
            if let Some(slot) = slot
                && h.kind == KIND_STRUCT
            {
                // The first definition wins (vmlinux has one of each).
                self.structs[slot].get_or_insert(id);
            }
            s.skip(h.data_len()?)?;
            id = id.checked_add(1).context("too many BTF types")?;
        }
        Ok(())
    }

    fn named(&self, which: Name) -> Result<u32> {
        let (slot, what) = match which {
            Name::IterCtx => (0, "bpf_iter__task_file"),
            Name::IterMeta => (1, "bpf_iter_meta"),
            Name::TaskStruct => (2, "task_struct"),
            Name::File => (3, "file"),
            Name::TaskIterCtx => (5, "bpf_iter__task"),
            Name::FilesStruct => (6, "files_struct"),
            Name::Fdtable => (7, "fdtable"),
            Name::Kiocb => (8, "kiocb"),
            Name::Cred => (9, "cred"),
            _ => (4, "inode"),
        };
        self.structs[slot].with_context(|| format!("no struct {what} in BTF"))
    }

    /// Type `id`'s header and a stream at its data.
    fn type_at(&self, id: u32) -> Result<(Header, Stream<'a, S>)> {
        let index = id.checked_sub(1).context("BTF type 0 is void")?;
        let mark = *self
            .marks
            .get((index / STRIDE) as usize)
            .with_context(|| format!("no BTF type {id}"))?;
        let mut s = Stream::new(self.src, mark, self.types_end, 4096);
        for _ in 0..index % STRIDE {
            let h = s.header()?;
            s.skip(h.data_len()?)?;
        }
        if s.at_end() {
            bail!("no BTF type {id}");
        }
        let h = s.header()?;
        Ok((h, s))
    }

    /// Follows typedefs and qualifiers to the type itself.
    fn resolve(&self, mut id: u32) -> Result<(u32, Header)> {
        for _ in 0..32 {
            if id == 0 {
                bail!("void");
            }
            let (h, _) = self.type_at(id)?;
            match h.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = h.size_type;
                }
                _ => return Ok((id, h)),
            }
        }
        bail!("BTF type chain too long at {id}")
    }

    /// Finds member `name` of struct or union `id`, looking into anonymous struct and union
    /// members too: its bit offset from the start of `id` and its type.
    fn member(&self, id: u32, name: Name, depth: u32) -> Result<Option<(u64, u32)>> {
        if depth > 8 {
            bail!("anonymous members nested too deep");
        }
        let (h, mut s) = self.type_at(id)?;
        if h.kind != KIND_STRUCT && h.kind != KIND_UNION {
            bail!("BTF type {id} is not a struct or union");
        }
        let mut members = Vec::with_capacity(h.vlen as usize);
        for _ in 0..h.vlen {
            let b = s.take(12)?;
            let (name_off, ty, offset) = (ne32(&b[0..4]), ne32(&b[4..8]), ne32(&b[8..12]));
            // With kind_flag, the top 8 bits are a bitfield's size.
            let (bits, bitfield) = if h.kind_flag {
                (offset & 0x00ff_ffff, offset >> 24)
            } else {
                (offset, 0)
            };
            members.push((name_off, ty, u64::from(bits), bitfield));
        }
        for &(name_off, ty, bits, bitfield) in &members {
            if self.name(name_off) == Some(name) {
                if bitfield != 0 {
                    bail!("the member is a bitfield");
                }
                return Ok(Some((bits, ty)));
            }
        }
        for &(name_off, ty, bits, _) in &members {
            if name_off != 0 {
                continue;
            }
            let (inner, ih) = self.resolve(ty)?;
            if (ih.kind == KIND_STRUCT || ih.kind == KIND_UNION)
                && let Some((b, t)) = self.member(inner, name, depth + 1)?
            {
                return Ok(Some((bits + b, t)));
            }
        }
        Ok(None)
    }

    /// The size in bytes of array type `id`, of one-byte elements.
    fn array_bytes(&self, id: u32) -> Result<u32> {
        let (_, mut s) = self.type_at(id)?;
        let b = s.take(12)?;
        let (elem, count) = (ne32(&b[0..4]), ne32(&b[8..12]));
        let (_, eh) = self.resolve(elem)?;
        if eh.kind != KIND_INT || eh.size_type != 1 {
            bail!("not an array of bytes");
        }
        Ok(count)
    }

    fn field(&self, id: u32, name: Name, what: &str, want: Want) -> Result<Field> {
        let (bits, ty) = self
            .member(id, name, 0)
            .with_context(|| format!("reading {what}"))?
            .with_context(|| format!("no {what} in BTF"))?;
        if bits % 8 != 0 {
            bail!("{what} is not byte-aligned");
        }
        let offset = i16::try_from(bits / 8).with_context(|| format!("{what} is too far in"))?;
        let (resolved, h) = self
            .resolve(ty)
            .with_context(|| format!("the type of {what}"))?;
        let size = match (want, h.kind) {
            (Want::Pointer, KIND_PTR) => POINTER_SIZE,
            (Want::Int(sizes), KIND_INT | KIND_ENUM)
                if u8::try_from(h.size_type).is_ok_and(|s| sizes.contains(&s)) =>
            {
                h.size_type
            }
            (Want::Bytes(n), KIND_STRUCT | KIND_INT) if h.size_type == n => n,
            (Want::Bytes(n), KIND_ARRAY) if self.array_bytes(resolved)? == n => n,
            _ => bail!(
                "{what} has an unexpected type (BTF kind {}, size {})",
                h.kind,
                h.size_type
            ),
        };
        Ok(Field {
            offset,
            size: u8::try_from(size).unwrap_or(8),
        })
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Builds BTF bytes in memory: types are added in order (ids from 1).
    #[derive(Default)]
    pub struct Builder {
        types: Vec<u8>,
        strings: Vec<u8>,
        next_id: u32,
    }

    impl Builder {
        pub fn new() -> Self {
            Builder {
                types: Vec::new(),
                strings: vec![0],
                next_id: 1,
            }
        }

        pub fn string(&mut self, s: &str) -> u32 {
            if s.is_empty() {
                return 0;
            }
            let at = self.strings.len() as u32;
            self.strings.extend_from_slice(s.as_bytes());
            self.strings.push(0);
            at
        }

        fn push(&mut self, name: &str, kind: u32, vlen: u32, size_type: u32, data: &[u32]) -> u32 {
            let name_off = self.string(name);
            for w in [name_off, (kind << 24) | vlen, size_type]
                .iter()
                .chain(data)
            {
                self.types.extend_from_slice(&w.to_ne_bytes());
            }
            self.next_id += 1;
            self.next_id - 1
        }

        pub fn int(&mut self, name: &str, size: u32) -> u32 {
            self.push(name, KIND_INT, 0, size, &[size * 8])
        }

        pub fn ptr(&mut self, to: u32) -> u32 {
            self.push("", KIND_PTR, 0, to, &[])
        }

        pub fn typedef(&mut self, name: &str, to: u32) -> u32 {
            self.push(name, KIND_TYPEDEF, 0, to, &[])
        }

        pub fn func(&mut self, name: &str, proto: u32) -> u32 {
            self.push(name, KIND_FUNC, 0, proto, &[])
        }

        pub fn enum_(&mut self, name: &str, values: u32) -> u32 {
            let data: Vec<u32> = (0..values * 2).collect();
            self.push(name, KIND_ENUM, values, 4, &data)
        }

        /// Members: (name, type, byte offset).
        pub fn aggregate(
            &mut self,
            union: bool,
            name: &str,
            size: u32,
            members: &[(&str, u32, u32)],
        ) -> u32 {
            let mut data = Vec::new();
            for &(n, t, off) in members {
                data.push(self.string(n));
                data.push(t);
                data.push(off * 8);
            }
            let kind = if union { KIND_UNION } else { KIND_STRUCT };
            self.push(name, kind, members.len() as u32, size, &data)
        }

        pub fn bytes(&self) -> Vec<u8> {
            let mut out = Vec::new();
            out.extend_from_slice(&MAGIC.to_ne_bytes());
            out.extend_from_slice(&[1, 0]);
            for w in [
                24u32,
                0,
                self.types.len() as u32,
                self.types.len() as u32,
                self.strings.len() as u32,
            ] {
                out.extend_from_slice(&w.to_ne_bytes());
            }
            out.extend_from_slice(&self.types);
            out.extend_from_slice(&self.strings);
            out
        }
    }

    /// A small BTF shaped like the kernel's where it matters: pointers in anonymous unions,
    /// typedef chains, the struct names at the ends of other strings, many filler types.
    fn sample() -> (Vec<u8>, (u32, u32)) {
        let mut b = Builder::new();
        // Filler, so that the wanted types sit past several marks.
        for i in 0..100 {
            b.enum_(&format!("filler_{i}"), i % 7);
        }
        let int = b.int("int", 4);
        let uint = b.int("unsigned int", 4);
        let ushort = b.int("short unsigned int", 2);
        let ulong = b.int("long unsigned int", 8);
        let pid_t0 = b.typedef("__kernel_pid_t", int);
        let pid_t = b.typedef("pid_t", pid_t0);
        let umode = b.typedef("umode_t", ushort);
        let u32_ = b.typedef("u32", uint);
        // "file" is also the tail of "seq_file": only the whole string names struct file.
        let seq_file = b.aggregate(false, "seq_file", 64, &[("size", ulong, 0)]);
        let seq_ptr = b.ptr(seq_file);
        let meta_union = b.aggregate(true, "", 8, &[("seq", seq_ptr, 0), ("", ulong, 0)]);
        let meta = b.aggregate(
            false,
            "bpf_iter_meta",
            24,
            &[("", meta_union, 0), ("session_id", ulong, 8)],
        );
        let inode = b.aggregate(
            false,
            "inode",
            600,
            &[
                ("i_mode", umode, 0),
                ("i_opflags", ushort, 2),
                ("i_ino", ulong, 64),
            ],
        );
        let inode_ptr = b.ptr(inode);
        let file = b.aggregate(
            false,
            "file",
            200,
            &[("f_mode", uint, 0), ("f_inode", inode_ptr, 32)],
        );
        let pids = b.aggregate(false, "", 8, &[("pid", pid_t, 0), ("tgid", pid_t, 4)]);
        let task = b.aggregate(
            false,
            "task_struct",
            9000,
            &[("state", uint, 0), ("", pids, 2376)],
        );
        let task_ptr = b.ptr(task);
        let file_ptr = b.ptr(file);
        let meta_ptr = b.ptr(meta);
        let u_meta = b.aggregate(true, "", 8, &[("meta", meta_ptr, 0)]);
        let u_task = b.aggregate(true, "", 8, &[("task", task_ptr, 0)]);
        let u_file = b.aggregate(true, "", 8, &[("file", file_ptr, 0)]);
        b.aggregate(
            false,
            "bpf_iter__task_file",
            32,
            &[
                ("", u_meta, 0),
                ("", u_task, 8),
                ("fd", u32_, 16),
                ("", u_file, 24),
            ],
        );
        let u_meta2 = b.aggregate(true, "", 8, &[("meta", meta_ptr, 0)]);
        let u_task2 = b.aggregate(true, "", 8, &[("task", task_ptr, 0)]);
        b.aggregate(
            false,
            "bpf_iter__task",
            16,
            &[("", u_meta2, 0), ("", u_task2, 8)],
        );
        for i in 0..40 {
            b.enum_(&format!("more_{i}"), 3);
        }
        let task_func = b.func("bpf_iter_task", 0);
        let func = b.func("bpf_iter_task_file", 0);
        (b.bytes(), (func, task_func))
    }

    #[test]
    fn finds_fields_through_anonymous_unions_and_typedefs() -> Result<()> {
        let (bytes, func) = sample();
        let l = layout(&bytes[..])?;
        let f = |offset, size| Field { offset, size };
        assert_eq!(l.ctx_meta, f(0, 8));
        assert_eq!(l.ctx_task, f(8, 8));
        assert_eq!(l.ctx_fd, f(16, 4));
        assert_eq!(l.ctx_file, f(24, 8));
        assert_eq!(l.meta_seq, f(0, 8));
        assert_eq!(l.task_pid, f(2376, 4));
        assert_eq!(l.task_tgid, f(2380, 4));
        assert_eq!(l.file_f_inode, f(32, 8));
        assert_eq!(l.inode_i_mode, f(0, 2));
        assert_eq!(l.inode_i_ino, f(64, 8));
        assert_eq!((l.attach_btf_id, l.task_attach_btf_id), func);
        assert_eq!((l.task_ctx_meta, l.task_ctx_task), (f(0, 8), f(8, 8)));
        Ok(())
    }

    #[test]
    fn the_longest_name() {
        assert_eq!(NAMES.iter().map(|(n, _)| n.len()).max(), Some(LONGEST_NAME));
    }

    #[test]
    fn reads_through_tiny_pieces_the_same() -> Result<()> {
        /// A source that gives at most 5 bytes per read.
        struct Trickle(Vec<u8>);
        impl Source for Trickle {
            fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
                let n = buf.len().min(5);
                self.0[..].read_at(&mut buf[..n], offset)
            }
        }
        let (bytes, _) = sample();
        assert_eq!(layout(&Trickle(bytes.clone()))?, layout(&bytes[..])?);
        Ok(())
    }

    #[test]
    fn bad_btf_is_an_error_not_a_panic() {
        let (bytes, _) = sample();
        assert!(layout(&b""[..]).is_err());
        assert!(layout(&bytes[..20]).is_err());
        let mut wrong_magic = bytes.clone();
        wrong_magic[0] ^= 0xff;
        assert!(layout(&wrong_magic[..]).is_err());
        // Cut anywhere: an error every time, never a panic or a wrong answer.
        for cut in (24..bytes.len()).step_by(7) {
            // The header's lengths stay: the sections are then cut short.
            let short = &bytes[..cut];
            assert!(layout(short).is_err(), "cut at {cut}");
        }
        // Without the function, or with a wrong type: named errors.
        let mut b = Builder::new();
        b.int("int", 4);
        let e = layout(&b.bytes()[..]).err().map(|e| format!("{e:#}"));
        assert!(e.is_some_and(|e| e.contains("bpf_iter__task_file")));
    }

    #[test]
    fn the_kernels_btf_when_there_is_one() -> Result<()> {
        let Ok(l) = kernel_layout() else {
            eprintln!("SKIP: no readable /sys/kernel/btf/vmlinux");
            return Ok(());
        };
        // The context is the kernel's `struct bpf_iter__task_file`: the same on every
        // 64-bit kernel.
        assert_eq!(
            (
                l.ctx_meta.offset,
                l.ctx_task.offset,
                l.ctx_fd.offset,
                l.ctx_file.offset
            ),
            (0, 8, 16, 24)
        );
        assert_eq!(l.task_tgid.offset, l.task_pid.offset + 4);
        assert!(l.attach_btf_id > 0 && l.task_attach_btf_id > 0);
        assert_eq!((l.task_ctx_meta.offset, l.task_ctx_task.offset), (0, 8));
        // A kernel with open-coded iterators (6.4+; this one is 6.18) has what the one-pass
        // program needs.
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let mut version = release
            .split(['.', '-'])
            .map(|n| n.parse::<u32>().unwrap_or(0));
        if (version.next().unwrap_or(0), version.next().unwrap_or(0)) >= (6, 4) {
            let w = l.walk.context("no one-pass layout on a 6.4+ kernel")?;
            assert_eq!((w.kiocb_ki_filp.offset, w.task_comm.size), (0, 16));
            assert_eq!((w.cred_uid.size, w.fdt_max_fds.size), (4, 4));
            assert!(w.iter_num_new > 0 && w.rdonly_cast > 0 && w.kiocb_btf_id > 0);
        }
        Ok(())
    }
}
