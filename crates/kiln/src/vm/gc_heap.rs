//! `GcHeap`: a store's heap of GC objects (structs and arrays). One reservation of the
//! heap's limit (at most 4 GiB, what a 32-bit word reaches), of which the first `committed`
//! bytes are accessible: compiled code checks every access against that bound. An object's
//! reference is its offset (a multiple of 8, never 0); objects and free blocks tile the
//! heap from offset 8 up to `top`, each starting with the header `kiln_environ::gc_layout`
//! describes (a free block's type is `GC_FREE_TYPE`), and a bitmap marks where objects
//! start, so that a word is taken for an object only if one starts there.
//!
//! Allocation takes a free block of the exact size, else bumps `top`, else splits a larger
//! free block; when none fits, the store collects (mark-sweep: objects never move, so the
//! references on wasm's stack need no rewriting) and, if that left the heap more than half
//! full or still no room, the heap grows, doubling, up to its limit. Sweeping frees every
//! unmarked object, merges neighbouring free blocks and gives the end of the heap back to
//! `top`.
use super::mmap::{Mmap, page_size};
use kiln_environ::{GC_ARRAY_BIT, GC_ARRAY_LENGTH_OFFSET, GC_FREE_TYPE, GC_HEADER_SIZE, GC_INFO_OFFSET};
use std::collections::BTreeMap;

/// Where the first object goes (0 is null).
const FIRST: u32 = 8;
/// Free blocks up to this size are kept by exact size.
const SMALL: u32 = 256;
/// What a new heap starts with accessible.
const INITIAL: usize = 256 << 10;
/// The mark bit of the collector's word.
const MARK: u32 = 1;

/// A store's GC heap.
pub struct GcHeap {
    mmap: Mmap,
    committed: usize,
    limit: usize,
    top: u32,
    /// One bit per 8 bytes of the committed heap: an object starts there.
    starts: Vec<u64>,
    /// Free blocks of each size up to [`SMALL`], by size / 8.
    small: Vec<Vec<u32>>,
    /// Larger free blocks, by size.
    large: BTreeMap<u32, Vec<u32>>,
    /// Bytes in objects after the last collection.
    live: usize,
}

impl GcHeap {
    /// A heap that may grow to `limit` bytes (at most 4 GiB).
    ///
    /// # Errors
    /// When the address space cannot be reserved.
    pub fn new(limit: u64) -> std::io::Result<GcHeap> {
        let page = page_size();
        let limit = (usize::try_from(limit.min(1 << 32)).unwrap_or(usize::MAX) / page * page).max(page);
        let mut mmap = Mmap::reserve(limit)?;
        let committed = INITIAL.min(limit);
        mmap.make_read_write(0..committed)?;
        Ok(GcHeap {
            mmap,
            committed,
            limit,
            top: FIRST,
            starts: vec![0; committed.div_ceil(512)],
            small: vec![Vec::new(); SMALL as usize / 8 + 1],
            large: BTreeMap::new(),
            live: 0,
        })
    }

    /// The heap's first byte.
    pub fn base(&self) -> *mut u8 {
        self.mmap.as_ptr()
    }

    /// How many bytes from the base are accessible.
    pub fn bound(&self) -> u64 {
        self.committed as u64
    }

    /// The accessible bytes.
    fn bytes(&self) -> &[u8] {
        // SAFETY: the first `committed` bytes are readable and writable for as long as the
        // heap lives (they are only ever made more accessible).
        unsafe { self.mmap.slice(0..self.committed) }
    }

    /// The accessible bytes, for writing.
    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`.
        unsafe { self.mmap.slice_mut(0..self.committed) }
    }

    fn read(&self, at: u32) -> u32 {
        let at = at as usize;
        let b = &self.bytes()[at..at + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    fn write(&mut self, at: u32, v: u32) {
        let at = at as usize;
        self.bytes_mut()[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn set_start(&mut self, word: u32, on: bool) {
        let bit = (word / 8) as usize;
        let (i, mask) = (bit / 64, 1u64 << (bit % 64));
        if on { self.starts[i] |= mask } else { self.starts[i] &= !mask }
    }

    /// Whether an object starts at `word`.
    pub fn is_object(&self, word: u32) -> bool {
        let bit = (word / 8) as usize;
        word.is_multiple_of(8)
            && word >= FIRST
            && word < self.top
            && self.starts.get(bit / 64).is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }

    /// Take `size` bytes (a multiple of 8) from what is free or accessible, without
    /// collecting or growing.
    fn take(&mut self, size: u32) -> Option<u32> {
        if size <= SMALL
            && let Some(at) = self.small[(size / 8) as usize].pop()
        {
            return Some(at);
        }
        if let Some(end) = self.top.checked_add(size).filter(|end| *end as usize <= self.committed) {
            let at = self.top;
            self.top = end;
            return Some(at);
        }
        // The smallest larger block that leaves no remainder, or room for a free block.
        let (&block, _) =
            self.large.range(size..).find(|(b, list)| !list.is_empty() && (**b == size || **b >= size + 8))?;
        let at = self.large.get_mut(&block)?.pop()?;
        if block > size {
            self.free_block(at + size, block - size);
        }
        Some(at)
    }

    /// Record `[at, at + size)` as a free block.
    fn free_block(&mut self, at: u32, size: u32) {
        self.write(at, GC_FREE_TYPE);
        self.write(at + GC_INFO_OFFSET, size);
        if size <= SMALL {
            self.small[(size / 8) as usize].push(at);
        } else {
            self.large.entry(size).or_default().push(at);
        }
    }

    /// A new zeroed object of `size` bytes (a multiple of 8, at least the header) and canonical
    /// type `ty`, an array of `length` elements when `array`; `None` when nothing free fits.
    pub fn allocate(&mut self, ty: u32, size: u32, array: Option<u32>) -> Option<u32> {
        let at = self.take(size)?;
        self.bytes_mut()[at as usize..(at + size) as usize].fill(0);
        self.write(at, ty);
        self.write(at + GC_INFO_OFFSET, size | if array.is_some() { GC_ARRAY_BIT } else { 0 });
        if let Some(length) = array {
            self.write(at + GC_ARRAY_LENGTH_OFFSET, length);
        }
        self.set_start(at, true);
        Some(at)
    }

    /// Whether, after a collection, the heap should grow before the next: more than half of
    /// what is accessible is live.
    pub fn crowded(&self) -> bool {
        self.live * 2 > self.committed
    }

    /// Make more of the reservation accessible: twice as much, or enough for `size` more
    /// bytes at the top, up to the limit. False when it is at its limit (or the host refuses).
    pub fn grow(&mut self, size: u32) -> bool {
        let page = page_size();
        let needed = (self.top as usize + size as usize).div_ceil(page) * page;
        let new = (self.committed * 2).max(needed).min(self.limit);
        if new <= self.committed || self.mmap.make_read_write(self.committed..new).is_err() {
            return false;
        }
        self.committed = new;
        self.starts.resize(new.div_ceil(512), 0);
        true
    }

    /// The type and collector's word of the object at `word`.
    pub fn header(&self, word: u32) -> (u32, u32) {
        (self.read(word), self.read(word + GC_INFO_OFFSET))
    }

    /// An array's length.
    pub fn array_length(&self, word: u32) -> u32 {
        self.read(word + GC_ARRAY_LENGTH_OFFSET)
    }

    /// The 32-bit word at `at` (an object's field).
    pub fn word_at(&self, at: u32) -> u32 {
        self.read(at)
    }

    /// Write the low `size` bytes of `bits` at `at` (a field of an object the caller made).
    pub fn write_field(&mut self, at: u32, size: u32, bits: u128) {
        let at = at as usize;
        let size = size as usize;
        self.bytes_mut()[at..at + size].copy_from_slice(&bits.to_le_bytes()[..size]);
    }

    /// Write `bytes` at `at` (elements of an array the caller checked).
    pub fn write_bytes(&mut self, at: u32, bytes: &[u8]) {
        let at = at as usize;
        self.bytes_mut()[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// Copy `len` bytes from `src` to `dst` (ranges the caller checked; they may overlap).
    pub fn copy_within(&mut self, src: u32, dst: u32, len: u32) {
        let (src, dst, len) = (src as usize, dst as usize, len as usize);
        self.bytes_mut().copy_within(src..src + len, dst);
    }

    /// Mark the object at `word`: whether it was not marked yet (and is an object).
    pub fn mark(&mut self, word: u32) -> bool {
        if !self.is_object(word) {
            return false;
        }
        let info = self.read(word + GC_INFO_OFFSET);
        if info & MARK != 0 {
            return false;
        }
        self.write(word + GC_INFO_OFFSET, info | MARK);
        true
    }

    /// Free every unmarked object and unmark the others; merge free neighbours, and give the
    /// free end of the heap back to `top`.
    pub fn sweep(&mut self) {
        for list in &mut self.small {
            list.clear();
        }
        self.large.clear();
        let mut live = 0usize;
        let mut run: Option<(u32, u32)> = None;
        let mut at = FIRST;
        while at < self.top {
            let (ty, info) = self.header(at);
            let size = info & !(MARK | GC_ARRAY_BIT);
            if size < GC_HEADER_SIZE || !size.is_multiple_of(8) {
                // Nothing but this heap writes headers; stop rather than walk garbage.
                log::error!("GC heap header at {at:#x} with size {size}; the rest is not swept");
                break;
            }
            let free = ty == GC_FREE_TYPE || info & MARK == 0;
            if free {
                if ty != GC_FREE_TYPE {
                    self.set_start(at, false);
                }
                run = Some(match run {
                    Some((start, len)) => (start, len + size),
                    None => (at, size),
                });
            } else {
                self.write(at + GC_INFO_OFFSET, info & !MARK);
                live += size as usize;
                if let Some((start, len)) = run.take() {
                    self.free_block(start, len);
                }
            }
            at += size;
        }
        if let Some((start, _)) = run {
            self.top = start;
        }
        self.live = live;
    }
}
