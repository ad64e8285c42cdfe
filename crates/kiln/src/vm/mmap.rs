//! `Mmap`: an owned anonymous memory mapping, the one place that calls `mmap`, `mprotect` and
//! `munmap`.
use std::io;
use std::ptr::NonNull;

/// An anonymous mapping of `len` bytes, initially inaccessible (`PROT_NONE`) or read-write.
pub struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value.
unsafe impl Send for Mmap {}
// SAFETY: shared access only reads (changing protections takes `&mut`); writers go through
// `&mut` or raw pointers the owner hands out.
unsafe impl Sync for Mmap {}

/// The host's page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as usize } else { 4096 }
}

impl Mmap {
    /// Map `len` bytes (a multiple of the page size, non-zero) with no access.
    pub fn reserve(len: usize) -> io::Result<Mmap> {
        Mmap::map(len, libc::PROT_NONE)
    }

    /// Map `len` bytes (a multiple of the page size, non-zero) read-write.
    pub fn read_write(len: usize) -> io::Result<Mmap> {
        Mmap::map(len, libc::PROT_READ | libc::PROT_WRITE)
    }

    /// Map the first `len` bytes of `file` read-only (private: nothing written reaches it).
    pub fn map_file(file: &std::fs::File, len: usize) -> io::Result<Mmap> {
        use std::os::fd::AsRawFd;
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "the file is empty"));
        }
        // SAFETY: a new private read-only mapping of an open file at an address the kernel
        // picks; no existing memory is affected. Bytes past the file's end (if it shrinks)
        // would fault, which is why loading an artifact file is `unsafe` for the caller.
        let ptr =
            unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, file.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmap { ptr: NonNull::new(ptr.cast()).ok_or_else(io::Error::last_os_error)?, len })
    }

    fn map(len: usize, prot: libc::c_int) -> io::Result<Mmap> {
        assert!(len > 0 && len.is_multiple_of(page_size()));
        // SAFETY: an anonymous private mapping at an address the kernel picks; no existing
        // memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmap { ptr: NonNull::new(ptr.cast()).ok_or_else(io::Error::last_os_error)?, len })
    }

    /// The mapping's start.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The mapping's start, non-null.
    pub fn as_non_null(&self) -> NonNull<u8> {
        self.ptr
    }

    fn protect(&mut self, range: std::ops::Range<usize>, prot: libc::c_int) -> io::Result<()> {
        assert!(range.start <= range.end && range.end <= self.len);
        assert!(range.start.is_multiple_of(page_size()));
        if range.is_empty() {
            return Ok(());
        }
        let start = self.ptr.as_ptr().wrapping_add(range.start);
        // SAFETY: the range lies inside this mapping (checked above).
        let r = unsafe { libc::mprotect(start.cast(), range.end - range.start, prot) };
        if r != 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// Make `range` readable and writable.
    pub fn make_read_write(&mut self, range: std::ops::Range<usize>) -> io::Result<()> {
        self.protect(range, libc::PROT_READ | libc::PROT_WRITE)
    }

    /// Make `range` readable and executable (and no longer writable).
    pub fn make_executable(&mut self, range: std::ops::Range<usize>) -> io::Result<()> {
        self.protect(range, libc::PROT_READ | libc::PROT_EXEC)
    }

    /// The bytes of `range`.
    ///
    /// # Safety
    /// The range must be readable for as long as the result is used.
    ///
    /// # Panics
    /// If the range is not within the mapping.
    pub unsafe fn slice(&self, range: std::ops::Range<usize>) -> &[u8] {
        assert!(range.start <= range.end && range.end <= self.len);
        let start = self.ptr.as_ptr().wrapping_add(range.start);
        // SAFETY: in bounds (checked above) and readable (the contract).
        unsafe { std::slice::from_raw_parts(start, range.end - range.start) }
    }

    /// The bytes of `range`, for writing.
    ///
    /// # Safety
    /// The range must be readable and writable for as long as the result is used.
    ///
    /// # Panics
    /// If the range is not within the mapping.
    pub unsafe fn slice_mut(&mut self, range: std::ops::Range<usize>) -> &mut [u8] {
        assert!(range.start <= range.end && range.end <= self.len);
        let start = self.ptr.as_ptr().wrapping_add(range.start);
        // SAFETY: in bounds (checked above) and writable (the contract); `&mut self` makes
        // this the only access.
        unsafe { std::slice::from_raw_parts_mut(start, range.end - range.start) }
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping this value owns.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
