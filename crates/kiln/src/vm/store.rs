//! `StoreOpaque`: the arenas of everything a store owns — instances, functions, memories,
//! tables, globals — indexed by their own handle types, and `StoreInner<T>`, which puts the
//! user's data beside it. `WholeStore` is the only way to enter wasm: a pointer to the whole
//! `StoreInner<T>`, derived from a `&mut` of it, which the store context carries while wasm
//! runs so that builtins and host functions can reach the store again (see `entry`).
use super::code_memory::CodeMemory;
use super::epoch::EpochCallback;
use super::extern_refs::ExternRefs;
use super::host_func::{HostFuncs, Pending};
use super::ids::{FuncId, GlobalId, HostFuncId, InstanceId, MemoryId, StoreId, TableId, TagId};
use super::limits::{LimiterAccess, LimiterFn, ResourceCounts};
use super::memory::LinearMemory;
use super::store_box::StoreBox;
use super::table::TableStorage;
use super::val_raw::{RawRef, ValRaw};
use super::vm_ptr::VmPtr;
use super::vmcontext::{VMContextBlock, VMFuncRef, VMGlobalDefinition, VMStoreContext};
use crate::Engine;
use cranelift_entity::{EntitySet, PrimaryMap, SecondaryMap};
use kiln_environ::{DataIndex, ElemIndex, FuncIndex, Global, GlobalIndex, MemoryIndex, SharedTypeIndex, TableIndex};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;

/// What a store knows of a function.
#[derive(Clone, Copy, Debug)]
pub struct FuncData {
    /// Its reference, inside an instance's vmctx or a host function's context, both owned by
    /// this store.
    func_ref: VmPtr<VMFuncRef>,
    /// The host function, when it is one.
    pub host: Option<HostFuncId>,
    /// How many value slots a call needs: the larger of its parameter and result counts.
    pub slots: usize,
}

/// What a store knows of a global.
#[derive(Clone, Copy, Debug)]
pub struct GlobalData {
    /// Its definition, inside an instance's vmctx or a host global's box, both owned by this
    /// store.
    def: VmPtr<VMGlobalDefinition>,
    /// Its type.
    pub ty: Global<SharedTypeIndex>,
}

/// An instance in a store.
pub struct InstanceData {
    /// Its module.
    pub module: crate::Module,
    /// Its vmctx.
    pub vmctx: VMContextBlock,
    /// Its functions' store handles, by the module's function index, registered on first use.
    pub funcs: SecondaryMap<FuncIndex, Option<FuncId>>,
    /// Its tables, imported ones first.
    pub tables: PrimaryMap<TableIndex, TableId>,
    /// Its memories, imported ones first.
    pub memories: PrimaryMap<MemoryIndex, MemoryId>,
    /// Its globals, imported ones first.
    pub globals: PrimaryMap<GlobalIndex, GlobalId>,
    /// Its exception tags, imported ones first.
    pub tags: PrimaryMap<kiln_environ::TagIndex, TagId>,
    /// Data segments dropped by `data.drop` or applied at instantiation.
    pub dropped_data: EntitySet<DataIndex>,
    /// Element segments dropped by `elem.drop` or applied or declared at instantiation.
    pub dropped_elems: EntitySet<ElemIndex>,
    /// The items of the passive element segments whose expressions allocate GC objects,
    /// evaluated once at instantiation as the spec says (roots of the collector until the
    /// segment is dropped).
    pub gc_elements: std::collections::BTreeMap<ElemIndex, Box<[RawRef]>>,
}

/// The part of a store that does not depend on its data type.
pub struct StoreOpaque {
    id: StoreId,
    engine: Engine,
    /// What compiled code reads of this store.
    context: StoreBox<VMStoreContext>,
    /// The instances.
    pub instances: PrimaryMap<InstanceId, InstanceData>,
    /// The memories (defined by instances, or created by the host).
    pub memories: PrimaryMap<MemoryId, LinearMemory>,
    /// The tables (defined by instances, or created by the host).
    pub tables: PrimaryMap<TableId, TableStorage>,
    globals: PrimaryMap<GlobalId, GlobalData>,
    host_globals: Vec<StoreBox<VMGlobalDefinition>>,
    /// The exception tags (defined by instances, or created by the host): each its own
    /// identity, with the engine-wide id of its type. An imported tag is the exporter's.
    pub tags: PrimaryMap<TagId, SharedTypeIndex>,
    funcs: PrimaryMap<FuncId, FuncData>,
    func_by_ref: HashMap<VmPtr<VMFuncRef>, FuncId>,
    /// The host functions.
    pub host_funcs: HostFuncs,
    /// The ExternRefs wasm may see.
    pub externs: ExternRefs,
    /// Code that this store's function references point into.
    code: Vec<Arc<CodeMemory>>,
    /// What a host function called from wasm failed with, until the entry returns it.
    pub pending: Option<Pending>,
    /// How many host → wasm entries of this store are live (on some thread's stack).
    pub entries: u32,
    /// The engine types this store's host functions registered, released when it drops.
    host_types: Vec<SharedTypeIndex>,
    /// Fuel given to the store beyond what the store context holds (see `fuel`).
    pub fuel_reserve: u64,
    /// What to do when the epoch reaches the deadline: call this, or trap when `None`.
    pub epoch_callback: Option<EpochCallback>,
    /// How to reach the store's resource limiter, if one is installed (see `limits`).
    pub limiter: Option<LimiterAccess>,
    /// How many instances, defined memories and defined tables instantiations have made.
    pub counts: ResourceCounts,
    /// The component instances, handles and call scopes (`crate::component`).
    pub components: crate::component::store::ComponentStore,
    /// The GC heap and what the collector keeps (see `collector`).
    pub gc: super::collector::GcState,
}

/// A store: the opaque part first, then the user's data. `#[repr(C)]` keeps the opaque part
/// at the start, so that a pointer to the whole store is also a pointer to it.
#[repr(C)]
pub struct StoreInner<T> {
    /// The part the runtime works with.
    pub opaque: StoreOpaque,
    /// The user's data.
    pub data: T,
    /// Where the user's data keeps the store's resource limiter.
    pub limiter: Option<LimiterFn<T>>,
}

impl<T> StoreInner<T> {
    /// A new store, boxed so that its address never changes.
    pub fn new(engine: &Engine, data: T) -> StoreBox<StoreInner<T>> {
        StoreBox::new(StoreInner { opaque: StoreOpaque::new(engine), data, limiter: None })
    }
}

impl StoreOpaque {
    fn new(engine: &Engine) -> StoreOpaque {
        let id = StoreId::allocate();
        StoreOpaque {
            id,
            engine: engine.clone(),
            context: StoreBox::new(VMStoreContext::new(engine.epoch_counter())),
            instances: PrimaryMap::new(),
            memories: PrimaryMap::new(),
            tables: PrimaryMap::new(),
            globals: PrimaryMap::new(),
            host_globals: Vec::new(),
            tags: PrimaryMap::new(),
            funcs: PrimaryMap::new(),
            func_by_ref: HashMap::new(),
            host_funcs: HostFuncs::default(),
            externs: ExternRefs::default(),
            code: Vec::new(),
            pending: None,
            entries: 0,
            host_types: Vec::new(),
            fuel_reserve: 0,
            epoch_callback: None,
            limiter: None,
            counts: ResourceCounts::default(),
            components: crate::component::store::ComponentStore::new(id),
            gc: super::collector::GcState::default(),
        }
    }

    /// This store's id, which every handle into it carries.
    pub fn id(&self) -> StoreId {
        self.id
    }

    /// The store's engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The store context compiled code reads, for vmctx headers and entries.
    pub fn context(&self) -> VmPtr<VMStoreContext> {
        self.context.ptr()
    }

    /// The store context, for the fields the runtime keeps there (fuel, the epoch deadline,
    /// an entry's stack limit and store pointer). Compiled code of this store reads and writes
    /// it only while wasm runs, which a borrow of the store shows is suspended or not running.
    pub fn context_mut(&mut self) -> &mut VMStoreContext {
        self.context.get_mut()
    }

    /// The store context, for reading (see [`Self::context_mut`]).
    pub fn context_ref(&self) -> &VMStoreContext {
        self.context.get()
    }

    /// The code this store keeps alive; the trap handler reads it while wasm runs.
    pub fn code(&self) -> &[Arc<CodeMemory>] {
        &self.code
    }

    /// The code list of the entered store `store`, for the signal handler.
    ///
    /// # Safety
    /// `store` must be the store pointer of a live entry on this thread, and nothing may
    /// change the list while the result is used.
    pub unsafe fn code_while_entered<'a>(store: VmPtr<StoreOpaque>) -> &'a [Arc<CodeMemory>] {
        // SAFETY: per the contract; only the `code` field is borrowed, through the raw
        // pointer, so no reference to the rest of the store is made.
        unsafe { &(*store.as_ptr()).code }
    }

    /// The memories of the entered store `store`, for the signal handler.
    ///
    /// # Safety
    /// `store` must be the store pointer of a live entry on this thread, and nothing may
    /// change the memories while the result is used.
    pub unsafe fn memories_while_entered<'a>(store: VmPtr<StoreOpaque>) -> &'a PrimaryMap<MemoryId, LinearMemory> {
        // SAFETY: per the contract; only the `memories` field is borrowed.
        unsafe { &(*store.as_ptr()).memories }
    }

    /// Keep `code` alive as long as this store.
    pub fn keep_code(&mut self, code: &Arc<CodeMemory>) {
        if !self.code.iter().any(|c| Arc::ptr_eq(c, code)) {
            self.code.push(code.clone());
        }
    }

    /// Hold `ty`'s registration in the engine until this store drops.
    pub fn hold_type(&mut self, ty: SharedTypeIndex) {
        self.host_types.push(ty);
    }

    /// Hold type `ty` (a struct or array type the host allocates) until this store drops, once.
    pub fn hold_gc_type(&mut self, ty: SharedTypeIndex) {
        if self.gc.held_types.insert(ty) {
            self.engine.hold_type(ty);
            self.host_types.push(ty);
        }
    }

    /// Register a function reference (deduplicated) and return its handle.
    ///
    /// # Safety
    /// `func_ref` must point at a `VMFuncRef` this store owns (in the vmctx of one of its
    /// instances, or in one of its host functions' contexts), so that it lives as long as
    /// the store; `host` must be the host function that owns it, if one does, and `ty` the
    /// function's type.
    pub unsafe fn add_func_ref(
        &mut self,
        func_ref: VmPtr<VMFuncRef>,
        host: Option<HostFuncId>,
        ty: &kiln_environ::WasmFuncType,
    ) -> FuncId {
        if let Some(f) = self.func_by_ref.get(&func_ref) {
            return *f;
        }
        let slots = ty.params.len().max(ty.results.len());
        let f = self.funcs.push(FuncData { func_ref, host, slots });
        self.func_by_ref.insert(func_ref, f);
        f
    }

    /// The function whose reference is `func_ref`, registering it if this store owns it.
    /// `None` for a reference this store does not know, which no wasm of this store can
    /// produce.
    pub fn func_of_ref(&mut self, func_ref: VmPtr<VMFuncRef>) -> Option<FuncId> {
        if let Some(f) = self.func_by_ref.get(&func_ref) {
            return Some(*f);
        }
        // Function references wasm hands back that are not registered yet are those of
        // instance functions never exported: find the instance whose vmctx holds it.
        let (instance, index) = self.instances.iter().find_map(|(i, data)| {
            let offset = data.vmctx.offset_of(func_ref)?;
            let def = data.module.offsets().func_ref_at(offset)?;
            Some((i, data.module.env().func_index(def)))
        })?;
        Some(super::instance::instance_func(self, instance, index))
    }

    /// Function `f`'s data.
    pub fn func(&self, f: FuncId) -> FuncData {
        self.funcs[f]
    }

    /// Read function `f`'s reference.
    pub fn func_ref(&self, f: FuncId) -> &VMFuncRef {
        // SAFETY: every registered reference points into a vmctx or a host function's
        // context that this store owns (`add_func_ref`'s contract), alive as long as `self`;
        // `&self` excludes the store's writers, and wasm does not write function references.
        unsafe { self.funcs[f].func_ref.as_non_null().as_ref() }
    }

    /// The pointer to function `f`'s reference, as wasm sees it.
    pub fn func_ref_ptr(&self, f: FuncId) -> VmPtr<VMFuncRef> {
        self.funcs[f].func_ref
    }

    /// Add a host-owned global.
    pub fn add_global(&mut self, ty: Global<SharedTypeIndex>, value: ValRaw) -> GlobalId {
        let def = StoreBox::new(VMGlobalDefinition { bytes: value.0 });
        let ptr = def.ptr();
        self.host_globals.push(def);
        // SAFETY: the definition is boxed in `host_globals`, which the store keeps for life.
        unsafe { self.add_global_def(ptr, ty) }
    }

    /// Register a global definition that lives elsewhere.
    ///
    /// # Safety
    /// `def` must point at a global definition this store owns (in one of its instances'
    /// vmctx, or a host global), alive as long as the store.
    pub unsafe fn add_global_def(&mut self, def: VmPtr<VMGlobalDefinition>, ty: Global<SharedTypeIndex>) -> GlobalId {
        self.globals.push(GlobalData { def, ty })
    }

    /// Global `g`'s data.
    pub fn global(&self, g: GlobalId) -> GlobalData {
        self.globals[g]
    }

    /// The store's globals.
    pub fn globals(&self) -> impl Iterator<Item = (GlobalId, GlobalData)> + '_ {
        self.globals.iter().map(|(g, d)| (g, *d))
    }

    /// The pointer to global `g`'s definition, for an importing vmctx.
    pub fn global_def(&self, g: GlobalId) -> VmPtr<VMGlobalDefinition> {
        self.globals[g].def
    }

    /// Read a global.
    pub fn global_get(&self, g: GlobalId) -> ValRaw {
        // SAFETY: the definition is owned by this store (`add_global_def`'s contract), and
        // no wasm runs while the host reads through `&self`.
        ValRaw(unsafe { self.globals[g].def.as_ptr().read().bytes })
    }

    /// Write a global.
    pub fn global_set(&mut self, g: GlobalId, value: ValRaw) {
        // SAFETY: as in `global_get`; `&mut self` excludes running wasm and other readers.
        unsafe { self.globals[g].def.as_ptr().write(VMGlobalDefinition { bytes: value.0 }) };
    }

    /// Element `i` of table `t`, decoded, filling a not-yet-initialized element from the
    /// table's image first. `None` past the end.
    pub fn table_get(&mut self, t: TableId, i: u64) -> Option<RawRef> {
        if let Some(value) = self.tables[t].get(i)? {
            return Some(value);
        }
        let image = self.tables[t].image()?.clone();
        let value = match usize::try_from(i).ok().and_then(|i| image.elements.get(i)).copied().flatten() {
            Some(f) => RawRef::func(Some(super::instance::func_ref_of(self, image.instance, f))),
            None => RawRef::NULL,
        };
        self.tables[t].set(i, value);
        Some(value)
    }
}

impl Drop for StoreOpaque {
    fn drop(&mut self) {
        self.engine.release_types(self.host_types.iter().copied());
    }
}

/// A whole store (`StoreInner<T>` for some `T`) borrowed for `'a`, reached through a raw
/// pointer derived from the `&mut` it was made from. Wasm is entered only through one: the
/// store context carries the pointer while wasm runs, and builtins and host functions
/// re-borrow the store from it, so every access during a call derives from the borrow that
/// entered (see `entry`).
pub struct WholeStore<'a> {
    ptr: NonNull<StoreOpaque>,
    _borrow: PhantomData<&'a mut StoreOpaque>,
}

impl<'a> WholeStore<'a> {
    /// The whole of `inner`.
    pub fn new<T>(inner: &'a mut StoreInner<T>) -> WholeStore<'a> {
        WholeStore { ptr: NonNull::from(inner).cast(), _borrow: PhantomData }
    }

    /// The store a live entry's context points at.
    ///
    /// # Safety
    /// `ptr` must be the store pointer of the store context of a store that is entered on
    /// this thread, read by a builtin or host function that this entry's wasm called; the
    /// result must not outlive that call, nor be used while another `WholeStore` or
    /// reference made from the same pointer is in use.
    pub unsafe fn from_context(ptr: VmPtr<StoreOpaque>) -> WholeStore<'a> {
        WholeStore { ptr: ptr.as_non_null(), _borrow: PhantomData }
    }

    /// The opaque part.
    pub fn opaque(&mut self) -> &mut StoreOpaque {
        // SAFETY: the pointer was derived from a `&mut StoreInner<T>` borrowed for `'a` (or,
        // in `from_context`, from the one that entered wasm), and `StoreInner<T>` is
        // `#[repr(C)]` with the `StoreOpaque` first; `&mut self` makes this the only
        // reference made from it.
        unsafe { self.ptr.as_mut() }
    }

    /// The opaque part, for the rest of the borrow.
    pub fn into_opaque(mut self) -> &'a mut StoreOpaque {
        // SAFETY: as in `opaque`; consuming `self` leaves this the only reference made from
        // the pointer, for `'a`.
        unsafe { self.ptr.as_mut() }
    }

    /// The store as a `StoreInner<T>`.
    ///
    /// # Safety
    /// `T` must be the data type of the store this points at.
    pub unsafe fn inner<T>(&mut self) -> &mut StoreInner<T> {
        // SAFETY: as in `opaque`; the pointer's provenance covers the whole `StoreInner<T>`
        // (it was made from a reference to all of it), and the caller vouches for `T`.
        unsafe { self.ptr.cast::<StoreInner<T>>().as_mut() }
    }

    /// A shorter borrow of the same store.
    pub fn reborrow(&mut self) -> WholeStore<'_> {
        WholeStore { ptr: self.ptr, _borrow: PhantomData }
    }

    /// The pointer, for the store context while wasm runs.
    pub fn as_ptr(&self) -> VmPtr<StoreOpaque> {
        VmPtr::from(self.ptr)
    }
}
