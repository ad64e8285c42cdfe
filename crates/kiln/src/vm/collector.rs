//! The store's collector: one mark-sweep collection over every reference but functions —
//! the slab's externrefs and exceptions and the GC heap's objects — and GC allocation.
//!
//! The roots are the references on the suspended wasm stack (`stack_roots`), in tables and
//! globals, in flight (an exception's payload being made, a constant expression's operands),
//! the host's roots (`gc_root::RootSet`: its `Rooted`s and `OwnedRooted`s of every kind),
//! and the exceptions whose `ExnRef` the host holds (a slab value with another clone). Marking follows a worklist, never recursion (an object graph is the guest's):
//! a word says what it is (`RawRef`), a marked exception gives its payload's references, a
//! marked object its traced fields (its type's layout, by the id in its header). Then the
//! slab frees what is unmarked and unheld, and the heap sweeps.
//!
//! An allocation that finds no room collects (so it may run while wasm waits in the
//! `gc_alloc` builtin), then grows the heap if it is crowded or still full, up to the
//! `gc-heap-max` tunable and as the store's resource limiter allows (asked as for a memory);
//! past that it fails, and the code traps with `GcHeapOutOfMemory`.
use super::gc_heap::GcHeap;
use super::limits::{self, Limiter};
use super::store::StoreOpaque;
use super::val_raw::RawRef;
use crate::Error;
use cranelift_entity::SecondaryMap;
use kiln_environ::{GcLayout, SharedTypeIndex};
use std::sync::Arc;

/// What a store's collector keeps.
#[derive(Default)]
pub struct GcState {
    /// The heap, made at the first allocation.
    pub heap: Option<GcHeap>,
    /// The layouts of the types the store met objects of (allocating them, or marking what
    /// compiled code allocated), by canonical id (a dense map: every allocation through the
    /// runtime looks its type up).
    layouts: SecondaryMap<SharedTypeIndex, Option<Arc<GcLayout>>>,
    /// The host's roots (`Rooted`, `OwnedRooted`).
    pub roots: crate::gc_root::RootSet,
    /// The types the host allocated objects of, which the store holds (see `hold_gc_type`).
    pub held_types: std::collections::HashSet<SharedTypeIndex>,
}

impl StoreOpaque {
    /// Collect: release every reference that neither wasm nor the host can reach.
    pub fn gc(&mut self) {
        self.gc_keeping(std::iter::empty());
    }

    /// Collect as [`StoreOpaque::gc`] does when enough slab references accumulated since the
    /// last collection.
    pub fn maybe_gc(&mut self) {
        if self.externs.wants_gc() {
            self.gc();
        }
    }

    /// [`StoreOpaque::gc`], keeping `extra` too: references in flight that no root holds.
    pub fn gc_keeping(&mut self, extra: impl IntoIterator<Item = RawRef>) {
        self.close_gc_window();
        self.collect(extra);
        self.open_gc_window();
    }

    /// [`StoreOpaque::gc_keeping`], with the heap's window closed.
    fn collect(&mut self, extra: impl IntoIterator<Item = RawRef>) {
        let mut work: Vec<usize> = extra.into_iter().map(RawRef::any_word).collect();
        super::stack_roots::for_each_stack_root(self, |r| work.push(r.any_word()));
        for table in self.tables.values() {
            work.extend(table.traced_references().map(RawRef::any_word));
        }
        for (g, data) in self.globals() {
            if data.ty.ty.is_traced() {
                work.push(self.global_get(g).to_ref().any_word());
            }
        }
        for instance in self.instances.values() {
            work.extend(instance.gc_elements.values().flat_map(|items| items.iter().map(|r| r.any_word())));
        }
        work.extend(self.externs.held_by_host().map(|s| RawRef::extern_ref(Some(s)).any_word()));
        work.extend(self.gc.roots.words());

        let mut slab = self.externs.marks();
        while let Some(word) = work.pop() {
            let r = RawRef::any(word);
            if let Some(slot) = r.as_extern() {
                if slab.mark(slot) {
                    work.extend(self.externs.references_of(slot).into_iter().map(RawRef::any_word));
                }
                continue;
            }
            // An object: a nonzero word with the low bits clear, below 4 GiB.
            let Some(heap) = self.gc.heap.as_mut() else { continue };
            let Ok(object) = u32::try_from(word) else { continue };
            if word & 3 != 0 || !heap.mark(object) {
                continue;
            }
            let ty = SharedTypeIndex::from_u32(heap.header(object).0);
            // Compiled code allocates without asking the store: the first object of a type
            // met here may be the store's first news of it.
            let known = self.gc.layouts.get(ty).is_some_and(Option::is_some);
            if !known && self.gc_layout(ty).is_none() {
                log::error!("a GC object of type {ty:?}, which no one registered");
                continue;
            }
            let (Some(Some(layout)), Some(heap)) = (self.gc.layouts.get(ty), self.gc.heap.as_ref()) else { continue };
            match &**layout {
                GcLayout::Struct { fields, .. } => {
                    for f in fields.iter().filter(|f| f.traced) {
                        work.push(heap.word_at(object + f.offset) as usize);
                    }
                }
                GcLayout::Array { element } if element.traced => {
                    let length = heap.array_length(object);
                    for i in 0..length {
                        work.push(heap.word_at(object + element.offset + i * element.size) as usize);
                    }
                }
                GcLayout::Array { .. } => {}
            }
        }
        self.externs.sweep(slab);
        if let Some(heap) = self.gc.heap.as_mut() {
            heap.sweep();
        }
    }

    /// Whether the non-null word `word` of the `any` hierarchy is of heap type `heap`, as
    /// `ref.test` would say (for the host's checks of what it passes to wasm, and its casts).
    pub fn any_is_of(&self, word: usize, heap: kiln_environ::WasmHeapType<SharedTypeIndex>) -> bool {
        use kiln_environ::{TypeKind, WasmHeapType as H};
        if word & 1 == 1 {
            return H::I31.is_subtype_of(heap, |_, _| false);
        }
        let object =
            self.gc.heap.as_ref().zip(u32::try_from(word).ok()).filter(|(h, w)| word & 3 == 0 && h.is_object(*w));
        let Some((heap_ref, object)) = object else {
            // An internalized externref: only `any` holds it.
            return heap == H::Any;
        };
        let (ty, info) = heap_ref.header(object);
        let is_array = info & kiln_environ::GC_ARRAY_BIT != 0;
        match heap {
            H::Any | H::Eq => true,
            H::Struct => !is_array,
            H::Array => is_array,
            H::Concrete(TypeKind::Struct | TypeKind::Array, want) => {
                self.engine().is_subtype(SharedTypeIndex::from_u32(ty), want)
            }
            _ => false,
        }
    }

    /// The layout of canonical type `ty`, a struct or array type.
    pub fn gc_layout(&mut self, ty: SharedTypeIndex) -> Option<Arc<GcLayout>> {
        if let Some(Some(layout)) = self.gc.layouts.get(ty) {
            return Some(layout.clone());
        }
        let layout = self.engine().gc_layout(ty)?;
        self.gc.layouts[ty] = Some(layout.clone());
        Some(layout)
    }

    /// Make the store's heap (it has none yet), for a first object of `size` bytes, as large
    /// as the limiter allows, and publish it to compiled code: whether it was made.
    ///
    /// # Errors
    /// The limiter's.
    fn make_gc_heap(&mut self, mut limiter: Limiter<'_>, size: u32) -> Result<bool, Error> {
        let max = self.engine().tunables().gc_heap_max;
        let limit = GcHeap::usable_limit(max);
        let Some(sizes) = GcHeap::first_growth(limit, size) else { return Ok(false) };
        let Some(initial) = limits::gc_heap_size(limits::reborrow(&mut limiter), 0, sizes, limit)? else {
            return Ok(false);
        };
        match GcHeap::new(max, initial) {
            Ok(heap) => self.gc.heap = Some(heap),
            Err(e) => {
                limits::gc_heap_grow_failed(limiter, format!("cannot reserve a GC heap: {e}"))?;
                return Ok(false);
            }
        }
        self.publish_gc_heap();
        Ok(true)
    }

    /// Grow the heap for an object of `size` bytes, as far as the limiter allows: whether it
    /// grew.
    ///
    /// # Errors
    /// The limiter's.
    fn grow_gc_heap(&mut self, mut limiter: Limiter<'_>, size: u32) -> Result<bool, Error> {
        let Some(heap) = self.gc.heap.as_mut() else { return Ok(false) };
        let Some(sizes) = heap.growth(size) else { return Ok(false) };
        let (current, limit) = (heap.committed(), heap.limit());
        let Some(new) = limits::gc_heap_size(limits::reborrow(&mut limiter), current, sizes, limit)? else {
            return Ok(false);
        };
        if heap.grow_to(new) {
            self.publish_gc_heap();
            return Ok(true);
        }
        limits::gc_heap_grow_failed(limiter, format!("cannot make {new} bytes of the GC heap accessible"))?;
        Ok(false)
    }

    /// Write the heap's base, bound and start bitmap into the store context.
    fn publish_gc_heap(&mut self) {
        let (base, bound, starts) = self
            .gc
            .heap
            .as_ref()
            .map_or((0, 0, 0), |h| (h.base().expose_provenance(), h.bound(), h.starts_base().expose_provenance()));
        let context = self.context_mut();
        context.gc_heap_base = base;
        context.gc_heap_bound = bound;
        context.gc_starts = starts;
    }

    /// Give compiled code the heap's allocation window (see `GcHeap::open_window`).
    fn open_gc_window(&mut self) {
        let Some((start, end)) = self.gc.heap.as_mut().map_or(Some((0, 0)), GcHeap::open_window) else { return };
        let context = self.context_mut();
        context.gc_bump = u64::from(start);
        context.gc_bump_end = u64::from(end);
    }

    /// Take the allocation window back from compiled code, with what it allocated there:
    /// before anything else allocates, collects or sweeps.
    fn close_gc_window(&mut self) {
        let context = self.context_mut();
        let bump = context.gc_bump;
        (context.gc_bump, context.gc_bump_end) = (0, 0);
        if let Some(heap) = self.gc.heap.as_mut() {
            heap.close_window(bump);
        }
    }

    /// The size of an object of canonical type `ty` with `length` elements (for an array),
    /// and its length if it is an array; `None` for a type that is no struct or array type,
    /// or an array too long.
    fn gc_shape(&mut self, ty: SharedTypeIndex, length: u32) -> Option<(u32, Option<u32>)> {
        // From the store's layout without taking a share of it: every allocation asks.
        let shape = |layout: &GcLayout| {
            let array = matches!(layout, GcLayout::Array { .. }).then_some(length);
            Some((layout.object_size(length)?, array))
        };
        match self.gc.layouts.get(ty).and_then(Option::as_ref) {
            Some(layout) => shape(layout),
            None => shape(&*self.gc_layout(ty)?),
        }
    }

    /// [`StoreOpaque::gc_alloc`] where the heap has room now: no collection, no growth (so
    /// no limiter), `None` otherwise.
    pub fn gc_alloc_now(&mut self, ty: SharedTypeIndex, length: u32) -> Option<u32> {
        let (size, array) = self.gc_shape(ty, length)?;
        self.close_gc_window();
        let word = self.gc.heap.as_mut().and_then(|heap| heap.allocate(ty.as_u32(), size, array));
        self.open_gc_window();
        word
    }

    /// A new zeroed object of canonical type `ty` (`length` elements for an array), keeping
    /// `extra` across the collection this may make; `None` when the heap is out of room (or
    /// the limiter refused it more) or the type is no struct or array type.
    ///
    /// # Errors
    /// The limiter's, asked before the heap is made or grows, when the allocation needed
    /// the growth.
    pub fn gc_alloc(
        &mut self,
        ty: SharedTypeIndex,
        length: u32,
        extra: &[RawRef],
        limiter: Limiter<'_>,
    ) -> Result<Option<u32>, Error> {
        self.close_gc_window();
        let word = self.gc_alloc_closed(ty, length, extra, limiter);
        self.open_gc_window();
        word
    }

    /// [`StoreOpaque::gc_alloc`], with the heap's window closed.
    fn gc_alloc_closed(
        &mut self,
        ty: SharedTypeIndex,
        length: u32,
        extra: &[RawRef],
        mut limiter: Limiter<'_>,
    ) -> Result<Option<u32>, Error> {
        let Some((size, array)) = self.gc_shape(ty, length) else { return Ok(None) };
        if self.gc.heap.is_none() && !self.make_gc_heap(limits::reborrow(&mut limiter), size)? {
            return Ok(None);
        }
        let Some(heap) = self.gc.heap.as_mut() else { return Ok(None) };
        if let Some(word) = heap.allocate(ty.as_u32(), size, array) {
            return Ok(Some(word));
        }
        self.collect(extra.iter().copied());
        let Some(heap) = self.gc.heap.as_mut() else { return Ok(None) };
        let found = heap.allocate(ty.as_u32(), size, array);
        if found.is_some() && !heap.crowded() {
            return Ok(found);
        }
        // Crowded or still full: grow. When the object was found room anyway, a refused or
        // failed growth only waits for the next full heap.
        match self.grow_gc_heap(limiter, size) {
            Err(e) if found.is_none() => return Err(e),
            Err(e) => log::debug!("a GC heap growth the allocation did not need failed: {e}"),
            Ok(_) => {}
        }
        Ok(found.or_else(|| self.gc.heap.as_mut()?.allocate(ty.as_u32(), size, array)))
    }
}
