//! The host's reads and writes of GC objects' fields, shared by `StructRef` and `ArrayRef`:
//! finding the object a root names, converting a field's bytes to a [`Val`] (packed fields
//! zero-extended) and a `Val` to a field's bytes after checking it against the field's exact
//! type, and allocating an object of a type the store holds.
use crate::gc_root::GcRootIndex;
use crate::store::StoreOpaqueExt;
use crate::vm::ids::StoreId;
use crate::vm::limits::Limiter;
use crate::vm::store::StoreOpaque;
use crate::vm::val_raw::ValRaw;
use crate::{AsContextMut, Engine, Error, Result, Trap, Val};
use kiln_environ::{GcField, GcLayout, SharedTypeIndex, WasmFieldType, WasmStorageType};
use std::sync::Arc;

/// A GC object the host reads or writes: where it is in the heap, its type and layout.
pub(crate) struct Object {
    pub at: u32,
    pub ty: SharedTypeIndex,
    pub layout: Arc<GcLayout>,
}

impl StoreOpaque {
    /// The object root `root` names.
    ///
    /// # Errors
    /// [`Error::Unrooted`] when the root is gone; [`Error::Other`] for another store's, or
    /// (never for a root made through a struct or array view) a word that is no object.
    pub(crate) fn gc_object(&mut self, root: GcRootIndex) -> Result<Object> {
        let word = self.root_word(root)?;
        let at = u32::try_from(word).ok().filter(|w| w & 3 == 0);
        let found = self.gc.heap.as_ref().zip(at).filter(|(heap, at)| heap.is_object(*at));
        let Some((heap, at)) = found else { return Err(Error::Other("the reference is no GC object".into())) };
        let ty = SharedTypeIndex::from_u32(heap.header(at).0);
        let layout = self.gc_layout(ty).ok_or_else(|| Error::Other("a GC object of an unknown type".into()))?;
        Ok(Object { at, ty, layout })
    }

    /// The value of the field at `at`, of type `ty`, laid out as `field` says.
    pub(crate) fn read_gc_field(&mut self, at: u32, field: &GcField, ty: WasmFieldType<SharedTypeIndex>) -> Val {
        let bits = self.gc.heap.as_ref().map_or(0, |heap| heap.read_field(at, field.size));
        Val::from_raw(self, ValRaw::from_bits(bits), ty.storage.unpacked())
    }

    /// The bytes `value` is in a field of type `ty`.
    ///
    /// # Errors
    /// [`Error::Other`] when `value` is not of the field's type, or is another store's;
    /// [`Error::Unrooted`] when its root is gone.
    pub(crate) fn gc_field_bits(&mut self, value: &Val, ty: WasmFieldType<SharedTypeIndex>) -> Result<u128> {
        let fits = match ty.storage {
            WasmStorageType::I8 | WasmStorageType::I16 => value.ty() == crate::ValType::I32,
            WasmStorageType::Val(v) => value.ty() == v,
            WasmStorageType::Ref(r) => {
                value.check_ref(self, r)?;
                true
            }
        };
        if !fits {
            let want = ty.storage.unpacked();
            return Err(Error::Other(format!("a {} where a field of type {want} is expected", value.ty())));
        }
        Ok(value.to_raw(self)?.bits())
    }

    /// Write `bits` into the field at `at`, laid out as `field` says.
    pub(crate) fn write_gc_field(&mut self, at: u32, field: &GcField, bits: u128) {
        if let Some(heap) = self.gc.heap.as_mut() {
            heap.write_field(at, field.size, bits);
        }
    }

    /// A new zeroed object of type `ty` (`length` elements for an array, of a type the store
    /// holds: see `hold_gc_type`); what the host holds stays rooted across the collection
    /// this may make, and the store's limiter is asked before the heap grows.
    ///
    /// # Errors
    /// The trap [`Trap::GcHeapOutOfMemory`] when the heap has no room, or the limiter's error.
    pub(crate) fn gc_alloc_for_host(&mut self, limiter: Limiter<'_>, ty: SharedTypeIndex, length: u32) -> Result<u32> {
        self.gc_alloc(ty, length, &[], limiter)?.ok_or(Error::Trap(Trap::GcHeapOutOfMemory, None))
    }
}

/// Make `store` hold type `ty` of `engine` for the objects it will allocate of it (a
/// `StructRefPre` or `ArrayRefPre` being made): the store's id.
///
/// # Panics
/// If `engine` is not the store's.
pub(crate) fn hold_for_allocation(mut store: impl AsContextMut, engine: &Engine, ty: SharedTypeIndex) -> StoreId {
    let mut cx = store.as_context_mut();
    let s = cx.opaque();
    assert!(Engine::same(s.engine(), engine), "a GC type of another engine");
    s.hold_gc_type(ty);
    s.id()
}

/// Run `f`, a host allocation of a type that store `pre` holds (a `StructRefPre`'s or an
/// `ArrayRefPre`'s), with `store`'s opaque part and its limiter.
///
/// # Errors
/// `f`'s, and [`Error::Other`] when `store` is not store `pre`.
pub(crate) fn with_allocation<R>(
    mut store: impl AsContextMut,
    pre: StoreId,
    f: impl FnOnce(&mut StoreOpaque, Limiter<'_>) -> Result<R>,
) -> Result<R> {
    let mut cx = store.as_context_mut();
    let mut whole = cx.whole();
    let (s, limiter) = crate::vm::limits::split(&mut whole);
    s.check_store(pre)?;
    f(s, limiter)
}
