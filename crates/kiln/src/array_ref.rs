//! `ArrayRef`: an array object of a store's GC heap as the host sees it — made from Rust
//! with an [`ArrayRefPre`] (an array type the store is ready to allocate), its length and
//! elements read and written with their types and bounds checked.
use crate::gc_fields::{hold_for_allocation, with_allocation};
use crate::gc_root::sealed::GcRefImpl;
use crate::gc_root::{GcRootIndex, Rooted, gc_ref_type};
use crate::vm::ids::StoreId;
use crate::vm::limits::Limiter;
use crate::vm::store::StoreOpaque;
use crate::{ArrayType, AsContextMut, Error, Result, Val};
use kiln_environ::{GcField, GcLayout, SharedTypeIndex, WasmCompositeType, WasmFieldType};

/// An array type that a store allocates objects of.
#[derive(Clone, Debug)]
pub struct ArrayRefPre {
    store: StoreId,
    ty: ArrayType,
}

impl ArrayRefPre {
    /// Ready `store` to allocate arrays of type `ty`.
    ///
    /// # Panics
    /// If `ty` is of another engine than the store's.
    pub fn new(store: impl AsContextMut, ty: ArrayType) -> ArrayRefPre {
        ArrayRefPre { store: hold_for_allocation(store, ty.engine(), ty.id()), ty }
    }

    /// The array type.
    pub fn ty(&self) -> &ArrayType {
        &self.ty
    }
}

/// A non-null array reference, held through a root ([`Rooted`] or
/// [`OwnedRooted`](crate::OwnedRooted)).
#[derive(Copy, Clone, Debug)]
pub struct ArrayRef {
    root: GcRootIndex,
}

gc_ref_type!(ArrayRef);

/// An array object the host reads or writes: where it is, its length, element type and
/// layout.
struct Array {
    at: u32,
    length: u32,
    ty: SharedTypeIndex,
    element: WasmFieldType<SharedTypeIndex>,
    layout: GcField,
}

impl Array {
    /// Where element `index` is.
    ///
    /// # Errors
    /// When `index` is out of bounds.
    fn element_at(&self, index: u32) -> Result<u32> {
        if index >= self.length {
            return Err(Error::Other(format!("index {index} out of bounds of an array of {}", self.length)));
        }
        Ok(self.at + self.layout.offset + index * self.layout.size)
    }
}

/// The array `r` names.
fn array(s: &mut StoreOpaque, r: &ArrayRef) -> Result<Array> {
    let object = s.gc_object(r.root())?;
    let ty = s.engine().sub_type(object.ty);
    let (GcLayout::Array { element: layout }, WasmCompositeType::Array(element)) = (&*object.layout, &ty.composite)
    else {
        return Err(Error::Other("the reference is no array".into()));
    };
    let length = s.gc.heap.as_ref().map_or(0, |h| h.array_length(object.at));
    Ok(Array { at: object.at, length, ty: object.ty, element: *element, layout: *layout })
}

/// A new array of `pre`'s type whose elements are the fields `bits` give.
fn allocate(
    s: &mut StoreOpaque,
    limiter: Limiter<'_>,
    pre: &ArrayRefPre,
    length: u32,
    bits: impl Fn(u32) -> u128,
) -> Result<Rooted<ArrayRef>> {
    let at = s.gc_alloc_for_host(limiter, pre.ty.id(), length)?;
    let r = Rooted::new(s, at as usize);
    let a = array(s, &r)?;
    for i in 0..length {
        s.write_gc_field(a.element_at(i)?, &a.layout, bits(i));
    }
    Ok(r)
}

impl ArrayRef {
    /// A new array of `pre`'s type with `length` elements, each `element`, rooted in the
    /// current scope.
    ///
    /// # Errors
    /// When `element` is not of the element type, or it or `pre` is another store's; the
    /// trap [`Trap::GcHeapOutOfMemory`](crate::Trap::GcHeapOutOfMemory) when the heap is
    /// full, or the store's resource limiter's error.
    pub fn new(store: impl AsContextMut, pre: &ArrayRefPre, element: &Val, length: u32) -> Result<Rooted<ArrayRef>> {
        with_allocation(store, pre.store, |s, limiter| {
            let bits = s.gc_field_bits(element, pre.ty.env_element())?;
            allocate(s, limiter, pre, length, |_| bits)
        })
    }

    /// A new array of `pre`'s type with these elements, rooted in the current scope.
    ///
    /// # Errors
    /// As [`ArrayRef::new`].
    pub fn new_fixed(store: impl AsContextMut, pre: &ArrayRefPre, elements: &[Val]) -> Result<Rooted<ArrayRef>> {
        with_allocation(store, pre.store, |s, limiter| {
            let length = u32::try_from(elements.len()).map_err(|_| Error::Limit("an array too long".into()))?;
            let ty = pre.ty.env_element();
            let bits = elements.iter().map(|v| s.gc_field_bits(v, ty)).collect::<Result<Vec<_>>>()?;
            allocate(s, limiter, pre, length, |i| bits[i as usize])
        })
    }

    /// The array's type.
    ///
    /// # Errors
    /// [`Error::Unrooted`] when its root is gone; [`Error::Other`] when it is another
    /// store's.
    pub fn ty(&self, mut store: impl AsContextMut) -> Result<ArrayType> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        let a = array(s, self)?;
        Ok(ArrayType::from_id(s.engine(), a.ty))
    }

    /// How many elements it has.
    ///
    /// # Errors
    /// As [`ArrayRef::ty`].
    pub fn len(&self, mut store: impl AsContextMut) -> Result<u32> {
        Ok(array(store.as_context_mut().opaque(), self)?.length)
    }

    /// Whether it has no elements.
    ///
    /// # Errors
    /// As [`ArrayRef::ty`].
    pub fn is_empty(&self, store: impl AsContextMut) -> Result<bool> {
        Ok(self.len(store)? == 0)
    }

    /// Element `index` (a packed element zero-extended).
    ///
    /// # Errors
    /// As [`ArrayRef::ty`], and when `index` is out of bounds.
    pub fn get(&self, mut store: impl AsContextMut, index: u32) -> Result<Val> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        let a = array(s, self)?;
        Ok(s.read_gc_field(a.element_at(index)?, &a.layout, a.element))
    }

    /// Every element, in order.
    ///
    /// # Errors
    /// As [`ArrayRef::ty`].
    pub fn elems(&self, mut store: impl AsContextMut) -> Result<std::vec::IntoIter<Val>> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        let a = array(s, self)?;
        let values = (0..a.length).map(|i| Ok(s.read_gc_field(a.element_at(i)?, &a.layout, a.element)));
        Ok(values.collect::<Result<Vec<_>>>()?.into_iter())
    }

    /// Set element `index` to `value`.
    ///
    /// # Errors
    /// As [`ArrayRef::ty`], and when `index` is out of bounds, the elements are immutable,
    /// or `value` is not of their type.
    pub fn set(&self, mut store: impl AsContextMut, index: u32, value: Val) -> Result<()> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        let a = array(s, self)?;
        if !a.element.mutable {
            return Err(Error::Other("the array's elements are immutable".into()));
        }
        let at = a.element_at(index)?;
        let bits = s.gc_field_bits(&value, a.element)?;
        s.write_gc_field(at, &a.layout, bits);
        Ok(())
    }
}
