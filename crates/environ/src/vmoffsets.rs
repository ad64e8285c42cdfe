//! `VMOffsets`: the layout of an instance's `VMContext` and of the runtime structures that
//! compiled code reads. The compiler and the runtime both take every offset from here; the
//! runtime's `#[repr(C)]` structs are pinned against these numbers by its tests.
//!
//! ```text
//! VMContext (one per instance, 16-byte aligned)
//!   magic: u32, pad
//!   builtins: *const [fn]            the runtime's builtin table
//!   store_context: *mut VMStoreContext
//!   instance: u32, pad               the instance's id in its store; opaque to compiled code
//!   type_ids: [u32; types]           canonical (engine-wide) id of each module type
//!   imported_functions: [VMFunctionImport; n]
//!   imported_tables: [*mut VMTableDefinition; n]
//!   imported_memories: [*mut VMMemoryDefinition; n]
//!   imported_globals: [*mut VMGlobalDefinition; n]
//!   defined_tables: [VMTableDefinition; n]
//!   defined_memories: [VMMemoryDefinition; n]
//!   defined_globals: [VMGlobalDefinition; n]   16 bytes each, 16-aligned
//!   func_refs: [VMFuncRef; defined functions]
//! ```
use crate::*;
use cranelift_entity::EntityRef;

/// The value at offset 0 of every `VMContext`, to catch stray pointers in debug checks.
pub const VM_MAGIC: u32 = u32::from_le_bytes(*b"kiln");

/// Offsets into a module's `VMContext` and related structures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VMOffsets {
    num_types: u32,
    num_imported_functions: u32,
    num_imported_tables: u32,
    num_imported_memories: u32,
    num_imported_globals: u32,
    num_defined_tables: u32,
    num_defined_memories: u32,
    num_defined_globals: u32,
    num_defined_functions: u32,
    type_ids: u32,
    imported_functions: u32,
    imported_tables: u32,
    imported_memories: u32,
    imported_globals: u32,
    defined_tables: u32,
    defined_memories: u32,
    defined_globals: u32,
    func_refs: u32,
    size: u32,
}

impl VMOffsets {
    /// Pointer size: Kiln targets 64-bit hosts only.
    pub const PTR: u32 = 8;

    /// The header's magic word ([`VM_MAGIC`]).
    pub const MAGIC: u32 = 0;
    /// The header's pointer to the runtime's builtin table.
    pub const BUILTINS: u32 = 8;
    /// The header's pointer to the store context.
    pub const STORE_CONTEXT: u32 = 16;
    /// The header's runtime data: the instance's id in its store (opaque to compiled code).
    pub const RUNTIME_DATA: u32 = 24;
    /// The size of the header the fields above make up.
    pub const HEADER: u32 = 32;

    /// `VMFunctionImport.wasm_call`: the callee's wasm entry.
    pub const FUNCTION_IMPORT_WASM_CALL: u32 = 0;
    /// `VMFunctionImport.array_call`: the callee's host entry.
    pub const FUNCTION_IMPORT_ARRAY_CALL: u32 = 8;
    /// `VMFunctionImport.vmctx`: the callee's vmctx.
    pub const FUNCTION_IMPORT_VMCTX: u32 = 16;
    /// `VMFunctionImport.func_ref`: the callee's function reference.
    pub const FUNCTION_IMPORT_FUNC_REF: u32 = 24;
    /// The size of a `VMFunctionImport`.
    pub const SIZE_OF_FUNCTION_IMPORT: u32 = 32;

    /// `VMImport.from` (of a table, memory or global): the pointer to the definition.
    pub const IMPORT_FROM: u32 = 0;
    /// The size of an imported table's slot.
    pub const SIZE_OF_TABLE_IMPORT: u32 = 8;
    /// The size of an imported memory's slot.
    pub const SIZE_OF_MEMORY_IMPORT: u32 = 8;
    /// The size of an imported global's slot.
    pub const SIZE_OF_GLOBAL_IMPORT: u32 = 8;

    /// `VMTableDefinition.base`: the first element word.
    pub const TABLE_BASE: u32 = 0;
    /// `VMTableDefinition.current_elements`.
    pub const TABLE_CURRENT_ELEMENTS: u32 = 8;
    /// The size of a `VMTableDefinition`.
    pub const SIZE_OF_TABLE_DEFINITION: u32 = 16;

    /// `VMMemoryDefinition.base`: the first byte.
    pub const MEMORY_BASE: u32 = 0;
    /// `VMMemoryDefinition.current_length`, in bytes.
    pub const MEMORY_CURRENT_LENGTH: u32 = 8;
    /// The size of a `VMMemoryDefinition`.
    pub const SIZE_OF_MEMORY_DEFINITION: u32 = 16;

    /// The size of a `VMGlobalDefinition` (16 bytes, 16-aligned, little-endian from the start).
    pub const SIZE_OF_GLOBAL_DEFINITION: u32 = 16;

    /// `VMFuncRef.array_call`: the host's entry (array ABI).
    pub const FUNC_REF_ARRAY_CALL: u32 = 0;
    /// `VMFuncRef.wasm_call`: wasm's entry (wasm ABI).
    pub const FUNC_REF_WASM_CALL: u32 = 8;
    /// `VMFuncRef.type_index`: the engine-wide type id.
    pub const FUNC_REF_TYPE_INDEX: u32 = 16;
    /// `VMFuncRef.vmctx`: the callee vmctx both entries take.
    pub const FUNC_REF_VMCTX: u32 = 24;
    /// The size of a `VMFuncRef`.
    pub const SIZE_OF_FUNC_REF: u32 = 32;

    /// `VMStoreContext.stack_limit`: the lowest stack address wasm may use.
    pub const STORE_CONTEXT_STACK_LIMIT: u32 = 0;
    /// `VMStoreContext.fuel_consumed`: an `i64` that compiled code adds each operator's cost
    /// to; it starts at minus the fuel given, so fuel is left while it is negative.
    pub const STORE_CONTEXT_FUEL_CONSUMED: u32 = 16;
    /// `VMStoreContext.epoch_deadline`: the epoch (a `u64`) at which the store's deadline
    /// behavior runs.
    pub const STORE_CONTEXT_EPOCH_DEADLINE: u32 = 24;
    /// `VMStoreContext.epoch_counter`: a pointer to the engine's epoch, a `u64` other threads
    /// increment.
    pub const STORE_CONTEXT_EPOCH_COUNTER: u32 = 32;
    /// `VMStoreContext.exit_fp`: the frame pointer of the trampoline through which wasm last
    /// called a builtin or host function, where the walks of its frames start.
    pub const STORE_CONTEXT_EXIT_FP: u32 = 40;
    /// `VMStoreContext.gc_heap_base`: the address of the store's GC heap (null until it has
    /// one); a reference's word is an offset from it.
    pub const STORE_CONTEXT_GC_HEAP_BASE: u32 = 48;
    /// `VMStoreContext.gc_heap_bound`: how many bytes from the base are accessible (a `u64`);
    /// every access to an object is checked against it.
    pub const STORE_CONTEXT_GC_HEAP_BOUND: u32 = 56;
    /// `VMStoreContext.gc_bump`: the next free byte of the GC heap's allocation window (a
    /// `u64` offset), where compiled code puts a struct that fits before the window's end.
    pub const STORE_CONTEXT_GC_BUMP: u32 = 64;
    /// `VMStoreContext.gc_bump_end`: the end of the allocation window (a `u64` offset).
    pub const STORE_CONTEXT_GC_BUMP_END: u32 = 72;
    /// `VMStoreContext.gc_starts`: the GC heap's object-start bitmap (a pointer; one bit per
    /// 8 bytes, bit `i % 8` of byte `i / 8`), whose bit compiled code sets for each object it
    /// allocates in the window.
    pub const STORE_CONTEXT_GC_STARTS: u32 = 80;

    /// `VMHostFuncContext.magic`. A host function's "vmctx" is its `VMHostFuncContext`,
    /// which starts with a magic of its own.
    pub const HOST_FUNC_MAGIC: u32 = 0;
    /// `VMHostFuncContext.func_ref`: the host function's `VMFuncRef`, whose `array_call` the
    /// wasm-to-array trampoline calls.
    pub const HOST_FUNC_FUNC_REF: u32 = 8;

    /// The layout for `module`.
    pub fn new(module: &Module) -> VMOffsets {
        let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        let mut o = VMOffsets {
            num_types: n(module.types.len()),
            num_imported_functions: n(module.num_imported_funcs),
            num_imported_tables: n(module.num_imported_tables),
            num_imported_memories: n(module.num_imported_memories),
            num_imported_globals: n(module.num_imported_globals),
            num_defined_tables: n(module.num_defined_tables()),
            num_defined_memories: n(module.num_defined_memories()),
            num_defined_globals: n(module.num_defined_globals()),
            num_defined_functions: n(module.num_defined_funcs()),
            type_ids: 0,
            imported_functions: 0,
            imported_tables: 0,
            imported_memories: 0,
            imported_globals: 0,
            defined_tables: 0,
            defined_memories: 0,
            defined_globals: 0,
            func_refs: 0,
            size: 0,
        };
        // Counts come from a validated module, which bounds each by the module's size; the
        // arithmetic below is done in u64 and saturates so that no input can wrap it.
        let mut at = u64::from(Self::HEADER);
        let mut place = |count: u32, size: u32, alignment: u64| -> u32 {
            at = at.div_ceil(alignment) * alignment;
            let here = at;
            at += u64::from(count) * u64::from(size);
            u32::try_from(here).unwrap_or(u32::MAX)
        };
        o.type_ids = place(o.num_types, 4, 8);
        o.imported_functions = place(o.num_imported_functions, Self::SIZE_OF_FUNCTION_IMPORT, 8);
        o.imported_tables = place(o.num_imported_tables, Self::SIZE_OF_TABLE_IMPORT, 8);
        o.imported_memories = place(o.num_imported_memories, Self::SIZE_OF_MEMORY_IMPORT, 8);
        o.imported_globals = place(o.num_imported_globals, Self::SIZE_OF_GLOBAL_IMPORT, 8);
        o.defined_tables = place(o.num_defined_tables, Self::SIZE_OF_TABLE_DEFINITION, 8);
        o.defined_memories = place(o.num_defined_memories, Self::SIZE_OF_MEMORY_DEFINITION, 8);
        o.defined_globals = place(o.num_defined_globals, Self::SIZE_OF_GLOBAL_DEFINITION, 16);
        o.func_refs = place(o.num_defined_functions, Self::SIZE_OF_FUNC_REF, 16);
        let end = place(0, 1, 16);
        o.size = end;
        o
    }

    /// Whether the layout fits in the 32-bit offsets compiled code uses.
    pub fn fits(&self) -> bool {
        self.size != u32::MAX
    }

    /// The total size of the `VMContext`.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The canonical type id of module type `t` (a `u32`).
    pub fn type_id(&self, t: TypeIndex) -> u32 {
        self.type_ids + 4 * t.index() as u32
    }

    /// The `VMFunctionImport` of imported function `f`.
    pub fn imported_function(&self, f: FuncIndex) -> u32 {
        self.imported_functions + Self::SIZE_OF_FUNCTION_IMPORT * f.index() as u32
    }

    /// The `VMTableImport` of imported table `t`.
    pub fn imported_table(&self, t: TableIndex) -> u32 {
        self.imported_tables + Self::SIZE_OF_TABLE_IMPORT * t.index() as u32
    }

    /// The `VMMemoryImport` of imported memory `m`.
    pub fn imported_memory(&self, m: MemoryIndex) -> u32 {
        self.imported_memories + Self::SIZE_OF_MEMORY_IMPORT * m.index() as u32
    }

    /// The `VMGlobalImport` (a pointer to the definition) of imported global `g`.
    pub fn imported_global(&self, g: GlobalIndex) -> u32 {
        self.imported_globals + Self::SIZE_OF_GLOBAL_IMPORT * g.index() as u32
    }

    /// The `VMTableDefinition` of defined table `t`.
    pub fn defined_table(&self, t: DefinedTableIndex) -> u32 {
        self.defined_tables + Self::SIZE_OF_TABLE_DEFINITION * t.index() as u32
    }

    /// The `VMMemoryDefinition` of defined memory `m`.
    pub fn defined_memory(&self, m: DefinedMemoryIndex) -> u32 {
        self.defined_memories + Self::SIZE_OF_MEMORY_DEFINITION * m.index() as u32
    }

    /// The `VMGlobalDefinition` of defined global `g`.
    pub fn defined_global(&self, g: DefinedGlobalIndex) -> u32 {
        self.defined_globals + Self::SIZE_OF_GLOBAL_DEFINITION * g.index() as u32
    }

    /// The defined function whose `VMFuncRef` starts at `offset`, if one does.
    pub fn func_ref_at(&self, offset: u32) -> Option<DefinedFuncIndex> {
        let i = offset.checked_sub(self.func_refs)?;
        (i % Self::SIZE_OF_FUNC_REF == 0 && i / Self::SIZE_OF_FUNC_REF < self.num_defined_functions)
            .then(|| DefinedFuncIndex::from_u32(i / Self::SIZE_OF_FUNC_REF))
    }

    /// The `VMFuncRef` of defined function `f`.
    pub fn func_ref(&self, f: DefinedFuncIndex) -> u32 {
        self.func_refs + Self::SIZE_OF_FUNC_REF * f.index() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout of a module with one entity of every kind, imported and defined.
    fn sample_layout() -> VMOffsets {
        let bytes = wat::parse_str(
            r#"(module
                (import "a" "f" (func)) (import "a" "t" (table 1 funcref))
                (import "a" "m" (memory 1)) (import "a" "g" (global i32))
                (type (func (param i32)))
                (table 1 funcref) (memory 1) (global i64 (i64.const 0))
                (func) (func))"#,
        )
        .unwrap();
        VMOffsets::new(&translate_module(&bytes).unwrap().module)
    }

    /// The layouts compiled code relies on, as recorded with the format version they
    /// belong to: `(FORMAT_VERSION, fingerprint)`.
    const RECORDED_ABI: (u32, &str) = (16, "2026d86f260afc85");

    #[test]
    fn a_layout_change_comes_with_a_new_format_version() {
        let offsets = sample_layout();
        let constants = [
            VMOffsets::PTR,
            VMOffsets::MAGIC,
            VMOffsets::BUILTINS,
            VMOffsets::STORE_CONTEXT,
            VMOffsets::RUNTIME_DATA,
            VMOffsets::HEADER,
            VMOffsets::FUNCTION_IMPORT_WASM_CALL,
            VMOffsets::FUNCTION_IMPORT_ARRAY_CALL,
            VMOffsets::FUNCTION_IMPORT_VMCTX,
            VMOffsets::FUNCTION_IMPORT_FUNC_REF,
            VMOffsets::SIZE_OF_FUNCTION_IMPORT,
            VMOffsets::IMPORT_FROM,
            VMOffsets::SIZE_OF_TABLE_IMPORT,
            VMOffsets::SIZE_OF_MEMORY_IMPORT,
            VMOffsets::SIZE_OF_GLOBAL_IMPORT,
            VMOffsets::TABLE_BASE,
            VMOffsets::TABLE_CURRENT_ELEMENTS,
            VMOffsets::SIZE_OF_TABLE_DEFINITION,
            VMOffsets::MEMORY_BASE,
            VMOffsets::MEMORY_CURRENT_LENGTH,
            VMOffsets::SIZE_OF_MEMORY_DEFINITION,
            VMOffsets::SIZE_OF_GLOBAL_DEFINITION,
            VMOffsets::FUNC_REF_ARRAY_CALL,
            VMOffsets::FUNC_REF_WASM_CALL,
            VMOffsets::FUNC_REF_TYPE_INDEX,
            VMOffsets::FUNC_REF_VMCTX,
            VMOffsets::SIZE_OF_FUNC_REF,
            VMOffsets::STORE_CONTEXT_STACK_LIMIT,
            VMOffsets::STORE_CONTEXT_FUEL_CONSUMED,
            VMOffsets::STORE_CONTEXT_EPOCH_DEADLINE,
            VMOffsets::STORE_CONTEXT_EPOCH_COUNTER,
            VMOffsets::STORE_CONTEXT_EXIT_FP,
            VMOffsets::STORE_CONTEXT_GC_HEAP_BASE,
            VMOffsets::STORE_CONTEXT_GC_HEAP_BOUND,
            VMOffsets::STORE_CONTEXT_GC_BUMP,
            VMOffsets::STORE_CONTEXT_GC_BUMP_END,
            VMOffsets::STORE_CONTEXT_GC_STARTS,
            VMOffsets::HOST_FUNC_MAGIC,
            VMOffsets::HOST_FUNC_FUNC_REF,
        ];
        let builtins: Vec<String> =
            BuiltinFunction::ALL.iter().map(|b| format!("{} {:?} {:?}", b.name(), b.params(), b.results())).collect();
        let description = format!("{VM_MAGIC} {constants:?} {offsets:?} {builtins:?}");
        use sha2::Digest;
        let digest = sha2::Sha256::digest(description.as_bytes());
        let fingerprint: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            (FORMAT_VERSION, fingerprint.as_str()),
            RECORDED_ABI,
            "the layouts compiled code relies on changed: bump FORMAT_VERSION and record the new fingerprint, so \
             that artifacts and cache entries of the old layout are refused"
        );
    }

    #[test]
    fn layout_is_ordered_and_aligned() {
        let o = sample_layout();
        assert_eq!(o.type_id(TypeIndex::new(0)), 32);
        let f = o.imported_function(FuncIndex::new(0));
        assert!(f >= 32 + 8 && f.is_multiple_of(8));
        assert!(o.imported_table(TableIndex::new(0)) >= f + 32);
        assert_eq!(o.defined_global(DefinedGlobalIndex::new(0)) % 16, 0);
        assert_eq!(o.func_ref(DefinedFuncIndex::new(1)), o.func_ref(DefinedFuncIndex::new(0)) + 32);
        assert_eq!(o.size() % 16, 0);
        assert!(o.size() >= o.func_ref(DefinedFuncIndex::new(1)) + 32);
    }
}
