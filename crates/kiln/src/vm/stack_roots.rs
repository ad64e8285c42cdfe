//! The references on the wasm stack: the roots a collection finds in the frames of the
//! store's suspended wasm, wherever the host runs while wasm waits (a host function, a
//! builtin).
//!
//! Compiled code keeps every reference the collector traces that is live across a call in
//! a stack slot of the caller's frame, and the call-site table lists those slots for the
//! call's return address (Cranelift's stack maps). Every host function and builtin is reached
//! through a trampoline that records its frame pointer as the store context's `exit_fp`; each
//! entry into wasm remembers the `exit_fp` of the entry it was made from (see `traps`). So the
//! walk starts at each entry's exit frame and follows the frame-pointer chain up — every wasm
//! function and trampoline keeps frame pointers — looking up each return address; a call site
//! gives the caller's stack pointer at the call (its frame pointer minus the site's frame
//! offset), and each root slot lies at an offset from it. The walk of an entry ends at the
//! first return address outside wasm code, and reads only stack words between its exit
//! frame and the stack pointer its entry stub saved, each frame strictly above the last.
use super::store::StoreOpaque;
use super::traps;
use super::val_raw::RawRef;
use super::vm_ptr::VmPtr;

/// Call `visit` with every reference word a root slot of the store's suspended wasm holds
/// (null ones too; the caller decides what each word is).
pub fn for_each_stack_root(store: &StoreOpaque, mut visit: impl FnMut(RawRef)) {
    let read = |at: usize| {
        // SAFETY: callers pass only addresses of words between a suspended entry's exit frame
        // and the stack pointer its stub saved: frames of this thread's stack that stay live
        // while the host code that collects runs above them.
        unsafe { std::ptr::with_exposed_provenance::<usize>(at).read() }
    };
    for (mut fp, top) in traps::entered_stacks(VmPtr::from_ref(store), store.context_ref().exit_fp) {
        while fp != 0 && fp.is_multiple_of(8) && fp.saturating_add(16) <= top {
            let (next, ret) = (read(fp), read(fp + 8));
            if !store.code().iter().any(|c| c.contains(ret)) {
                break; // left wasm: this entry's stub
            }
            if let Some(site) = store.code().iter().find_map(|c| c.call_site(ret)) {
                // The caller's stack pointer at the call lies above this frame's return address.
                let sp = next.checked_sub(site.frame_offset as usize).filter(|sp| *sp >= fp + 16);
                for slot in sp.into_iter().flat_map(|sp| site.roots.iter().map(move |at| sp + *at as usize)) {
                    // The table checked that each slot lies below the caller's frame pointer.
                    if slot.saturating_add(8) <= top && slot.is_multiple_of(8) {
                        visit(RawRef::from_word(read(slot)));
                    }
                }
            }
            if next <= fp {
                break;
            }
            fp = next;
        }
    }
}
