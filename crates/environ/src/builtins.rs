//! The runtime builtins wasm code may call (through `WasmToBuiltinTrampoline`s): their
//! names, indices into the runtime's builtin table, and signatures. Every builtin takes the
//! caller's `vmctx` first.

/// A machine-level parameter or result type of a builtin.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BuiltinType {
    /// A 32-bit integer.
    I32,
    /// A 64-bit integer.
    I64,
    /// A host pointer (the vmctx).
    Pointer,
}

macro_rules! builtins {
    ($($(#[$doc:meta])* $variant:ident = $name:literal ($($param:ident),*) -> [$($ret:ident),*];)*) => {
        /// A runtime builtin.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum BuiltinFunction {
            $($(#[$doc])* $variant,)*
        }

        impl BuiltinFunction {
            /// Every builtin, in index order.
            pub const ALL: &'static [BuiltinFunction] = &[$(BuiltinFunction::$variant,)*];

            /// The builtin's name, used in symbols.
            pub fn name(self) -> &'static str {
                match self { $(BuiltinFunction::$variant => $name,)* }
            }

            /// Parameters after the leading vmctx.
            pub fn params(self) -> &'static [BuiltinType] {
                match self { $(BuiltinFunction::$variant => &[$(BuiltinType::$param),*],)* }
            }

            /// Results.
            pub fn results(self) -> &'static [BuiltinType] {
                match self { $(BuiltinFunction::$variant => &[$(BuiltinType::$ret),*],)* }
            }
        }
    };
}

// Builtins that can fail return an `I32` that is 0 when the operation must trap; the compiled
// code traps with the operation's trap code then.
builtins! {
    /// `memory.grow`: `(memory_index, delta_pages) -> old_pages`, or `u64::MAX` on failure.
    MemoryGrow = "memory_grow" (I32, I64) -> [I64];
    /// `memory.copy`: `(dst_memory, dst, src_memory, src, len) -> ok`.
    MemoryCopy = "memory_copy" (I32, I64, I32, I64, I64) -> [I32];
    /// `memory.fill`: `(memory, dst, value, len) -> ok`.
    MemoryFill = "memory_fill" (I32, I64, I32, I64) -> [I32];
    /// `memory.init`: `(memory, data_index, dst, src, len) -> ok`.
    MemoryInit = "memory_init" (I32, I32, I64, I32, I32) -> [I32];
    /// `data.drop`: `(data_index)`.
    DataDrop = "data_drop" (I32) -> [];
    /// `table.grow`: `(table, delta, init) -> old_size`, or `u32::MAX` on failure.
    TableGrow = "table_grow" (I32, I32, Pointer) -> [I32];
    /// `table.fill`: `(table, dst, value, len) -> ok`.
    TableFill = "table_fill" (I32, I32, Pointer, I32) -> [I32];
    /// `table.copy`: `(dst_table, src_table, dst, src, len) -> ok`.
    TableCopy = "table_copy" (I32, I32, I32, I32, I32) -> [I32];
    /// `table.init`: `(table, elem_index, dst, src, len) -> ok`.
    TableInit = "table_init" (I32, I32, I32, I32, I32) -> [I32];
    /// `elem.drop`: `(elem_index)`.
    ElemDrop = "elem_drop" (I32) -> [];
    /// First read of a not-yet-initialized funcref table element: `(table, index) ->
    /// funcref`; fills the element from the table's image.
    TableLazyInit = "table_lazy_init" (I32, I32) -> [Pointer];
}

impl BuiltinFunction {
    /// The builtin's index in the runtime's builtin table.
    pub fn index(self) -> u32 {
        BuiltinFunction::ALL.iter().position(|b| *b == self).unwrap_or(0) as u32
    }

    /// The builtin with the given index, if any.
    pub fn from_index(index: u32) -> Option<BuiltinFunction> {
        BuiltinFunction::ALL.get(index as usize).copied()
    }
}
