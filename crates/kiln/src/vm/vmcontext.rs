//! The `#[repr(C)]` structures compiled code reads, laid out exactly as `VMOffsets` says (the
//! tests below pin every field), and the allocation of a `VMContext` block. Every pointer in
//! them is a [`VmPtr`] (or an `Option` of one, null for `None`) or a function pointer; the
//! only integers are sizes, type ids, the instance's id and the stack limit (an address wasm
//! compares its stack pointer with, never followed).
use super::builtins::BuiltinTable;
use super::ids::{HostFuncId, InstanceId};
use super::store::StoreOpaque;
use super::val_raw::ValRaw;
use super::vm_ptr::VmPtr;
use kiln_environ::{SharedTypeIndex, VM_MAGIC, VMOffsets};
use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

/// An instance's vmctx as a pointee: a block of `VMOffsets::size()` bytes that starts with a
/// [`VMContextHeader`]. A host function's "vmctx" is a [`VMHostFuncContext`] instead; both
/// travel as `VmPtr<VMContext>` and are told apart by their magic.
#[repr(C)]
pub struct VMContext {
    _opaque: [u8; 0],
}

/// Machine code under the wasm ABI (Cranelift's `tail` convention), which Rust cannot call.
#[repr(C)]
pub struct VMWasmCode {
    _opaque: [u8; 0],
}

/// A function under the array ABI: `(callee_vmctx, caller_vmctx, values, len) -> ok`, where
/// `values` holds `len` slots (params in, results out) and `false` means a trap or host
/// error was recorded.
pub type VMArrayCallFn = unsafe extern "C" fn(
    callee: VmPtr<VMContext>,
    caller: VmPtr<VMContext>,
    values: NonNull<ValRaw>,
    len: usize,
) -> bool;

/// A function reference: how to call a function from the host (array ABI) and from wasm.
#[repr(C)]
#[derive(Debug)]
pub struct VMFuncRef {
    /// The host's entry; `None` for a wasm function that never escapes its module (no
    /// trampoline was compiled for it, and nothing outside can reach it).
    pub array_call: Option<VMArrayCallFn>,
    /// Wasm's entry; `None` for a host function until a module with its type gives it one.
    pub wasm_call: Option<VmPtr<VMWasmCode>>,
    /// The function's engine-wide type.
    pub type_index: SharedTypeIndex,
    /// The vmctx both entries are called with as the callee.
    pub vmctx: VmPtr<VMContext>,
}

/// An imported function as the importing instance sees it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VMFunctionImport {
    /// The callee's wasm entry.
    pub wasm_call: Option<VmPtr<VMWasmCode>>,
    /// The callee's host entry.
    pub array_call: Option<VMArrayCallFn>,
    /// The callee's vmctx.
    pub vmctx: VmPtr<VMContext>,
    /// The callee's function reference (what `ref.func` of the import yields).
    pub func_ref: VmPtr<VMFuncRef>,
}

/// An imported table, memory or global: a pointer to its definition in its owner.
#[repr(C)]
#[derive(Debug)]
pub struct VMImport<T> {
    /// The definition.
    pub from: VmPtr<T>,
}

/// A table's storage: its element words and their count.
#[repr(C)]
#[derive(Debug)]
pub struct VMTableDefinition {
    /// The first element word (see `TableStorage` for their encoding).
    pub base: VmPtr<usize>,
    /// The number of elements.
    pub current_elements: u64,
}

/// A linear memory's base and current byte length.
#[repr(C)]
#[derive(Debug)]
pub struct VMMemoryDefinition {
    /// The first byte.
    pub base: VmPtr<u8>,
    /// The accessible length in bytes.
    pub current_length: u64,
}

/// A global's value: 16 bytes, little-endian from the start.
#[repr(C, align(16))]
#[derive(Debug, Default, Clone, Copy)]
pub struct VMGlobalDefinition {
    /// The value's bytes.
    pub bytes: [u8; 16],
}

/// Per-store state that compiled code reads. It lives in its own allocation, written by the
/// runtime only through raw pointers, so compiled code and the runtime never hold
/// conflicting references to it.
#[repr(C)]
#[derive(Debug)]
pub struct VMStoreContext {
    /// The lowest stack address wasm may use, checked in every prologue; `usize::MAX` while
    /// the store is not entered (so any wasm call would fail the check).
    pub stack_limit: usize,
    /// The store that is entered: a pointer to its whole `StoreInner<T>`, derived at each
    /// entry from the `&mut` that entered it (see `entry`), `None` while not entered.
    pub store: Option<VmPtr<StoreOpaque>>,
    /// The fuel count: minus the fuel left to wasm (see the store's `Fuel`), which compiled
    /// code adds the cost of what it executes to.
    pub fuel_consumed: i64,
    /// The epoch at which compiled code calls `new_epoch`.
    pub epoch_deadline: u64,
    /// The engine's epoch counter, which the engine (and so the counter) outlives the store.
    pub epoch_counter: VmPtr<AtomicU64>,
    /// The frame pointer of the trampoline through which wasm last called a builtin or a
    /// host function, written by that trampoline: where the unwinder and the collector's
    /// walk of the wasm stack start.
    pub exit_fp: usize,
    /// The address of the store's GC heap (0 until it has one).
    pub gc_heap_base: usize,
    /// How many bytes from the GC heap's base are accessible.
    pub gc_heap_bound: u64,
    /// The next free byte of the GC heap's allocation window (see `GcHeap::open_window`):
    /// compiled code allocates a struct there when it fits before `gc_bump_end`.
    pub gc_bump: u64,
    /// The end of the allocation window (equal to `gc_bump` when there is none).
    pub gc_bump_end: u64,
    /// The GC heap's object-start bitmap, whose bit compiled code sets for each object it
    /// allocates in the window (0 until the store has a heap).
    pub gc_starts: usize,
}

impl VMStoreContext {
    /// The context of a store of an engine whose epoch counter is `epoch_counter`: not
    /// entered, no fuel, deadline 0 (as in wasmtime: with epoch interruption on, code traps
    /// until a deadline is set).
    pub fn new(epoch_counter: &AtomicU64) -> VMStoreContext {
        VMStoreContext {
            stack_limit: usize::MAX,
            store: None,
            fuel_consumed: 0,
            epoch_deadline: 0,
            epoch_counter: VmPtr::from_ref(epoch_counter),
            exit_fp: 0,
            gc_heap_base: 0,
            gc_heap_bound: 0,
            gc_bump: 0,
            gc_bump_end: 0,
            gc_starts: 0,
        }
    }
}

/// The header every instance's vmctx starts with.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VMContextHeader {
    /// [`VM_MAGIC`].
    pub magic: u32,
    /// The runtime's builtin table.
    pub builtins: VmPtr<BuiltinTable>,
    /// The owning store's context.
    pub store_context: VmPtr<VMStoreContext>,
    /// The instance's id in its store (opaque to compiled code).
    pub instance: InstanceId,
}

/// The "vmctx" of a host function: a magic word, then its `VMFuncRef`, whose `array_call`
/// the wasm-to-array trampoline loads.
#[repr(C, align(16))]
pub struct VMHostFuncContext {
    /// `!VM_MAGIC`, which no instance's vmctx starts with.
    pub magic: u32,
    /// The host function's reference.
    pub func_ref: VMFuncRef,
    /// Which of its store's host functions this is (opaque to compiled code).
    pub host: HostFuncId,
}

/// The magic of a host function's context.
pub const HOST_FUNC_MAGIC: u32 = !VM_MAGIC;

/// An owned, zeroed, 16-byte-aligned `VMContext` block.
pub struct VMContextBlock {
    ptr: VmPtr<u8>,
    layout: Layout,
}

impl VMContextBlock {
    /// Allocate `size` zeroed bytes (at least a header's worth).
    pub fn new(size: u32) -> VMContextBlock {
        let size = (size as usize).max(size_of::<VMContextHeader>());
        let layout = Layout::from_size_align(size, 16).expect("a u32 size is a valid layout");
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        VMContextBlock { ptr: VmPtr::from(ptr), layout }
    }

    /// The block as compiled code receives it.
    pub fn vmctx(&self) -> VmPtr<VMContext> {
        self.ptr.cast()
    }

    /// A pointer to the `T` at `offset`.
    ///
    /// # Panics
    /// If a `T` there would not lie inside the block or would be misaligned: `VMOffsets`
    /// places every field inside and aligned, so that is a bug in the caller.
    pub fn at<T>(&self, offset: u32) -> VmPtr<T> {
        let offset = offset as usize;
        assert!(offset + size_of::<T>() <= self.layout.size(), "vmctx field out of bounds");
        assert!(offset.is_multiple_of(align_of::<T>()), "misaligned vmctx field");
        // SAFETY: in bounds of the allocation (checked above).
        VmPtr::from(unsafe { self.ptr.as_non_null().add(offset) }).cast()
    }

    /// The offset of `p` in this block, if it points into it.
    pub fn offset_of<T>(&self, p: VmPtr<T>) -> Option<u32> {
        let offset = p.as_ptr().addr().checked_sub(self.ptr.as_ptr().addr())?;
        (offset < self.layout.size()).then_some(offset as u32)
    }

    /// Write `value` at `offset` (checked as in [`Self::at`]).
    ///
    /// # Safety
    /// Compiled code reads what lies at `offset` as a `T` (as `VMOffsets` lays the block
    /// out), so `value` must be the field the layout puts there, and every pointer in it must
    /// stay valid for as long as code of this instance can run.
    pub unsafe fn write<T>(&mut self, offset: u32, value: T) {
        let at = self.at::<T>(offset);
        // SAFETY: `at` is in bounds and aligned; the block is plain memory this value owns,
        // `&mut self` excludes other writers, and nothing holds a Rust reference into it.
        unsafe { at.as_ptr().write(value) }
    }

    /// Fill in the header.
    ///
    /// # Safety
    /// As for [`Self::write`]: the builtin table and store context must outlive the block,
    /// and `instance` must be the block's instance in that store.
    pub unsafe fn write_header(&mut self, header: VMContextHeader) {
        // SAFETY: the header lies at the start of every block (the caller vouches for it).
        unsafe { self.write(VMOffsets::MAGIC, header) };
    }
}

impl Drop for VMContextBlock {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, released only here.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// The header of the instance whose vmctx is `vmctx`.
///
/// # Safety
/// `vmctx` must point at a live instance's vmctx (one made by [`VMContextBlock`] whose
/// header was written), not at a host function's context.
pub unsafe fn header_of(vmctx: VmPtr<VMContext>) -> VMContextHeader {
    // SAFETY: per the contract, a header lies at the start of the block.
    unsafe { vmctx.cast::<VMContextHeader>().as_ptr().read() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn layouts_match_vmoffsets() {
        assert_eq!(offset_of!(VMContextHeader, magic) as u32, VMOffsets::MAGIC);
        assert_eq!(offset_of!(VMContextHeader, builtins) as u32, VMOffsets::BUILTINS);
        assert_eq!(offset_of!(VMContextHeader, store_context) as u32, VMOffsets::STORE_CONTEXT);
        assert_eq!(offset_of!(VMContextHeader, instance) as u32, VMOffsets::RUNTIME_DATA);
        assert_eq!(size_of::<VMContextHeader>() as u32, VMOffsets::HEADER);
        assert_eq!(offset_of!(VMFuncRef, array_call) as u32, VMOffsets::FUNC_REF_ARRAY_CALL);
        assert_eq!(offset_of!(VMFuncRef, wasm_call) as u32, VMOffsets::FUNC_REF_WASM_CALL);
        assert_eq!(offset_of!(VMFuncRef, type_index) as u32, VMOffsets::FUNC_REF_TYPE_INDEX);
        assert_eq!(offset_of!(VMFuncRef, vmctx) as u32, VMOffsets::FUNC_REF_VMCTX);
        assert_eq!(size_of::<VMFuncRef>() as u32, VMOffsets::SIZE_OF_FUNC_REF);
        assert_eq!(offset_of!(VMFunctionImport, wasm_call) as u32, VMOffsets::FUNCTION_IMPORT_WASM_CALL);
        assert_eq!(offset_of!(VMFunctionImport, array_call) as u32, VMOffsets::FUNCTION_IMPORT_ARRAY_CALL);
        assert_eq!(offset_of!(VMFunctionImport, vmctx) as u32, VMOffsets::FUNCTION_IMPORT_VMCTX);
        assert_eq!(offset_of!(VMFunctionImport, func_ref) as u32, VMOffsets::FUNCTION_IMPORT_FUNC_REF);
        assert_eq!(size_of::<VMFunctionImport>() as u32, VMOffsets::SIZE_OF_FUNCTION_IMPORT);
        assert_eq!(offset_of!(VMImport<u8>, from) as u32, VMOffsets::IMPORT_FROM);
        assert_eq!(size_of::<VMImport<VMTableDefinition>>() as u32, VMOffsets::SIZE_OF_TABLE_IMPORT);
        assert_eq!(size_of::<VMImport<VMMemoryDefinition>>() as u32, VMOffsets::SIZE_OF_MEMORY_IMPORT);
        assert_eq!(size_of::<VMImport<VMGlobalDefinition>>() as u32, VMOffsets::SIZE_OF_GLOBAL_IMPORT);
        assert_eq!(offset_of!(VMTableDefinition, base) as u32, VMOffsets::TABLE_BASE);
        assert_eq!(offset_of!(VMTableDefinition, current_elements) as u32, VMOffsets::TABLE_CURRENT_ELEMENTS);
        assert_eq!(size_of::<VMTableDefinition>() as u32, VMOffsets::SIZE_OF_TABLE_DEFINITION);
        assert_eq!(offset_of!(VMMemoryDefinition, base) as u32, VMOffsets::MEMORY_BASE);
        assert_eq!(offset_of!(VMMemoryDefinition, current_length) as u32, VMOffsets::MEMORY_CURRENT_LENGTH);
        assert_eq!(size_of::<VMMemoryDefinition>() as u32, VMOffsets::SIZE_OF_MEMORY_DEFINITION);
        assert_eq!(size_of::<VMGlobalDefinition>() as u32, VMOffsets::SIZE_OF_GLOBAL_DEFINITION);
        assert_eq!(align_of::<VMGlobalDefinition>(), 16);
        assert_eq!(offset_of!(VMStoreContext, stack_limit) as u32, VMOffsets::STORE_CONTEXT_STACK_LIMIT);
        assert_eq!(offset_of!(VMStoreContext, fuel_consumed) as u32, VMOffsets::STORE_CONTEXT_FUEL_CONSUMED);
        assert_eq!(offset_of!(VMStoreContext, epoch_deadline) as u32, VMOffsets::STORE_CONTEXT_EPOCH_DEADLINE);
        assert_eq!(offset_of!(VMStoreContext, epoch_counter) as u32, VMOffsets::STORE_CONTEXT_EPOCH_COUNTER);
        assert_eq!(offset_of!(VMStoreContext, exit_fp) as u32, VMOffsets::STORE_CONTEXT_EXIT_FP);
        assert_eq!(offset_of!(VMStoreContext, gc_bump) as u32, VMOffsets::STORE_CONTEXT_GC_BUMP);
        assert_eq!(offset_of!(VMStoreContext, gc_bump_end) as u32, VMOffsets::STORE_CONTEXT_GC_BUMP_END);
        assert_eq!(offset_of!(VMStoreContext, gc_starts) as u32, VMOffsets::STORE_CONTEXT_GC_STARTS);
        assert_eq!(offset_of!(VMStoreContext, gc_heap_base) as u32, VMOffsets::STORE_CONTEXT_GC_HEAP_BASE);
        assert_eq!(offset_of!(VMStoreContext, gc_heap_bound) as u32, VMOffsets::STORE_CONTEXT_GC_HEAP_BOUND);
        assert_eq!(offset_of!(VMHostFuncContext, magic) as u32, VMOffsets::HOST_FUNC_MAGIC);
        assert_eq!(offset_of!(VMHostFuncContext, func_ref) as u32, VMOffsets::HOST_FUNC_FUNC_REF);
    }

    #[test]
    fn misplaced_fields_are_refused() {
        let mut block = VMContextBlock::new(64);
        // SAFETY: no code runs with this block; a plain integer is written.
        unsafe { block.write::<u64>(40, 7) };
        let mut write = |offset| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // SAFETY: as above; the write is refused before it happens.
                unsafe { block.write::<u64>(offset, 7) }
            }))
        };
        assert!(write(60).is_err(), "past the end");
        assert!(write(36).is_err(), "misaligned");
    }
}
