//! Calling a function of a store from the host: [`invoke`]. For a wasm function this is a
//! host → wasm entry, and the one place that hands the store to code outside Rust's view.
//!
//! # How wasm reaches the store
//!
//! The caller holds the store as a [`WholeStore`]: a raw pointer derived from the `&mut` of
//! the whole `StoreInner<T>` that it borrowed. `invoke` writes that pointer into the store's
//! context (and the thread's activation) and then stops using the store until wasm returns.
//! While wasm runs, every access to the store — a builtin, a host function (through the host
//! shim) — reads the pointer from the context and re-borrows the store from it for the
//! duration of that one call; the signal handler reads the store's code list through the
//! activation's copy, and only for a fault in wasm, never while a host function runs (see
//! `traps::in_host`; builtins never fault). Each borrow is thus derived from the borrow that entered, and none
//! overlaps another or the entering one: the borrow stack stays well formed, whatever
//! Rust's aliasing model, and no two `&mut` to the store are ever live at once.
//!
//! A host function that re-enters wasm does so through its own `WholeStore`, made from the
//! `&mut StoreInner<T>` its call was given; the nested entry saves the context's pointer,
//! puts its own there, and restores the saved one before returning, so that the outer
//! wasm's builtins see the outer entry's pointer again.
//!
//! The entry also sets the context's stack limit for this thread (see `stack_limit`), and
//! turns what comes back — normal return, trap, host error, host panic — into a `Result`.
use super::ids::FuncId;
use super::stack_limit;
use super::store::WholeStore;
use super::traps;
use super::val_raw::ValRaw;
use crate::Error;
use crate::vm::host_func::Pending;
use kiln_environ::Trap;
use std::ptr::NonNull;

/// Call function `func` of `store` with `values` (params in, results out; at least as many
/// slots as the larger of the function's parameter and result counts).
///
/// # Errors
/// The function's trap or host error; [`Error::Limit`] when this thread's stack is too small
/// for the engine's `max_wasm_stack`; [`Error::Other`] for too few slots. A host function's
/// panic resumes here.
pub fn invoke(store: &mut WholeStore<'_>, func: FuncId, values: &mut [ValRaw]) -> Result<(), Error> {
    let opaque = store.opaque();
    let data = opaque.func(func);
    if values.len() < data.slots {
        return Err(Error::Other(format!("a call needs {} value slots, given {}", data.slots, values.len())));
    }
    if let Some(host) = data.host {
        // The host function is the scope of the roots it makes, as when wasm calls it.
        let call = opaque.host_funcs.call(host);
        let depth = opaque.gc.roots.depth();
        let result = call(store.reborrow(), None, values);
        store.opaque().gc.roots.pop_to(depth);
        return result;
    }
    let func_ref = opaque.func_ref(func);
    let (Some(array_call), vmctx) = (func_ref.array_call, func_ref.vmctx) else {
        return Err(Error::Other("this function cannot be called from the host".into()));
    };
    opaque.maybe_gc();
    let limit = stack_limit::for_entry(opaque.engine().tunables().max_wasm_stack)?;
    // Everything that can fail or panic happens before the store is marked entered.
    traps::prepare_thread()?;
    opaque.entries += 1;
    let whole = store.as_ptr();
    // The entry fields change for the call; fuel and the epoch deadline stay as they are.
    let context = store.opaque().context_mut();
    let saved = (std::mem::replace(&mut context.stack_limit, limit), context.store.replace(whole), context.exit_fp);
    let values_ptr = NonNull::from(&mut *values).cast::<ValRaw>();
    let entry = traps::EntryInto { store: whole, stack_limit: limit, outer_exit_fp: saved.2 };
    // SAFETY: `array_call` is the array-to-wasm trampoline of code this store keeps alive,
    // `vmctx` the live instance it belongs to, and `values` has `values.len()` slots; `whole`
    // is the store this context now names, which nothing else borrows until `enter` returns
    // (the module docs).
    let result = unsafe { traps::enter(array_call, vmctx, vmctx, values_ptr, values.len(), entry) };
    let opaque = store.opaque();
    // This restores what the context held before this entry (the exit frame of the wasm
    // that called the host function that made this entry, if any: its roots are found from
    // there).
    (opaque.context_mut().stack_limit, opaque.context_mut().store, opaque.context_mut().exit_fp) = saved;
    opaque.entries -= 1;
    // The first pc is where the trap happened; the others are return addresses.
    let backtrace = |info: &traps::TrapInfo, opaque: &super::store::StoreOpaque| crate::WasmBacktrace {
        frames: info
            .pcs
            .iter()
            .enumerate()
            .filter_map(|(i, &pc)| opaque.code().iter().find_map(|c| c.frame_at(pc, i > 0)))
            .collect(),
        truncated: info.truncated,
    };
    match result {
        Ok(()) => Ok(()),
        // A host function's failure traps with `HostError`; an allocating builtin whose
        // limiter failed leaves its error pending and traps as out of memory: either way
        // the pending error is what the call failed with.
        Err(info) if info.trap == Trap::HostError || opaque.pending.is_some() => match opaque.pending.take() {
            // An exception nothing caught left wasm where it was thrown (or rethrown).
            Some(Pending::Error(Error::Exception(e))) => {
                Err(Error::Exception(e.with_backtrace(backtrace(&info, opaque))))
            }
            Some(Pending::Error(e)) => Err(e),
            Some(Pending::Panic(p)) => std::panic::resume_unwind(p),
            None => Err(Error::Trap(Trap::HostError, None)),
        },
        Err(info) => Err(Error::Trap(info.trap, Some(Box::new(backtrace(&info, opaque))))),
    }
}
