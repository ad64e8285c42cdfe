//! The `#[repr(C)]` structures compiled code reads, laid out exactly as `VMOffsets` says (the
//! tests below pin every field), and the allocation of a `VMContext` block.
use std::alloc::Layout;
use std::ptr::NonNull;

/// A function reference: how to call a function from the host (array ABI) and from wasm.
#[repr(C)]
#[derive(Debug)]
pub struct VMFuncRef {
    pub array_call: usize,
    pub wasm_call: usize,
    pub type_index: u32,
    pub vmctx: usize,
}

/// An imported function as the importing instance sees it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VMFunctionImport {
    pub wasm_call: usize,
    pub array_call: usize,
    pub vmctx: usize,
    pub func_ref: *const VMFuncRef,
}

/// An imported table or memory: its definition and the vmctx that owns it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct VMImport<T> {
    pub from: *mut T,
    pub vmctx: usize,
}

/// A table's storage: an array of `*const VMFuncRef` and its length.
#[repr(C)]
#[derive(Debug)]
pub struct VMTableDefinition {
    pub base: *mut usize,
    pub current_elements: u64,
}

/// A linear memory's base and current byte length.
#[repr(C)]
#[derive(Debug)]
pub struct VMMemoryDefinition {
    pub base: *mut u8,
    pub current_length: u64,
}

/// A global's value: 16 bytes, little-endian from the start.
#[repr(C, align(16))]
#[derive(Debug, Default, Clone, Copy)]
pub struct VMGlobalDefinition {
    pub bytes: [u8; 16],
}

/// Per-store state that compiled code reads.
#[repr(C)]
#[derive(Debug)]
pub struct VMStoreContext {
    /// The lowest stack address wasm may use; checked in every prologue.
    pub stack_limit: usize,
    /// The `StoreInner<T>` that owns this context, for host calls.
    pub store: *mut (),
}

/// The "vmctx" of a host function: a magic word, then its `VMFuncRef`.
#[repr(C, align(16))]
pub struct VMHostFuncContext {
    pub magic: u32,
    pub func_ref: VMFuncRef,
}

/// An owned, zeroed, 16-byte-aligned `VMContext` block.
pub struct VMContextBlock {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the block is plain memory owned by one instance; its users synchronize through the
// store, which is `Send` only as a whole.
unsafe impl Send for VMContextBlock {}
// SAFETY: as above; shared references only read through raw pointers handed to wasm.
unsafe impl Sync for VMContextBlock {}

impl VMContextBlock {
    /// Allocate `size` zeroed bytes.
    pub fn new(size: u32) -> VMContextBlock {
        let layout = Layout::from_size_align(size.max(16) as usize, 16).expect("vmctx layout");
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        VMContextBlock { ptr, layout }
    }

    /// The block's address.
    pub fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// A pointer to the `T` at `offset`.
    pub fn at<T>(&self, offset: u32) -> *mut T {
        debug_assert!(offset as usize + std::mem::size_of::<T>() <= self.layout.size());
        // SAFETY: in bounds of the allocation, as `VMOffsets` computed the size.
        unsafe { self.ptr.as_ptr().add(offset as usize).cast() }
    }

    /// Write `value` at `offset`.
    pub fn write<T>(&self, offset: u32, value: T) {
        assert!(offset as usize + std::mem::size_of::<T>() <= self.layout.size());
        // SAFETY: in bounds (checked above); fields are naturally aligned by `VMOffsets`.
        unsafe { self.at::<T>(offset).write(value) }
    }
}

impl Drop for VMContextBlock {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_environ::VMOffsets;
    use std::mem::{offset_of, size_of};

    #[test]
    fn layouts_match_vmoffsets() {
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
        assert_eq!(offset_of!(VMImport<u8>, vmctx) as u32, VMOffsets::IMPORT_VMCTX);
        assert_eq!(size_of::<VMImport<u8>>() as u32, VMOffsets::SIZE_OF_TABLE_IMPORT);
        assert_eq!(size_of::<VMImport<u8>>() as u32, VMOffsets::SIZE_OF_MEMORY_IMPORT);
        assert_eq!(offset_of!(VMTableDefinition, base) as u32, VMOffsets::TABLE_BASE);
        assert_eq!(offset_of!(VMTableDefinition, current_elements) as u32, VMOffsets::TABLE_CURRENT_ELEMENTS);
        assert_eq!(size_of::<VMTableDefinition>() as u32, VMOffsets::SIZE_OF_TABLE_DEFINITION);
        assert_eq!(offset_of!(VMMemoryDefinition, base) as u32, VMOffsets::MEMORY_BASE);
        assert_eq!(offset_of!(VMMemoryDefinition, current_length) as u32, VMOffsets::MEMORY_CURRENT_LENGTH);
        assert_eq!(size_of::<VMMemoryDefinition>() as u32, VMOffsets::SIZE_OF_MEMORY_DEFINITION);
        assert_eq!(size_of::<VMGlobalDefinition>() as u32, VMOffsets::SIZE_OF_GLOBAL_DEFINITION);
        assert_eq!(offset_of!(VMStoreContext, stack_limit) as u32, VMOffsets::STORE_CONTEXT_STACK_LIMIT);
        assert_eq!(offset_of!(VMHostFuncContext, magic) as u32, VMOffsets::HOST_FUNC_MAGIC);
        assert_eq!(offset_of!(VMHostFuncContext, func_ref) as u32, VMOffsets::HOST_FUNC_FUNC_REF);
    }
}
