//! `Extern` and the handles of globals, tables, memories and exception tags: what modules
//! import and export.
use crate::store::StoreOpaqueExt;
use crate::vm::ids::{GlobalId, MemoryId, StoreId, TableId, TagId};
use crate::vm::memory::LinearMemory;
use crate::vm::table::TableStorage;
use crate::vm::val_raw::ValRaw;
use crate::{
    AsContext, AsContextMut, Error, ExternType, Func, GlobalType, MemoryType, Mutability, Result, StoreContext,
    TableType, TagType, Val, ValType,
};

/// Something a module can import or export.
#[derive(Clone, Copy, Debug)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A global.
    Global(Global),
    /// A table.
    Table(Table),
    /// A memory.
    Memory(Memory),
    /// An exception tag.
    Tag(Tag),
}

impl Extern {
    /// The function, if this is one.
    pub fn into_func(self) -> Option<Func> {
        if let Extern::Func(f) = self { Some(f) } else { None }
    }

    /// The global, if this is one.
    pub fn into_global(self) -> Option<Global> {
        if let Extern::Global(g) = self { Some(g) } else { None }
    }

    /// The table, if this is one.
    pub fn into_table(self) -> Option<Table> {
        if let Extern::Table(t) = self { Some(t) } else { None }
    }

    /// The memory, if this is one.
    pub fn into_memory(self) -> Option<Memory> {
        if let Extern::Memory(m) = self { Some(m) } else { None }
    }

    /// The tag, if this is one.
    pub fn into_tag(self) -> Option<Tag> {
        if let Extern::Tag(t) = self { Some(t) } else { None }
    }

    /// Its type.
    ///
    /// # Panics
    /// If the handle belongs to another store.
    pub fn ty(&self, store: impl AsContext) -> ExternType {
        match self {
            Extern::Func(f) => ExternType::Func(f.ty(store)),
            Extern::Global(g) => ExternType::Global(g.ty(store)),
            Extern::Table(t) => ExternType::Table(t.ty(store)),
            Extern::Memory(m) => ExternType::Memory(m.ty(store)),
            Extern::Tag(t) => ExternType::Tag(t.ty(store)),
        }
    }
}

impl From<Func> for Extern {
    fn from(f: Func) -> Extern {
        Extern::Func(f)
    }
}

impl From<Global> for Extern {
    fn from(g: Global) -> Extern {
        Extern::Global(g)
    }
}

impl From<Table> for Extern {
    fn from(t: Table) -> Extern {
        Extern::Table(t)
    }
}

impl From<Memory> for Extern {
    fn from(m: Memory) -> Extern {
        Extern::Memory(m)
    }
}

impl From<Tag> for Extern {
    fn from(t: Tag) -> Extern {
        Extern::Tag(t)
    }
}

/// An exception tag handle: an identity that `throw` and `catch` match exceptions by. Two
/// tags of the same type are different tags; an imported tag is the exporter's.
#[derive(Clone, Copy, Debug)]
pub struct Tag {
    pub(crate) store: StoreId,
    pub(crate) index: TagId,
}

impl Tag {
    /// A new host-owned tag of type `ty`.
    ///
    /// # Errors
    /// When the type has results: a tag's function type only has parameters (its payload).
    pub fn new(mut store: impl AsContextMut, ty: &TagType) -> Result<Tag> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        if !ty.ty().results().is_empty() {
            return Err(Error::Other("a tag's function type must have no results".into()));
        }
        let id = s.engine().register_plain_type(&ty.ty().to_env());
        s.hold_type(id);
        let index = s.tags.push(id);
        Ok(Tag { store: s.id(), index })
    }

    /// The tag's type.
    ///
    /// # Panics
    /// If the handle belongs to another store.
    pub fn ty(&self, store: impl AsContext) -> TagType {
        let cx = store.as_context();
        let id = cx.opaque().assert_store(self.store).tags[self.index];
        TagType::new(crate::FuncType::from_env(&cx.opaque().engine().func_type(id)))
    }

    /// Whether `a` and `b` are the same tag.
    pub fn eq(a: &Tag, b: &Tag, _store: impl AsContext) -> bool {
        a.store == b.store && a.index == b.index
    }
}

/// A global handle.
#[derive(Clone, Copy, Debug)]
pub struct Global {
    pub(crate) store: StoreId,
    pub(crate) index: GlobalId,
}

impl Global {
    /// A host-owned global of type `ty` holding `val`.
    ///
    /// # Errors
    /// When `val` is not of the global's type, or is a reference from another store or
    /// whose root is gone ([`Error::Unrooted`](crate::Error::Unrooted)).
    pub fn new(mut store: impl AsContextMut, ty: GlobalType, val: Val) -> Result<Global> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        let ty = ty.to_env();
        val.check_global(s, &ty)?;
        let raw = val.to_raw(s)?;
        let index = s.add_global(ty, raw);
        Ok(Global { store: s.id(), index })
    }

    /// The global's type.
    ///
    /// # Panics
    /// If the handle belongs to another store.
    pub fn ty(&self, store: impl AsContext) -> GlobalType {
        GlobalType::from_env(store.as_context().opaque().assert_store(self.store).global(self.index).ty)
    }

    /// The global's value.
    ///
    /// # Panics
    /// If the handle belongs to another store.
    pub fn get(&self, mut store: impl AsContextMut) -> Val {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        s.assert_store(self.store);
        let ty = s.global(self.index).ty.ty;
        let raw = s.global_get(self.index);
        Val::from_raw(s, raw, ty)
    }

    /// Set the global's value (it must be mutable).
    ///
    /// # Errors
    /// When the global is immutable or belongs to another store, or `val` is not of its type
    /// or is a reference whose root is gone ([`Error::Unrooted`](crate::Error::Unrooted)).
    pub fn set(&self, mut store: impl AsContextMut, val: Val) -> Result<()> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        s.check_store(self.store)?;
        let ty = GlobalType::from_env(s.global(self.index).ty);
        if ty.mutability() != Mutability::Var {
            return Err(Error::Other("cannot set an immutable global".into()));
        }
        val.check_global(s, &s.global(self.index).ty)?;
        let raw = val.to_raw(s)?;
        s.global_set(self.index, raw);
        Ok(())
    }
}

/// A table handle.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    pub(crate) store: StoreId,
    pub(crate) index: TableId,
}

impl Table {
    /// A host-owned table of type `ty` with every element `init`.
    ///
    /// # Errors
    /// When `init` is not of the element type or is a reference whose root is gone
    /// ([`Error::Unrooted`](crate::Error::Unrooted)), or the table exceeds Kiln's limits.
    pub fn new(mut store: impl AsContextMut, ty: TableType, init: Val) -> Result<Table> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        let ty = ty.to_env();
        init.check_ref(s, ty.element)?;
        let raw = init.to_raw(s)?.to_ref();
        let encoded = s.engine().tunables().table_lazy_init && ty.element_type() == ValType::FuncRef;
        crate::vm::limits::admit_table(&mut cx.whole(), &ty)?;
        let s = cx.opaque();
        let table = TableStorage::new(ty, raw, encoded).map_err(Error::Limit)?;
        let index = s.tables.push(table);
        Ok(Table { store: s.id(), index })
    }

    /// The table's type (its minimum is its current size).
    ///
    /// # Panics
    /// If the handle belongs to another store.
    pub fn ty(&self, store: impl AsContext) -> TableType {
        TableType::from_env(store.as_context().opaque().assert_store(self.store).tables[self.index].ty())
    }

    /// The table's size.
    ///
    /// # Panics
    /// If the handle belongs to another store.
    pub fn size(&self, store: impl AsContext) -> u64 {
        store.as_context().opaque().assert_store(self.store).tables[self.index].len()
    }

    /// The element at `index`, or `None` past the end.
    ///
    /// # Panics
    /// If the handle belongs to another store.
    pub fn get(&self, mut store: impl AsContextMut, index: u64) -> Option<Val> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        s.assert_store(self.store);
        let raw = s.table_get(self.index, index)?;
        let ty = s.tables[self.index].ty().element_type();
        Some(Val::from_raw(s, ValRaw::from_ref(raw), ty))
    }

    /// Set the element at `index` to `val`.
    ///
    /// # Errors
    /// [`Error::Other`] when `val` is not of the element type or `index` is past the end
    /// (`table index out of bounds`); [`Error::Other`] too for a handle of another store;
    /// [`Error::Unrooted`](crate::Error::Unrooted) for a reference whose root is gone.
    pub fn set(&self, mut store: impl AsContextMut, index: u64, val: Val) -> Result<()> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        s.check_store(self.store)?;
        val.check_ref(s, s.tables[self.index].ty().element)?;
        if index >= s.tables[self.index].len() {
            return Err(Error::Other(format!("table index out of bounds: {index}")));
        }
        let raw = val.to_raw(s)?.to_ref();
        s.tables[self.index].set(index, raw);
        Ok(())
    }

    /// Grow by `delta` elements set to `init`, as the store's resource limiter allows;
    /// returns the old size.
    ///
    /// # Errors
    /// When `init` is not of the element type (or a reference whose root is gone), the
    /// limiter refuses or fails, the table would exceed its maximum (or Kiln's limit), or it
    /// belongs to another store.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u64, init: Val) -> Result<u64> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        s.check_store(self.store)?;
        init.check_ref(s, s.tables[self.index].ty().element)?;
        let raw = init.to_raw(s)?.to_ref();
        crate::vm::limits::grow_table(&mut cx.whole(), self.index, delta, raw)?
            .ok_or_else(|| Error::Limit(format!("failed to grow table by {delta} elements")))
    }
}

/// A memory handle.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub(crate) store: StoreId,
    pub(crate) index: MemoryId,
}

impl Memory {
    /// A host-owned memory of type `ty`.
    ///
    /// # Errors
    /// [`Error::Limit`] when its limits are inconsistent or its reservation cannot be mapped.
    pub fn new(mut store: impl AsContextMut, ty: MemoryType) -> Result<Memory> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        let tunables = s.engine().tunables().clone();
        crate::vm::limits::admit_memory(&mut cx.whole(), &ty.to_env())?;
        let s = cx.opaque();
        let memory = LinearMemory::new(ty.to_env(), &tunables, None).map_err(Error::Limit)?;
        let index = s.memories.push(memory);
        Ok(Memory { store: s.id(), index })
    }

    /// The memory's type (its minimum is its current size).
    ///
    /// # Panics
    /// If the handle belongs to another store.
    pub fn ty(&self, store: impl AsContext) -> MemoryType {
        MemoryType::from_env(store.as_context().opaque().assert_store(self.store).memories[self.index].ty())
    }

    /// The current size in pages.
    ///
    /// # Panics
    /// If the handle belongs to another store.
    pub fn size(&self, store: impl AsContext) -> u64 {
        store.as_context().opaque().assert_store(self.store).memories[self.index].pages()
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`.
    ///
    /// # Errors
    /// [`Error::Other`] (`out of bounds memory access`) when they do not all lie in the
    /// memory; `buf` is then unchanged.
    ///
    /// # Panics
    /// If the handle belongs to another store.
    pub fn read(&self, store: impl AsContext, offset: usize, buf: &mut [u8]) -> Result<()> {
        let cx = store.as_context();
        let data = cx.0.opaque.assert_store(self.store).memories[self.index].data();
        let bytes = offset.checked_add(buf.len()).and_then(|end| data.get(offset..end)).ok_or_else(out_of_bounds)?;
        buf.copy_from_slice(bytes);
        Ok(())
    }

    /// Copies `bytes` into the memory at `offset`.
    ///
    /// # Errors
    /// As for [`Memory::read`]: nothing is written when they do not all fit.
    ///
    /// # Panics
    /// If the handle belongs to another store.
    pub fn write(&self, mut store: impl AsContextMut, offset: usize, bytes: &[u8]) -> Result<()> {
        let mut cx = store.as_context_mut();
        let data = self.data_mut(cx.as_context_mut());
        let to = offset.checked_add(bytes.len()).and_then(|end| data.get_mut(offset..end)).ok_or_else(out_of_bounds)?;
        to.copy_from_slice(bytes);
        Ok(())
    }

    /// The memory's bytes.
    ///
    /// # Panics
    /// If the handle belongs to another store.
    pub fn data<'a, T: 'a>(&self, store: impl Into<StoreContext<'a, T>>) -> &'a [u8] {
        let cx: StoreContext<'a, T> = store.into();
        cx.0.opaque.assert_store(self.store).memories[self.index].data()
    }

    /// The memory's bytes, for writing.
    ///
    /// # Panics
    /// If the handle belongs to another store.
    pub fn data_mut<'a, T: 'a>(&self, store: impl Into<crate::StoreContextMut<'a, T>>) -> &'a mut [u8] {
        let cx: crate::StoreContextMut<'a, T> = store.into();
        cx.0.opaque.assert_store(self.store);
        cx.0.opaque.memories[self.index].data_mut()
    }

    /// The memory's bytes and the store's data together, for host functions that read and
    /// write guest memory while they use their own state.
    ///
    /// # Panics
    /// If the handle belongs to another store.
    pub fn data_and_store_mut<'a, T: 'a>(
        &self,
        store: impl Into<crate::StoreContextMut<'a, T>>,
    ) -> (&'a mut [u8], &'a mut T) {
        let cx: crate::StoreContextMut<'a, T> = store.into();
        let inner = cx.0;
        inner.opaque.assert_store(self.store);
        (inner.opaque.memories[self.index].data_mut(), &mut inner.data)
    }

    /// Grow by `delta` pages, as the store's resource limiter allows; returns the old size.
    ///
    /// # Errors
    /// When the limiter refuses or fails, the memory would exceed its maximum (at most 4 GiB for a 32-bit memory), or
    /// it belongs to another store.
    pub fn grow(&self, mut store: impl AsContextMut, delta: u64) -> Result<u64> {
        let mut cx = store.as_context_mut();
        cx.opaque().check_store(self.store)?;
        crate::vm::limits::grow_memory(&mut cx.whole(), self.index, delta)?
            .ok_or_else(|| Error::Limit(format!("failed to grow memory by {delta} pages")))
    }
}

fn out_of_bounds() -> Error {
    Error::Other("out of bounds memory access".into())
}
