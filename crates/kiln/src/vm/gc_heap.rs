//! `GcHeap`: a store's heap of GC objects (structs and arrays). One reservation of the
//! heap's limit (at most 4 GiB, what a 32-bit word reaches), of which the first `committed`
//! bytes are accessible: compiled code checks every field access against that bound. An
//! object's reference is its offset (a multiple of 8, never 0); objects and free blocks tile
//! the heap from offset 8 up to `top` (but for the unused rest of an open window), each
//! starting with the header `kiln_environ::gc_layout` describes (a free block's type is
//! `GC_FREE_TYPE`), and a bitmap marks where objects start, so that a word is taken for an
//! object only if one starts there. Compiled code allocates structs itself from a window the
//! heap lends it (see [`GcHeap::open_window`]), writing their headers and start bits as the
//! heap does, within the accessible bytes; only this heap and that code write headers.
//!
//! Allocation takes a free block of the exact size, else bumps through a large free block
//! (its rest kept a free block), else bumps `top`, else splits a smaller free block; when none fits, the store collects (mark-sweep: objects never move, so the
//! references on wasm's stack need no rewriting) and, if that left the heap more than half
//! full or still no room, the heap grows, doubling (or as little as serves, if the store's
//! limiter refuses that), up to its limit. Sweeping frees every
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

/// The bytes of the object-start bitmap of `heap` bytes of heap: whole pages.
fn starts_size(heap: usize) -> usize {
    heap.div_ceil(64).div_ceil(page_size()) * page_size()
}

/// A store's GC heap.
pub struct GcHeap {
    mmap: Mmap,
    committed: usize,
    limit: usize,
    top: u32,
    /// One bit per 8 bytes of the heap, bit `i % 8` of byte `i / 8` for the 8 bytes at
    /// `8 * i`: an object starts there. A reservation of its own (compiled code sets the bit
    /// of each object it allocates in the window), accessible as far as the heap is.
    starts: Mmap,
    /// How many bytes of `starts` are accessible.
    starts_committed: usize,
    /// The window compiled code allocates from by bumping (see [`GcHeap::open_window`]):
    /// its start, its end, and whether it came from the top (else from `region`).
    window: Option<(u32, u32, bool)>,
    /// Free blocks of each size up to [`SMALL`], by size / 8.
    small: Vec<Vec<u32>>,
    /// Larger free blocks, by size (a size with no block has no entry).
    large: BTreeMap<u32, Vec<u32>>,
    /// The free block being allocated from, from its first free byte to its end (what lies
    /// between has a free block's header).
    region: Option<(u32, u32)>,
    /// Bytes in objects after the last collection.
    live: usize,
}

impl GcHeap {
    /// A heap that may grow to `limit` bytes (at most 4 GiB), of which the first `initial`
    /// (a [`GcHeap::first_growth`]) are accessible.
    ///
    /// # Errors
    /// When the address space cannot be reserved.
    pub fn new(limit: u64, initial: usize) -> std::io::Result<GcHeap> {
        let limit = GcHeap::usable_limit(limit);
        let mut mmap = Mmap::reserve(limit)?;
        let committed = initial.clamp(page_size(), limit);
        mmap.make_read_write(0..committed)?;
        let mut starts = Mmap::reserve(starts_size(limit))?;
        let starts_committed = starts_size(committed);
        starts.make_read_write(0..starts_committed)?;
        Ok(GcHeap {
            mmap,
            committed,
            limit,
            top: FIRST,
            starts,
            starts_committed,
            window: None,
            small: vec![Vec::new(); SMALL as usize / 8 + 1],
            large: BTreeMap::new(),
            region: None,
            live: 0,
        })
    }

    /// The bytes a heap of limit `limit` may grow to: whole pages, at most 4 GiB.
    pub fn usable_limit(limit: u64) -> usize {
        let page = page_size();
        (usize::try_from(limit.min(1 << 32)).unwrap_or(usize::MAX) / page * page).max(page)
    }

    /// What a new heap of usable limit `limit` should make accessible, and the least that
    /// holds a first object of `size` bytes: `None` when no heap within the limit does.
    pub fn first_growth(limit: usize, size: u32) -> Option<[usize; 2]> {
        let page = page_size();
        let least = (FIRST as usize + size as usize).div_ceil(page) * page;
        (least <= limit).then(|| [INITIAL.min(limit).max(least), least])
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

    /// The `u32` at `at`; 0 outside the accessible bytes (the callers stay inside: only this
    /// heap writes headers, and compiled code writes nothing outside an object's fields).
    fn read(&self, at: u32) -> u32 {
        let at = at as usize;
        self.bytes().get(at..at + 4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn write(&mut self, at: u32, v: u32) {
        self.write_bytes(at, &v.to_le_bytes());
    }

    /// The accessible bytes of the object-start bitmap.
    fn starts(&self) -> &[u8] {
        // SAFETY: the first `starts_committed` bytes are readable and writable for as long as
        // the heap lives (they are only ever made more accessible); compiled code writes them
        // (through `starts_base`) only while wasm runs, when no borrow of the heap is live.
        unsafe { self.starts.slice(0..self.starts_committed) }
    }

    fn set_start(&mut self, word: u32, on: bool) {
        let bit = (word / 8) as usize;
        let (i, mask) = (bit / 8, 1u8 << (bit % 8));
        // SAFETY: as in `starts`.
        let starts = unsafe { self.starts.slice_mut(0..self.starts_committed) };
        if let Some(b) = starts.get_mut(i) {
            if on { *b |= mask } else { *b &= !mask }
        }
    }

    /// Whether an object starts at `word`.
    pub fn is_object(&self, word: u32) -> bool {
        let bit = (word / 8) as usize;
        word.is_multiple_of(8)
            && word >= FIRST
            && word < self.top
            && self.starts().get(bit / 8).is_some_and(|b| b & (1 << (bit % 8)) != 0)
    }

    /// The object-start bitmap's first byte, for compiled code to set the bits of the
    /// objects it allocates in the window.
    pub fn starts_base(&self) -> *mut u8 {
        self.starts.as_ptr()
    }

    /// Give compiled code a window to allocate from by bumping: the region being allocated
    /// from, else everything from the top to the accessible end (which the window reserves).
    /// Its start and end (equal when there is nothing to give). In the window, compiled code
    /// writes each object's header and start bit itself and needs no zeroed memory (it writes
    /// every field; the bytes between fields keep what they held, which nothing reads); what
    /// it left is given back by [`GcHeap::close_window`], which must come before anything
    /// else allocates, collects or sweeps. `None` when a window is open already: compiled
    /// code's place in it is in the store context, to be left as it is.
    pub fn open_window(&mut self) -> Option<(u32, u32)> {
        if self.window.is_some() {
            return None;
        }
        let window = match self.region.take() {
            Some((at, end)) if at < end => (at, end, false),
            _ if (self.top as usize) < self.committed => {
                let (at, end) = (self.top, u32::try_from(self.committed).unwrap_or(u32::MAX) & !7);
                self.top = end;
                (at, end, true)
            }
            _ => return Some((0, 0)),
        };
        self.window = Some(window);
        Some((window.0, window.1))
    }

    /// Take back the window, of which compiled code allocated up to `bump`: what is left of
    /// it becomes the top again, or the region.
    pub fn close_window(&mut self, bump: u64) {
        let Some((start, end, from_top)) = self.window.take() else { return };
        let bump = u32::try_from(bump).unwrap_or(end).clamp(start, end);
        if from_top {
            self.top = bump;
        } else if bump < end {
            // What is left stays a free block, for sweeping's walk.
            self.write(bump, GC_FREE_TYPE);
            self.write(bump + GC_INFO_OFFSET, end - bump);
            self.region = Some((bump, end));
        }
    }

    /// Take `size` bytes (a multiple of 8) from what is free or accessible, without
    /// collecting or growing: a free block of that size, else the bump region (a large free
    /// block being used up from its start), else the top, else a new bump region (the
    /// largest large free block), else a split smaller free block.
    fn take(&mut self, size: u32) -> Option<u32> {
        if size <= SMALL
            && let Some(at) = self.small[(size / 8) as usize].pop()
        {
            return Some(at);
        }
        loop {
            if let Some((at, end)) = self.region {
                if at + size <= end {
                    self.region = Some((at + size, end));
                    if at + size < end {
                        // What is left of the region stays a free block, for sweeping's walk.
                        self.write(at + size, GC_FREE_TYPE);
                        self.write(at + size + GC_INFO_OFFSET, end - at - size);
                    }
                    return Some(at);
                }
                // Too little is left: it goes back to the free lists.
                self.region = None;
                if at < end {
                    self.free_block(at, end - at);
                }
            }
            if let Some(end) = self.top.checked_add(size).filter(|end| *end as usize <= self.committed) {
                let at = self.top;
                self.top = end;
                return Some(at);
            }
            // The largest free block, if it is large enough (no size keeps an empty list).
            let Some(mut entry) = self.large.last_entry().filter(|e| *e.key() >= size) else { break };
            let block = *entry.key();
            let at = entry.get_mut().pop()?;
            if entry.get().is_empty() {
                entry.remove();
            }
            self.region = Some((at, at + block));
        }
        // Else split the smallest larger free block (its rest stays free).
        let class = (size / 8 + 1) as usize;
        let i = (class..self.small.len()).find(|i| !self.small[*i].is_empty())?;
        let at = self.small[i].pop()?;
        self.free_block(at + size, i as u32 * 8 - size);
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
        debug_assert!(self.window.is_none(), "allocating with the window open");
        let at = self.take(size)?;
        self.bytes_mut().get_mut(at as usize..(at + size) as usize)?.fill(0);
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

    /// How many bytes are accessible.
    pub fn committed(&self) -> usize {
        self.committed
    }

    /// The most bytes it may grow to.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// What growing for an object of `size` bytes should make accessible (twice as much,
    /// or enough for it at the top, up to the limit), and the least that makes room for it
    /// at the top: `None` when the limit leaves no room for it.
    pub fn growth(&self, size: u32) -> Option<[usize; 2]> {
        let page = page_size();
        let needed = (self.top as usize + size as usize).div_ceil(page) * page;
        let least = needed.max(self.committed + page);
        (least <= self.limit).then(|| [(self.committed * 2).max(least).min(self.limit), least])
    }

    /// Make the first `new` bytes of the reservation accessible (a [`GcHeap::growth`]).
    /// False when the system refuses.
    pub fn grow_to(&mut self, new: usize) -> bool {
        let starts = starts_size(new);
        if new <= self.committed
            || new > self.limit
            || self.starts.make_read_write(self.starts_committed..starts).is_err()
            || self.mmap.make_read_write(self.committed..new).is_err()
        {
            return false;
        }
        self.committed = new;
        self.starts_committed = starts;
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

    /// The `size` bytes at `at` (at most 16), zero-extended; 0 outside the accessible bytes.
    pub fn read_field(&self, at: u32, size: u32) -> u128 {
        let (at, size) = (at as usize, (size as usize).min(16));
        let mut bytes = [0u8; 16];
        if let Some(src) = self.bytes().get(at..at + size) {
            bytes[..size].copy_from_slice(src);
        }
        u128::from_le_bytes(bytes)
    }

    /// Write the low `size` bytes of `bits` at `at` (a field of an object the caller made).
    pub fn write_field(&mut self, at: u32, size: u32, bits: u128) {
        let bytes = bits.to_le_bytes();
        self.write_bytes(at, &bytes[..(size as usize).min(bytes.len())]);
    }

    /// Write `bytes` at `at` (elements of an array the caller checked).
    pub fn write_bytes(&mut self, at: u32, bytes: &[u8]) {
        let at = at as usize;
        if let Some(dst) = self.bytes_mut().get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    }

    /// Copy `len` bytes from `src` to `dst` (ranges the caller checked; they may overlap).
    pub fn copy_within(&mut self, src: u32, dst: u32, len: u32) {
        let (src, dst, len) = (src as usize, dst as usize, len as usize);
        let heap = self.bytes_mut();
        if src.max(dst) + len <= heap.len() {
            heap.copy_within(src..src + len, dst);
        }
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
        debug_assert!(self.window.is_none(), "sweeping with the window open");
        for list in &mut self.small {
            list.clear();
        }
        self.large.clear();
        // The region's rest is a free block the walk meets.
        self.region = None;
        let mut live = 0usize;
        let mut run: Option<(u32, u32)> = None;
        let mut at = FIRST;
        while at < self.top {
            let (ty, info) = self.header(at);
            let size = info & !(MARK | GC_ARRAY_BIT);
            if size < GC_HEADER_SIZE || !size.is_multiple_of(8) {
                // Only this heap and the window's allocations write headers; stop rather than
                // walk garbage.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeping_frees_the_unmarked_merges_them_and_reuses_the_room() {
        let mut heap = GcHeap::new(1 << 20, INITIAL).unwrap();
        let a = heap.allocate(7, 16, None).unwrap();
        let b = heap.allocate(7, 24, Some(2)).unwrap();
        let c = heap.allocate(7, 16, None).unwrap();
        assert_eq!((a, b, c), (8, 24, 48));
        assert!(heap.is_object(b) && !heap.is_object(b + 8) && !heap.is_object(0));
        assert_eq!(heap.header(b), (7, 24 | GC_ARRAY_BIT));
        assert_eq!(heap.array_length(b), 2);
        // Keep only `c`: `a` and `b` merge into one free block of 40 bytes.
        assert!(heap.mark(c) && !heap.mark(c), "marked once");
        heap.sweep();
        assert!(!heap.is_object(a) && !heap.is_object(b) && heap.is_object(c));
        assert_eq!(heap.header(a), (GC_FREE_TYPE, 40));
        // The merged block is taken whole by an object of its size.
        assert_eq!(heap.allocate(7, 40, None), Some(a));
        // Nothing is marked now: a sweep frees everything and gives it all back to the top.
        heap.sweep();
        assert!(!heap.crowded());
        assert_eq!(heap.allocate(7, 8, None), Some(FIRST));
    }

    #[test]
    fn a_full_heap_splits_a_larger_free_block() {
        let page = page_size() as u32;
        let mut heap = GcHeap::new(u64::from(page), INITIAL).unwrap();
        let objects: Vec<u32> = std::iter::from_fn(|| heap.allocate(7, 64, None)).collect();
        assert_eq!(objects.len() as u32, (page - FIRST) / 64);
        // Free one in the middle.
        for (i, o) in objects.iter().enumerate() {
            if i != 10 {
                heap.mark(*o);
            }
        }
        heap.sweep();
        // What is left at the top goes first, then the free block is split.
        let left = page - FIRST - objects.len() as u32 * 64;
        let at_top: Vec<u32> = (0..left / 24).map(|_| heap.allocate(7, 24, None).unwrap()).collect();
        assert!(at_top.iter().all(|a| *a > objects[objects.len() - 1]));
        assert_eq!(heap.allocate(7, 24, None), Some(objects[10]));
        assert_eq!(heap.header(objects[10] + 24), (GC_FREE_TYPE, 40));
        assert_eq!(heap.allocate(7, 40, None), Some(objects[10] + 24));
        assert_eq!(heap.allocate(7, left % 24, None), Some(page - left % 24), "the last bytes at the top");
        assert_eq!(heap.allocate(7, 8, None), None, "full");
    }

    /// What compiled code does in a window: bump, write the header and the start bit.
    fn bump(heap: &mut GcHeap, at: &mut u32, ty: u32, size: u32) -> u32 {
        let word = *at;
        heap.write(word, ty);
        heap.write(word + GC_INFO_OFFSET, size);
        heap.set_start(word, true);
        *at += size;
        word
    }

    #[test]
    fn windows_from_the_top_and_from_a_free_block_give_back_what_they_left() {
        let mut heap = GcHeap::new(1 << 20, INITIAL).unwrap();
        // From the top: it reserves everything accessible, and gives back the rest.
        let (start, end) = heap.open_window().unwrap();
        assert_eq!((start, end as usize), (FIRST, INITIAL));
        assert_eq!(heap.open_window(), None, "one window at a time");
        let mut at = start;
        let objects: Vec<u32> = (0..8).map(|_| bump(&mut heap, &mut at, 7, 32)).collect();
        assert!(objects.iter().all(|o| heap.is_object(*o)) && !heap.is_object(at));
        heap.close_window(u64::from(at));
        assert_eq!(heap.top, at);
        assert_eq!(heap.allocate(7, 16, None), Some(at), "the heap goes on where the window stopped");
        // Keep every other object: the sweep walks the window's objects and frees the rest.
        for o in objects.iter().step_by(2) {
            heap.mark(*o);
        }
        heap.mark(at);
        heap.sweep();
        assert_eq!(heap.live, 4 * 32 + 16);
        assert!(objects.iter().step_by(2).all(|o| heap.is_object(*o)));
        assert!(objects.iter().skip(1).step_by(2).all(|o| !heap.is_object(*o)));
        // From a free block (the region being allocated from): the rest stays a free block
        // that a sweep walks.
        let last = at;
        let big = heap.allocate(7, 1024, None).unwrap();
        let keeper = heap.allocate(7, 16, None).unwrap();
        for o in objects.iter().step_by(2).chain([&last, &keeper]) {
            heap.mark(*o);
        }
        heap.sweep();
        assert_eq!(heap.large.get(&1024).map(Vec::as_slice), Some(&[big][..]));
        heap.large.clear();
        heap.region = Some((big, big + 1024));
        assert_eq!(heap.open_window(), Some((big, big + 1024)));
        let mut at = big;
        let inside = bump(&mut heap, &mut at, 7, 64);
        heap.close_window(u64::from(at));
        assert_eq!(heap.region, Some((big + 64, big + 1024)));
        heap.mark(inside);
        heap.mark(keeper);
        heap.sweep();
        assert!(heap.is_object(inside) && heap.is_object(keeper));
        assert_eq!(heap.large.get(&960).map(Vec::as_slice), Some(&[big + 64][..]), "the rest is free again");
        assert_eq!(heap.region, None, "a sweep starts over");
    }

    #[test]
    fn growing_stops_at_the_limit() {
        let page = page_size();
        let mut heap = GcHeap::new((INITIAL + 2 * page) as u64, INITIAL).unwrap();
        assert_eq!(heap.bound(), INITIAL as u64);
        assert_eq!(heap.growth(8), Some([INITIAL + 2 * page, INITIAL + page]), "doubling, up to the limit");
        assert_eq!(heap.growth((INITIAL + 2 * page) as u32), None, "no room for it within the limit");
        assert!(heap.grow_to(INITIAL + 2 * page));
        assert_eq!(heap.bound(), (INITIAL + 2 * page) as u64);
        assert_eq!(heap.growth(8), None, "at its limit");
        assert!(!heap.grow_to(INITIAL + 3 * page));
        let limit = INITIAL + page;
        assert_eq!(GcHeap::first_growth(limit, 8), Some([INITIAL, page]));
        assert_eq!(GcHeap::first_growth(limit, INITIAL as u32), Some([INITIAL + page, INITIAL + page]));
        assert_eq!(GcHeap::first_growth(limit, limit as u32), None);
    }
}
