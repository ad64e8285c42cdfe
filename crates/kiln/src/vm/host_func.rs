//! Host functions: their records in a store (`HostFuncs`), the closure each runs, and the
//! host shim — the `array_call` of every host function — through which wasm reaches them
//! (wasm → wasm-to-array trampoline → shim → closure). A host function's "vmctx" is its
//! `VMHostFuncContext`, boxed so that its address is stable; its closure is shared (`Arc`)
//! so that a call holds its own handle on it and never a reference into the store.
use super::ids::{FuncId, HostFuncId, InstanceId};
use super::store::{StoreInner, StoreOpaque, WholeStore};
use super::store_box::StoreBox;
use super::val_raw::ValRaw;
use super::vm_ptr::VmPtr;
use super::vmcontext::{HOST_FUNC_MAGIC, VMContext, VMFuncRef, VMHostFuncContext, header_of};
use crate::Error;
use cranelift_entity::PrimaryMap;
use kiln_environ::{FuncKey, SharedTypeIndex, WasmFuncType};
use std::any::Any;
use std::ptr::NonNull;
use std::sync::Arc;

/// A host function's code: called with the whole store it belongs to, the calling instance
/// (if called from wasm), and the value slots (params in, results out).
pub type HostCall = Arc<dyn Fn(WholeStore<'_>, Option<InstanceId>, &mut [ValRaw]) -> Result<(), Error> + Send + Sync>;

/// What a host function called from wasm failed with, kept in the store until the entry
/// that called wasm returns it.
pub enum Pending {
    /// The function returned an error.
    Error(Error),
    /// The function panicked; the panic resumes in the host once wasm is left.
    Panic(Box<dyn Any + Send>),
}

/// A host function: its context (which compiled code sees) and its closure.
struct HostFunc {
    ctx: StoreBox<VMHostFuncContext>,
    call: HostCall,
}

/// The host functions of a store.
#[derive(Default)]
pub struct HostFuncs {
    funcs: PrimaryMap<HostFuncId, HostFunc>,
    /// Host functions that have no wasm entry yet (no module of this store had their type).
    without_entry: Vec<HostFuncId>,
}

impl HostFuncs {
    /// The closure of host function `h`.
    pub fn call(&self, h: HostFuncId) -> HostCall {
        self.funcs[h].call.clone()
    }
}

/// Add to `store` a host function of type `ty`, registered as `type_index` (a registration the
/// store takes over), whose body is `f`.
pub fn add_host_func<T: 'static>(
    store: &mut StoreInner<T>,
    ty: &WasmFuncType,
    type_index: SharedTypeIndex,
    f: impl Fn(&mut StoreInner<T>, Option<InstanceId>, &mut [ValRaw]) -> Result<(), Error> + Send + Sync + 'static,
) -> FuncId {
    let call: HostCall = Arc::new(move |mut store: WholeStore<'_>, instance, values| {
        // SAFETY: a host function is only ever called with the store it was added to, and
        // this one goes into `store`, whose data type is `T`.
        let inner = unsafe { store.inner::<T>() };
        f(inner, instance, values)
    });
    add_host_call(&mut store.opaque, ty, type_index, call)
}

/// Add a host function whose type is `type_index` and whose code is `call` to `store`, which
/// takes over that registration of the type.
fn add_host_call(store: &mut StoreOpaque, ty: &WasmFuncType, type_index: SharedTypeIndex, call: HostCall) -> FuncId {
    store.hold_type(type_index);
    let h = store.host_funcs.funcs.next_key();
    let mut ctx = StoreBox::new(VMHostFuncContext {
        magic: HOST_FUNC_MAGIC,
        func_ref: VMFuncRef {
            array_call: Some(host_array_call),
            wasm_call: None,
            type_index,
            vmctx: VmPtr::dangling(),
        },
        host: h,
    });
    let ctx_ptr = ctx.ptr();
    ctx.get_mut().func_ref.vmctx = ctx_ptr.cast();
    // SAFETY: `ctx_ptr` points at the box just made, which the store keeps for life; only
    // the field's address is taken.
    let func_ref = unsafe { &raw mut (*ctx_ptr.as_ptr()).func_ref };
    let func_ref = VmPtr::from(NonNull::new(func_ref).expect("a field of a box is not null"));
    store.host_funcs.funcs.push(HostFunc { ctx, call });
    store.host_funcs.without_entry.push(h);
    let modules: Vec<crate::Module> = store.instances.values().map(|i| i.module.clone()).collect();
    for module in &modules {
        give_host_funcs_entries(store, module);
    }
    // SAFETY: the reference lies in host function `h`'s context, which the store keeps, and
    // the function has type `ty`.
    unsafe { store.add_func_ref(func_ref, Some(h), ty) }
}

/// Give every host function without a wasm entry one from `module`'s wasm-to-array
/// trampolines, where the module has its type: wasm may reach a host function through a
/// table, a global or an argument without ever importing it, and then calls `wasm_call`.
pub fn give_host_funcs_entries(store: &mut StoreOpaque, module: &crate::Module) {
    // The entries point into the module's code, which the store must keep from now on.
    store.keep_code(module.code());
    let env = module.env();
    let funcs = &mut store.host_funcs.funcs;
    store.host_funcs.without_entry.retain(|&h| {
        let r = &mut funcs[h].ctx.get_mut().func_ref;
        let Some((t, _)) = env.types.iter().find(|(t, _)| module.shared_type(*t) == r.type_index) else {
            return true;
        };
        let key = FuncKey::WasmToArrayTrampoline(module.static_index(), env.canonical_type(t));
        match module.code().func_code(key) {
            Some(code) => {
                r.wasm_call = Some(code);
                false
            }
            None => true,
        }
    });
}

/// The host shim: the `array_call` of every host function.
///
/// # Safety
/// Called only by compiled code (the wasm-to-array trampoline) or an entry, as the array
/// ABI says: `callee_vmctx` is a host function's context, `caller_vmctx` the vmctx of a live
/// instance of the same store, which is entered, and `values` holds `len` slots.
unsafe extern "C" fn host_array_call(
    callee_vmctx: VmPtr<VMContext>,
    caller_vmctx: VmPtr<VMContext>,
    values: NonNull<ValRaw>,
    len: usize,
) -> bool {
    // SAFETY: per the contract, the callee is a host function's context.
    let ctx = unsafe { host_context(callee_vmctx) };
    // SAFETY: that context is in a box its store keeps alive; only its plain `host` field,
    // which nothing writes after creation, is read.
    let host = unsafe { (*ctx.as_ptr()).host };
    // SAFETY: the caller is a live instance's vmctx (the contract).
    let header = unsafe { header_of(caller_vmctx) };
    // SAFETY: the header's store context is its store's, alive while the store is.
    let Some(store_ptr) = (unsafe { (*header.store_context.as_ptr()).store }) else {
        // A store context without a store is one that is not entered: no wasm can be
        // running in it, so this is not a call the ABI allows. Report a host error.
        return false;
    };
    // SAFETY: the store is entered, and this call of its wasm is where its pointer is used
    // now: the entry that set it is suspended below us, and nothing else holds a reference
    // made from it.
    let mut store = unsafe { WholeStore::from_context(store_ptr) };
    // SAFETY: the trampoline passes a stack buffer of `len` value slots.
    let values = unsafe { std::slice::from_raw_parts_mut(values.as_ptr(), len) };
    super::traps::in_host(|| {
        let call = store.opaque().host_funcs.call(host);
        // The roots the call makes (its parameters', and whatever the host roots while it
        // runs) end with it, however it ends: the host function is their scope.
        let depth = store.opaque().gc.roots.depth();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            call(store.reborrow(), Some(header.instance), values)
        }));
        store.opaque().gc.roots.pop_to(depth);
        let pending = match result {
            Ok(Ok(())) => return true,
            Ok(Err(e)) => Pending::Error(e),
            Err(panic) => Pending::Panic(panic),
        };
        store.opaque().pending = Some(pending);
        false
    })
}

/// `callee_vmctx` as the host function context it is.
///
/// # Safety
/// `callee_vmctx` must point at a live `VMHostFuncContext`.
unsafe fn host_context(callee_vmctx: VmPtr<VMContext>) -> VmPtr<VMHostFuncContext> {
    let ctx = callee_vmctx.cast::<VMHostFuncContext>();
    // SAFETY: per the contract; reading the magic checks the claim in debug builds.
    debug_assert_eq!(unsafe { (*ctx.as_ptr()).magic }, HOST_FUNC_MAGIC);
    ctx
}
