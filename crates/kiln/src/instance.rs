//! `Instance`: an instantiated module in a store, and access to its exports.
use crate::store::StoreOpaqueExt;
use crate::vm::ids::{InstanceId, StoreId};
use crate::vm::instance::{ResolvedImport, instance_func, instantiate};
use crate::{
    AsContextMut, Error, Extern, Func, Global, Memory, Module, Result, Table, Tag, TypedFunc, WasmParams, WasmResults,
};
use kiln_environ::EntityIndex;

/// An instance handle.
#[derive(Clone, Copy, Debug)]
pub struct Instance {
    store: StoreId,
    index: InstanceId,
}

impl Instance {
    pub(crate) fn from_index(store: StoreId, index: InstanceId) -> Instance {
        Instance { store, index }
    }

    /// Instantiate `module` with `imports`, one per import of the module, in order.
    ///
    /// # Errors
    /// [`Error::Link`] for imports of the wrong number, kinds or types; [`Error::Limit`] for
    /// memories or tables that cannot be created; the trap of an element or data segment or
    /// of the start function (the instance then stays in the store, with the segments
    /// before it applied); [`Error::Other`] for a module of another engine or imports of
    /// another store.
    pub fn new(mut store: impl AsContextMut, module: &Module, imports: &[Extern]) -> Result<Instance> {
        let mut cx = store.as_context_mut();
        let mut whole = cx.whole();
        let s = whole.opaque();
        let mut resolved = Vec::with_capacity(imports.len());
        for e in imports {
            let (id, r) = match *e {
                Extern::Func(f) => (f.store_id(), ResolvedImport::Func(f.index())),
                Extern::Table(t) => (t.store, ResolvedImport::Table(t.index)),
                Extern::Memory(m) => (m.store, ResolvedImport::Memory(m.index)),
                Extern::Global(g) => (g.store, ResolvedImport::Global(g.index)),
                Extern::Tag(t) => (t.store, ResolvedImport::Tag(t.index)),
            };
            s.check_store(id)?;
            resolved.push(r);
        }
        let id = s.id();
        let index = instantiate(&mut whole, module, &resolved)?;
        Ok(Instance { store: id, index })
    }

    /// The export named `name`.
    pub fn get_export(&self, mut store: impl AsContextMut, name: &str) -> Option<Extern> {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        if s.id() != self.store {
            return None;
        }
        let module = s.instances[self.index].module.clone();
        let store = s.id();
        let i = self.index;
        Some(match module.env().export(name)? {
            EntityIndex::Function(f) => Extern::Func(Func::from_index(store, instance_func(s, i, f))),
            EntityIndex::Table(t) => Extern::Table(Table { store, index: s.instances[i].tables[t] }),
            EntityIndex::Memory(m) => Extern::Memory(Memory { store, index: s.instances[i].memories[m] }),
            EntityIndex::Global(g) => Extern::Global(Global { store, index: s.instances[i].globals[g] }),
            EntityIndex::Tag(t) => Extern::Tag(Tag { store, index: s.instances[i].tags[t] }),
        })
    }

    /// The exported function `name`.
    pub fn get_func(&self, store: impl AsContextMut, name: &str) -> Option<Func> {
        self.get_export(store, name)?.into_func()
    }

    /// The exported global `name`.
    pub fn get_global(&self, store: impl AsContextMut, name: &str) -> Option<Global> {
        self.get_export(store, name)?.into_global()
    }

    /// The exported table `name`.
    pub fn get_table(&self, store: impl AsContextMut, name: &str) -> Option<Table> {
        self.get_export(store, name)?.into_table()
    }

    /// The exported memory `name`.
    pub fn get_memory(&self, store: impl AsContextMut, name: &str) -> Option<Memory> {
        self.get_export(store, name)?.into_memory()
    }

    /// The exported function `name` with a static type.
    ///
    /// # Errors
    /// When there is no such exported function, or its type is not `P -> R`.
    pub fn get_typed_func<P: WasmParams, R: WasmResults>(
        &self,
        mut store: impl AsContextMut,
        name: &str,
    ) -> Result<TypedFunc<P, R>> {
        let f = self
            .get_func(&mut store, name)
            .ok_or_else(|| Error::Other(format!("no exported function named `{name}`")))?;
        f.typed(&store)
    }

    /// Every export, in order.
    pub fn exports(&self, mut store: impl AsContextMut) -> Vec<(String, Extern)> {
        let names: Vec<String> = {
            let mut cx = store.as_context_mut();
            let s = cx.opaque();
            if s.id() != self.store {
                return Vec::new();
            }
            s.instances[self.index].module.env().exports.iter().map(|e| e.name.clone()).collect()
        };
        names
            .into_iter()
            .filter_map(|n| {
                let e = self.get_export(&mut store, &n)?;
                Some((n, e))
            })
            .collect()
    }
}
