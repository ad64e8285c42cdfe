//! `path_*`: operations on paths relative to a directory descriptor. Resolution goes through
//! cap-std, which refuses any path that would leave that directory (by `..`, an absolute
//! path, or a symlink pointing out) with `notcapable`; a read-only preopen passes on no
//! rights that change the file system.
use crate::abi::{LOOKUP_SYMLINK_FOLLOW, fdflags, oflags, rights};
use crate::fdtable::{Descriptor, FdTable, Kind};
use crate::filestat::{self, SetTimes};
use crate::{Errno, GuestMemory, Refusal, WasiCtx};
use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt, OpenOptionsSyncExt};
use cap_std::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The guest path at `ptr`: UTF-8, with no NUL byte, and not empty.
fn path(mem: &GuestMemory<'_>, ptr: u32, len: u32) -> Result<PathBuf, Errno> {
    let s = mem.str(ptr, len)?;
    if s.contains('\0') {
        return Err(Errno::Ilseq);
    }
    if s.is_empty() {
        return Err(Errno::NoEnt);
    }
    Ok(PathBuf::from(s))
}

/// Convert a host error on path `p`, remembering a sandbox refusal so that a tool can tell its
/// user how to grant the path.
fn io(refused: &mut Option<Refusal>, p: &Path) -> impl FnOnce(std::io::Error) -> Errno {
    move |e| {
        let errno = Errno::from(e);
        if errno == Errno::NotCapable {
            *refused = Some(Refusal::Outside(p.display().to_string()));
        }
        errno
    }
}

/// The directory `fd`, which must grant `needed` for the operation on `p` (a refusal is
/// remembered, as by [`io`]).
fn grant<'a>(
    fds: &'a FdTable,
    refused: &mut Option<Refusal>,
    fd: u32,
    needed: u64,
    p: &Path,
) -> Result<&'a cap_std::fs::Dir, Errno> {
    fds.dir(fd, needed).inspect_err(|e| {
        if *e == Errno::NotCapable {
            *refused = Some(Refusal::NotGranted(p.display().to_string()));
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
    dir.create_dir(&p).map_err(io(&mut ctx.refused, &p))
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
    dir.remove_dir(&p).map_err(io(&mut ctx.refused, &p))
}

pub fn path_unlink_file(ctx: &mut WasiCtx, mem: &mut GuestMemory<'_>, fd: u32, p: u32, len: u32) -> Result<(), Errno> {
    let p = path(mem, p, len)?;
    let dir = grant(&ctx.fds, &mut ctx.refused, fd, rights::PATH_UNLINK_FILE, &p)?;
    dir.remove_file_or_symlink(&p).map_err(io(&mut ctx.refused, &p))
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
    let m = if follow(flags) { dir.metadata(&p) } else { dir.symlink_metadata(&p) };
    let m = m.map_err(io(&mut ctx.refused, &p))?;
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
    if follow(flags) {
        dir.set_times(&p, times.atime, times.mtime).map_err(io(&mut ctx.refused, &p))
    } else {
        dir.set_symlink_times(&p, times.atime, times.mtime).map_err(io(&mut ctx.refused, &p))
    }
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
    if follow(old_flags) {
        // Following a symlink while linking would let a link point at what it names.
        return Err(Errno::Inval);
    }
    old_dir.hard_link(&old, new_dir, &new).map_err(io(&mut ctx.refused, &new))
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
    old_dir.rename(&old, new_dir, &new).map_err(io(&mut ctx.refused, &new))
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
    dir.symlink(&old, &new).map_err(io(&mut ctx.refused, &old))
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
    let target = dir.read_link_contents(&p).map_err(io(&mut ctx.refused, &p))?.into_os_string().into_encoded_bytes();
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
        ctx.refused = Some(Refusal::NotGranted(p.display().to_string()));
        return Err(Errno::NotCapable);
    }
    let (base, inheriting) = (base & parent.inheriting, inheriting & parent.inheriting);
    let follow = if follow(dirflags) { FollowSymlinks::Yes } else { FollowSymlinks::No };

    let kind = if oflags & oflags::DIRECTORY != 0 {
        if oflags & (oflags::CREAT | oflags::EXCL | oflags::TRUNC) != 0 {
            return Err(Errno::Inval);
        }
        if wants_write {
            return Err(Errno::IsDir);
        }
        let d = if follow == FollowSymlinks::Yes { dir.open_dir(&p) } else { dir.open_dir_nofollow(&p) };
        let d = d.map_err(io(&mut ctx.refused, &p))?;
        Kind::Dir(d)
    } else {
        let mut opts = cap_std::fs::OpenOptions::new();
        let creates = oflags & (oflags::CREAT | oflags::TRUNC) != 0;
        opts.read(!wants_write || base & (rights::FD_READ | rights::FD_READDIR) != 0)
            .write(wants_write || creates)
            .create(oflags & oflags::CREAT != 0)
            .create_new(oflags & oflags::CREAT != 0 && oflags & oflags::EXCL != 0)
            .truncate(oflags & oflags::TRUNC != 0)
            .follow(follow)
            .maybe_dir(true)
            .sync(fdflags & fdflags::SYNC != 0)
            .dsync(fdflags & fdflags::DSYNC != 0)
            .rsync(fdflags & fdflags::RSYNC != 0);
        if fdflags & fdflags::NONBLOCK != 0 {
            opts.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
        }
        let file = dir.open_with(&p, &opts).map_err(io(&mut ctx.refused, &p))?;
        if fdflags & fdflags::APPEND != 0 {
            // Set after opening: std's options refuse append together with truncate.
            let os = rustix::fs::fcntl_getfl(&file)?;
            rustix::fs::fcntl_setfl(&file, os | rustix::fs::OFlags::APPEND)?;
        }
        if file.metadata()?.is_dir() {
            Kind::Dir(cap_std::fs::Dir::from_std_file(file.into_std()))
        } else {
            Kind::File(file)
        }
    };
    let base = match kind {
        Kind::Dir(_) => base & rights::DIRECTORY,
        _ => base & rights::FILE,
    };
    let new_fd = ctx.fds.push(Descriptor { kind, base, inheriting, preopen: None, listing: None })?;
    mem.write_u32(fd_out, new_fd)
}
