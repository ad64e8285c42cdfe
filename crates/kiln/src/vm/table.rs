//! `TableStorage`: a wasm table's element words and the `VMTableDefinition` compiled code
//! reads, kept up to date like a memory's. A word holds a reference ([`RawRef`]: a
//! `VMFuncRef` address for funcref tables, the word of an externref or anyref for the other
//! tables; 0 is null). With lazy initialization, the words of funcref tables are *encoded* as compiled
//! code expects: 0 is "not yet initialized" (the store fills it from the table's image on
//! first read) and any other word is the reference with bit 0 set. The methods here take
//! and return decoded references.
//!
//! The words live in an anonymous mapping: pages of null elements cost nothing until they are
//! written, and a table the host cannot allocate is an error, never an abort. Compiled code
//! reads and writes the words through the definition's base pointer, so the runtime does too:
//! every access goes through a raw pointer into the mapping, never through a reference to the
//! whole buffer that would claim it exclusively.
use super::ids::InstanceId;
use super::mmap::{Mmap, page_size};
use super::store_box::StoreBox;
use super::val_raw::RawRef;
use super::vm_ptr::VmPtr;
use super::vmcontext::VMTableDefinition;
use kiln_environ::{FuncIndex, SharedTypeIndex, Table};
use std::sync::Arc;

/// The precomputed initial contents of a lazily initialized table: the functions of
/// `instance` its elements refer to.
#[derive(Clone)]
pub struct LazyImage {
    /// The instance whose functions the elements are.
    pub instance: InstanceId,
    /// Each element's function, or `None` for null.
    pub elements: Arc<[Option<FuncIndex>]>,
}

/// The most elements Kiln lets a table have.
const LIMIT: u64 = 10_000_000;

/// A table's element words: `len` of them, in a mapping with room for `capacity`. Words
/// past `len` are zero (a table never shrinks, so they were never written).
struct Words {
    mmap: Option<Mmap>,
    len: usize,
    capacity: usize,
}

impl Words {
    /// `len` zero words.
    fn zeroed(len: usize) -> Result<Words, String> {
        let mut words = Words { mmap: None, len: 0, capacity: 0 };
        words.grow_to(len)?;
        Ok(words)
    }

    /// Make the table `len` words long (not shorter); the new words are zero.
    fn grow_to(&mut self, len: usize) -> Result<(), String> {
        debug_assert!(len >= self.len);
        if len > self.capacity {
            let capacity = len.max(self.capacity.saturating_mul(2)).min(LIMIT as usize).max(len);
            let bytes = capacity
                .checked_mul(size_of::<usize>())
                .map(|b| b.div_ceil(page_size()) * page_size())
                .ok_or("table too large")?;
            let mmap =
                Mmap::read_write(bytes).map_err(|e| format!("cannot allocate a table of {len} elements: {e}"))?;
            if let Some(old) = &self.mmap {
                // SAFETY: the old mapping holds `self.len` words, the new one at least as
                // many; they are distinct mappings.
                unsafe { std::ptr::copy_nonoverlapping(old.as_ptr().cast::<usize>(), mmap.as_ptr().cast(), self.len) };
            }
            self.mmap = Some(mmap);
            self.capacity = bytes / size_of::<usize>();
        }
        self.len = len;
        Ok(())
    }

    /// The first word (dangling, but aligned and non-null, when there is no mapping).
    fn as_ptr(&self) -> *mut usize {
        self.mmap.as_ref().map_or(std::ptr::NonNull::dangling().as_ptr(), |m| m.as_ptr().cast())
    }
}

/// A table.
pub struct TableStorage {
    words: Words,
    ty: Table<SharedTypeIndex>,
    /// Whether elements are encoded (see the module docs).
    encoded: bool,
    image: Option<LazyImage>,
    /// The definition compiled code reads; `own_definition` until a vmctx holds it.
    definition: VmPtr<VMTableDefinition>,
    _own_definition: StoreBox<VMTableDefinition>,
}

impl TableStorage {
    /// A table of type `ty` with its minimum size, every element `init`; `encoded` says
    /// whether its elements use the lazy-initialization encoding.
    ///
    /// # Errors
    /// When the type's limits are inconsistent or exceed Kiln's limit of elements.
    pub fn new(ty: Table<SharedTypeIndex>, init: RawRef, encoded: bool) -> Result<TableStorage, String> {
        if ty.maximum.is_some_and(|max| max < ty.minimum) {
            return Err(format!("table minimum of {} exceeds its maximum", ty.minimum));
        }
        if ty.maximum.is_some_and(|max| max > ty.index_type.max_value()) {
            return Err(format!("table maximum of {} exceeds what its indices reach", ty.maximum.unwrap_or(0)));
        }
        if ty.minimum > LIMIT {
            return Err(format!("table minimum {} exceeds Kiln's limit of {LIMIT} elements", ty.minimum));
        }
        let own_definition = StoreBox::new(VMTableDefinition { base: VmPtr::dangling(), current_elements: 0 });
        let mut t = TableStorage {
            words: Words::zeroed(ty.minimum as usize)?,
            ty,
            encoded,
            image: None,
            definition: own_definition.ptr(),
            _own_definition: own_definition,
        };
        let word = t.encode(init);
        if word != 0 {
            t.fill_words(0, t.words.len, word);
        }
        t.publish();
        Ok(t)
    }

    fn publish(&mut self) {
        let base = VmPtr::from(std::ptr::NonNull::new(self.words.as_ptr()).unwrap_or(std::ptr::NonNull::dangling()));
        let def = VMTableDefinition { base, current_elements: self.words.len as u64 };
        // SAFETY: `definition` points at `own_definition` or at the definition a vmctx holds
        // for this table, which `set_definition`'s caller keeps alive as long as the table.
        unsafe { self.definition.as_ptr().write(def) };
    }

    /// Keep the definition at `def` up to date from now on.
    ///
    /// # Safety
    /// `def` must be valid for writes and aligned for as long as this table lives, and no
    /// Rust reference to it may be in use while the table writes it (it sits in the vmctx of
    /// the instance that defines the table, owned by the same store).
    pub unsafe fn set_definition(&mut self, def: VmPtr<VMTableDefinition>) {
        self.definition = def;
        self.publish();
    }

    /// The definition compiled code reads.
    pub fn definition(&self) -> VmPtr<VMTableDefinition> {
        self.definition
    }

    /// The table's type with its current size as the minimum.
    pub fn ty(&self) -> Table<SharedTypeIndex> {
        Table { minimum: self.words.len as u64, ..self.ty }
    }

    /// Make every element "not yet initialized", to be filled from `image` on first read.
    pub fn set_lazy_image(&mut self, image: LazyImage) {
        debug_assert!(self.encoded);
        self.fill_words(0, self.words.len, 0);
        self.image = Some(image);
    }

    /// The image uninitialized elements come from.
    pub fn image(&self) -> Option<&LazyImage> {
        self.image.as_ref()
    }

    /// The number of elements.
    pub fn len(&self) -> u64 {
        self.words.len as u64
    }

    /// The range `start..start + len` of elements, if it lies in the table.
    fn range(&self, start: u64, len: u64) -> Option<std::ops::Range<usize>> {
        let end = start.checked_add(len).filter(|end| *end <= self.len())?;
        Some(start as usize..end as usize)
    }

    /// Element `i`: `None` past the end, `Some(None)` when not yet initialized.
    pub fn get(&self, i: u64) -> Option<Option<RawRef>> {
        let range = self.range(i, 1)?;
        let slot = self.words.as_ptr().wrapping_add(range.start);
        // SAFETY: in bounds (checked by `range`); a read through the buffer's raw pointer.
        let word = unsafe { slot.read() };
        Some(match (self.encoded, word) {
            (false, word) => Some(RawRef::from_word(word)),
            (true, 0) => None,
            (true, word) => Some(RawRef::from_word(word & !1)),
        })
    }

    /// Set element `i` (which must exist) to `value`.
    ///
    /// # Panics
    /// If `i` is out of bounds.
    pub fn set(&mut self, i: u64, value: RawRef) {
        self.write(i, &[value]);
    }

    /// Set elements `dst..dst + values.len()`, which must exist.
    ///
    /// # Panics
    /// If the range is out of bounds: callers check bounds first, as the spec orders.
    pub fn write(&mut self, dst: u64, values: &[RawRef]) {
        let range = self.range(dst, values.len() as u64).expect("table write out of bounds");
        let base = self.words.as_ptr();
        for (i, v) in range.zip(values) {
            let word = self.encode(*v);
            let slot = base.wrapping_add(i);
            // SAFETY: `i` is in bounds (checked by `range`).
            unsafe { slot.write(word) };
        }
    }

    /// Set elements `dst..dst + len`, which must exist, to `value`.
    ///
    /// # Panics
    /// If the range is out of bounds.
    pub fn fill(&mut self, dst: u64, len: u64, value: RawRef) {
        let range = self.range(dst, len).expect("table fill out of bounds");
        let word = self.encode(value);
        self.fill_words(range.start, range.len(), word);
    }

    fn fill_words(&mut self, start: usize, len: usize, word: usize) {
        assert!(start + len <= self.words.len);
        let base = self.words.as_ptr();
        for i in start..start + len {
            let slot = base.wrapping_add(i);
            // SAFETY: in bounds (asserted above).
            unsafe { slot.write(word) };
        }
    }

    fn encode(&self, value: RawRef) -> usize {
        if self.encoded { value.word() | 1 } else { value.word() }
    }

    /// Every reference the table holds, if its elements are traced (not functions), for a
    /// collection.
    pub fn traced_references(&self) -> impl Iterator<Item = RawRef> + '_ {
        let len = if self.ty.element_type().is_traced() { self.len() } else { 0 };
        (0..len).filter_map(|i| self.get(i).flatten())
    }

    /// Grow by `delta` elements set to `init`; the old size, or why it cannot grow (its
    /// maximum, Kiln's limit, or the host's memory).
    pub fn grow(&mut self, delta: u64, init: RawRef) -> Result<u64, String> {
        let word = self.encode(init);
        let old = self.len();
        let new = old.checked_add(delta).filter(|n| *n <= self.ty.max_size()).ok_or("table maximum size exceeded")?;
        if new > LIMIT {
            return Err(format!("table size exceeds Kiln's limit of {LIMIT} elements"));
        }
        self.words.grow_to(new as usize)?;
        if word != 0 {
            self.fill_words(old as usize, delta as usize, word);
        }
        self.publish();
        Ok(old)
    }
}
