//! The bulk operations on GC arrays that copy between arrays, data segments and element
//! segments (`array.copy`, `array.new_data`, `array.init_data`, `array.new_elem`,
//! `array.init_elem`), for their builtins. Each checks every range before it writes, in the
//! spec's order (the array's range, then the segment's), so a failure changes nothing; a
//! dropped segment has length 0. Reading a segment's items allocates nothing here (so the
//! array, which only the builtin's argument holds, needs no root): a passive segment whose
//! expressions allocate was evaluated at instantiation, and active and declared segments
//! are dropped by then.
use super::ids::InstanceId;
use super::instance::element_items;
use super::limits::Limiter;
use super::store::StoreOpaque;
use super::val_raw::RawRef;
use crate::Error;
use kiln_environ::builtins::{ARRAY_OUT_OF_BOUNDS, BULK_OK, NEW_OUT_OF_MEMORY, SEGMENT_OUT_OF_BOUNDS};
use kiln_environ::{DataIndex, ElemIndex, GcField, GcLayout, SharedTypeIndex};

/// Whether `start..start + len` fits in `size`.
fn fits(start: u32, len: u32, size: u64) -> bool {
    u64::from(start) + u64::from(len) <= size
}

impl StoreOpaque {
    /// The element layout and length of the array `word`, if it is one of the heap's.
    fn array_of(&mut self, word: usize) -> Option<(GcField, u32)> {
        let object = u32::try_from(word).ok()?;
        let heap = self.gc.heap.as_ref()?;
        if !heap.is_object(object) {
            return None;
        }
        let (ty, _) = heap.header(object);
        let length = heap.array_length(object);
        match *self.gc_layout(SharedTypeIndex::from_u32(ty))? {
            GcLayout::Array { element } => Some((element, length)),
            GcLayout::Struct { .. } => None,
        }
    }

    /// The element layout of `array`, if elements `dst..dst + len` are all in it.
    fn array_range(&mut self, array: RawRef, dst: u32, len: u32) -> Option<GcField> {
        let (element, length) = self.array_of(array.any_word())?;
        fits(dst, len, length.into()).then_some(element)
    }

    /// The element layout of array type `ty`.
    fn element_of(&mut self, ty: SharedTypeIndex) -> Option<(GcField, u32)> {
        let layout = self.gc_layout(ty)?;
        match *layout {
            GcLayout::Array { element } => Some((element, layout.max_length())),
            GcLayout::Struct { .. } => None,
        }
    }

    /// `array.copy` of `len` elements of `src` from `src_index` to `dst` at `dst_index`.
    pub fn array_copy(&mut self, dst: RawRef, dst_index: u32, src: RawRef, src_index: u32, len: u32) -> u32 {
        let (Some(element), Some(_)) = (self.array_range(dst, dst_index, len), self.array_range(src, src_index, len))
        else {
            return ARRAY_OUT_OF_BOUNDS;
        };
        let at = |word: RawRef, i: u32| word.any_word() as u32 + element.offset + i * element.size;
        if let Some(heap) = self.gc.heap.as_mut() {
            heap.copy_within(at(src, src_index), at(dst, dst_index), len * element.size);
        }
        BULK_OK
    }

    /// The bytes `offset..offset + len` of data segment `data` of instance `instance` (none
    /// once it is dropped), or `None` when they are not all in it.
    fn data_range(&self, instance: InstanceId, data: DataIndex, offset: u32, len: u64) -> Option<Vec<u8>> {
        let i = &self.instances[instance];
        let bytes = if i.dropped_data.contains(data) { &[][..] } else { &i.module.env().data[data].items[..] };
        let end = u64::from(offset).checked_add(len).filter(|end| *end <= bytes.len() as u64)?;
        Some(bytes[offset as usize..end as usize].to_vec())
    }

    /// Whether items `offset..offset + len` are all in element segment `elem` of `instance`.
    fn elem_range_fits(&self, instance: InstanceId, elem: ElemIndex, offset: u32, len: u32) -> bool {
        let i = &self.instances[instance];
        let size = if i.dropped_elems.contains(elem) { 0 } else { i.module.env().elements[elem].items.len() };
        fits(offset, len, size as u64)
    }

    /// `array.init_data`: `len` elements of `array` from `dst` on, from the bytes of data
    /// segment `data` at `offset`.
    pub fn array_init_data(
        &mut self,
        instance: InstanceId,
        array: RawRef,
        data: DataIndex,
        dst: u32,
        offset: u32,
        len: u32,
    ) -> u32 {
        let Some(element) = self.array_range(array, dst, len) else { return ARRAY_OUT_OF_BOUNDS };
        let Some(bytes) = self.data_range(instance, data, offset, u64::from(len) * u64::from(element.size)) else {
            return SEGMENT_OUT_OF_BOUNDS;
        };
        let at = array.any_word() as u32 + element.offset + dst * element.size;
        if let Some(heap) = self.gc.heap.as_mut() {
            heap.write_bytes(at, &bytes);
        }
        BULK_OK
    }

    /// `array.new_data`: a new array of type `ty` with `len` elements from the bytes of data
    /// segment `data` at `offset`; its word, or [`SEGMENT_OUT_OF_BOUNDS`] or
    /// [`NEW_OUT_OF_MEMORY`].
    ///
    /// # Errors
    /// The limiter's, asked before the heap grows.
    pub fn array_new_data(
        &mut self,
        limiter: Limiter<'_>,
        instance: InstanceId,
        ty: SharedTypeIndex,
        data: DataIndex,
        offset: u32,
        len: u32,
    ) -> Result<usize, Error> {
        let Some((element, max)) = self.element_of(ty) else { return Ok(NEW_OUT_OF_MEMORY) };
        let Some(bytes) = self.data_range(instance, data, offset, u64::from(len) * u64::from(element.size)) else {
            return Ok(SEGMENT_OUT_OF_BOUNDS as usize);
        };
        if len > max {
            return Ok(NEW_OUT_OF_MEMORY);
        }
        let Some(word) = self.gc_alloc(ty, len, &[], limiter)? else { return Ok(NEW_OUT_OF_MEMORY) };
        if let Some(heap) = self.gc.heap.as_mut() {
            heap.write_bytes(word + element.offset, &bytes);
        }
        Ok(word as usize)
    }

    /// Write `items` into the array `word` from element `dst` on.
    fn write_items(&mut self, word: u32, element: GcField, dst: u32, items: &[RawRef]) {
        if let Some(heap) = self.gc.heap.as_mut() {
            for (i, r) in (dst..).zip(items) {
                heap.write_field(word + element.offset + i * element.size, element.size, r.any_word() as u128);
            }
        }
    }

    /// `array.init_elem`: `len` elements of `array` from `dst` on, from the items of element
    /// segment `elem` at `offset`.
    pub fn array_init_elem(
        &mut self,
        instance: InstanceId,
        array: RawRef,
        elem: ElemIndex,
        dst: u32,
        offset: u32,
        len: u32,
    ) -> u32 {
        let Some(element) = self.array_range(array, dst, len) else { return ARRAY_OUT_OF_BOUNDS };
        if !self.elem_range_fits(instance, elem, offset, len) {
            return SEGMENT_OUT_OF_BOUNDS;
        }
        let Ok(items) = element_items(self, instance, elem, offset as usize, len as usize) else {
            return SEGMENT_OUT_OF_BOUNDS;
        };
        self.write_items(array.any_word() as u32, element, dst, &items);
        BULK_OK
    }

    /// `array.new_elem`: a new array of type `ty` with the `len` items of element segment
    /// `elem` at `offset`; its word, or [`SEGMENT_OUT_OF_BOUNDS`] or [`NEW_OUT_OF_MEMORY`].
    ///
    /// # Errors
    /// The limiter's, asked before the heap grows.
    pub fn array_new_elem(
        &mut self,
        limiter: Limiter<'_>,
        instance: InstanceId,
        ty: SharedTypeIndex,
        elem: ElemIndex,
        offset: u32,
        len: u32,
    ) -> Result<usize, Error> {
        let Some((element, max)) = self.element_of(ty) else { return Ok(NEW_OUT_OF_MEMORY) };
        if !self.elem_range_fits(instance, elem, offset, len) {
            return Ok(SEGMENT_OUT_OF_BOUNDS as usize);
        }
        if len > max {
            return Ok(NEW_OUT_OF_MEMORY);
        }
        let Ok(items) = element_items(self, instance, elem, offset as usize, len as usize) else {
            return Ok(NEW_OUT_OF_MEMORY);
        };
        // The items are roots of the allocation: nothing else may hold them yet.
        let Some(word) = self.gc_alloc(ty, len, &items, limiter)? else { return Ok(NEW_OUT_OF_MEMORY) };
        self.write_items(word, element, 0, &items);
        Ok(word as usize)
    }
}
