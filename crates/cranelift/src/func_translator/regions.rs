//! The alias regions Kiln sorts its memory accesses into, and the memory flags of each kind
//! of access the translator emits. Accesses in different regions never alias, which lets
//! Cranelift's alias analysis keep, say, a memory's base pointer in a register across stores
//! to linear memory (only a call, which may grow the memory, forces a reload).
//!
//! The region ids are Kiln-wide: when functions are inlined into each other Cranelift merges
//! their regions by id, so every piece of Kiln code must use these ids for these meanings.
use cranelift_codegen::ir::{AliasRegion, AliasRegionData, Endianness, Function, MemFlagsData};
use kiln_environ::Trap;

use crate::abi;

/// Runtime structures reached from a `VMContext`: the context itself, import records, memory,
/// table and global definitions, function references.
pub const VMCTX_REGION: u32 = 1;
/// The elements of tables.
pub const TABLE_REGION: u32 = 2;
/// WebAssembly linear memories.
pub const HEAP_REGION: u32 = 3;
/// The store context's fuel counter and epoch deadline (and the GC heap's base, bound and
/// allocation window).
pub const STORE_CONTEXT_REGION: u32 = 4;
/// The objects of a store's GC heap (and its object-start bitmap).
pub const GC_REGION: u32 = 5;

/// Declare one of Kiln's alias regions in `func` (once: regions are deduplicated by id).
pub fn declare_region(func: &mut Function, id: u32) -> AliasRegion {
    let description = match id {
        VMCTX_REGION => "vmctx",
        TABLE_REGION => "table elements",
        HEAP_REGION => "linear memory",
        STORE_CONTEXT_REGION => "store context",
        GC_REGION => "GC objects",
        _ => "kiln",
    };
    func.dfg.alias_regions.insert(AliasRegionData { user_id: id, description: description.into() })
}

/// A kind of memory access the translator emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Runtime state that may change while wasm runs: global values, a memory's base and
    /// length, a table's base and length.
    Vmctx,
    /// Runtime state fixed at instantiation: import records, canonical type ids, the fields
    /// of a function reference, immutable globals.
    ReadOnly,
    /// Table elements.
    Table,
    /// Wasm loads and stores: little-endian, may trap (`out of bounds memory access`).
    Heap,
    /// The fuel counter and epoch deadline in the store context, which builtins and other
    /// functions change (only across calls), and the GC heap's allocation window, which
    /// compiled code bumps itself.
    StoreContext,
    /// Fields of GC objects, explicitly bounds-checked against the heap's bound first, and
    /// what an inline allocation writes in its window (header, start bit).
    GcObject,
}

impl Access {
    /// The id of the alias region of this kind of access.
    pub fn region_id(self) -> u32 {
        match self {
            Access::Vmctx | Access::ReadOnly => VMCTX_REGION,
            Access::Table => TABLE_REGION,
            Access::Heap => HEAP_REGION,
            Access::StoreContext => STORE_CONTEXT_REGION,
            Access::GcObject => GC_REGION,
        }
    }

    /// The flags of this kind of access in `func`, declaring its region there if needed.
    pub fn flags(self, func: &mut Function) -> MemFlagsData {
        let region = Some(declare_region(func, self.region_id()));
        let trusted = MemFlagsData::trusted();
        match self {
            Access::Vmctx | Access::Table | Access::StoreContext => trusted.with_alias_region(region),
            Access::ReadOnly => trusted.with_readonly().with_alias_region(region),
            Access::Heap => MemFlagsData::new()
                .with_endianness(Endianness::Little)
                .with_trap_code(Some(abi::trap_code(Trap::MemoryOutOfBounds)))
                .with_alias_region(region),
            // Little-endian and checked, but not always naturally aligned (a v128 field).
            Access::GcObject => {
                MemFlagsData::new().with_notrap().with_endianness(Endianness::Little).with_alias_region(region)
            }
        }
    }
}
