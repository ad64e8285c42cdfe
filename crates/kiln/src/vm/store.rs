//! `StoreOpaque`: everything a store owns — instances, memories, tables, globals, functions and
//! host functions — and the two ways across the host/wasm boundary: [`StoreOpaque::call`]
//! (host → wasm or host function) and the host shim that wasm reaches through the
//! wasm-to-array trampoline (wasm → host). `StoreInner<T>` puts the user's data beside it;
//! it is `#[repr(C)]` with the opaque part first, so runtime code that only knows a
//! `*mut ()` can still find the `StoreOpaque`.
use super::code_memory::CodeMemory;
use super::memory::LinearMemory;
use super::table::TableStorage;
use super::traps;
use super::vmcontext::*;
use crate::{Engine, Error};
use kiln_environ::{Global, Trap, VM_MAGIC, VMOffsets, WasmFuncType};
use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One 16-byte value slot of the array ABI.
#[repr(C, align(16))]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct ValRaw(pub [u8; 16]);

impl ValRaw {
    /// A slot holding `bits` (little-endian; narrower values use the low bytes).
    pub fn from_bits(bits: u128) -> ValRaw {
        ValRaw(bits.to_le_bytes())
    }

    /// The slot's bits.
    pub fn bits(self) -> u128 {
        u128::from_le_bytes(self.0)
    }
}

/// A host function's code: called with the `StoreInner<T>` pointer, the calling instance (if
/// called from wasm), and the value slots (params in, results out).
pub type HostCall = Box<dyn Fn(*mut (), Option<usize>, &mut [ValRaw]) -> Result<(), Error> + Send + Sync>;

/// A host function: its vmctx (which compiled code sees) and its closure.
#[repr(C)]
pub struct HostFunc {
    ctx: VMHostFuncContext,
    pub ty: WasmFuncType,
    call: HostCall,
}

/// What a store knows of a function.
#[derive(Clone, Copy, Debug)]
pub struct FuncData {
    pub func_ref: *const VMFuncRef,
    pub host: Option<usize>,
}

/// What a store knows of a global.
#[derive(Clone, Copy, Debug)]
pub struct GlobalData {
    pub def: *mut VMGlobalDefinition,
    pub ty: Global,
}

/// An instance in a store.
pub struct InstanceData {
    pub module: crate::Module,
    pub vmctx: VMContextBlock,
    pub funcs: Vec<Option<usize>>,
    pub tables: Vec<usize>,
    pub memories: Vec<usize>,
    pub globals: Vec<usize>,
    /// Data segments dropped by `data.drop` or applied at instantiation.
    pub dropped_data: Vec<bool>,
    /// Element segments dropped by `elem.drop` or applied or declared at instantiation.
    pub dropped_elems: Vec<bool>,
}

enum Pending {
    Error(Error),
    Panic(Box<dyn Any + Send>),
}

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

/// The part of a store that does not depend on its data type.
pub struct StoreOpaque {
    pub id: u64,
    pub engine: Engine,
    ctx: Box<VMStoreContext>,
    pub instances: Vec<InstanceData>,
    pub memories: Vec<LinearMemory>,
    pub tables: Vec<TableStorage>,
    pub globals: Vec<GlobalData>,
    host_globals: Vec<Box<VMGlobalDefinition>>,
    pub funcs: Vec<FuncData>,
    host_funcs: Vec<Box<HostFunc>>,
    func_by_ref: HashMap<usize, usize>,
    /// Host functions that have no wasm entry yet (no module of this store had their type).
    host_funcs_without_entry: Vec<usize>,
    /// The ExternRefs wasm may see: raw value `i + 1` is `externs[i]` (0 is null).
    externs: Vec<Option<Arc<dyn Any + Send + Sync>>>,
    extern_slots: HashMap<usize, usize>,
    free_extern_slots: Vec<usize>,
    /// Collect when this many ExternRefs are held.
    extern_gc_threshold: usize,
    /// Code that this store's function references point into.
    code: Vec<Arc<CodeMemory>>,
    pending: Option<Pending>,
}

// SAFETY: the raw pointers inside point at memory this store owns (or at code it keeps alive);
// the store is used from one thread at a time, as `&mut` access requires.
unsafe impl Send for StoreOpaque {}

/// A store: the opaque part first, then the user's data.
#[repr(C)]
pub struct StoreInner<T> {
    pub opaque: StoreOpaque,
    pub data: T,
}

impl<T> StoreInner<T> {
    /// A new boxed store (boxed so that its address, recorded in the store context, is stable).
    pub fn new(engine: &Engine, data: T) -> Box<StoreInner<T>> {
        let mut store = Box::new(StoreInner {
            opaque: StoreOpaque {
                id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
                engine: engine.clone(),
                ctx: Box::new(VMStoreContext { stack_limit: usize::MAX, store: std::ptr::null_mut() }),
                instances: Vec::new(),
                memories: Vec::new(),
                tables: Vec::new(),
                globals: Vec::new(),
                host_globals: Vec::new(),
                funcs: Vec::new(),
                host_funcs: Vec::new(),
                func_by_ref: HashMap::new(),
                host_funcs_without_entry: Vec::new(),
                externs: Vec::new(),
                extern_slots: HashMap::new(),
                free_extern_slots: Vec::new(),
                extern_gc_threshold: 64,
                code: Vec::new(),
                pending: None,
            },
            data,
        });
        let ptr: *mut StoreInner<T> = &mut *store;
        store.opaque.ctx.store = ptr.cast();
        store
    }
}

/// Make a [`HostCall`] from a closure over the typed store.
pub fn host_call<T: 'static>(
    f: impl Fn(&mut StoreInner<T>, Option<usize>, &mut [ValRaw]) -> Result<(), Error> + Send + Sync + 'static,
) -> HostCall {
    Box::new(move |store, instance, values| {
        // SAFETY: host functions of a `Store<T>` are only ever called with that store's
        // `StoreInner<T>` pointer (from its store context, or from `StoreOpaque::call` on the
        // store itself), whose outer borrow is suspended while wasm or this call runs.
        let store = unsafe { &mut *store.cast::<StoreInner<T>>() };
        f(store, instance, values)
    })
}

/// The host shim: the `array_call` of every host function.
unsafe extern "C" fn host_array_call(callee_vmctx: usize, caller_vmctx: usize, values: *mut u8, len: usize) -> bool {
    // SAFETY: `callee_vmctx` is the address of a `HostFunc` (its `VMHostFuncContext` is the
    // first field), kept alive by the store that wasm is running in.
    let host = unsafe { &*(callee_vmctx as *const HostFunc) };
    // SAFETY: `caller_vmctx` is a live instance's vmctx; its header holds the store context
    // pointer and the instance's index in its store.
    let (store_ptr, instance) = unsafe {
        let ctx = *((caller_vmctx + VMOffsets::STORE_CONTEXT as usize) as *const *const VMStoreContext);
        let instance = *((caller_vmctx + VMOffsets::RUNTIME_DATA as usize) as *const usize);
        ((*ctx).store, instance)
    };
    // SAFETY: the trampoline passes a stack buffer of `len` value slots.
    let values = unsafe { std::slice::from_raw_parts_mut(values.cast::<ValRaw>(), len) };
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (host.call)(store_ptr, Some(instance), values)));
    let pending = match result {
        Ok(Ok(())) => return true,
        Ok(Err(e)) => Pending::Error(e),
        Err(panic) => Pending::Panic(panic),
    };
    // SAFETY: `StoreInner<T>` is `#[repr(C)]` with its `StoreOpaque` first; nothing else
    // borrows the store while this shim runs.
    let store = unsafe { &mut *store_ptr.cast::<StoreOpaque>() };
    store.pending = Some(pending);
    false
}

impl StoreOpaque {
    /// The store context's address, for vmctx headers.
    pub fn context_ptr(&mut self) -> *mut VMStoreContext {
        &mut *self.ctx
    }

    /// Keep `code` alive as long as this store.
    pub fn keep_code(&mut self, code: &Arc<CodeMemory>) {
        if !self.code.iter().any(|c| Arc::ptr_eq(c, code)) {
            self.code.push(code.clone());
        }
    }

    /// Register a function reference (deduplicated) and return its index.
    pub fn add_func_ref(&mut self, func_ref: *const VMFuncRef, host: Option<usize>) -> usize {
        if let Some(i) = self.func_by_ref.get(&(func_ref as usize)) {
            return *i;
        }
        let i = self.funcs.len();
        self.funcs.push(FuncData { func_ref, host });
        self.func_by_ref.insert(func_ref as usize, i);
        i
    }

    /// The function whose reference is at `addr`, if it belongs to this store.
    pub fn func_by_ref(&self, addr: usize) -> Option<usize> {
        self.func_by_ref.get(&addr).copied()
    }

    /// Add a host function of type `ty` whose shared type id is `type_index`.
    pub fn add_host_func(&mut self, ty: WasmFuncType, type_index: u32, call: HostCall) -> usize {
        let mut host = Box::new(HostFunc {
            ctx: VMHostFuncContext {
                magic: VM_MAGIC ^ 0xffff_ffff,
                func_ref: VMFuncRef {
                    array_call: host_array_call as *const () as usize,
                    wasm_call: 0,
                    type_index,
                    vmctx: 0,
                },
            },
            ty,
            call,
        });
        host.ctx.func_ref.vmctx = &*host as *const HostFunc as usize;
        let func_ref: *const VMFuncRef = &host.ctx.func_ref;
        let index = self.host_funcs.len();
        self.host_funcs.push(host);
        self.host_funcs_without_entry.push(index);
        let modules: Vec<crate::Module> = self.instances.iter().map(|i| i.module.clone()).collect();
        for module in &modules {
            self.give_host_funcs_entries(module);
        }
        self.add_func_ref(func_ref, Some(index))
    }

    /// Give every host function without a wasm entry one from `module`'s wasm-to-array
    /// trampolines, where the module has its type: wasm may reach a host function through a
    /// table, a global or an argument without ever importing it, and then calls `wasm_call`.
    pub fn give_host_funcs_entries(&mut self, module: &crate::Module) {
        let env = module.env();
        let host_funcs = &mut self.host_funcs;
        self.host_funcs_without_entry.retain(|&h| {
            let r = &mut host_funcs[h].ctx.func_ref;
            let Some((t, _)) = env.types.iter().find(|(t, _)| module.shared_type(*t) == r.type_index) else {
                return true;
            };
            let key = kiln_environ::FuncKey::WasmToArrayTrampoline(env.canonical_type(t));
            match module.code().func_addr(key) {
                Some(addr) => {
                    r.wasm_call = addr;
                    false
                }
                None => true,
            }
        });
    }

    /// Read a function reference.
    pub fn func_ref(&self, func: usize) -> &VMFuncRef {
        // SAFETY: every registered func_ref points into a vmctx or host function this store
        // owns.
        unsafe { &*self.funcs[func].func_ref }
    }

    /// Element `i` of table `t`, decoded, filling a not-yet-initialized element from the
    /// table's image first. `None` past the end.
    pub fn table_get(&mut self, t: usize, i: usize) -> Option<usize> {
        if let Some(value) = self.tables[t].get(i)? {
            return Some(value);
        }
        let image = self.tables[t].image()?.clone();
        let value = match image.elements.get(i).copied().flatten() {
            Some(f) => super::instance::func_ref_addr(self, &self.instances[image.instance], f),
            None => 0,
        };
        self.tables[t].set(i, value);
        Some(value)
    }

    /// Add a host-owned global.
    pub fn add_global(&mut self, ty: Global, value: ValRaw) -> usize {
        let mut def = Box::new(VMGlobalDefinition { bytes: value.0 });
        let ptr: *mut VMGlobalDefinition = &mut *def;
        self.host_globals.push(def);
        self.add_global_def(ptr, ty)
    }

    /// Register a global definition that lives elsewhere (in a vmctx of this store).
    pub fn add_global_def(&mut self, def: *mut VMGlobalDefinition, ty: Global) -> usize {
        self.globals.push(GlobalData { def, ty });
        self.globals.len() - 1
    }

    /// Read a global.
    pub fn global_get(&self, global: usize) -> ValRaw {
        // SAFETY: the definition is owned by this store (boxed or in a vmctx).
        ValRaw(unsafe { (*self.globals[global].def).bytes })
    }

    /// Write a global.
    pub fn global_set(&mut self, global: usize, value: ValRaw) {
        // SAFETY: as in `global_get`; `&mut self` excludes running wasm.
        unsafe { (*self.globals[global].def).bytes = value.0 };
    }

    /// The raw value (slot + 1) of an ExternRef, adding it to the store if it is new.
    pub fn extern_to_raw(&mut self, value: &Arc<dyn Any + Send + Sync>) -> usize {
        let key = Arc::as_ptr(value) as *const () as usize;
        if let Some(slot) = self.extern_slots.get(&key) {
            return slot + 1;
        }
        let slot = match self.free_extern_slots.pop() {
            Some(slot) => {
                self.externs[slot] = Some(value.clone());
                slot
            }
            None => {
                self.externs.push(Some(value.clone()));
                self.externs.len() - 1
            }
        };
        self.extern_slots.insert(key, slot);
        slot + 1
    }

    /// The ExternRef behind a raw value (`None` for null).
    pub fn extern_from_raw(&self, raw: usize) -> Option<Arc<dyn Any + Send + Sync>> {
        self.externs.get(raw.checked_sub(1)?)?.clone()
    }

    /// Release every ExternRef that neither wasm nor the host can reach. Only possible while
    /// no wasm runs on this store (its stack may hold raw references the store cannot see);
    /// returns whether it ran.
    pub fn gc(&mut self) -> bool {
        if self.ctx.stack_limit != usize::MAX {
            return false;
        }
        let mut live = vec![false; self.externs.len()];
        let mut mark = |raw: usize| {
            if let Some(slot) = raw.checked_sub(1) {
                if let Some(l) = live.get_mut(slot) {
                    *l = true;
                }
            }
        };
        for table in &self.tables {
            if table.ty().element == kiln_environ::WasmValType::ExternRef {
                table.extern_elements().iter().for_each(|e| mark(*e));
            }
        }
        for g in 0..self.globals.len() {
            if self.globals[g].ty.ty == kiln_environ::WasmValType::ExternRef {
                mark(self.global_get(g).bits() as usize);
            }
        }
        for (slot, entry) in self.externs.iter_mut().enumerate() {
            // A strong count above one means the host still holds a clone.
            let held = entry.as_ref().is_some_and(|a| Arc::strong_count(a) > 1);
            if let Some(a) = entry.as_ref().filter(|_| !live[slot] && !held) {
                self.extern_slots.remove(&(Arc::as_ptr(a) as *const () as usize));
                *entry = None;
                self.free_extern_slots.push(slot);
            }
        }
        let held = self.externs.len() - self.free_extern_slots.len();
        self.extern_gc_threshold = (held * 2).max(64);
        true
    }

    /// Call function `func` with `values` (params in, results out; at least as many slots
    /// as params and results).
    pub fn call(&mut self, func: usize, values: &mut [ValRaw]) -> Result<(), Error> {
        let data = self.funcs[func];
        let store_ptr = (self as *mut StoreOpaque).cast::<()>();
        if let Some(host) = data.host {
            let call: *const HostCall = &self.host_funcs[host].call;
            // SAFETY: host functions are boxed and never removed while the store lives;
            // `store_ptr` is this store's `StoreInner<T>` (`StoreOpaque` is its first field).
            return unsafe { (*call)(store_ptr, None, values) };
        }
        // SAFETY: see `func_ref`.
        let (array_call, vmctx) = unsafe { ((*data.func_ref).array_call, (*data.func_ref).vmctx) };
        if array_call == 0 {
            return Err(Error::Other("this function cannot be called from the host".into()));
        }
        let max_stack = self.engine.tunables().max_wasm_stack;
        let outermost = self.ctx.stack_limit == usize::MAX;
        if outermost && self.externs.len() - self.free_extern_slots.len() >= self.extern_gc_threshold {
            self.gc();
        }
        if outermost {
            let here = &max_stack as *const usize as usize;
            let floor = traps::stack_low().map_or(0, |low| low + (64 << 10));
            self.ctx.stack_limit = here.saturating_sub(max_stack).max(floor);
        }
        // SAFETY: `array_call` is an array-to-wasm trampoline of code this store keeps alive
        // (or a host shim), `vmctx` the live instance it belongs to, and `values` has
        // `values.len()` slots.
        let f: traps::ArrayCall = unsafe { std::mem::transmute(array_call) };
        let code: *const Vec<Arc<CodeMemory>> = &self.code;
        let result = unsafe { traps::enter(f, vmctx, vmctx, values.as_mut_ptr().cast(), values.len(), code) };
        if outermost {
            self.ctx.stack_limit = usize::MAX;
        }
        match result {
            Ok(()) => Ok(()),
            Err(info) if info.trap == Trap::HostError => match self.pending.take() {
                Some(Pending::Error(e)) => Err(e),
                Some(Pending::Panic(p)) => std::panic::resume_unwind(p),
                None => Err(Error::Trap(Trap::HostError, None)),
            },
            Err(info) => {
                let frames = info.pcs.iter().filter_map(|&pc| self.code.iter().find_map(|c| c.frame_at(pc))).collect();
                Err(Error::Trap(info.trap, Some(Box::new(crate::WasmBacktrace { frames, truncated: info.truncated }))))
            }
        }
    }
}

/// The header every vmctx starts with.
pub fn init_vmctx_header(store: &mut StoreOpaque, vmctx: &VMContextBlock, instance: usize) {
    vmctx.write(VMOffsets::MAGIC, VM_MAGIC);
    vmctx.write(VMOffsets::BUILTINS, &super::builtins::BUILTINS as *const _ as usize);
    vmctx.write(VMOffsets::STORE_CONTEXT, store.context_ptr() as usize);
    vmctx.write(VMOffsets::RUNTIME_DATA, instance);
}
