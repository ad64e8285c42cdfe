//! The `descriptor` resource — an open file or directory reached from a preopen — with
//! every method of it, and `directory-entry-stream`.
//!
//! A descriptor remembers whether the preopen it came through allows changes
//! (`DirAccess::ReadWrite`): without that, everything that would create, remove, rename,
//! link, write or change times fails with `read-only` before touching the host, and a file
//! can be opened only for reading — as preview1 passes on no mutating right from a
//! read-only preopen. Paths resolve through `sandbox.rs`, preview1's resolution: nothing
//! leaves the preopen (`not-permitted`). File operations on a directory are
//! `bad-descriptor`, directory operations on a file `not-directory`.
use super::super::Host;
use super::super::io::{InputStream, MAX_CHUNK, OutputStream};
use super::types::{
    Advice, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry, ErrorCode, MetadataHashValue,
    NewTimestamp, OpenFlags, PathFlags,
};
use crate::abi::fdflags;
use crate::filestat::SetTimes;
use crate::readdir::DirEntry;
use crate::sandbox::{self, OpenRequest, Opened};
use crate::{Errno, Refusal};
use cap_std::fs::{Dir, File, FileExt, Metadata, MetadataExt};
use kiln::component::Resource;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `descriptor`.
pub(crate) struct Descriptor {
    kind: Kind,
    /// Whether the preopen it was reached through allows changes.
    mutable: bool,
    /// Opened to read (directories can always be listed).
    read: bool,
    /// Opened to write.
    write: bool,
}

enum Kind {
    /// Shared with the streams opened on it, which may outlive the descriptor.
    File(Arc<File>),
    Dir(Dir),
}

/// `directory-entry-stream`: the entries of a directory as it was when the stream was made.
pub(crate) struct DirectoryEntryStream {
    entries: std::vec::IntoIter<DirEntry>,
}

/// A method's result: an error code, or an error that traps (a bad handle).
pub(crate) type FsResult<T> = kiln::Result<(Result<T, ErrorCode>,)>;

impl Descriptor {
    /// A preopened directory.
    pub fn preopen(dir: Dir, mutable: bool) -> Descriptor {
        Descriptor { kind: Kind::Dir(dir), mutable, read: true, write: false }
    }

    fn dir(&self) -> Result<&Dir, ErrorCode> {
        match &self.kind {
            Kind::Dir(d) => Ok(d),
            Kind::File(_) => Err(ErrorCode::NotDirectory),
        }
    }

    fn file(&self) -> Result<&Arc<File>, ErrorCode> {
        match &self.kind {
            Kind::File(f) => Ok(f),
            Kind::Dir(_) => Err(ErrorCode::BadDescriptor),
        }
    }

    fn readable_file(&self) -> Result<&Arc<File>, ErrorCode> {
        let f = self.file()?;
        if self.read { Ok(f) } else { Err(ErrorCode::BadDescriptor) }
    }

    fn writable_file(&self) -> Result<&Arc<File>, ErrorCode> {
        let f = self.file()?;
        if self.write { Ok(f) } else { Err(ErrorCode::BadDescriptor) }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match &self.kind {
            Kind::File(f) => f.as_fd(),
            Kind::Dir(d) => d.as_fd(),
        }
    }

    fn metadata(&self) -> Result<Metadata, ErrorCode> {
        Ok(match &self.kind {
            Kind::File(f) => f.metadata()?,
            Kind::Dir(d) => d.dir_metadata()?,
        })
    }

    /// The directory, which must allow changes to `p` (a refusal is remembered).
    fn mutable_dir(&self, p: &Path, refused: &mut Option<Refusal>) -> Result<&Dir, ErrorCode> {
        let dir = self.dir()?;
        if !self.mutable {
            sandbox::not_granted(refused, p);
            return Err(ErrorCode::ReadOnly);
        }
        Ok(dir)
    }
}

fn path(p: &str) -> Result<PathBuf, ErrorCode> {
    Ok(sandbox::check_path(p)?)
}

/// The result of `f`, whose error codes are the guest's, for a method's return.
fn fs<T>(f: impl FnOnce() -> Result<T, ErrorCode>) -> FsResult<T> {
    Ok((f(),))
}

type D = Resource<Descriptor>;

/// The method's result: `r`'s value put in the table, or its error code.
fn pushed<T: Send + 'static>(
    table: &mut kiln::component::ResourceTable,
    r: Result<T, ErrorCode>,
) -> FsResult<Resource<T>> {
    Ok((match r {
        Ok(v) => Ok(table.push(v)?),
        Err(e) => Err(e),
    },))
}

pub(super) fn read_via_stream(h: &mut Host<'_>, (d, offset): (D, u64)) -> FsResult<Resource<InputStream>> {
    let r = h.table.get(&d)?.readable_file().map(|f| InputStream::File { file: f.clone(), pos: offset });
    pushed(h.table, r)
}

pub(super) fn write_via_stream(h: &mut Host<'_>, (d, offset): (D, u64)) -> FsResult<Resource<OutputStream>> {
    let r = h.table.get(&d)?.writable_file().map(|f| OutputStream::File { file: f.clone(), pos: offset });
    pushed(h.table, r)
}

pub(super) fn append_via_stream(h: &mut Host<'_>, (d,): (D,)) -> FsResult<Resource<OutputStream>> {
    let r = h.table.get(&d)?.writable_file().map(|f| OutputStream::Append(f.clone()));
    pushed(h.table, r)
}

pub(super) fn advise(h: &mut Host<'_>, (d, offset, len, advice): (D, u64, u64, Advice)) -> FsResult<()> {
    let d = h.table.get(&d)?;
    fs(|| {
        let advice = crate::fd::host_advice(advice as u8)?;
        Ok(rustix::fs::fadvise(&**d.file()?, offset, std::num::NonZeroU64::new(len), advice)?)
    })
}

pub(super) fn sync_data(h: &mut Host<'_>, (d,): (D,)) -> FsResult<()> {
    let d = h.table.get(&d)?;
    fs(|| Ok(rustix::fs::fdatasync(d.fd())?))
}

pub(super) fn sync(h: &mut Host<'_>, (d,): (D,)) -> FsResult<()> {
    let d = h.table.get(&d)?;
    fs(|| Ok(rustix::fs::fsync(d.fd())?))
}

pub(super) fn get_flags(h: &mut Host<'_>, (d,): (D,)) -> FsResult<DescriptorFlags> {
    let d = h.table.get(&d)?;
    fs(|| {
        let mut flags = DescriptorFlags { read: d.read, write: d.write, ..DescriptorFlags::default() };
        match &d.kind {
            Kind::File(f) => {
                let os = crate::fd::fdflags_of(f)?;
                flags.file_integrity_sync = os & fdflags::SYNC != 0;
                flags.data_integrity_sync = os & fdflags::DSYNC != 0;
                flags.requested_write_sync = os & fdflags::RSYNC != 0;
            }
            Kind::Dir(_) => flags.mutate_directory = d.mutable,
        }
        Ok(flags)
    })
}

pub(super) fn get_type(h: &mut Host<'_>, (d,): (D,)) -> FsResult<DescriptorType> {
    let d = h.table.get(&d)?;
    fs(|| Ok(d.metadata()?.file_type().into()))
}

pub(super) fn set_size(h: &mut Host<'_>, (d, size): (D, u64)) -> FsResult<()> {
    let d = h.table.get(&d)?;
    fs(|| Ok(d.writable_file()?.set_len(size)?))
}

/// The new times, checked.
fn times(atime: NewTimestamp, mtime: NewTimestamp) -> Result<SetTimes, ErrorCode> {
    Ok(SetTimes { atime: atime.spec()?, mtime: mtime.spec()? })
}

pub(super) fn set_times(h: &mut Host<'_>, (d, atime, mtime): (D, NewTimestamp, NewTimestamp)) -> FsResult<()> {
    let d = h.table.get(&d)?;
    fs(|| {
        let times = times(atime, mtime)?;
        if !d.mutable {
            return Err(ErrorCode::ReadOnly);
        }
        Ok(rustix::fs::futimens(d.fd(), &times.timestamps())?)
    })
}

pub(super) fn read(h: &mut Host<'_>, (d, len, offset): (D, u64, u64)) -> FsResult<(Vec<u8>, bool)> {
    let d = h.table.get(&d)?;
    fs(|| {
        let file = d.readable_file()?;
        let mut buf = vec![0; len.min(MAX_CHUNK as u64) as usize];
        let mut n = 0;
        while n < buf.len() {
            let at = offset.checked_add(n as u64).ok_or(ErrorCode::Overflow)?;
            match file.read_at(&mut buf[n..], at) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        let eof = n < buf.len();
        buf.truncate(n);
        Ok((buf, eof))
    })
}

pub(super) fn write(h: &mut Host<'_>, (d, bytes, offset): (D, Vec<u8>, u64)) -> FsResult<u64> {
    let d = h.table.get(&d)?;
    fs(|| {
        d.writable_file()?.write_all_at(&bytes, offset)?;
        Ok(bytes.len() as u64)
    })
}

pub(super) fn read_directory(h: &mut Host<'_>, (d,): (D,)) -> FsResult<Resource<DirectoryEntryStream>> {
    let r = h.table.get(&d)?.dir().and_then(|dir| Ok(crate::readdir::entries(dir)?));
    pushed(h.table, r.map(|entries| DirectoryEntryStream { entries: entries.into_iter() }))
}

pub(super) fn read_directory_entry(
    h: &mut Host<'_>,
    (s,): (Resource<DirectoryEntryStream>,),
) -> FsResult<Option<DirectoryEntry>> {
    let s = h.table.get_mut(&s)?;
    fs(|| {
        let Some(e) = s.entries.next() else { return Ok(None) };
        let name = String::from_utf8(e.name).map_err(|_| ErrorCode::IllegalByteSequence)?;
        Ok(Some(DirectoryEntry { ty: e.ty.map_or(DescriptorType::Unknown, DescriptorType::from), name }))
    })
}

pub(super) fn stat(h: &mut Host<'_>, (d,): (D,)) -> FsResult<DescriptorStat> {
    let d = h.table.get(&d)?;
    fs(|| Ok(DescriptorStat::of(&d.metadata()?)))
}

/// `f` of the metadata of the path `p` under the directory `d` (inside the sandbox).
fn at_path<R>(h: &mut Host<'_>, (d, flags, p): (D, PathFlags, String), f: fn(&Metadata) -> R) -> FsResult<R> {
    let d = h.table.get(&d)?;
    let refused = &mut h.ctx.refused;
    fs(|| {
        let p = path(&p)?;
        Ok(f(&sandbox::stat(d.dir()?, &p, flags.symlink_follow, refused)?))
    })
}

pub(super) fn stat_at(h: &mut Host<'_>, args: (D, PathFlags, String)) -> FsResult<DescriptorStat> {
    at_path(h, args, DescriptorStat::of)
}

pub(super) fn set_times_at(
    h: &mut Host<'_>,
    (d, flags, p, atime, mtime): (D, PathFlags, String, NewTimestamp, NewTimestamp),
) -> FsResult<()> {
    let d = h.table.get(&d)?;
    let refused = &mut h.ctx.refused;
    fs(|| {
        let p = path(&p)?;
        let times = times(atime, mtime)?;
        let dir = d.mutable_dir(&p, refused)?;
        Ok(sandbox::set_times(dir, &p, flags.symlink_follow, times, refused)?)
    })
}

pub(super) fn link_at(
    h: &mut Host<'_>,
    (d, flags, old, new_d, new): (D, PathFlags, String, D, String),
) -> FsResult<()> {
    between(h, (d, old, new_d, new), |old_dir, old, new_dir, new, refused| {
        sandbox::link(old_dir, old, flags.symlink_follow, new_dir, new, refused)
    })
}

/// `f` on two paths, each under its own directory, both of which it may change.
fn between(
    h: &mut Host<'_>,
    (d, old, new_d, new): (D, String, D, String),
    f: impl FnOnce(&Dir, &Path, &Dir, &Path, &mut Option<Refusal>) -> Result<(), Errno>,
) -> FsResult<()> {
    let (d, new_d) = (h.table.get(&d)?, h.table.get(&new_d)?);
    let refused = &mut h.ctx.refused;
    fs(|| {
        let (old, new) = (path(&old)?, path(&new)?);
        let old_dir = d.mutable_dir(&old, refused)?;
        let new_dir = new_d.mutable_dir(&new, refused)?;
        Ok(f(old_dir, &old, new_dir, &new, refused)?)
    })
}

pub(super) fn open_at(
    h: &mut Host<'_>,
    (d, path_flags, p, open_flags, flags): (D, PathFlags, String, OpenFlags, DescriptorFlags),
) -> FsResult<Resource<Descriptor>> {
    let parent = h.table.get(&d)?;
    let refused = &mut h.ctx.refused;
    let opened = (|| {
        let p = path(&p)?;
        let dir = parent.dir()?;
        let changes = flags.write || flags.mutate_directory || open_flags.create || open_flags.truncate;
        if changes && !parent.mutable {
            sandbox::not_granted(refused, &p);
            return Err(ErrorCode::ReadOnly);
        }
        let req = OpenRequest {
            follow: path_flags.symlink_follow,
            directory: open_flags.directory,
            create: open_flags.create,
            exclusive: open_flags.exclusive,
            truncate: open_flags.truncate,
            read: flags.read,
            write: flags.write,
            sync: flags.file_integrity_sync,
            dsync: flags.data_integrity_sync,
            rsync: flags.requested_write_sync,
            ..OpenRequest::default()
        };
        let kind = match sandbox::open(dir, &p, req, refused)? {
            Opened::File(f) => Kind::File(Arc::new(f)),
            Opened::Dir(d) => Kind::Dir(d),
        };
        Ok(Descriptor { kind, mutable: parent.mutable, read: flags.read, write: flags.write })
    })();
    pushed(h.table, opened)
}

pub(super) fn readlink_at(h: &mut Host<'_>, (d, p): (D, String)) -> FsResult<String> {
    let d = h.table.get(&d)?;
    let refused = &mut h.ctx.refused;
    fs(|| {
        let p = path(&p)?;
        let target = sandbox::readlink(d.dir()?, &p, refused)?;
        // An absolute target would tell the guest about the host's file system.
        if target.has_root() {
            *refused = Some(Refusal::Outside(p.display().to_string()));
            return Err(ErrorCode::NotPermitted);
        }
        target.into_os_string().into_string().map_err(|_| ErrorCode::IllegalByteSequence)
    })
}

/// One of the methods that change the directory at one path.
fn change_at(
    h: &mut Host<'_>,
    d: D,
    p: &str,
    op: fn(&Dir, &Path, &mut Option<Refusal>) -> Result<(), Errno>,
) -> FsResult<()> {
    let d = h.table.get(&d)?;
    let refused = &mut h.ctx.refused;
    fs(|| {
        let p = path(p)?;
        let dir = d.mutable_dir(&p, refused)?;
        Ok(op(dir, &p, refused)?)
    })
}

pub(super) fn create_directory_at(h: &mut Host<'_>, (d, p): (D, String)) -> FsResult<()> {
    change_at(h, d, &p, sandbox::create_dir)
}

pub(super) fn remove_directory_at(h: &mut Host<'_>, (d, p): (D, String)) -> FsResult<()> {
    change_at(h, d, &p, sandbox::remove_dir)
}

pub(super) fn unlink_file_at(h: &mut Host<'_>, (d, p): (D, String)) -> FsResult<()> {
    change_at(h, d, &p, sandbox::unlink)
}

pub(super) fn rename_at(h: &mut Host<'_>, args: (D, String, D, String)) -> FsResult<()> {
    between(h, args, sandbox::rename)
}

pub(super) fn symlink_at(h: &mut Host<'_>, (d, target, new): (D, String, String)) -> FsResult<()> {
    let d = h.table.get(&d)?;
    let refused = &mut h.ctx.refused;
    fs(|| {
        let (target, new) = (path(&target)?, path(&new)?);
        let dir = d.mutable_dir(&new, refused)?;
        Ok(sandbox::symlink(dir, &target, &new, refused)?)
    })
}

pub(super) fn is_same_object(h: &mut Host<'_>, (d, other): (D, D)) -> kiln::Result<(bool,)> {
    let (a, b) = (h.table.get(&d)?.metadata(), h.table.get(&other)?.metadata());
    Ok((matches!((a, b), (Ok(a), Ok(b)) if a.dev() == b.dev() && a.ino() == b.ino()),))
}

pub(super) fn metadata_hash(h: &mut Host<'_>, (d,): (D,)) -> FsResult<MetadataHashValue> {
    let d = h.table.get(&d)?;
    fs(|| Ok(MetadataHashValue::of(&d.metadata()?)))
}

pub(super) fn metadata_hash_at(h: &mut Host<'_>, args: (D, PathFlags, String)) -> FsResult<MetadataHashValue> {
    at_path(h, args, MetadataHashValue::of)
}
