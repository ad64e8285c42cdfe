//! File types and `filestat` records: the host's metadata as WASI lays it out in guest memory,
//! shared by `fd_filestat_get`, `path_filestat_get` and `fd_readdir`.
use crate::abi::filetype;
use crate::{Errno, GuestMemory};
use cap_std::fs::{FileType, FileTypeExt, Metadata, MetadataExt};

/// The WASI file type of a host file type.
pub(crate) fn filetype_of(ft: FileType) -> u8 {
    if ft.is_dir() {
        filetype::DIRECTORY
    } else if ft.is_file() {
        filetype::REGULAR_FILE
    } else if ft.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else if ft.is_block_device() {
        filetype::BLOCK_DEVICE
    } else if ft.is_char_device() {
        filetype::CHARACTER_DEVICE
    } else if ft.is_socket() {
        filetype::SOCKET_STREAM
    } else {
        filetype::UNKNOWN
    }
}

fn nanos(secs: i64, nsecs: i64) -> u64 {
    (secs as u64).wrapping_mul(1_000_000_000).wrapping_add(nsecs as u64)
}

/// Write the `filestat` of `m` at `ptr`.
pub(crate) fn write(mem: &mut GuestMemory<'_>, ptr: u32, m: &Metadata) -> Result<(), Errno> {
    let mut b = [0u8; crate::abi::FILESTAT_SIZE];
    b[0..8].copy_from_slice(&m.dev().to_le_bytes());
    b[8..16].copy_from_slice(&m.ino().to_le_bytes());
    b[16] = filetype_of(m.file_type());
    b[24..32].copy_from_slice(&m.nlink().to_le_bytes());
    b[32..40].copy_from_slice(&m.size().to_le_bytes());
    b[40..48].copy_from_slice(&nanos(m.atime(), m.atime_nsec()).to_le_bytes());
    b[48..56].copy_from_slice(&nanos(m.mtime(), m.mtime_nsec()).to_le_bytes());
    b[56..64].copy_from_slice(&nanos(m.ctime(), m.ctime_nsec()).to_le_bytes());
    mem.write(ptr, &b)
}

/// Write a `filestat` of a standard stream (no file behind it): only its type.
pub(crate) fn write_stream(mem: &mut GuestMemory<'_>, ptr: u32, filetype: u8) -> Result<(), Errno> {
    let mut b = [0u8; crate::abi::FILESTAT_SIZE];
    b[16] = filetype;
    mem.write(ptr, &b)
}

/// The new times of a `*_filestat_set_times` call, checked (`inval` when a time is both given
/// and "now").
pub(crate) struct SetTimes {
    pub atime: Option<cap_fs_ext::SystemTimeSpec>,
    pub mtime: Option<cap_fs_ext::SystemTimeSpec>,
}

impl SetTimes {
    pub fn new(atim: u64, mtim: u64, flags: u16) -> Result<SetTimes, Errno> {
        use crate::abi::fstflags::*;
        if flags & !(ATIM | ATIM_NOW | MTIM | MTIM_NOW) != 0 {
            return Err(Errno::Inval);
        }
        let spec = |t: u64, set: u16, now: u16| -> Result<Option<cap_fs_ext::SystemTimeSpec>, Errno> {
            match (flags & set != 0, flags & now != 0) {
                (true, true) => Err(Errno::Inval),
                (false, true) => Ok(Some(cap_fs_ext::SystemTimeSpec::SymbolicNow)),
                (true, false) => {
                    let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(t);
                    Ok(Some(cap_fs_ext::SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(t))))
                }
                (false, false) => Ok(None),
            }
        };
        Ok(SetTimes { atime: spec(atim, ATIM, ATIM_NOW)?, mtime: spec(mtim, MTIM, MTIM_NOW)? })
    }

    /// The times as `futimens` takes them.
    pub fn timestamps(&self) -> rustix::fs::Timestamps {
        let ts = |s: &Option<cap_fs_ext::SystemTimeSpec>| match s {
            None => rustix::time::Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_OMIT },
            Some(cap_fs_ext::SystemTimeSpec::SymbolicNow) => {
                rustix::time::Timespec { tv_sec: 0, tv_nsec: rustix::fs::UTIME_NOW }
            }
            Some(cap_fs_ext::SystemTimeSpec::Absolute(t)) => {
                let d = t.into_std().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                rustix::time::Timespec { tv_sec: d.as_secs() as i64, tv_nsec: d.subsec_nanos() as _ }
            }
        };
        rustix::fs::Timestamps { last_access: ts(&self.atime), last_modification: ts(&self.mtime) }
    }
}
