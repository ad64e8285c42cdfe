//! `fd_*`: operations on open descriptors (read, write, seek, stat, sync, renumber, close,
//! prestat; `fd_readdir` has a file of its own). Each checks that the descriptor has the rights the operation needs.
use crate::abi::{FDSTAT_SIZE, PREOPENTYPE_DIR, fdflags, filetype, rights, whence};
use crate::fdtable::{Descriptor, Kind};
use crate::filestat::{self, SetTimes};
use crate::guest::Iovecs;
use crate::{Errno, GuestMemory, WasiCtx};
use cap_std::fs::FileExt;
use std::io::{IoSlice, Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;

/// The host fd behind a file or directory descriptor (`badf` for a standard stream, which
/// this context does not own).
fn os_fd(d: &Descriptor) -> Result<std::os::fd::BorrowedFd<'_>, Errno> {
    match &d.kind {
        Kind::File(f) => Ok(f.as_fd()),
        Kind::Dir(dir) => Ok(dir.as_fd()),
        _ => Err(Errno::Badf),
    }
}

/// At most this many buffers go to one vectored write (Linux's `IOV_MAX`); a call with more
/// non-empty buffers writes the first ones and reports the short count, as `writev` may.
const MAX_WRITE_BUFFERS: usize = 1024;

fn read_into(d: &mut Descriptor, mem: &mut GuestMemory<'_>, iovs: Iovecs, at: Option<u64>) -> Result<u32, Errno> {
    let mut total: u32 = 0;
    for i in 0..iovs.count {
        let (buf, len) = mem.iovec(iovs, i)?;
        if len == 0 {
            continue;
        }
        let dst = mem.slice_mut(buf, len)?;
        let n = match (&mut d.kind, at) {
            (Kind::File(f), None) => (&*f).read(dst)?,
            (Kind::File(f), Some(off)) => f.read_at(dst, off + u64::from(total))?,
            (Kind::Input(s), None) => s.read(dst)?,
            (Kind::Dir(_), _) => return Err(Errno::IsDir),
            (Kind::Input(_), Some(_)) => return Err(Errno::Spipe),
            (Kind::Output(_), _) => return Err(Errno::Badf),
        };
        total += n as u32;
        if n < dst.len() {
            break;
        }
    }
    Ok(total)
}

fn write_from(d: &mut Descriptor, mem: &GuestMemory<'_>, iovs: Iovecs, at: Option<u64>) -> Result<u32, Errno> {
    let mut bufs: Vec<IoSlice<'_>> = Vec::with_capacity((iovs.count as usize).min(MAX_WRITE_BUFFERS));
    for i in 0..iovs.count {
        let (buf, len) = mem.iovec(iovs, i)?;
        if len == 0 {
            continue;
        }
        if bufs.len() == MAX_WRITE_BUFFERS {
            break;
        }
        bufs.push(IoSlice::new(mem.slice(buf, len)?));
    }
    let n = match (&mut d.kind, at) {
        (Kind::File(f), None) => (&*f).write_vectored(&bufs)?,
        (Kind::File(f), Some(off)) => {
            let mut n = 0;
            for b in &bufs {
                f.write_all_at(b, off + n as u64)?;
                n += b.len();
            }
            n
        }
        (Kind::Output(s), None) => s.write(&bufs)?,
        (Kind::Dir(_), _) => return Err(Errno::IsDir),
        (Kind::Output(_), Some(_)) => return Err(Errno::Spipe),
        (Kind::Input(_), _) => return Err(Errno::Badf),
    };
    Ok(n as u32)
}

/// Read (or write) through `fd` with the iovec array at `iovs`, at `at` for the positional
/// calls, and store the byte count at `out`.
#[allow(clippy::too_many_arguments)]
fn transfer(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    write: bool,
    fd: u32,
    iovs: u32,
    iovs_len: u32,
    at: Option<u64>,
    out: u32,
) -> Result<(), Errno> {
    let d = ctx.fds.get_mut(fd)?;
    d.need(if write { rights::FD_WRITE } else { rights::FD_READ }).map_err(|_| Errno::Badf)?;
    if at.is_some() {
        d.need(rights::FD_SEEK)?;
    }
    let iovs = mem.iovecs(iovs, iovs_len)?;
    let n = if write { write_from(d, mem, iovs, at)? } else { read_into(d, mem, iovs, at)? };
    mem.write_u32(out, n)
}

pub fn fd_read(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    iovs: u32,
    iovs_len: u32,
    nread: u32,
) -> Result<(), Errno> {
    transfer(ctx, mem, false, fd, iovs, iovs_len, None, nread)
}

pub fn fd_pread(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    iovs: u32,
    iovs_len: u32,
    offset: u64,
    nread: u32,
) -> Result<(), Errno> {
    transfer(ctx, mem, false, fd, iovs, iovs_len, Some(offset), nread)
}

pub fn fd_write(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    iovs: u32,
    iovs_len: u32,
    nwritten: u32,
) -> Result<(), Errno> {
    transfer(ctx, mem, true, fd, iovs, iovs_len, None, nwritten)
}

pub fn fd_pwrite(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    iovs: u32,
    iovs_len: u32,
    offset: u64,
    nwritten: u32,
) -> Result<(), Errno> {
    transfer(ctx, mem, true, fd, iovs, iovs_len, Some(offset), nwritten)
}

pub fn fd_seek(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    offset: i64,
    whence: u8,
    newoffset: u32,
) -> Result<(), Errno> {
    let d = ctx.fds.get(fd)?;
    let tell_only = whence == whence::CUR && offset == 0;
    d.need(if tell_only { rights::FD_TELL } else { rights::FD_SEEK })?;
    let pos = match whence {
        whence::SET => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::Inval)?),
        whence::CUR => SeekFrom::Current(offset),
        whence::END => SeekFrom::End(offset),
        _ => return Err(Errno::Inval),
    };
    let n = match &d.kind {
        Kind::File(f) => (&*f).seek(pos)?,
        Kind::Dir(_) => return Err(Errno::Badf),
        _ => return Err(Errno::Spipe),
    };
    mem.write_u64(newoffset, n)
}

/// A seek by 0 from the current position, which needs only the `fd_tell` right.
pub fn fd_tell(ctx: &mut WasiCtx, mem: &mut GuestMemory<'_>, fd: u32, offset: u32) -> Result<(), Errno> {
    fd_seek(ctx, mem, fd, 0, whence::CUR, offset)
}

pub fn fd_close(ctx: &mut WasiCtx, _: &mut GuestMemory<'_>, fd: u32) -> Result<(), Errno> {
    ctx.fds.remove(fd).map(drop)
}

pub fn fd_renumber(ctx: &mut WasiCtx, _: &mut GuestMemory<'_>, from: u32, to: u32) -> Result<(), Errno> {
    ctx.fds.get(to)?;
    let d = ctx.fds.remove(from)?;
    ctx.fds.insert_at(to, d);
    Ok(())
}

pub fn fd_sync(ctx: &mut WasiCtx, _: &mut GuestMemory<'_>, fd: u32) -> Result<(), Errno> {
    let d = ctx.fds.get(fd)?;
    d.need(rights::FD_SYNC)?;
    Ok(rustix::fs::fsync(os_fd(d).map_err(|_| Errno::Inval)?)?)
}

pub fn fd_datasync(ctx: &mut WasiCtx, _: &mut GuestMemory<'_>, fd: u32) -> Result<(), Errno> {
    let d = ctx.fds.get(fd)?;
    d.need(rights::FD_DATASYNC)?;
    Ok(rustix::fs::fdatasync(os_fd(d).map_err(|_| Errno::Inval)?)?)
}

/// The type of a descriptor as `fdstat` and `filestat` report it.
fn filetype(d: &Descriptor) -> Result<u8, Errno> {
    Ok(match &d.kind {
        Kind::File(f) => filestat::filetype_of(f.metadata()?.file_type()),
        Kind::Dir(_) => filetype::DIRECTORY,
        Kind::Input(s) if s.is_terminal() => filetype::CHARACTER_DEVICE,
        Kind::Output(s) if s.is_terminal() => filetype::CHARACTER_DEVICE,
        _ => filetype::UNKNOWN,
    })
}

/// The `fdflags` of an open file, from the host's file status flags (shared with WASI
/// 0.2's `get-flags`).
pub(crate) fn fdflags_of(f: &cap_std::fs::File) -> Result<u16, Errno> {
    use rustix::fs::OFlags;
    let os = rustix::fs::fcntl_getfl(f)?;
    let mut flags = 0;
    for (o, w) in [
        (OFlags::APPEND, fdflags::APPEND),
        (OFlags::NONBLOCK, fdflags::NONBLOCK),
        (OFlags::DSYNC, fdflags::DSYNC),
        (OFlags::RSYNC, fdflags::RSYNC),
        (OFlags::SYNC, fdflags::SYNC),
    ] {
        if os.contains(o) {
            flags |= w;
        }
    }
    Ok(flags)
}

pub fn fd_fdstat_get(ctx: &mut WasiCtx, mem: &mut GuestMemory<'_>, fd: u32, out: u32) -> Result<(), Errno> {
    let d = ctx.fds.get(fd)?;
    let flags = match &d.kind {
        Kind::File(f) => fdflags_of(f)?,
        _ => 0,
    };
    let mut b = [0u8; FDSTAT_SIZE];
    b[0] = filetype(d)?;
    b[2..4].copy_from_slice(&flags.to_le_bytes());
    b[8..16].copy_from_slice(&d.base.to_le_bytes());
    b[16..24].copy_from_slice(&d.inheriting.to_le_bytes());
    mem.write(out, &b)
}

pub fn fd_fdstat_set_flags(ctx: &mut WasiCtx, _: &mut GuestMemory<'_>, fd: u32, flags: u16) -> Result<(), Errno> {
    let d = ctx.fds.get(fd)?;
    d.need(rights::FD_FDSTAT_SET_FLAGS)?;
    if flags & !(fdflags::APPEND | fdflags::NONBLOCK | fdflags::DSYNC | fdflags::RSYNC | fdflags::SYNC) != 0 {
        return Err(Errno::Inval);
    }
    let Kind::File(f) = &d.kind else {
        return if flags & !fdflags::NONBLOCK == 0 { Ok(()) } else { Err(Errno::Inval) };
    };
    use rustix::fs::OFlags;
    let mut os = rustix::fs::fcntl_getfl(f)?;
    // Linux changes only O_APPEND and O_NONBLOCK after open; the sync flags cannot be set.
    if flags & (fdflags::DSYNC | fdflags::RSYNC | fdflags::SYNC) != 0 {
        return Err(Errno::NotSup);
    }
    os.set(OFlags::APPEND, flags & fdflags::APPEND != 0);
    os.set(OFlags::NONBLOCK, flags & fdflags::NONBLOCK != 0);
    Ok(rustix::fs::fcntl_setfl(f, os)?)
}

pub fn fd_fdstat_set_rights(
    ctx: &mut WasiCtx,
    _: &mut GuestMemory<'_>,
    fd: u32,
    base: u64,
    inheriting: u64,
) -> Result<(), Errno> {
    let d = ctx.fds.get_mut(fd)?;
    if base & !d.base != 0 || inheriting & !d.inheriting != 0 {
        return Err(Errno::NotCapable);
    }
    d.base = base;
    d.inheriting = inheriting;
    Ok(())
}

pub fn fd_filestat_get(ctx: &mut WasiCtx, mem: &mut GuestMemory<'_>, fd: u32, out: u32) -> Result<(), Errno> {
    let d = ctx.fds.get(fd)?;
    d.need(rights::FD_FILESTAT_GET)?;
    match &d.kind {
        Kind::File(f) => filestat::write(mem, out, &f.metadata()?),
        Kind::Dir(dir) => filestat::write(mem, out, &dir.dir_metadata()?),
        _ => filestat::write_stream(mem, out, filetype(d)?),
    }
}

pub fn fd_filestat_set_size(ctx: &mut WasiCtx, _: &mut GuestMemory<'_>, fd: u32, size: u64) -> Result<(), Errno> {
    let d = ctx.fds.get(fd)?;
    d.need(rights::FD_FILESTAT_SET_SIZE)?;
    Ok(d.file()?.set_len(size)?)
}

pub fn fd_filestat_set_times(
    ctx: &mut WasiCtx,
    _: &mut GuestMemory<'_>,
    fd: u32,
    atim: u64,
    mtim: u64,
    flags: u16,
) -> Result<(), Errno> {
    let d = ctx.fds.get(fd)?;
    d.need(rights::FD_FILESTAT_SET_TIMES)?;
    let times = SetTimes::new(atim, mtim, flags)?;
    Ok(rustix::fs::futimens(os_fd(d)?, &times.timestamps())?)
}

pub fn fd_advise(
    ctx: &mut WasiCtx,
    _: &mut GuestMemory<'_>,
    fd: u32,
    offset: u64,
    len: u64,
    advice: u8,
) -> Result<(), Errno> {
    let d = ctx.fds.get(fd)?;
    d.need(rights::FD_ADVISE)?;
    let advice = host_advice(advice)?;
    let f = d.file().map_err(|e| if e == Errno::IsDir { Errno::Badf } else { e })?;
    Ok(rustix::fs::fadvise(f, offset, std::num::NonZeroU64::new(len), advice)?)
}

/// The host's advice for preview1's `advice` number (WASI 0.2's `advice` cases come in the
/// same order).
pub(crate) fn host_advice(advice: u8) -> Result<rustix::fs::Advice, Errno> {
    use rustix::fs::Advice;
    Ok(match advice {
        0 => Advice::Normal,
        1 => Advice::Sequential,
        2 => Advice::Random,
        3 => Advice::WillNeed,
        4 => Advice::DontNeed,
        5 => Advice::NoReuse,
        _ => return Err(Errno::Inval),
    })
}

/// `fd_allocate` is not supported, as in wasmtime: reserving real blocks on the host's disk
/// at a size the guest picks would let any guest with a writable file fill the disk at once.
/// A guest that needs a file to be longer writes to it or calls `fd_filestat_set_size`.
pub fn fd_allocate(ctx: &mut WasiCtx, _: &mut GuestMemory<'_>, fd: u32, _offset: u64, _len: u64) -> Result<(), Errno> {
    let d = ctx.fds.get(fd)?;
    d.need(rights::FD_ALLOCATE)?;
    d.file().map_err(|e| if e == Errno::IsDir { Errno::Badf } else { e })?;
    Err(Errno::NotSup)
}

pub fn fd_prestat_get(ctx: &mut WasiCtx, mem: &mut GuestMemory<'_>, fd: u32, out: u32) -> Result<(), Errno> {
    let name = ctx.fds.get(fd)?.preopen.as_ref().ok_or(Errno::Badf)?;
    mem.write_u8(out, PREOPENTYPE_DIR)?;
    mem.write_u32(out + 4, name.len() as u32)
}

pub fn fd_prestat_dir_name(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    path: u32,
    len: u32,
) -> Result<(), Errno> {
    let name = ctx.fds.get(fd)?.preopen.as_ref().ok_or(Errno::Badf)?;
    if (len as usize) < name.len() {
        return Err(Errno::NameTooLong);
    }
    mem.write(path, name.as_bytes())
}
