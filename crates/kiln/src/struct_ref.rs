//! `StructRef`: a struct object of a store's GC heap as the host sees it — made from Rust
//! with a [`StructRefPre`] (a struct type the store is ready to allocate), its fields read
//! and written by index with their types checked.
use crate::gc_fields::{hold_for_allocation, with_allocation};
use crate::gc_root::sealed::GcRefImpl;
use crate::gc_root::{GcRootIndex, Rooted, gc_ref_type};
use crate::vm::ids::StoreId;
use crate::vm::store::StoreOpaque;
use crate::{AsContextMut, Error, Result, StructType, Val};
use kiln_environ::{GcField, GcLayout, SharedTypeIndex, WasmCompositeType, WasmFieldType};

/// A struct type that a store allocates objects of.
#[derive(Clone, Debug)]
pub struct StructRefPre {
    store: StoreId,
    ty: StructType,
}

impl StructRefPre {
    /// Ready `store` to allocate structs of type `ty`.
    ///
    /// # Panics
    /// If `ty` is of another engine than the store's.
    pub fn new(store: impl AsContextMut, ty: StructType) -> StructRefPre {
        StructRefPre { store: hold_for_allocation(store, ty.engine(), ty.id()), ty }
    }

    /// The struct type.
    pub fn ty(&self) -> &StructType {
        &self.ty
    }
}

/// A non-null struct reference, held through a root ([`Rooted`] or
/// [`OwnedRooted`](crate::OwnedRooted)).
#[derive(Copy, Clone, Debug)]
pub struct StructRef {
    root: GcRootIndex,
}

gc_ref_type!(StructRef);

/// Where field `index` of the struct `r` is, its layout and its type.
///
/// # Errors
/// As [`StructRef::ty`], and when there is no such field.
fn field_of(
    s: &mut StoreOpaque,
    r: &StructRef,
    index: usize,
) -> Result<(u32, GcField, WasmFieldType<SharedTypeIndex>)> {
    let object = s.gc_object(r.root())?;
    let ty = s.engine().sub_type(object.ty);
    match (&*object.layout, &ty.composite) {
        (GcLayout::Struct { fields, .. }, WasmCompositeType::Struct(types)) if index < fields.len() => {
            Ok((object.at + fields[index].offset, fields[index], types[index]))
        }
        _ => Err(Error::Other(format!("no field {index} in the struct"))),
    }
}

impl StructRef {
    /// A new struct of `pre`'s type with these field values, rooted in the current scope.
    ///
    /// # Errors
    /// When the values are not as many as the fields or not of their types, or `pre` or a
    /// value is of another store; the trap
    /// [`Trap::GcHeapOutOfMemory`](crate::Trap::GcHeapOutOfMemory) when the heap is full, or
    /// the store's resource limiter's error.
    pub fn new(store: impl AsContextMut, pre: &StructRefPre, fields: &[Val]) -> Result<Rooted<StructRef>> {
        with_allocation(store, pre.store, |s, limiter| {
            let types = pre.ty.env_fields();
            if fields.len() != types.len() {
                return Err(Error::Other(format!("{} values for a struct of {} fields", fields.len(), types.len())));
            }
            let bits = fields.iter().zip(types).map(|(v, t)| s.gc_field_bits(v, *t)).collect::<Result<Vec<_>>>()?;
            let at = s.gc_alloc_for_host(limiter, pre.ty.id(), 0)?;
            let r = Rooted::new(s, at as usize);
            for (i, b) in bits.into_iter().enumerate() {
                let (at, field, _) = field_of(s, &r, i)?;
                s.write_gc_field(at, &field, b);
            }
            Ok(r)
        })
    }

    /// The struct's type.
    ///
    /// # Errors
    /// [`Error::Unrooted`] when its root is gone; [`Error::Other`] when it is another
    /// store's.
    pub fn ty(&self, mut store: impl AsContextMut) -> Result<StructType> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        let object = s.gc_object(self.root())?;
        Ok(StructType::from_id(s.engine(), object.ty))
    }

    /// Field `index`'s value (a packed field's zero-extended).
    ///
    /// # Errors
    /// As [`StructRef::ty`], and when there is no such field.
    pub fn field(&self, mut store: impl AsContextMut, index: usize) -> Result<Val> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        let (at, field, ty) = field_of(s, self, index)?;
        Ok(s.read_gc_field(at, &field, ty))
    }

    /// Every field's value, in order.
    ///
    /// # Errors
    /// As [`StructRef::ty`].
    pub fn fields(&self, mut store: impl AsContextMut) -> Result<std::vec::IntoIter<Val>> {
        let count = self.ty(&mut store)?.fields().len();
        let values = (0..count).map(|i| self.field(&mut store, i)).collect::<Result<Vec<_>>>()?;
        Ok(values.into_iter())
    }

    /// Set field `index` to `value`.
    ///
    /// # Errors
    /// As [`StructRef::ty`], and when there is no such field, it is immutable, or `value`
    /// is not of its type.
    pub fn set_field(&self, mut store: impl AsContextMut, index: usize, value: Val) -> Result<()> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        let (at, field, ty) = field_of(s, self, index)?;
        if !ty.mutable {
            return Err(Error::Other(format!("field {index} of the struct is immutable")));
        }
        let bits = s.gc_field_bits(&value, ty)?;
        s.write_gc_field(at, &field, bits);
        Ok(())
    }
}
