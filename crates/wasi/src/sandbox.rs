//! Operations on paths under a directory a program was granted, shared by preview1
//! (`path.rs`) and WASI 0.2 (`p2/filesystem/`): checking a guest path, opening, creating,
//! removing, linking, renaming, symlinks, stat and times. Resolution goes through cap-std,
//! which refuses any path that would leave the directory (by `..`, an absolute path, or a
//! symlink pointing out) with an error that [`Errno`] maps to `notcapable`; each refusal is
//! remembered in the context, so a tool can tell its user how to grant the path. Whether a
//! directory grants an operation at all (rights, a read-only preopen) is each ABI's check,
//! made before these run.
use crate::filestat::SetTimes;
use crate::{Errno, Refusal};
use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt, OpenOptionsSyncExt};
use cap_std::fs::{Dir, File, Metadata, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A guest path: no NUL byte (`ilseq`), and not empty (`noent`).
pub(crate) fn check_path(s: &str) -> Result<PathBuf, Errno> {
    if s.contains('\0') {
        return Err(Errno::Ilseq);
    }
    if s.is_empty() {
        return Err(Errno::NoEnt);
    }
    Ok(PathBuf::from(s))
}

/// Convert a host error on path `p`, remembering a sandbox refusal.
pub(crate) fn io(refused: &mut Option<Refusal>, p: &Path) -> impl FnOnce(std::io::Error) -> Errno {
    move |e| {
        let errno = Errno::from(e);
        if errno == Errno::NotCapable {
            *refused = Some(Refusal::Outside(p.display().to_string()));
        }
        errno
    }
}

/// Remember that the directory `p` is under does not grant the change asked of it (each ABI
/// reports that with an error of its own).
pub(crate) fn not_granted(refused: &mut Option<Refusal>, p: &Path) {
    *refused = Some(Refusal::NotGranted(p.display().to_string()));
}

pub(crate) fn create_dir(dir: &Dir, p: &Path, refused: &mut Option<Refusal>) -> Result<(), Errno> {
    dir.create_dir(p).map_err(io(refused, p))
}

pub(crate) fn remove_dir(dir: &Dir, p: &Path, refused: &mut Option<Refusal>) -> Result<(), Errno> {
    dir.remove_dir(p).map_err(io(refused, p))
}

/// Remove a file or a symlink (never a directory).
pub(crate) fn unlink(dir: &Dir, p: &Path, refused: &mut Option<Refusal>) -> Result<(), Errno> {
    dir.remove_file_or_symlink(p).map_err(io(refused, p))
}

/// The metadata of `p`, or of the symlink itself unless `follow`.
pub(crate) fn stat(dir: &Dir, p: &Path, follow: bool, refused: &mut Option<Refusal>) -> Result<Metadata, Errno> {
    let m = if follow { dir.metadata(p) } else { dir.symlink_metadata(p) };
    m.map_err(io(refused, p))
}

pub(crate) fn set_times(
    dir: &Dir,
    p: &Path,
    follow: bool,
    times: SetTimes,
    refused: &mut Option<Refusal>,
) -> Result<(), Errno> {
    let r = if follow {
        dir.set_times(p, times.atime, times.mtime)
    } else {
        dir.set_symlink_times(p, times.atime, times.mtime)
    };
    r.map_err(io(refused, p))
}

/// A hard link `new` (under `new_dir`) to `old` (under `old_dir`). Following a symlink while
/// linking would let a link point at what it names, so `follow` is `inval`.
pub(crate) fn link(
    old_dir: &Dir,
    old: &Path,
    follow: bool,
    new_dir: &Dir,
    new: &Path,
    refused: &mut Option<Refusal>,
) -> Result<(), Errno> {
    if follow {
        return Err(Errno::Inval);
    }
    old_dir.hard_link(old, new_dir, new).map_err(io(refused, new))
}

pub(crate) fn rename(
    old_dir: &Dir,
    old: &Path,
    new_dir: &Dir,
    new: &Path,
    refused: &mut Option<Refusal>,
) -> Result<(), Errno> {
    old_dir.rename(old, new_dir, new).map_err(io(refused, new))
}

/// A symlink `new` whose target is the text `target` (cap-std refuses absolute targets).
pub(crate) fn symlink(dir: &Dir, target: &Path, new: &Path, refused: &mut Option<Refusal>) -> Result<(), Errno> {
    dir.symlink(target, new).map_err(io(refused, target))
}

/// The target of the symlink `p`, as stored (an absolute target is returned as it is; each
/// ABI decides whether to show it).
pub(crate) fn readlink(dir: &Dir, p: &Path, refused: &mut Option<Refusal>) -> Result<PathBuf, Errno> {
    dir.read_link_contents(p).map_err(io(refused, p))
}

/// What `open` is asked to do, in terms both ABIs' flags translate to.
#[derive(Clone, Copy, Default)]
pub(crate) struct OpenRequest {
    /// Follow a symlink in the last component.
    pub follow: bool,
    /// Fail unless it is a directory.
    pub directory: bool,
    pub create: bool,
    pub exclusive: bool,
    pub truncate: bool,
    pub read: bool,
    pub write: bool,
    pub append: bool,
    pub nonblock: bool,
    pub sync: bool,
    pub dsync: bool,
    pub rsync: bool,
}

/// What `open` opened.
pub(crate) enum Opened {
    File(File),
    Dir(Dir),
}

/// Open `p` under `dir` as `req` asks.
pub(crate) fn open(dir: &Dir, p: &Path, req: OpenRequest, refused: &mut Option<Refusal>) -> Result<Opened, Errno> {
    let follow = if req.follow { FollowSymlinks::Yes } else { FollowSymlinks::No };
    if req.directory {
        if req.create || req.exclusive || req.truncate {
            return Err(Errno::Inval);
        }
        if req.write || req.append {
            return Err(Errno::IsDir);
        }
        let d = if req.follow { dir.open_dir(p) } else { dir.open_dir_nofollow(p) };
        return Ok(Opened::Dir(d.map_err(io(refused, p))?));
    }
    let mut opts = cap_std::fs::OpenOptions::new();
    let wants_write = req.write || req.append;
    opts.read(req.read || !wants_write)
        .write(wants_write || req.create || req.truncate)
        .create(req.create)
        .create_new(req.create && req.exclusive)
        .truncate(req.truncate)
        .follow(follow)
        .maybe_dir(true)
        .sync(req.sync)
        .dsync(req.dsync)
        .rsync(req.rsync);
    if req.nonblock {
        opts.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = dir.open_with(p, &opts).map_err(io(refused, p))?;
    if req.append {
        // Set after opening: std's options refuse append together with truncate.
        let os = rustix::fs::fcntl_getfl(&file)?;
        rustix::fs::fcntl_setfl(&file, os | rustix::fs::OFlags::APPEND)?;
    }
    if file.metadata()?.is_dir() {
        Ok(Opened::Dir(Dir::from_std_file(file.into_std())))
    } else {
        Ok(Opened::File(file))
    }
}
