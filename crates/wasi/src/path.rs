//! `path_*`: operations on paths relative to a directory descriptor. Resolution goes through
//! cap-std, which refuses any path that would leave that directory (by `..`, an absolute
//! path, or a symlink pointing out) with `notcapable`; a read-only preopen passes on no
//! rights that change the file system.
use crate::abi::{LOOKUP_SYMLINK_FOLLOW, fdflags, oflags, rights};
use crate::fdtable::{Descriptor, FdTable, Kind};
use crate::filestat::{self, SetTimes};
use crate::sandbox::{self, OpenRequest, Opened};
use crate::{Errno, GuestMemory, Refusal, WasiCtx};
use std::path::{Path, PathBuf};

/// The guest path at `ptr`, checked as [`sandbox::check_path`] does.
fn path(mem: &GuestMemory<'_>, ptr: u32, len: u32) -> Result<PathBuf, Errno> {
    sandbox::check_path(mem.str(ptr, len)?)
}

/// The directory `fd`, which must grant `needed` for the operation on `p` (a refusal is
/// remembered).
fn grant<'a>(
    fds: &'a FdTable,
    refused: &mut Option<Refusal>,
    fd: u32,
    needed: u64,
    p: &Path,
) -> Result<&'a cap_std::fs::Dir, Errno> {
    fds.dir(fd, needed).inspect_err(|e| {
        if *e == Errno::NotCapable {
            sandbox::not_granted(refused, p);
        }
    })
}

fn follow(flags: u32) -> bool {
    flags & LOOKUP_SYMLINK_FOLLOW != 0
}

pub fn path_create_directory(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    p: u32,
    len: u32,
) -> Result<(), Errno> {
    let p = path(mem, p, len)?;
    let dir = grant(&ctx.fds, &mut ctx.refused, fd, rights::PATH_CREATE_DIRECTORY, &p)?;
    sandbox::create_dir(dir, &p, &mut ctx.refused)
}

pub fn path_remove_directory(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    p: u32,
    len: u32,
) -> Result<(), Errno> {
    let p = path(mem, p, len)?;
    let dir = grant(&ctx.fds, &mut ctx.refused, fd, rights::PATH_REMOVE_DIRECTORY, &p)?;
    sandbox::remove_dir(dir, &p, &mut ctx.refused)
}

pub fn path_unlink_file(ctx: &mut WasiCtx, mem: &mut GuestMemory<'_>, fd: u32, p: u32, len: u32) -> Result<(), Errno> {
    let p = path(mem, p, len)?;
    let dir = grant(&ctx.fds, &mut ctx.refused, fd, rights::PATH_UNLINK_FILE, &p)?;
    sandbox::unlink(dir, &p, &mut ctx.refused)
}

pub fn path_filestat_get(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    flags: u32,
    p: u32,
    len: u32,
    out: u32,
) -> Result<(), Errno> {
    let p = path(mem, p, len)?;
    let dir = grant(&ctx.fds, &mut ctx.refused, fd, rights::PATH_FILESTAT_GET, &p)?;
    let m = sandbox::stat(dir, &p, follow(flags), &mut ctx.refused)?;
    filestat::write(mem, out, &m)
}

#[allow(clippy::too_many_arguments)]
pub fn path_filestat_set_times(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    flags: u32,
    p: u32,
    len: u32,
    atim: u64,
    mtim: u64,
    fst: u16,
) -> Result<(), Errno> {
    let p = path(mem, p, len)?;
    let dir = grant(&ctx.fds, &mut ctx.refused, fd, rights::PATH_FILESTAT_SET_TIMES, &p)?;
    let times = SetTimes::new(atim, mtim, fst)?;
    sandbox::set_times(dir, &p, follow(flags), times, &mut ctx.refused)
}

#[allow(clippy::too_many_arguments)]
pub fn path_link(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    old_fd: u32,
    old_flags: u32,
    old_p: u32,
    old_len: u32,
    new_fd: u32,
    new_p: u32,
    new_len: u32,
) -> Result<(), Errno> {
    let (old, new) = (path(mem, old_p, old_len)?, path(mem, new_p, new_len)?);
    let old_dir = grant(&ctx.fds, &mut ctx.refused, old_fd, rights::PATH_LINK_SOURCE, &old)?;
    let new_dir = grant(&ctx.fds, &mut ctx.refused, new_fd, rights::PATH_LINK_TARGET, &new)?;
    sandbox::link(old_dir, &old, follow(old_flags), new_dir, &new, &mut ctx.refused)
}

#[allow(clippy::too_many_arguments)]
pub fn path_rename(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    old_p: u32,
    old_len: u32,
    new_fd: u32,
    new_p: u32,
    new_len: u32,
) -> Result<(), Errno> {
    let (old, new) = (path(mem, old_p, old_len)?, path(mem, new_p, new_len)?);
    let old_dir = grant(&ctx.fds, &mut ctx.refused, fd, rights::PATH_RENAME_SOURCE, &old)?;
    let new_dir = grant(&ctx.fds, &mut ctx.refused, new_fd, rights::PATH_RENAME_TARGET, &new)?;
    sandbox::rename(old_dir, &old, new_dir, &new, &mut ctx.refused)
}

pub fn path_symlink(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    old_p: u32,
    old_len: u32,
    fd: u32,
    new_p: u32,
    new_len: u32,
) -> Result<(), Errno> {
    let (old, new) = (path(mem, old_p, old_len)?, path(mem, new_p, new_len)?);
    let dir = grant(&ctx.fds, &mut ctx.refused, fd, rights::PATH_SYMLINK, &new)?;
    sandbox::symlink(dir, &old, &new, &mut ctx.refused)
}

#[allow(clippy::too_many_arguments)]
pub fn path_readlink(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    p: u32,
    len: u32,
    buf: u32,
    buf_len: u32,
    bufused: u32,
) -> Result<(), Errno> {
    let p = path(mem, p, len)?;
    let dir = grant(&ctx.fds, &mut ctx.refused, fd, rights::PATH_READLINK, &p)?;
    let target = sandbox::readlink(dir, &p, &mut ctx.refused)?.into_os_string().into_encoded_bytes();
    let n = target.len().min(buf_len as usize);
    mem.write(buf, &target[..n])?;
    mem.write_u32(bufused, n as u32)
}

#[allow(clippy::too_many_arguments)]
pub fn path_open(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    dirflags: u32,
    p: u32,
    len: u32,
    oflags: u16,
    base: u64,
    inheriting: u64,
    fdflags: u16,
    fd_out: u32,
) -> Result<(), Errno> {
    let p = path(mem, p, len)?;
    let mut needed = rights::PATH_OPEN;
    if oflags & oflags::CREAT != 0 {
        needed |= rights::PATH_CREATE_FILE;
    }
    if oflags & oflags::TRUNC != 0 {
        needed |= rights::PATH_FILESTAT_SET_SIZE;
    }
    let dir = grant(&ctx.fds, &mut ctx.refused, fd, needed, &p)?;
    let parent = ctx.fds.get(fd)?;
    let wants_write = base & rights::FD_WRITE != 0 || fdflags & fdflags::APPEND != 0;
    if wants_write && parent.inheriting & rights::FD_WRITE == 0 {
        sandbox::not_granted(&mut ctx.refused, &p);
        return Err(Errno::NotCapable);
    }
    let (base, inheriting) = (base & parent.inheriting, inheriting & parent.inheriting);
    let req = OpenRequest {
        follow: follow(dirflags),
        directory: oflags & oflags::DIRECTORY != 0,
        create: oflags & oflags::CREAT != 0,
        exclusive: oflags & oflags::EXCL != 0,
        truncate: oflags & oflags::TRUNC != 0,
        read: base & (rights::FD_READ | rights::FD_READDIR) != 0,
        write: base & rights::FD_WRITE != 0,
        append: fdflags & fdflags::APPEND != 0,
        nonblock: fdflags & fdflags::NONBLOCK != 0,
        sync: fdflags & fdflags::SYNC != 0,
        dsync: fdflags & fdflags::DSYNC != 0,
        rsync: fdflags & fdflags::RSYNC != 0,
    };
    let (kind, base) = match sandbox::open(dir, &p, req, &mut ctx.refused)? {
        Opened::Dir(d) => (Kind::Dir(d), base & rights::DIRECTORY),
        Opened::File(f) => (Kind::File(f), base & rights::FILE),
    };
    let new_fd = ctx.fds.push(Descriptor { kind, base, inheriting, preopen: None, listing: None })?;
    mem.write_u32(fd_out, new_fd)
}
