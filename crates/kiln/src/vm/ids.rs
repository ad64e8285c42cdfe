//! The handles of a store: the store's own id, and one index type per arena it keeps
//! (instances, functions, memories, tables, globals, tags, host functions, ExternRef slots, host roots). The
//! public handles (`Func`, `Memory`, …) are a store id and one of these; an index of one
//! arena can never be used for another.
use cranelift_entity::entity_impl;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which store a handle belongs to: unique among every store this process makes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoreId(NonZeroU64);

impl StoreId {
    /// A fresh id.
    pub fn allocate() -> StoreId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        // Counting from 1 by ones, a u64 does not wrap back to 0.
        StoreId(NonZeroU64::new(id).unwrap_or(NonZeroU64::MIN))
    }
}

macro_rules! store_index {
    ($($(#[$doc:meta])* $name:ident, $prefix:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(transparent)]
        pub struct $name(u32);
        entity_impl!($name, $prefix);
    )*};
}

store_index! {
    /// An instance in its store.
    InstanceId, "instance";
    /// A function (a wasm function's reference, or a host function) in its store.
    FuncId, "func";
    /// A linear memory in its store.
    MemoryId, "memory";
    /// A table in its store.
    TableId, "table";
    /// A global in its store.
    GlobalId, "global";
    /// An exception tag (defined by an instance, or created by the host) in its store.
    TagId, "tag";
    /// A host function's own record (its closure and vmctx) in its store.
    HostFuncId, "host_func";
    /// A slot of the store's reference slab (see `RawRef` for the word wasm sees).
    ExternSlot, "extern";
    /// An entry of the store's scoped host roots (`Rooted`), in the order they were made.
    ScopedRoot, "scoped_root";
    /// A slot of the store's owned host roots (`OwnedRooted`).
    OwnedRoot, "owned_root";
}
