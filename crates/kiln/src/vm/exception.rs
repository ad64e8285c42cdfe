//! Wasm exceptions at run time: the exception objects, and the unwinder that takes a thrown
//! one to its handler.
//!
//! An exception is an [`Exception`] in the store's reference slab (the one externrefs use),
//! so an `exnref` is a slab word like an externref, collected the same way; the slab's
//! collection also keeps what a kept exception's payload refers to. A handler that keeps no
//! reference (`catch`, `catch_all`) releases an exception nothing else could have named.
//!
//! Throwing: the `throw` builtin's trampoline has stored its frame pointer in the store
//! context. The unwinder walks the frame-pointer chain from there — every wasm function and
//! trampoline keeps frame pointers — and looks up each frame's return address in the
//! exception table of the store's code. A call site with handlers gives the caller's stack
//! pointer at the call (its frame pointer minus the site's frame offset), the vmctx its
//! handlers' tags belong to (stored at an offset from that stack pointer), and the handlers
//! in order: the first that catches the exception's tag (or every tag) wins. The walk stops
//! at the first return address outside wasm code: the entry into this activation, past which
//! nothing is this entry's to catch.
//!
//! Resuming jumps to the handler with the caller's stack and frame pointers and the exception
//! reference in `rax`, the first payload register of Cranelift's `tail` convention. A
//! `try_call` treats every register as clobbered on that edge, so nothing else is restored;
//! the frames skipped (wasm frames, trampolines, and the builtin's own Rust frames, which
//! hold nothing that needs dropping by then) are simply abandoned. An exception nothing
//! catches becomes the entry's error, [`Error::Exception`](crate::Error::Exception).
use super::ids::{InstanceId, StoreId, TagId};
use super::store::StoreOpaque;
use super::val_raw::{RawRef, ValRaw};
use super::vm_ptr::VmPtr;
use super::vmcontext::{VMContext, header_of};
use kiln_environ::artifact::Handler;
use kiln_environ::{TagIndex, VM_MAGIC, WasmValType};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The most live references (exceptions and externrefs) a store may hold when wasm throws
/// (after a collection): a bound on what a guest that keeps throwing and keeping references
/// can make the host allocate.
pub const MAX_LIVE: usize = 1 << 20;

/// A thrown exception: its tag and payload.
#[derive(Debug)]
pub struct Exception {
    /// The store whose tag it is.
    pub store: StoreId,
    /// Its tag.
    pub tag: TagId,
    /// The payload, one slot per parameter of the tag's type.
    pub payload: Box<[ValRaw]>,
    /// The payload's types.
    pub types: Box<[WasmValType]>,
    /// Whether a reference to it has been handed out (to wasm by a `_ref` handler, or to the
    /// host): then a handler may not release it.
    pub escaped: AtomicBool,
}

impl Exception {
    /// The traced references of the payload (all but funcrefs, which are pointers), for the
    /// store's collection.
    pub fn references(&self) -> impl Iterator<Item = RawRef> + '_ {
        self.payload.iter().zip(&self.types).filter(|(_, t)| t.is_traced()).map(|(v, _)| v.to_ref())
    }
}

/// Where a handler resumes.
#[derive(Clone, Copy, Debug)]
pub struct Resume {
    pc: usize,
    sp: usize,
    fp: usize,
    exn: usize,
}

/// Make an exception of tag `tag` of the instance behind `vmctx`, with the payload read from
/// `payload`. `None` (with the error kept aside) when the store holds too many.
///
/// # Safety
/// `payload` must hold one 16-byte slot per parameter of the tag's type.
pub unsafe fn new_exception(
    store: &mut StoreOpaque,
    instance: InstanceId,
    tag: u32,
    payload: *const ValRaw,
) -> Option<RawRef> {
    let data = &store.instances[instance];
    let index = TagIndex::from_u32(tag);
    let tag = data.tags[index];
    let module = data.module.clone();
    let env = module.env();
    let types: Box<[WasmValType]> = env.signature(env.tags[index]).params.clone();
    // SAFETY: per the contract, `payload` holds `types.len()` slots (and is aligned).
    let values: Box<[ValRaw]> = unsafe { std::slice::from_raw_parts(payload, types.len()) }.into();
    if store.externs.wants_gc() || store.externs.held() >= MAX_LIVE {
        // The payload's references are held by nothing else yet.
        let payload = values.iter().zip(&types).filter(|(_, t)| t.is_traced()).map(|(v, _)| v.to_ref());
        store.gc_keeping(payload.collect::<Vec<_>>());
    }
    if store.externs.held() >= MAX_LIVE {
        store.pending = Some(super::host_func::Pending::Error(crate::Error::Limit(format!(
            "more than {MAX_LIVE} live exceptions in one store"
        ))));
        return None;
    }
    Some(add_exception(store, tag, values, types, false).1)
}

/// Put a new exception of `tag` in `store`'s slab: the exception, and its reference.
/// `escaped` says whether a reference to it is already handed out (to the host).
pub fn add_exception(
    store: &mut StoreOpaque,
    tag: TagId,
    payload: Box<[ValRaw]>,
    types: Box<[WasmValType]>,
    escaped: bool,
) -> (Arc<Exception>, RawRef) {
    let exception = Arc::new(Exception { store: store.id(), tag, payload, types, escaped: AtomicBool::new(escaped) });
    let value: super::extern_refs::ExternValue = exception.clone();
    let r = store.externs.reference_to(&value);
    (exception, r)
}

/// Whether tag `tag` of `instance` is the tag `is`.
pub fn instance_tag_is(store: &StoreOpaque, instance: InstanceId, tag: u32, is: TagId) -> bool {
    store.instances.get(instance).and_then(|i| i.tags.get(TagIndex::from_u32(tag))).is_some_and(|t| *t == is)
}

/// The exception behind `exn`, if it is one of this store's.
pub fn exception_of(store: &StoreOpaque, exn: RawRef) -> Option<Arc<Exception>> {
    store.externs.value_of(exn)?.downcast::<Exception>().ok()
}

/// Find the handler of this activation that catches `exn`, walking from the frame the
/// unwinding trampoline recorded (the store context's `exit_fp`) up to the entry's saved
/// stack pointer. Reads only stack words between the two, each frame strictly above the last.
pub fn find_handler(store: &StoreOpaque, exn: RawRef) -> Option<Resume> {
    let exception = exception_of(store, exn)?;
    let top = super::traps::entry_stack_top()?;
    let mut fp = store.context_ref().exit_fp;
    while fp != 0 && fp.is_multiple_of(8) && fp.saturating_add(16) <= top {
        // SAFETY: `fp` lies in this thread's stack between the trampoline's frame and the
        // entry's, all live while the builtin that unwinds runs (checked by the loop).
        let next = unsafe { std::ptr::with_exposed_provenance::<usize>(fp).read() };
        // SAFETY: as above, for `fp + 8`, below `top` too.
        let ret = unsafe { std::ptr::with_exposed_provenance::<usize>(fp + 8).read() };
        let Some((site, text)) = store.code().iter().find_map(|c| c.call_site(ret).map(|s| (s, c))) else {
            if !store.code().iter().any(|c| c.contains(ret)) {
                return None; // left wasm: the entry of this activation
            }
            if next <= fp {
                return None;
            }
            fp = next;
            continue;
        };
        let sp = next.checked_sub(site.frame_offset as usize)?;
        let mut context: Option<VmPtr<VMContext>> = None;
        for handler in &site.handlers {
            let resume_at = match *handler {
                Handler::Context(offset) => {
                    let at = sp.checked_add(offset as usize).filter(|a| a.saturating_add(8) <= top)?;
                    // SAFETY: the slot lies in the caller's live frame (below `top`), where
                    // its code stored its vmctx before the call.
                    let vmctx = unsafe { std::ptr::with_exposed_provenance::<usize>(at).read() };
                    context = std::ptr::NonNull::new(std::ptr::with_exposed_provenance_mut::<VMContext>(vmctx))
                        .map(VmPtr::from);
                    continue;
                }
                Handler::Default { at } => at,
                Handler::Tag { tag, at } => {
                    let vmctx = context?;
                    // SAFETY: the context of a call site is its function's own vmctx, a live
                    // instance's of this store (its frame is on the stack).
                    let header = unsafe { header_of(vmctx) };
                    if header.magic != VM_MAGIC {
                        return None;
                    }
                    if !instance_tag_is(store, header.instance, tag, exception.tag) {
                        continue;
                    }
                    at
                }
            };
            let pc = text.text_address(resume_at)?;
            return Some(Resume { pc, sp, fp: next, exn: exn.word() });
        }
        if next <= fp {
            return None;
        }
        fp = next;
    }
    None
}

/// Jump to the handler `r`: never returns.
///
/// # Safety
/// `r` must come from [`find_handler`] for the running activation, with nothing on the
/// stack above the handler's frame that needs dropping or unlocking: those frames are
/// abandoned.
pub unsafe fn resume(r: Resume) -> ! {
    // SAFETY: per the contract; the stub sets the stack and frame pointers of the handler's
    // frame and the payload register, as the handler's `try_call` edge expects.
    unsafe { resume_stub(r.pc, r.sp, r.fp, r.exn) }
}

/// Set `rax` to `exn`, `rbp` to `fp`, `rsp` to `sp`, and jump to `pc`.
///
/// # Safety
/// As for [`resume`].
#[unsafe(naked)]
unsafe extern "C" fn resume_stub(pc: usize, sp: usize, fp: usize, exn: usize) -> ! {
    core::arch::naked_asm!("mov rax, rcx", "mov rbp, rdx", "mov rsp, rsi", "jmp rdi")
}
