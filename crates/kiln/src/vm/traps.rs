//! Entering wasm and getting back out when it traps.
//!
//! The host enters wasm through [`enter`], a small assembly stub that saves the callee-saved
//! registers on the stack, records the stack pointer in the thread's current [`Activation`],
//! and calls an array-ABI function. When wasm code traps — a fault in a guard page, a `ud2`
//! of a trap instruction, a division fault — the signal handler (on an alternate signal
//! stack) checks that the faulting PC is a trap site of the code of the store that is
//! running (the activation points at the entered store, whose list of code only this thread
//! touches while it runs wasm, so the handler needs no lock), records the trap in the
//! activation, and rewrites the interrupted context so that `sigreturn` resumes at the
//! landing pad with the saved stack pointer: the landing pad restores the saved registers and
//! returns `false` from [`enter`] as if the call had returned. Faults that are not ours go to
//! the handler that was installed before.
//!
//! The activations of a thread form a chain (innermost first), which also carries the
//! thread's wasm stack limit: the outermost entry sets it, and every nested entry, of any
//! store, keeps it (see `stack_limit`).
//!
//! Only x86-64 Linux is supported for now.
use super::mmap::{Mmap, page_size};
use super::store::StoreOpaque;
use super::val_raw::ValRaw;
use super::vm_ptr::VmPtr;
use super::vmcontext::{VMArrayCallFn, VMContext};
use kiln_environ::Trap;
use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::OnceLock;

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!("Kiln's runtime supports only x86-64 Linux for now");

/// How many wasm frames a trap's backtrace records.
const MAX_FRAMES: usize = 64;

/// A trap as `enter` reports it.
pub struct TrapInfo {
    pub trap: Trap,
    /// The faulting PC, then an address inside each calling wasm function (innermost first).
    pub pcs: Vec<usize>,
    /// More wasm frames were on the stack than `pcs` holds.
    pub truncated: bool,
}

/// One host → wasm entry on this thread.
pub struct Activation {
    /// The stack pointer the landing pad restores.
    saved_sp: Cell<usize>,
    /// The trap the signal handler recorded, with the faulting PC.
    trap: Cell<Option<(Trap, usize)>>,
    /// The return addresses of the wasm frames under the faulting one, as the handler found
    /// them by walking frame pointers, and whether there were more.
    frames: Cell<([usize; MAX_FRAMES], usize, bool)>,
    /// The store that is entered, whose code the handler searches.
    store: VmPtr<StoreOpaque>,
    /// The lowest stack address wasm may use on this thread.
    stack_limit: usize,
    /// How many calls from this activation's wasm into host functions are running: a fault
    /// while one is, is the host's, never a wasm trap.
    host_depth: Cell<u32>,
    /// The store's `exit_fp` when this entry began: where the walk of the frames of the
    /// store's previous entry on this thread (if any) starts, that entry being suspended in
    /// the host call that made this one.
    outer_exit_fp: usize,
    prev: *const Activation,
}

thread_local! {
    static CURRENT: Cell<*const Activation> = const { Cell::new(std::ptr::null()) };
}

/// Get this thread ready to run wasm: Kiln's signal handlers installed (once per process)
/// and an alternate signal stack to run them on (once per thread).
///
/// # Errors
/// When the alternate stack cannot be made, or the thread is exiting (its thread-locals are
/// gone): wasm could then not be stopped cleanly when it exhausts its stack.
pub fn prepare_thread() -> Result<(), crate::Error> {
    install_handlers();
    ensure_alt_stack()
}

/// Run `f`, a host function called from the wasm of this thread's running activation, so
/// that a fault inside it is not taken for a wasm trap (nor read the store it holds).
pub fn in_host<R>(f: impl FnOnce() -> R) -> R {
    struct Leave(*const Activation);
    impl Drop for Leave {
        fn drop(&mut self) {
            // SAFETY: as in `in_host` below; the guard lives within that call.
            if let Some(a) = unsafe { self.0.as_ref() } {
                a.host_depth.set(a.host_depth.get() - 1);
            }
        }
    }
    let activation = CURRENT.with(|c| c.get());
    // SAFETY: a non-null CURRENT points at the live `Activation` of an `enter` further up
    // this thread's stack, which outlives this call made from its wasm.
    if let Some(a) = unsafe { activation.as_ref() } {
        a.host_depth.set(a.host_depth.get() + 1);
    }
    let _leave = Leave(activation);
    f()
}

/// The stack pointer the entry stub of this thread's running activation saved: no frame of
/// that activation lies above it.
pub fn entry_stack_top() -> Option<usize> {
    let activation = CURRENT.with(|c| c.get());
    // SAFETY: a non-null CURRENT points at the live `Activation` of an `enter` further up
    // this thread's stack (it is reset before that `enter` returns).
    unsafe { activation.as_ref() }.map(|a| a.saved_sp.get())
}

/// The wasm stacks of `store`'s live entries on this thread, innermost first, each as the
/// frame pointer its walk starts at (`exit_fp`, the store's current one, for the innermost)
/// and the stack pointer its entry stub saved (no frame of the entry lies above it).
pub fn entered_stacks(store: VmPtr<StoreOpaque>, exit_fp: usize) -> Vec<(usize, usize)> {
    let mut stacks = Vec::new();
    let mut fp = exit_fp;
    let mut activation = CURRENT.with(|c| c.get());
    // SAFETY: a non-null CURRENT, and each `prev` after it, points at the live `Activation`
    // of an `enter` further up this thread's stack (each is unlinked before its `enter`
    // returns).
    while let Some(a) = unsafe { activation.as_ref() } {
        if a.store == store {
            stacks.push((fp, a.saved_sp.get()));
            fp = a.outer_exit_fp;
        }
        activation = a.prev;
    }
    stacks
}

/// The stack limit of the activation this thread is running wasm in, if it is: a new entry
/// on this thread, of any store, keeps it.
pub fn current_stack_limit() -> Option<usize> {
    let activation = CURRENT.with(|c| c.get());
    // SAFETY: a non-null CURRENT points at the live `Activation` of an `enter` further up
    // this thread's stack (it is reset before that `enter` returns).
    unsafe { activation.as_ref() }.map(|a| a.stack_limit)
}

/// Save callee-saved registers, store the stack pointer at `*saved_sp`, call `f(a, b, c, d)`.
///
/// # Safety
/// `f` must be an array-ABI function and `a..d` its arguments; `saved_sp` must be valid for a
/// write.
#[unsafe(naked)]
unsafe extern "C" fn enter_stub(
    a: VmPtr<VMContext>,
    b: VmPtr<VMContext>,
    c: NonNull<ValRaw>,
    d: usize,
    f: VMArrayCallFn,
    saved_sp: *mut usize,
) -> bool {
    core::arch::naked_asm!(
        "push rbp",
        "mov rbp, rsp",
        "push rbx",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "sub rsp, 8",
        "mov [r9], rsp",
        "call r8",
        "add rsp, 8",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbx",
        "pop rbp",
        "ret",
    )
}

/// Where a trapped call resumes: with `rsp` = the saved stack pointer, unwind `enter_stub`'s
/// frame and return false.
///
/// # Safety
/// Only the signal handler jumps here, with `rsp` set to an `enter_stub` frame's saved
/// stack pointer; nothing calls it.
#[unsafe(naked)]
unsafe extern "C" fn landing_pad() {
    core::arch::naked_asm!(
        "xor eax, eax",
        "add rsp, 8",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbx",
        "pop rbp",
        "ret",
    )
}

/// What an entry into wasm is made in.
pub struct EntryInto {
    /// The store entered.
    pub store: VmPtr<StoreOpaque>,
    /// This thread's wasm stack limit while the call runs.
    pub stack_limit: usize,
    /// The store's `exit_fp` before the call.
    pub outer_exit_fp: usize,
}

/// Call the array-ABI function `f` with `(callee_vmctx, caller_vmctx, values, len)`, catching
/// traps in the code of the store `entry` names. Returns the trap and its wasm frames when
/// wasm trapped.
///
/// # Safety
/// `f` must be an array-ABI function of loaded code (or a host shim) and the arguments what
/// it expects: live vmctx pointers, and `values` valid for `len` 16-byte slots. `entry.store`
/// must be the entered store (its context's store pointer), whose code list holds every piece
/// of code the call can run, valid until the call returns. [`prepare_thread`] must have
/// succeeded on this thread.
pub unsafe fn enter(
    f: VMArrayCallFn,
    callee_vmctx: VmPtr<VMContext>,
    caller_vmctx: VmPtr<VMContext>,
    values: NonNull<ValRaw>,
    len: usize,
    entry: EntryInto,
) -> Result<(), TrapInfo> {
    let EntryInto { store, stack_limit, outer_exit_fp } = entry;
    let activation = Activation {
        outer_exit_fp,
        saved_sp: Cell::new(0),
        trap: Cell::new(None),
        frames: Cell::new(([0; MAX_FRAMES], 0, false)),
        store,
        stack_limit,
        host_depth: Cell::new(0),
        prev: CURRENT.with(|c| c.get()),
    };
    CURRENT.with(|c| c.set(&activation));
    // SAFETY: the caller vouches for `f` and its arguments; the stub preserves every
    // callee-saved register whether `f` returns or the signal handler resumes at the landing
    // pad, so this frame is intact either way.
    let ok = unsafe { enter_stub(callee_vmctx, caller_vmctx, values, len, f, activation.saved_sp.as_ptr()) };
    CURRENT.with(|c| c.set(activation.prev));
    match activation.trap.take() {
        Some((trap, pc)) => {
            let (frames, n, truncated) = activation.frames.get();
            let mut pcs = vec![pc];
            pcs.extend_from_slice(&frames[..n]);
            Err(TrapInfo { trap, pcs, truncated })
        }
        None if ok => Ok(()),
        // A false return without a recorded trap: the host shim reported an error itself.
        None => Err(TrapInfo { trap: Trap::HostError, pcs: Vec::new(), truncated: false }),
    }
}

const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

struct PrevHandlers([libc::sigaction; 4]);
// SAFETY: plain data (function addresses and flags) written once before being shared.
unsafe impl Sync for PrevHandlers {}
// SAFETY: as above.
unsafe impl Send for PrevHandlers {}

static PREVIOUS: OnceLock<PrevHandlers> = OnceLock::new();
static INSTALLED: std::sync::Once = std::sync::Once::new();

/// Install Kiln's handlers once. The previous handlers are recorded *before* Kiln's go in,
/// so a signal that arrives in between still finds where to forward.
fn install_handlers() {
    INSTALLED.call_once(|| {
        PREVIOUS.get_or_init(|| {
            // SAFETY: an all-zero sigaction is a valid value to be overwritten by sigaction().
            let mut prev: [libc::sigaction; 4] = unsafe { std::mem::zeroed() };
            for (i, sig) in SIGNALS.iter().enumerate() {
                // SAFETY: only queries the current disposition into `prev[i]`.
                unsafe { libc::sigaction(*sig, std::ptr::null(), &mut prev[i]) };
            }
            PrevHandlers(prev)
        });
        for sig in SIGNALS {
            // SAFETY: an all-zero sigaction is a valid value (no handler, no flags), which the
            // fields below complete.
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = handler as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            // SAFETY: empties a signal set that is valid for writes.
            unsafe { libc::sigemptyset(&mut action.sa_mask) };
            // SAFETY: installs a handler with a valid function and an empty mask.
            unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) };
        }
    });
}

/// Walk the frame-pointer chain from `fp` (every wasm function and trampoline keeps frame
/// pointers), recording each return address into wasm code, until a frame returns outside wasm
/// (into `enter`'s stub). Only addresses between the faulting stack pointer `sp` and the entry
/// stub's saved stack pointer `top` are read, each frame strictly above the last, so a corrupt
/// chain ends the walk instead of faulting. Runs in the signal handler: no locks, no allocation.
fn walk_frames(
    code: &[std::sync::Arc<super::code_memory::CodeMemory>],
    mut fp: usize,
    sp: usize,
    top: usize,
) -> ([usize; MAX_FRAMES], usize, bool) {
    let mut frames = [0; MAX_FRAMES];
    let mut n = 0;
    while fp >= sp && fp.saturating_add(16) <= top && fp.is_multiple_of(8) {
        let (fp_slot, ret_slot) =
            (std::ptr::with_exposed_provenance::<usize>(fp), std::ptr::with_exposed_provenance::<usize>(fp + 8));
        // SAFETY: `fp` lies within this thread's stack, between the interrupted frame and
        // `enter`'s frame, which are live while the handler runs (checked by the loop).
        let next = unsafe { fp_slot.read() };
        // SAFETY: as above, for `fp + 8`, below `top` too.
        let ret = unsafe { ret_slot.read() };
        if !code.iter().any(|c| c.contains(ret)) {
            return (frames, n, false);
        }
        if n == MAX_FRAMES {
            return (frames, n, true);
        }
        // The call instruction ends just before the return address.
        frames[n] = ret - 1;
        n += 1;
        if next <= fp {
            break;
        }
        fp = next;
    }
    (frames, n, false)
}

/// Where an explicitly bounds-checked access that is out of bounds faults: its address is
/// replaced by null (`select_spectre_guard`, with no offset left in the instruction), so the
/// fault is in the first bytes of the null page, which nothing maps.
const NULL_PAGE: usize = 4096;

/// Whether signal `signum` at a trap site of `trap` is that trap: what each kind of trap
/// site can raise. Trap instructions (`ud2`) raise SIGILL; integer division raises SIGFPE
/// for the division traps; a linear-memory access raises SIGSEGV with the fault address in
/// the reservation or guard of one of the store's memories (a guarded access) or in the
/// null page (a checked one, see [`NULL_PAGE`]). Anything else — a SIGBUS (a mapped file
/// that shrank), a SIGSEGV at another address — is not a wasm trap, even at a trap site.
///
/// # Safety
/// `info` must be the kernel's siginfo for the signal, and `store` the entered store of a
/// live entry on this thread whose wasm is running (no host code changes its memories).
unsafe fn raised_by(trap: Trap, signum: libc::c_int, info: *mut libc::siginfo_t, store: VmPtr<StoreOpaque>) -> bool {
    match signum {
        libc::SIGILL => true,
        libc::SIGFPE => matches!(trap, Trap::IntegerDivisionByZero | Trap::IntegerOverflow),
        libc::SIGSEGV if trap == Trap::MemoryOutOfBounds => {
            // SAFETY: `info` is the kernel's siginfo (the contract).
            let info = unsafe { &*info };
            // SAFETY: the kernel fills `si_addr` for SIGSEGV.
            let addr = unsafe { info.si_addr() } as usize;
            if addr < NULL_PAGE {
                return true;
            }
            // SAFETY: per this function's contract.
            let memories = unsafe { StoreOpaque::memories_while_entered(store) };
            memories.values().any(|m| m.reservation_contains(addr))
        }
        _ => false,
    }
}

/// Kiln's handler of SIGSEGV, SIGBUS, SIGILL and SIGFPE (see the module docs).
///
/// # Safety
/// Installed with `SA_SIGINFO` and called only by the kernel, with its own arguments.
unsafe extern "C" fn handler(signum: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let uc = context.cast::<libc::ucontext_t>();
    // SAFETY: the kernel passes a valid ucontext to an SA_SIGINFO handler.
    let gregs = unsafe { &mut (*uc).uc_mcontext.gregs };
    let pc = gregs[libc::REG_RIP as usize] as usize;
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let sent_by_the_kernel = unsafe { (*info).si_code } > 0;
    let activation = CURRENT.with(|c| c.get());
    // SAFETY: a non-null CURRENT points at the live `Activation` of `enter` on this thread's
    // stack, below which the faulting frames lie.
    let activation = unsafe { activation.as_ref() };
    // A fault of wasm code is the kernel's report of an instruction of this thread; a signal
    // another process or thread sent (`kill`, `raise`) is not a trap, and neither is a fault
    // while a host function called from wasm runs.
    if let Some(activation) = activation.filter(|a| sent_by_the_kernel && a.host_depth.get() == 0) {
        // SAFETY: `enter`'s contract makes `store` the entered store, alive until `enter`
        // returns. A fault the kernel reports while no host function of this activation runs
        // is one of wasm code (builtins check every access and never fault), so no code of
        // this thread holds a reference into the store or is changing its code list.
        let code = unsafe { StoreOpaque::code_while_entered(activation.store) };
        // SAFETY: as above: the store is live and nothing changes it while its wasm runs.
        let raised = |trap| unsafe { raised_by(trap, signum, info, activation.store) };
        if let Some(trap) = code.iter().find_map(|c| c.trap_at(pc)).filter(|&trap| raised(trap)) {
            activation.trap.set(Some((trap, pc)));
            let sp = gregs[libc::REG_RSP as usize] as usize;
            let fp = gregs[libc::REG_RBP as usize] as usize;
            activation.frames.set(walk_frames(code, fp, sp, activation.saved_sp.get()));
            gregs[libc::REG_RSP as usize] = activation.saved_sp.get() as i64;
            gregs[libc::REG_RIP as usize] = landing_pad as *const () as usize as i64;
            return;
        }
    }
    // Not a wasm trap: hand it to whoever handled this signal before us.
    let Some(prev) = PREVIOUS.get() else { return };
    let Some(i) = SIGNALS.iter().position(|s| *s == signum) else { return };
    let prev = &prev.0[i];
    if prev.sa_sigaction == libc::SIG_IGN && !sent_by_the_kernel {
        // Ignored, as it was before Kiln.
        return;
    }
    if prev.sa_sigaction == libc::SIG_DFL || prev.sa_sigaction == libc::SIG_IGN {
        // Restore the default action and return: the faulting instruction runs again and
        // the default action (a core dump) happens for real.
        // SAFETY: resetting a signal to its previous disposition.
        unsafe { libc::sigaction(signum, prev, std::ptr::null_mut()) };
    } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO, so it has this type.
        let f: unsafe extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(prev.sa_sigaction) };
        // SAFETY: forwarding the kernel's own arguments.
        unsafe { f(signum, info, context) };
    } else {
        // SAFETY: the previous handler was installed without SA_SIGINFO.
        let f: unsafe extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(prev.sa_sigaction) };
        // SAFETY: forwarding the signal number.
        unsafe { f(signum) };
    }
    // A handler that restores the default action and returns (Rust's own does, for faults
    // outside a stack guard) counts on the faulting instruction to run again and raise the
    // signal for real. A signal another process sent has no such instruction: raise it again
    // so that the default action happens, instead of running on without Kiln's handler.
    if !sent_by_the_kernel {
        // SAFETY: an all-zero sigaction is a valid value for sigaction() to overwrite.
        let mut now: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: only queries the current disposition.
        unsafe { libc::sigaction(signum, std::ptr::null(), &mut now) };
        if now.sa_sigaction == libc::SIG_DFL {
            // SAFETY: raise is async-signal-safe; the default action now applies.
            unsafe { libc::raise(signum) };
        }
    }
}

/// An alternate signal stack this thread installed, replaced by the one it had before (or
/// none) when the thread ends.
struct AltStack {
    _mmap: Mmap,
    previous: libc::stack_t,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let disable = libc::stack_t { ss_sp: std::ptr::null_mut(), ss_flags: libc::SS_DISABLE, ss_size: 0 };
        let restore = if self.previous.ss_flags & libc::SS_DISABLE == 0 { &self.previous } else { &disable };
        // SAFETY: puts back the stack the thread had before Kiln's (its owner's to keep
        // mapped), or none, before Kiln's memory is unmapped.
        unsafe { libc::sigaltstack(restore, std::ptr::null_mut()) };
    }
}

thread_local! {
    static ALT_STACK: Cell<bool> = const { Cell::new(false) };
    static OWNED_ALT_STACK: std::cell::RefCell<Option<AltStack>> = const { std::cell::RefCell::new(None) };
}

const ALT_STACK_SIZE: usize = 64 << 10;

/// Give this thread an alternate signal stack if it has none of at least `ALT_STACK_SIZE`,
/// so that a trap on an exhausted stack can still be handled. A smaller one (Rust's own, for
/// its stack-overflow message) is replaced, and put back when the thread ends.
fn ensure_alt_stack() -> Result<(), crate::Error> {
    let exiting = || crate::Error::Other("cannot run wasm on a thread that is exiting".into());
    if ALT_STACK.try_with(|a| a.get()).map_err(|_| exiting())? {
        return Ok(());
    }
    let mut old = libc::stack_t { ss_sp: std::ptr::null_mut(), ss_flags: 0, ss_size: 0 };
    // SAFETY: queries the current alternate stack into `old`, valid for writes.
    unsafe { libc::sigaltstack(std::ptr::null(), &mut old) };
    if old.ss_flags & libc::SS_DISABLE == 0 && old.ss_size >= ALT_STACK_SIZE {
        ALT_STACK.with(|a| a.set(true));
        return Ok(());
    }
    let guard = page_size();
    let no_stack = |e: std::io::Error| crate::Error::Other(format!("cannot make a signal stack for wasm: {e}"));
    let mut mmap = Mmap::reserve(ALT_STACK_SIZE + guard).map_err(no_stack)?;
    mmap.make_read_write(guard..ALT_STACK_SIZE + guard).map_err(no_stack)?;
    // The thread keeps the mapping from here on; the stack is installed only once it does.
    let stack = OWNED_ALT_STACK
        .try_with(|s| {
            let ss_sp = mmap.as_ptr().wrapping_add(guard).cast();
            *s.borrow_mut() = Some(AltStack { _mmap: mmap, previous: old });
            libc::stack_t { ss_sp, ss_flags: 0, ss_size: ALT_STACK_SIZE }
        })
        .map_err(|_| exiting())?;
    // SAFETY: installs a stack that `OWNED_ALT_STACK` keeps mapped until the thread ends.
    if unsafe { libc::sigaltstack(&stack, std::ptr::null_mut()) } != 0 {
        return Err(no_stack(std::io::Error::last_os_error()));
    }
    ALT_STACK.with(|a| a.set(true));
    Ok(())
}
