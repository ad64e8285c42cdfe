//! `MemoryImageFile`: a memory image in a file, mapped private copy-on-write into each
//! instance's memory, so that instantiating a module with large initialized memory copies
//! nothing until pages are written. The file is the artifact itself when the module was loaded
//! from one (the image sections are page-aligned in it), or else an anonymous in-memory file
//! (memfd) written once per module.
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::Arc;

/// A memory image ready to map.
pub struct MemoryImageFile {
    file: Arc<File>,
    /// Where the image starts in the file (page-aligned).
    file_offset: u64,
    /// Where the image starts in the memory (page-aligned).
    pub offset: u64,
    /// Its length (page-aligned).
    pub len: usize,
}

impl MemoryImageFile {
    /// Put `bytes` (whose length is a whole number of host pages) in a new memfd.
    pub fn new(offset: u64, bytes: &[u8]) -> io::Result<MemoryImageFile> {
        // SAFETY: memfd_create with a valid NUL-terminated name; the result is checked.
        let fd = unsafe { libc::memfd_create(c"kiln-memory-image".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let mut file = unsafe { File::from_raw_fd(fd) };
        file.write_all(bytes)?;
        Ok(MemoryImageFile { file: Arc::new(file), file_offset: 0, offset, len: bytes.len() })
    }

    /// The `len` bytes at `file_offset` (page-aligned) of `file`, an image for `offset` in the
    /// memory.
    pub fn from_file(file: Arc<File>, file_offset: u64, offset: u64, len: usize) -> io::Result<MemoryImageFile> {
        if !file_offset.is_multiple_of(super::mmap::page_size() as u64) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "memory image is not page-aligned in the file"));
        }
        Ok(MemoryImageFile { file, file_offset, offset, len })
    }

    /// Map the image private copy-on-write at `at`, replacing what is mapped there.
    ///
    /// # Safety
    /// `at..at + self.len` must be a page-aligned range of a mapping the caller owns and
    /// that nothing references as Rust data.
    pub unsafe fn map_at(&self, at: *mut u8) -> io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        // SAFETY: the caller owns the range; MAP_FIXED replaces only those pages.
        let r = unsafe {
            libc::mmap(
                at.cast(),
                self.len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_FIXED,
                self.file.as_raw_fd(),
                self.file_offset as libc::off_t,
            )
        };
        if r == libc::MAP_FAILED { Err(io::Error::last_os_error()) } else { Ok(()) }
    }
}
