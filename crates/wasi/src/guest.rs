//! `GuestMemory`: bounds-checked access to the calling module's linear memory. Every pointer
//! a guest passes is checked here; one out of bounds is `fault`, never a host crash.
use crate::Errno;

/// The guest's linear memory, borrowed for one WASI call.
pub struct GuestMemory<'a> {
    bytes: &'a mut [u8],
}

impl<'a> GuestMemory<'a> {
    /// The guest memory `bytes`.
    pub fn new(bytes: &'a mut [u8]) -> GuestMemory<'a> {
        GuestMemory { bytes }
    }

    fn range(&self, ptr: u32, len: u32) -> Result<std::ops::Range<usize>, Errno> {
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or(Errno::Fault)?;
        if end > self.bytes.len() {
            return Err(Errno::Fault);
        }
        Ok(start..end)
    }

    /// `len` bytes at `ptr`.
    ///
    /// # Errors
    /// `fault` when the bytes are not all in memory.
    pub fn slice(&self, ptr: u32, len: u32) -> Result<&[u8], Errno> {
        let r = self.range(ptr, len)?;
        Ok(&self.bytes[r])
    }

    /// `len` bytes at `ptr`, for writing.
    ///
    /// # Errors
    /// `fault` when the bytes are not all in memory.
    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8], Errno> {
        let r = self.range(ptr, len)?;
        Ok(&mut self.bytes[r])
    }

    /// The UTF-8 string of `len` bytes at `ptr`.
    ///
    /// # Errors
    /// `fault` when the bytes are not all in memory, `ilseq` when they are not UTF-8.
    pub fn str(&self, ptr: u32, len: u32) -> Result<&str, Errno> {
        std::str::from_utf8(self.slice(ptr, len)?).map_err(|_| Errno::Ilseq)
    }

    /// Write `data` at `ptr`.
    ///
    /// # Errors
    /// `fault` when the bytes are not all in memory.
    pub fn write(&mut self, ptr: u32, data: &[u8]) -> Result<(), Errno> {
        let len = u32::try_from(data.len()).map_err(|_| Errno::Fault)?;
        self.slice_mut(ptr, len)?.copy_from_slice(data);
        Ok(())
    }

    /// The little-endian `u8` at `ptr`.
    ///
    /// # Errors
    /// `fault` when the bytes are not all in memory.
    pub fn read_u8(&self, ptr: u32) -> Result<u8, Errno> {
        Ok(self.slice(ptr, 1)?[0])
    }

    /// The little-endian `u16` at `ptr`.
    ///
    /// # Errors
    /// `fault` when the bytes are not all in memory.
    pub fn read_u16(&self, ptr: u32) -> Result<u16, Errno> {
        Ok(u16::from_le_bytes(self.slice(ptr, 2)?.try_into().unwrap_or_default()))
    }

    /// The little-endian `u32` at `ptr`.
    ///
    /// # Errors
    /// `fault` when the bytes are not all in memory.
    pub fn read_u32(&self, ptr: u32) -> Result<u32, Errno> {
        Ok(u32::from_le_bytes(self.slice(ptr, 4)?.try_into().unwrap_or_default()))
    }

    /// The little-endian `u64` at `ptr`.
    ///
    /// # Errors
    /// `fault` when the bytes are not all in memory.
    pub fn read_u64(&self, ptr: u32) -> Result<u64, Errno> {
        Ok(u64::from_le_bytes(self.slice(ptr, 8)?.try_into().unwrap_or_default()))
    }

    /// Write `v` little-endian at `ptr`.
    ///
    /// # Errors
    /// `fault` when the bytes are not all in memory.
    pub fn write_u8(&mut self, ptr: u32, v: u8) -> Result<(), Errno> {
        self.write(ptr, &[v])
    }

    /// Write `v` little-endian at `ptr`.
    ///
    /// # Errors
    /// `fault` when the bytes are not all in memory.
    pub fn write_u16(&mut self, ptr: u32, v: u16) -> Result<(), Errno> {
        self.write(ptr, &v.to_le_bytes())
    }

    /// Write `v` little-endian at `ptr`.
    ///
    /// # Errors
    /// `fault` when the bytes are not all in memory.
    pub fn write_u32(&mut self, ptr: u32, v: u32) -> Result<(), Errno> {
        self.write(ptr, &v.to_le_bytes())
    }

    /// Write `v` little-endian at `ptr`.
    ///
    /// # Errors
    /// `fault` when the bytes are not all in memory.
    pub fn write_u64(&mut self, ptr: u32, v: u64) -> Result<(), Errno> {
        self.write(ptr, &v.to_le_bytes())
    }

    /// The iovec array of `count` entries at `ptr`, checked to lie in memory with every buffer
    /// it names. Nothing is copied: entries are read one at a time with [`GuestMemory::iovec`],
    /// so the host memory a call takes does not grow with a count the guest chooses.
    ///
    /// # Errors
    /// `fault` when the array or one of the buffers is not all in memory.
    pub fn iovecs(&self, ptr: u32, count: u32) -> Result<Iovecs, Errno> {
        let iovs = Iovecs { ptr, count };
        self.slice(ptr, count.checked_mul(crate::abi::IOVEC_SIZE).ok_or(Errno::Fault)?)?;
        for i in 0..count {
            let (buf, len) = self.iovec(iovs, i)?;
            self.range(buf, len)?;
        }
        Ok(iovs)
    }

    /// Entry `i` of `iovs`: its buffer's `(ptr, len)`.
    ///
    /// # Errors
    /// `fault` when the entry is not in memory.
    pub fn iovec(&self, iovs: Iovecs, i: u32) -> Result<(u32, u32), Errno> {
        let at =
            iovs.ptr.checked_add(i.checked_mul(crate::abi::IOVEC_SIZE).ok_or(Errno::Fault)?).ok_or(Errno::Fault)?;
        Ok((self.read_u32(at)?, self.read_u32(at.checked_add(4).ok_or(Errno::Fault)?)?))
    }
}

/// An iovec array in guest memory, checked by [`GuestMemory::iovecs`].
#[derive(Clone, Copy, Debug)]
pub struct Iovecs {
    ptr: u32,
    /// How many entries it has.
    pub count: u32,
}
