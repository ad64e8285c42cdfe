//! `LinearMemory`: a wasm linear memory. It reserves `memory_reservation` bytes (at least its
//! current size) plus a guard, all inaccessible, and makes its current size read-write. With a
//! 4 GiB reservation a 32-bit memory never moves and compiled code needs no bounds checks;
//! with a smaller one, growing past the reservation moves the memory to a larger mapping.
//! The memory's `VMMemoryDefinition` (inline in the owning instance's vmctx, or boxed here for
//! host-created memories) is kept up to date on every change.
use super::memory_image::MemoryImageFile;
use super::mmap::{Mmap, page_size};
use super::store_box::StoreBox;
use super::vm_ptr::VmPtr;
use super::vmcontext::VMMemoryDefinition;
use kiln_environ::{Memory, Tunables, WASM_PAGE_SIZE};

/// A linear memory.
pub struct LinearMemory {
    mmap: Option<Mmap>,
    ty: Memory,
    /// Accessible bytes.
    len: usize,
    /// Bytes that may become accessible without moving (excluding the guard).
    reserved: usize,
    guard: usize,
    /// The definition compiled code reads; `own_definition` until a vmctx holds it.
    definition: VmPtr<VMMemoryDefinition>,
    _own_definition: StoreBox<VMMemoryDefinition>,
}

/// `n` rounded up to whole host pages (saturating; a reservation that large fails to map).
fn round_up(n: usize) -> usize {
    n.div_ceil(page_size()).saturating_mul(page_size())
}

impl LinearMemory {
    /// Create a memory of type `ty` with its minimum size, its initial contents mapped
    /// copy-on-write from `image` if given.
    pub fn new(ty: Memory, tunables: &Tunables, image: Option<&MemoryImageFile>) -> Result<LinearMemory, String> {
        if ty.minimum > ty.max_pages() || ty.maximum.is_some_and(|max| max < ty.minimum) {
            return Err(format!(
                "memory minimum of {} pages exceeds its maximum of {} pages",
                ty.minimum,
                ty.max_pages()
            ));
        }
        if let Some(max) = ty.maximum.filter(|max| *max > ty.page_limit()) {
            return Err(format!(
                "memory maximum of {max} pages exceeds the {} pages its addresses reach",
                ty.page_limit()
            ));
        }
        let len = usize::try_from(ty.minimum.saturating_mul(WASM_PAGE_SIZE))
            .map_err(|_| "memory minimum exceeds the address space")?;
        let reservation = if tunables.elides_bounds_check(&ty, 0, 0) {
            // Compiled code skips bounds checks because every 32-bit address lands in the
            // reservation or its guard: reserve all of it, whatever the memory's maximum.
            tunables.memory_reservation
        } else {
            tunables.memory_reservation.min(ty.max_bytes())
        };
        let reservation = usize::try_from(reservation).map_err(|_| "memory reservation too large")?;
        let reserved = round_up(if len > reservation {
            // A minimum beyond the reservation (a large 64-bit memory, or no reservation at
            // all) gets as much again for growth, as a grow that moves the memory does, so
            // that the next grow need not copy it all.
            len.saturating_mul(2).min(usize::try_from(ty.max_bytes()).unwrap_or(usize::MAX))
        } else {
            reservation
        });
        let guard = round_up(usize::try_from(tunables.memory_guard_size).map_err(|_| "memory guard too large")?);
        let own_definition = StoreBox::new(VMMemoryDefinition { base: VmPtr::dangling(), current_length: 0 });
        let mut m = LinearMemory {
            mmap: None,
            ty,
            len: 0,
            reserved: 0,
            guard,
            definition: own_definition.ptr(),
            _own_definition: own_definition,
        };
        m.remap(reserved, len)?;
        if let (Some(image), Some(mmap)) = (image, &m.mmap) {
            let end = image.offset.checked_add(image.len as u64).ok_or("memory image overflows")?;
            if end > len as u64 || !(image.offset as usize).is_multiple_of(page_size()) {
                return Err("memory image lies outside the memory's initial size".into());
            }
            let at = mmap.as_ptr().wrapping_add(image.offset as usize);
            // SAFETY: the image's range lies within the accessible part of this memory's own
            // mapping (checked above) and no Rust reference to its bytes exists yet.
            unsafe { image.map_at(at) }.map_err(|e| format!("cannot map memory image: {e}"))?;
        }
        Ok(m)
    }

    /// Map a fresh region reserving `reserved` bytes with `len` accessible, copying the old
    /// contents over.
    fn remap(&mut self, reserved: usize, len: usize) -> Result<(), String> {
        let total = reserved.checked_add(self.guard).ok_or("memory reservation overflows")?;
        let mmap = if total == 0 {
            None
        } else {
            let mut mmap = Mmap::reserve(total).map_err(|e| format!("cannot reserve memory: {e}"))?;
            mmap.make_read_write(0..round_up(len)).map_err(|e| format!("cannot commit memory: {e}"))?;
            Some(mmap)
        };
        if let (Some(old), Some(new)) = (&self.mmap, &mmap) {
            let n = self.len;
            // SAFETY: both ranges are accessible (the old memory's current size, and at least
            // that much of the new one) and belong to distinct mappings.
            unsafe { std::ptr::copy_nonoverlapping(old.as_ptr(), new.as_ptr(), n) };
        }
        self.mmap = mmap;
        self.reserved = reserved;
        self.len = len;
        self.publish();
        Ok(())
    }

    fn base(&self) -> VmPtr<u8> {
        self.mmap.as_ref().map_or(VmPtr::dangling(), |m| VmPtr::from(m.as_non_null()))
    }

    fn publish(&mut self) {
        let def = VMMemoryDefinition { base: self.base(), current_length: self.len as u64 };
        // SAFETY: `definition` points at `own_definition` or at the definition a vmctx holds
        // for this memory, which `set_definition`'s caller keeps alive as long as the memory.
        unsafe { self.definition.as_ptr().write(def) };
    }

    /// Keep the definition at `def` up to date from now on.
    ///
    /// # Safety
    /// `def` must be valid for writes and aligned for as long as this memory lives, and no
    /// Rust reference to it may be in use while the memory writes it (it sits in the vmctx
    /// of the instance that defines the memory, owned by the same store).
    pub unsafe fn set_definition(&mut self, def: VmPtr<VMMemoryDefinition>) {
        self.definition = def;
        self.publish();
    }

    /// Whether `addr` lies in this memory's mapping: its accessible bytes, the rest of its
    /// reservation, or its guard. Called from the signal handler.
    pub fn reservation_contains(&self, addr: usize) -> bool {
        let Some(m) = &self.mmap else { return false };
        let start = m.as_ptr() as usize;
        addr >= start && addr - start < self.reserved + self.guard
    }

    /// The definition compiled code reads.
    pub fn definition(&self) -> VmPtr<VMMemoryDefinition> {
        self.definition
    }

    /// The memory's type, with its current size as the minimum.
    pub fn ty(&self) -> Memory {
        Memory { minimum: self.pages(), ..self.ty }
    }

    /// Current size in pages.
    pub fn pages(&self) -> u64 {
        self.len as u64 / WASM_PAGE_SIZE
    }

    /// The memory's type as declared.
    pub fn declared(&self) -> Memory {
        self.ty
    }

    /// Grow by `delta` pages; returns the old size in pages, or why it cannot grow.
    pub fn grow(&mut self, delta: u64) -> Result<u64, String> {
        let old = self.pages();
        if delta == 0 {
            return Ok(old);
        }
        let new_pages =
            old.checked_add(delta).filter(|n| *n <= self.ty.max_pages()).ok_or("memory maximum size exceeded")?;
        let new_len = new_pages
            .checked_mul(WASM_PAGE_SIZE)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or("memory size exceeds the address space")?;
        if new_len <= self.reserved {
            let mmap = self.mmap.as_mut().ok_or("memory has no mapping")?;
            mmap.make_read_write(round_up(self.len)..round_up(new_len))
                .map_err(|e| format!("cannot commit memory: {e}"))?;
            self.len = new_len;
            self.publish();
        } else {
            // Move to a larger reservation (only without a 4 GiB reservation).
            let reserved = round_up(
                new_len
                    .max(self.reserved.saturating_mul(2))
                    .min(usize::try_from(self.ty.max_bytes()).unwrap_or(usize::MAX))
                    .max(new_len),
            );
            self.remap(reserved, new_len)?;
        }
        Ok(old)
    }

    /// The accessible bytes.
    pub fn data(&self) -> &[u8] {
        match &self.mmap {
            // SAFETY: the first `len` bytes are read-write (`remap` and `grow` make them so
            // before `len` covers them, and nothing makes them inaccessible again).
            Some(m) => unsafe { m.slice(0..self.len) },
            None => &[],
        }
    }

    /// The accessible bytes, for writing.
    pub fn data_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        match &mut self.mmap {
            // SAFETY: as in `data`.
            Some(m) => unsafe { m.slice_mut(0..len) },
            None => &mut [],
        }
    }
}
