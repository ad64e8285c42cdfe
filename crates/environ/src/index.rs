//! Index newtypes for every WebAssembly index space, plus the "defined" sub-spaces that
//! count only the entities a module defines itself (after its imports). Every index is a
//! `u32` newtype, `#[repr(transparent)]` so that one can sit in a structure compiled code
//! reads.
macro_rules! index_type {
    ($($(#[$doc:meta])* $name:ident, $prefix:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[repr(transparent)]
        pub struct $name(u32);
        cranelift_entity::entity_impl!($name, $prefix);
    )*};
}
pub(crate) use index_type;

index_type! {
    /// A type in the module's type section.
    TypeIndex, "type";
    /// A function, imported ones first.
    FuncIndex, "func";
    /// A function the module defines (index into the code section).
    DefinedFuncIndex, "defined_func";
    /// A table, imported ones first.
    TableIndex, "table";
    /// A table the module defines.
    DefinedTableIndex, "defined_table";
    /// A memory, imported ones first.
    MemoryIndex, "memory";
    /// A memory the module defines.
    DefinedMemoryIndex, "defined_memory";
    /// A global, imported ones first.
    GlobalIndex, "global";
    /// A global the module defines.
    DefinedGlobalIndex, "defined_global";
    /// An exception tag, imported ones first.
    TagIndex, "tag";
    /// An element segment.
    ElemIndex, "elem";
    /// A data segment.
    DataIndex, "data";
    /// An engine-wide canonical function type (equal types share one index): what a
    /// `VMFuncRef` carries and `call_indirect` compares.
    SharedTypeIndex, "shared_type";
    /// A core module within one compilation: the `M` of a wasm function's `FuncKey`. A module
    /// compiled alone is module 0 ([`StaticModuleIndex::MAIN`]).
    StaticModuleIndex, "module";
}

impl StaticModuleIndex {
    /// The module of a compilation that holds one module.
    pub const MAIN: StaticModuleIndex = StaticModuleIndex(0);
}
