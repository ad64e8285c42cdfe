//! `StructRef`: a struct object of a store's GC heap as the host sees it — made from Rust
//! with a [`StructRefPre`] (a struct type the store is ready to allocate), its fields read
//! and written by index with their types checked.
use crate::gc_root::sealed::GcRefImpl;
use crate::gc_root::{GcRootIndex, Rooted, gc_ref_type};
use crate::store::StoreOpaqueExt;
use crate::vm::ids::StoreId;
use crate::{AsContextMut, Error, Result, StructType, Val};
use kiln_environ::GcLayout;

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
    pub fn new(mut store: impl AsContextMut, ty: StructType) -> StructRefPre {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        assert!(crate::Engine::same(s.engine(), ty.engine()), "a struct type of another engine");
        s.hold_gc_type(ty.id());
        StructRefPre { store: s.id(), ty }
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

/// A field's offset and size.
fn field_layout(layout: &GcLayout, index: usize) -> Option<kiln_environ::GcField> {
    match layout {
        GcLayout::Struct { fields, .. } => fields.get(index).copied(),
        GcLayout::Array { .. } => None,
    }
}

impl StructRef {
    /// A new struct of `pre`'s type with these field values, rooted in the current scope.
    ///
    /// # Errors
    /// When the values are not as many as the fields or not of their types, or are of
    /// another store, or the trap [`Trap::GcHeapOutOfMemory`](crate::Trap::GcHeapOutOfMemory)
    /// when the heap is full.
    pub fn new(mut store: impl AsContextMut, pre: &StructRefPre, fields: &[Val]) -> Result<Rooted<StructRef>> {
        let mut cx = store.as_context_mut();
        let mut whole = cx.whole();
        let (s, limiter) = crate::vm::limits::split(&mut whole);
        s.check_store(pre.store)?;
        let types = pre.ty.env_fields();
        if fields.len() != types.len() {
            return Err(Error::Other(format!("{} values for a struct of {} fields", fields.len(), types.len())));
        }
        let bits = fields.iter().zip(types).map(|(v, t)| s.gc_field_bits(v, *t)).collect::<Result<Vec<_>>>()?;
        let at = s.gc_alloc_for_host(limiter, pre.ty.id(), 0)?;
        let layout = s.gc_layout(pre.ty.id()).ok_or_else(|| Error::Other("a struct type without layout".into()))?;
        for (i, b) in bits.into_iter().enumerate() {
            let field = field_layout(&layout, i).ok_or_else(|| Error::Other("a field without layout".into()))?;
            s.write_gc_field(at + field.offset, &field, b);
        }
        Ok(Rooted::new(s, at as usize))
    }

    /// The struct's type.
    ///
    /// # Errors
    /// [`Error::Unrooted`] when its root is gone, or it is another store's.
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
        let object = s.gc_object(self.root())?;
        let ty = s.engine().sub_type(object.ty);
        let (Some(field), kiln_environ::WasmCompositeType::Struct(types)) =
            (field_layout(&object.layout, index), &ty.composite)
        else {
            return Err(Error::Other(format!("no field {index} in the struct")));
        };
        Ok(s.read_gc_field(object.at + field.offset, &field, types[index]))
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
        let object = s.gc_object(self.root())?;
        let ty = s.engine().sub_type(object.ty);
        let (Some(field), kiln_environ::WasmCompositeType::Struct(types)) =
            (field_layout(&object.layout, index), &ty.composite)
        else {
            return Err(Error::Other(format!("no field {index} in the struct")));
        };
        if !types[index].mutable {
            return Err(Error::Other(format!("field {index} of the struct is immutable")));
        }
        let bits = s.gc_field_bits(&value, types[index])?;
        s.write_gc_field(object.at + field.offset, &field, bits);
        Ok(())
    }
}
