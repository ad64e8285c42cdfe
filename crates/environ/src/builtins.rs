//! The runtime builtins wasm code may call (through `WasmToBuiltinTrampoline`s): their
//! names, indices into the runtime's builtin table, and signatures.
//!
//! The list exists once, in [`foreach_builtin!`]: this crate expands it into
//! [`BuiltinFunction`] (what the compiler names and calls), and the runtime expands the same
//! list into its table of function pointers, so the two cannot disagree on an index or a
//! signature.
//!
//! # The builtin ABI
//!
//! A builtin is an `extern "C"` function (the platform's C convention) whose first parameter
//! is the calling instance's vmctx, followed by the parameters the list gives, returning at
//! most one result. Compiled code calls it only through its wasm-to-builtin trampoline, with
//! its own vmctx, while its store is entered from the host: the runtime may then reach the
//! store from that vmctx. Builtins that can fail return an `I32` that is 0 when the
//! operation must trap; the compiled code traps with the operation's trap code then, and a
//! builtin that fails has changed nothing.

/// A machine-level parameter or result type of a builtin.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BuiltinType {
    /// A 32-bit integer.
    I32,
    /// A 64-bit integer.
    I64,
    /// A reference value, pointer-sized: a funcref's `VMFuncRef` address or the word of
    /// another reference, 0 for null (the encoding of a table element, decoded).
    Reference,
}

/// Invoke `$mac!` with the list of builtins, one entry per builtin, in table order:
/// `$(#[doc])* Variant = name (param types) -> [result types];` where the types are
/// [`BuiltinType`] variant names. This is the only place the list is written.
#[macro_export]
macro_rules! foreach_builtin {
    ($mac:ident) => {
        $mac! {
            /// `memory.grow`: `(memory_index, delta_pages) -> old_pages`, or [`GROW_REFUSED`]
            /// (-1) when the memory cannot grow, or [`GROW_TRAPPED`] when the store's resource
            /// limiter failed with an error (kept aside: the code traps with `HostError`).
            MemoryGrow = memory_grow (I32, I64) -> [I64];
            /// `memory.copy`: `(dst_memory, dst, src_memory, src, len) -> ok`.
            MemoryCopy = memory_copy (I32, I64, I32, I64, I64) -> [I32];
            /// `memory.fill`: `(memory, dst, value, len) -> ok`.
            MemoryFill = memory_fill (I32, I64, I32, I64) -> [I32];
            /// `memory.init`: `(memory, data_index, dst, src, len) -> ok`.
            MemoryInit = memory_init (I32, I32, I64, I32, I32) -> [I32];
            /// `data.drop`: `(data_index)`.
            DataDrop = data_drop (I32) -> [];
            /// `table.grow`: `(table, delta, init) -> old_size`, or [`GROW_REFUSED`] or
            /// [`GROW_TRAPPED`] as for `memory.grow`.
            TableGrow = table_grow (I32, I64, Reference) -> [I64];
            /// `table.fill`: `(table, dst, value, len) -> ok`.
            TableFill = table_fill (I32, I64, Reference, I64) -> [I32];
            /// `table.copy`: `(dst_table, src_table, dst, src, len) -> ok`.
            TableCopy = table_copy (I32, I32, I64, I64, I64) -> [I32];
            /// `table.init`: `(table, elem_index, dst, src, len) -> ok`.
            TableInit = table_init (I32, I32, I64, I32, I32) -> [I32];
            /// `elem.drop`: `(elem_index)`.
            ElemDrop = elem_drop (I32) -> [];
            /// First read of a not-yet-initialized funcref table element: `(table, index) ->
            /// funcref`; fills the element from the table's image.
            TableLazyInit = table_lazy_init (I32, I64) -> [Reference];
            /// The fuel counter reached zero: `() -> ok`. Refills it from the store's reserve
            /// and returns 1, or returns 0 when no fuel is left (the code traps with
            /// `OutOfFuel`).
            OutOfGas = out_of_gas () -> [I32];
            /// The engine's epoch reached the store's deadline: `() -> status`. Runs the
            /// store's deadline behavior: [`EPOCH_CONTINUE`] after it wrote a new deadline
            /// into the store context, [`EPOCH_INTERRUPT`] to trap with `Interrupt`, or
            /// [`EPOCH_FAILED`] when the store's callback failed with an error (kept aside:
            /// the code traps with `HostError`).
            NewEpoch = new_epoch () -> [I32];
            /// `throw`: `(tag, payload)`, the tag's parameters as 16-byte slots at address
            /// `payload`. Makes the exception and unwinds to the innermost wasm handler that
            /// catches it, never returning; returns only when no frame of this entry catches it
            /// (kept aside as the entry's error: the code traps with `HostError`).
            Throw = throw (I32, I64) -> [];
            /// `throw_ref`: `(exnref)`, non-null: throws that exception again, as `throw`.
            ThrowRef = throw_ref (Reference) -> [];
            /// A handler's read of what it caught: `(exnref, out, mode)` writes the payload as
            /// 16-byte slots at `out` (unless 0), then does what the mode says:
            /// [`EXN_NAMED`], [`EXN_RELEASE`] or [`EXN_KEEP`].
            ExnPayload = exn_payload (Reference, I64, I32) -> [];
            /// A legacy `catch $t`'s test: `(exnref, tag) -> matches`.
            ExnMatches = exn_matches (Reference, I32) -> [I32];
            /// A host function called from wasm failed: `() -> status`. If its error is a
            /// wasm exception, throws it on into the calling wasm as `throw_ref`; returns 0
            /// otherwise, or when nothing catches it (the code traps with `HostError`).
            RethrowHostError = rethrow_host_error () -> [I32];
            /// A declared-subtyping check: `(actual, expected) -> is_subtype`, both canonical
            /// type ids; 1 when `actual` is `expected` or a declared subtype of it. Compiled
            /// code compares the ids first and asks only when they differ and `expected` is
            /// not final.
            IsSubtype = is_subtype (I32, I32) -> [I32];
            /// A GC allocation: `(type_id, length) -> object`, a new zeroed object of
            /// canonical struct or array type `type_id` (`length` elements for an array), or
            /// 0 when the heap has no room even after a collection and growing to its limit
            /// (or as far as the store's limiter allowed; its error, if it failed, pending).
            GcAlloc = gc_alloc (I32, I32) -> [Reference];
            /// `array.copy`: `(dst, dst_index, src, src_index, len) -> status` of two non-null
            /// arrays: [`BULK_OK`] or [`ARRAY_OUT_OF_BOUNDS`].
            ArrayCopy = array_copy (Reference, I32, Reference, I32, I32) -> [I32];
            /// `array.init_data`: `(array, data, dst, offset, len) -> status` of a non-null
            /// array: [`BULK_OK`], [`ARRAY_OUT_OF_BOUNDS`] or [`SEGMENT_OUT_OF_BOUNDS`].
            ArrayInitData = array_init_data (Reference, I32, I32, I32, I32) -> [I32];
            /// `array.init_elem`: `(array, elem, dst, offset, len) -> status`, as
            /// `array_init_data`.
            ArrayInitElem = array_init_elem (Reference, I32, I32, I32, I32) -> [I32];
            /// `array.new_data`: `(type_id, data, offset, len) -> array`, or
            /// [`NEW_OUT_OF_MEMORY`], or [`SEGMENT_OUT_OF_BOUNDS`] (no word is either).
            ArrayNewData = array_new_data (I32, I32, I32, I32) -> [Reference];
            /// `array.new_elem`: `(type_id, elem, offset, len) -> array`, as `array_new_data`.
            ArrayNewElem = array_new_elem (I32, I32, I32, I32) -> [Reference];
        }
    };
}

/// A bulk array builtin did what it was asked.
pub const BULK_OK: u32 = 1;
/// A bulk array builtin found a range outside an array (`out of bounds array access`).
pub const ARRAY_OUT_OF_BOUNDS: u32 = 0;
/// A bulk array builtin found a range outside its data segment (`out of bounds memory
/// access`) or element segment (`out of bounds table access`).
pub const SEGMENT_OUT_OF_BOUNDS: u32 = 2;
/// What `array_new_data` and `array_new_elem` return when the heap has no room.
pub const NEW_OUT_OF_MEMORY: usize = 0;

/// What `memory_grow` and `table_grow` return when the memory or table cannot grow: -1.
pub const GROW_REFUSED: u64 = u64::MAX;
/// What `memory_grow` and `table_grow` return when the store's resource limiter failed with
/// an error; no size is this large.
pub const GROW_TRAPPED: u64 = u64::MAX - 1;
/// `new_epoch`: go on, with the new deadline in the store context.
pub const EPOCH_CONTINUE: u32 = 1;
/// `new_epoch`: trap with `Interrupt`.
pub const EPOCH_INTERRUPT: u32 = 0;
/// `new_epoch`: the store's callback failed with an error, kept aside.
pub const EPOCH_FAILED: u32 = 2;
/// `exn_payload`: wasm now holds a reference to the exception (a `_ref` handler, a
/// `rethrow`), so no handler may free it.
pub const EXN_NAMED: u32 = 0;
/// `exn_payload`: the handler keeps no reference; free the exception unless something else
/// names it.
pub const EXN_RELEASE: u32 = 1;
/// `exn_payload`: read only (a legacy `catch`, whose `rethrow` may still need it).
pub const EXN_KEEP: u32 = 2;

macro_rules! define_builtin_function {
    ($($(#[$doc:meta])* $variant:ident = $name:ident ($($param:ident),*) -> [$($ret:ident),*];)*) => {
        /// A runtime builtin.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum BuiltinFunction {
            $($(#[$doc])* $variant,)*
        }

        impl BuiltinFunction {
            /// Every builtin, in index order.
            pub const ALL: &'static [BuiltinFunction] = &[$(BuiltinFunction::$variant,)*];

            /// The builtin's name, used in symbols and as its field in the runtime's table.
            pub fn name(self) -> &'static str {
                match self { $(BuiltinFunction::$variant => stringify!($name),)* }
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

foreach_builtin!(define_builtin_function);

impl BuiltinFunction {
    /// The builtin's index in the runtime's builtin table.
    pub fn index(self) -> u32 {
        // The discriminants are the list's order, which is the table's.
        self as u32
    }

    /// The builtin with the given index, if any.
    pub fn from_index(index: u32) -> Option<BuiltinFunction> {
        BuiltinFunction::ALL.get(usize::try_from(index).ok()?).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_the_list_order() {
        for (i, b) in BuiltinFunction::ALL.iter().enumerate() {
            assert_eq!(b.index() as usize, i);
            assert_eq!(BuiltinFunction::from_index(b.index()), Some(*b));
        }
        assert_eq!(BuiltinFunction::from_index(BuiltinFunction::ALL.len() as u32), None);
    }
}
