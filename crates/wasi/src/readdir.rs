//! `fd_readdir`: a directory's entries, packed into the guest's buffer from a cookie on. The
//! first call of a listing (cookie 0) takes a snapshot of the directory and keeps it in the
//! descriptor; later calls continue from the cookie, which is an index into the snapshot, so
//! reading a directory of n entries through a small buffer costs O(n) in all, not O(n²).
//! A listing that starts again at cookie 0 sees the directory as it is then. [`entries`],
//! the listing itself, is shared with WASI 0.2's `read-directory`.
use crate::abi::{DIRENT_SIZE, filetype, rights};
use crate::filestat;
use crate::{Errno, GuestMemory, WasiCtx};
use cap_std::fs::{FileType, MetadataExt};
use rustix::fs::DirEntryExt;

/// One directory entry.
pub(crate) struct DirEntry {
    pub name: Vec<u8>,
    pub ino: u64,
    /// Its type, when the host could tell.
    pub ty: Option<FileType>,
}

/// The entries of `dir`, without `.` and `..`, in the host's order.
pub(crate) fn entries(dir: &cap_std::fs::Dir) -> Result<Vec<DirEntry>, Errno> {
    let mut out = Vec::new();
    for e in dir.entries()? {
        let e = e?;
        out.push(DirEntry { name: e.file_name().into_encoded_bytes(), ino: e.ino(), ty: e.file_type().ok() });
    }
    Ok(out)
}

/// The entries of `dir`, `.` and `..` first.
fn snapshot(dir: &cap_std::fs::Dir) -> Result<Vec<DirEntry>, Errno> {
    let me = dir.dir_metadata()?;
    let mut out = vec![
        DirEntry { name: b".".to_vec(), ino: me.ino(), ty: Some(me.file_type()) },
        DirEntry { name: b"..".to_vec(), ino: 0, ty: Some(me.file_type()) },
    ];
    out.extend(entries(dir)?);
    Ok(out)
}

pub fn fd_readdir(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: u32,
    buf: u32,
    buf_len: u32,
    cookie: u64,
    bufused: u32,
) -> Result<(), Errno> {
    let d = ctx.fds.get_mut(fd)?;
    d.need(rights::FD_READDIR)?;
    let dir = d.dir()?;
    if cookie == 0 || d.listing.is_none() {
        let listing = snapshot(dir)?;
        d.listing = Some(listing);
    }
    let listing = d.listing.as_deref().unwrap_or_default();
    let start = usize::try_from(cookie).unwrap_or(usize::MAX).min(listing.len());
    let mut out = Vec::new();
    for (i, e) in listing.iter().enumerate().skip(start) {
        if out.len() >= buf_len as usize {
            break;
        }
        let mut head = [0u8; DIRENT_SIZE];
        head[0..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        head[8..16].copy_from_slice(&e.ino.to_le_bytes());
        head[16..20].copy_from_slice(&(e.name.len() as u32).to_le_bytes());
        head[20] = e.ty.map_or(filetype::UNKNOWN, filestat::filetype_of);
        out.extend_from_slice(&head);
        out.extend_from_slice(&e.name);
    }
    out.truncate(buf_len as usize);
    mem.write(buf, &out)?;
    mem.write_u32(bufused, out.len() as u32)
}
