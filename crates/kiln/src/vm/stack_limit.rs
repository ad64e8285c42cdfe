//! The wasm stack limit, kept per thread: the lowest stack address wasm may use, which every
//! function's prologue compares its stack pointer with (through the store context). The
//! outermost host → wasm entry on a thread sets it `max_wasm_stack` below the entry; every
//! entry nested inside it on the same thread — of the same store or another — keeps it, so
//! re-entering wasm from a host function never buys wasm more stack. A store used from one
//! thread and then another gets each thread's own limit.
//!
//! Below the limit, a host function called from wasm is guaranteed [`HOST_STACK_RESERVE`]
//! bytes of native stack: an outermost entry whose `max_wasm_stack` would leave less of the
//! thread's stack is refused with an error instead of letting host code overflow it later.
//! An entry made on a stack that is not the thread's own (an embedder's coroutine), or on a
//! thread whose bounds the system does not report, trusts the setting as given.
use super::mmap::page_size;
use super::traps;
use crate::Error;
use std::cell::Cell;

/// The native stack a host function called from wasm can count on: at least this much lies
/// between the wasm stack limit and the end of the thread's stack.
pub const HOST_STACK_RESERVE: usize = 256 << 10;

/// The stack limit for a host → wasm entry made here, on this thread.
///
/// # Errors
/// [`Error::Limit`] when this thread's stack cannot hold `max_wasm_stack` bytes of wasm plus
/// the reserve for host functions.
pub fn for_entry(max_wasm_stack: usize) -> Result<usize, Error> {
    if let Some(limit) = traps::current_stack_limit() {
        return Ok(limit);
    }
    let marker = 0u8;
    let here = (&raw const marker).addr();
    let Some(low) = stack_bounds().filter(|(low, high)| (*low..*high).contains(&here)).map(|(low, _)| low) else {
        // Without the bounds of the stack this runs on (the thread's bounds are unknown, or
        // this is a stack of the embedder's own, such as a coroutine's), trust the setting.
        return Ok(here.saturating_sub(max_wasm_stack));
    };
    let available = here.saturating_sub(low);
    if max_wasm_stack.saturating_add(HOST_STACK_RESERVE) > available {
        return Err(Error::Limit(format!(
            "max_wasm_stack is {} KiB, but this thread has {} KiB of stack left, and {} KiB of it is kept for host \
             functions called from wasm: lower max_wasm_stack, or call wasm from a thread with a larger stack",
            max_wasm_stack >> 10,
            available >> 10,
            HOST_STACK_RESERVE >> 10
        )));
    }
    Ok(here - max_wasm_stack)
}

/// The usable range of this thread's own stack (its guard excluded), if known.
fn stack_bounds() -> Option<(usize, usize)> {
    thread_local! {
        static BOUNDS: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
    }
    if let Some(bounds) = BOUNDS.with(|b| b.get()) {
        return Some(bounds);
    }
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::zeroed();
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() };
    // SAFETY: fills the attributes of the calling thread into `attr`, valid for writes.
    if unsafe { libc::pthread_getattr_np(me, attr.as_mut_ptr()) } != 0 {
        return None;
    }
    let mut addr: *mut libc::c_void = std::ptr::null_mut();
    let mut size: libc::size_t = 0;
    // SAFETY: `attr` was initialized by pthread_getattr_np; the outputs are valid for writes.
    let r = unsafe { libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) };
    // SAFETY: `attr` was initialized by pthread_getattr_np and is destroyed once.
    unsafe { libc::pthread_attr_destroy(attr.as_mut_ptr()) };
    if r != 0 {
        return None;
    }
    let bounds = (addr.addr() + page_size(), addr.addr() + size);
    BOUNDS.with(|b| b.set(Some(bounds)));
    Some(bounds)
}
