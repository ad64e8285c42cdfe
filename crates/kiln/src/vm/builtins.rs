//! The runtime builtins compiled code calls through `WasmToBuiltinTrampoline`s, and the
//! table of their addresses that every vmctx points at. The table's type is generated from
//! environ's one list of builtins ([`kiln_environ::foreach_builtin!`]), so each field sits
//! at the builtin's index with the Rust types of its signature, and assigning a function of
//! another signature does not compile; a test compares each field's signature with the
//! list's.
//!
//! Every builtin follows the builtin ABI described in `kiln_environ::builtins`: it is called
//! by compiled code with its own vmctx while its store is entered, so it may reach the store
//! through the store context (see `entry`). Builtins that can fail return 0 for "trap" and
//! check every bound before writing anything, as the spec orders.
use super::exception;
use super::host_func::Pending;
use super::ids::{InstanceId, MemoryId, TableId};
use super::instance::element_items;
use super::store::{StoreOpaque, WholeStore};
use super::val_raw::{RawRef, ValRaw};
use super::vm_ptr::VmPtr;
use super::vmcontext::{VMContext, header_of};
use super::{epoch, limits};
use kiln_environ::builtins::{EPOCH_FAILED, EXN_NAMED, EXN_RELEASE, GROW_REFUSED, GROW_TRAPPED, NEW_OUT_OF_MEMORY};
use kiln_environ::{DataIndex, ElemIndex, MemoryIndex, SharedTypeIndex, TableIndex};

/// The Rust type of a builtin parameter or result type.
macro_rules! abi_type {
    (I32) => {
        u32
    };
    (I64) => {
        u64
    };
    (Reference) => {
        RawRef
    };
}

/// The Rust result type of a builtin's result list.
macro_rules! abi_result {
    () => {
        ()
    };
    ($t:ident) => {
        abi_type!($t)
    };
}

/// The table's type and value, from the list of builtins (and, under test, the check that
/// each field's signature is the list's).
macro_rules! define_builtin_table {
    ($($(#[$doc:meta])* $variant:ident = $name:ident ($($param:ident),*) -> [$($ret:ident),*];)*) => {
        /// The runtime builtins, in `BuiltinFunction` index order.
        #[repr(C)]
        pub struct BuiltinTable {
            $($(#[$doc])* $name: unsafe extern "C" fn(VmPtr<VMContext> $(, abi_type!($param))*) -> abi_result!($($ret)*),)*
        }

        /// The table every vmctx points at.
        pub static BUILTINS: BuiltinTable = BuiltinTable { $($name,)* };

        #[cfg(test)]
        mod table_tests {
            use super::*;
            use kiln_environ::BuiltinFunction;
            use kiln_environ::builtins::BuiltinType;

            /// Each field's builtin, byte offset, and signature as its Rust type says.
            fn fields() -> Vec<(BuiltinFunction, usize, Vec<BuiltinType>, Vec<BuiltinType>)> {
                vec![$((
                    BuiltinFunction::$variant,
                    std::mem::offset_of!(BuiltinTable, $name),
                    signature::params(&BUILTINS.$name),
                    signature::results(&BUILTINS.$name),
                ),)*]
            }

            #[test]
            fn the_table_matches_the_builtin_list() {
                let fields = fields();
                assert_eq!(fields.len(), BuiltinFunction::ALL.len());
                assert_eq!(size_of::<BuiltinTable>(), BuiltinFunction::ALL.len() * size_of::<usize>());
                for (b, offset, params, results) in fields {
                    assert_eq!(offset, b.index() as usize * size_of::<usize>(), "{}", b.name());
                    assert_eq!(params, b.params(), "{}'s parameters", b.name());
                    assert_eq!(results, b.results(), "{}'s results", b.name());
                }
            }
        }
    };
}

/// The whole store and the instance behind the calling vmctx.
///
/// # Safety
/// `vmctx` must be a live instance's vmctx, passed by its compiled code calling a builtin
/// (the builtin ABI): its store is then entered, and this builtin is where the store's
/// pointer is used until it returns.
unsafe fn store_of<'a>(vmctx: VmPtr<VMContext>) -> (WholeStore<'a>, InstanceId) {
    // SAFETY: per the contract, `vmctx` is a live instance's, which starts with its header.
    let header = unsafe { header_of(vmctx) };
    // SAFETY: the header's store context is its store's, alive as long as the instance; the
    // store is entered, so its context names it.
    let store = unsafe { (*header.store_context.as_ptr()).store };
    let store = store.expect("a builtin runs only while its store is entered");
    // SAFETY: the entry that set the pointer is suspended below this call, and nothing else
    // holds a reference made from it (the contract); the borrow ends when the builtin does.
    (unsafe { WholeStore::from_context(store) }, header.instance)
}

/// Run user code — a resource limiter, an epoch callback — from a builtin, as a host
/// function runs: a fault in it is the host's (never taken for a wasm trap), and a panic is
/// kept in the store to resume once wasm is left (`None` then).
fn run_user_code<R>(store: &mut WholeStore<'_>, f: impl FnOnce(&mut WholeStore<'_>) -> R) -> Option<R> {
    let result = super::traps::in_host(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(store))));
    match result {
        Ok(r) => Some(r),
        Err(panic) => {
            store.opaque().pending = Some(Pending::Panic(panic));
            None
        }
    }
}

/// What a grow builtin returns for what growing did: the old size, [`GROW_REFUSED`], or
/// [`GROW_TRAPPED`] with the limiter's error (or panic) pending.
fn grow_status(store: &mut WholeStore<'_>, grown: Option<Result<Option<u64>, crate::Error>>) -> u64 {
    match grown {
        Some(Ok(Some(old))) => old,
        Some(Ok(None)) => GROW_REFUSED,
        Some(Err(e)) => {
            store.opaque().pending = Some(Pending::Error(e));
            GROW_TRAPPED
        }
        None => GROW_TRAPPED,
    }
}

/// Run `f`, an allocation that may ask the store's limiter, as user code (see
/// [`run_user_code`]): what it made, or `None` with the limiter's error (or panic) pending,
/// for the failed allocation's trap to report (see `entry`).
fn with_limiter<R>(
    store: &mut WholeStore<'_>,
    f: impl FnOnce(&mut StoreOpaque, limits::Limiter<'_>) -> Result<R, crate::Error>,
) -> Option<R> {
    let made = run_user_code(store, |s| {
        let (s, limiter) = limits::split(s);
        f(s, limiter)
    });
    match made? {
        Ok(r) => Some(r),
        Err(e) => {
            store.opaque().pending = Some(Pending::Error(e));
            None
        }
    }
}

/// Whether `start..start + len` lies within `size`.
fn in_bounds(start: u64, len: u64, size: u64) -> bool {
    start.checked_add(len).is_some_and(|end| end <= size)
}

/// The memory `index` of `instance`, as a store handle.
fn memory_of(store: &StoreOpaque, instance: InstanceId, index: u32) -> MemoryId {
    store.instances[instance].memories[MemoryIndex::from_u32(index)]
}

/// The table `index` of `instance`, as a store handle.
fn table_of(store: &StoreOpaque, instance: InstanceId, index: u32) -> TableId {
    store.instances[instance].tables[TableIndex::from_u32(index)]
}

/// Define builtins: `fn name(store, instance, params…) -> result { body }` becomes the
/// `extern "C"` function of the builtin ABI, whose body runs with the calling instance's
/// store and id.
macro_rules! builtins {
    ($($(#[$doc:meta])* fn $name:ident($store:ident $(: $whole:ident)?, $instance:ident $(, $arg:ident: $ty:ty)*) $(-> $ret:ty)? $body:block)*) => {$(
        $(#[$doc])*
        ///
        /// # Safety
        /// The builtin ABI: called only by compiled code, through its wasm-to-builtin
        /// trampoline, with the calling instance's vmctx while that instance's store is
        /// entered.
        unsafe extern "C" fn $name(vmctx: VmPtr<VMContext> $(, $arg: $ty)*) $(-> $ret)? {
            // Builtins are Kiln's own code, which never faults (every access is checked), so
            // unlike host functions they need no `traps::in_host` guard: the signal handler
            // never runs while one holds the store.
            // SAFETY: this function's contract is `store_of`'s.
            let ($store, $instance) = unsafe { store_of(vmctx) };
            builtins!(@store $store $($whole)?);
            $body
        }
    )*};
    // `fn name(store: whole, …)` gets the whole store; other builtins its opaque part.
    (@store $store:ident whole) => {
        let mut $store = $store;
    };
    (@store $store:ident) => {
        let $store = $store.into_opaque();
    };
}

builtins! {
    /// `memory.grow`, as the store's limiter allows.
    fn memory_grow(store: whole, instance, memory: u32, delta: u64) -> u64 {
        let m = memory_of(store.opaque(), instance, memory);
        let grown = run_user_code(&mut store, |s| limits::grow_memory(s, m, delta));
        grow_status(&mut store, grown)
    }

    /// `memory.copy`.
    fn memory_copy(store, instance, dst_mem: u32, dst: u64, src_mem: u32, src: u64, len: u64) -> u32 {
        let (d, s) = (memory_of(store, instance, dst_mem), memory_of(store, instance, src_mem));
        let (src_len, dst_len) = (store.memories[s].data().len() as u64, store.memories[d].data().len() as u64);
        if !in_bounds(src, len, src_len) || !in_bounds(dst, len, dst_len) {
            return 0;
        }
        let (src, dst, len) = (src as usize, dst as usize, len as usize);
        if s == d {
            store.memories[d].data_mut().copy_within(src..src + len, dst);
        } else {
            let Ok([from, to]) = store.memories.get_disjoint_mut([s, d]) else { return 0 };
            to.data_mut()[dst..dst + len].copy_from_slice(&from.data()[src..src + len]);
        }
        1
    }

    /// `memory.fill`.
    fn memory_fill(store, instance, mem: u32, dst: u64, value: u32, len: u64) -> u32 {
        let m = memory_of(store, instance, mem);
        let bytes = store.memories[m].data_mut();
        if !in_bounds(dst, len, bytes.len() as u64) {
            return 0;
        }
        bytes[dst as usize..(dst + len) as usize].fill(value as u8);
        1
    }

    /// `memory.init`.
    fn memory_init(store, instance, mem: u32, data: u32, dst: u64, src: u32, len: u32) -> u32 {
        let module = store.instances[instance].module.clone();
        let data = DataIndex::from_u32(data);
        let segment: &[u8] =
            if store.instances[instance].dropped_data.contains(data) { &[] } else { &module.env().data[data].items };
        let m = memory_of(store, instance, mem);
        let bytes = store.memories[m].data_mut();
        if !in_bounds(u64::from(src), u64::from(len), segment.len() as u64)
            || !in_bounds(dst, u64::from(len), bytes.len() as u64)
        {
            return 0;
        }
        bytes[dst as usize..dst as usize + len as usize].copy_from_slice(&segment[src as usize..(src + len) as usize]);
        1
    }

    /// `data.drop`.
    fn data_drop(store, instance, data: u32) {
        store.instances[instance].dropped_data.insert(DataIndex::from_u32(data));
    }

    /// `table.grow`, as the store's limiter allows.
    fn table_grow(store: whole, instance, table: u32, delta: u64, init: RawRef) -> u64 {
        let t = table_of(store.opaque(), instance, table);
        let grown = run_user_code(&mut store, |s| limits::grow_table(s, t, delta, init));
        grow_status(&mut store, grown)
    }

    /// `table.fill`.
    fn table_fill(store, instance, table: u32, dst: u64, value: RawRef, len: u64) -> u32 {
        let t = table_of(store, instance, table);
        if !in_bounds(dst, len, store.tables[t].len()) {
            return 0;
        }
        store.tables[t].fill(dst, len, value);
        1
    }

    /// `table.copy`.
    fn table_copy(store, instance, dst_table: u32, src_table: u32, dst: u64, src: u64, len: u64) -> u32 {
        let (d, s) = (table_of(store, instance, dst_table), table_of(store, instance, src_table));
        let (dst_len, src_len) = (store.tables[d].len(), store.tables[s].len());
        if !in_bounds(src, len, src_len) || !in_bounds(dst, len, dst_len) {
            return 0;
        }
        // Decoded (and lazily filled) source elements: a "not yet initialized" source means
        // the source table's image, not the destination's. Copied a chunk at a time through a
        // fixed buffer, from the end when the ranges overlap that way, so the host allocates
        // nothing however long the copy.
        const CHUNK: u64 = 256;
        let mut buf = [RawRef::NULL; CHUNK as usize];
        let backward = d == s && dst > src;
        let mut done = 0;
        while done < len {
            let n = CHUNK.min(len - done);
            let at = if backward { len - done - n } else { done };
            for (i, slot) in buf[..n as usize].iter_mut().enumerate() {
                *slot = store.table_get(s, src + at + i as u64).unwrap_or(RawRef::NULL);
            }
            store.tables[d].write(dst + at, &buf[..n as usize]);
            done += n;
        }
        1
    }

    /// `table.init`.
    fn table_init(store, instance, table: u32, elem: u32, dst: u64, src: u32, len: u32) -> u32 {
        let module = store.instances[instance].module.clone();
        let elem = ElemIndex::from_u32(elem);
        let items = &module.env().elements[elem].items;
        let available = if store.instances[instance].dropped_elems.contains(elem) { 0 } else { items.len() as u64 };
        let t = table_of(store, instance, table);
        let size = store.tables[t].len();
        if !in_bounds(u64::from(src), u64::from(len), available) || !in_bounds(dst, u64::from(len), size) {
            return 0;
        }
        let Ok(values) = element_items(store, instance, elem, src as usize, len as usize) else { return 0 };
        store.tables[t].write(dst, &values);
        1
    }

    /// `elem.drop`.
    fn elem_drop(store, instance, elem: u32) {
        let elem = ElemIndex::from_u32(elem);
        store.instances[instance].dropped_elems.insert(elem);
        store.instances[instance].gc_elements.remove(&elem);
    }

    /// The fuel count ran out: refill it from the reserve, or say to trap.
    fn out_of_gas(store, _instance) -> u32 {
        u32::from(store.refuel())
    }

    /// The epoch reached the deadline: run the store's deadline behavior.
    fn new_epoch(store: whole, _instance) -> u32 {
        run_user_code(&mut store, epoch::deadline_reached).unwrap_or(EPOCH_FAILED)
    }

    /// The first read of a not-yet-initialized funcref table element.
    fn table_lazy_init(store, instance, table: u32, index: u64) -> RawRef {
        let t = table_of(store, instance, table);
        store.table_get(t, index).unwrap_or(RawRef::NULL)
    }

    /// `throw`: make the exception and resume at its handler, or keep it as the entry's
    /// error and return (the code traps).
    fn throw(store, instance, tag: u32, payload: u64) {
        let payload = std::ptr::with_exposed_provenance::<ValRaw>(payload as usize);
        // SAFETY: compiled code passes a stack slot with one value per tag parameter.
        let Some(exn) = (unsafe { exception::new_exception(store, instance, tag, payload) }) else { return };
        if let Some(handler) = unwind_or_keep(store, exn) {
            // SAFETY: found for this activation; this frame holds nothing to drop.
            unsafe { exception::resume(handler) }
        }
    }

    /// `throw_ref` of a non-null exception reference.
    fn throw_ref(store, _instance, exn: RawRef) {
        if let Some(handler) = unwind_or_keep(store, exn) {
            // SAFETY: as for `throw`.
            unsafe { exception::resume(handler) }
        }
    }

    /// A handler reads what it caught: the payload into `out` (unless 0), then marks the
    /// exception as named, frees it if nothing else names it, or neither, as `mode` says.
    fn exn_payload(store, _instance, exn: RawRef, out: u64, mode: u32) {
        let Some(e) = exception::exception_of(store, exn) else { return };
        if out != 0 {
            let out = std::ptr::with_exposed_provenance_mut::<ValRaw>(out as usize);
            // SAFETY: compiled code passes a stack slot with one value per tag parameter.
            unsafe { std::slice::from_raw_parts_mut(out, e.payload.len()) }.copy_from_slice(&e.payload);
        }
        match mode {
            EXN_NAMED => e.escaped.store(true, std::sync::atomic::Ordering::Relaxed),
            EXN_RELEASE if !e.escaped.load(std::sync::atomic::Ordering::Relaxed) => {
                drop(e);
                store.externs.release(exn);
            }
            _ => {}
        }
    }

    /// Whether exception `exn` is of the calling instance's tag `tag`.
    fn exn_matches(store, instance, exn: RawRef, tag: u32) -> u32 {
        let Some(e) = exception::exception_of(store, exn) else { return 0 };
        u32::from(exception::instance_tag_is(store, instance, tag, e.tag))
    }

    /// A host function failed: throw its wasm exception on into the calling wasm, or
    /// return 0 (the code traps with the error kept aside).
    fn rethrow_host_error(store, _instance) -> u32 {
        let exn = match store.pending.take() {
            // An exception of another store (a host function that called into one) is no
            // exception of this store's wasm: it stays an error.
            Some(Pending::Error(crate::Error::Exception(e))) if e.store() == store.id() => {
                store.externs.reference_to(&e.value())
            }
            other => {
                store.pending = other;
                return 0;
            }
        };
        if let Some(handler) = unwind_or_keep(store, exn) {
            // SAFETY: as for `throw`; the error and its exception were dropped above.
            unsafe { exception::resume(handler) }
        }
        0
    }

    /// A new zeroed object of canonical type `ty`, or 0 when the heap has no room.
    fn gc_alloc(store: whole, _instance, ty: u32, length: u32) -> RawRef {
        let ty = SharedTypeIndex::from_u32(ty);
        let word = match store.opaque().gc_alloc_now(ty, length) {
            Some(word) => Some(word),
            None => with_limiter(&mut store, |s, limiter| s.gc_alloc(ty, length, &[], limiter)).flatten(),
        };
        RawRef::any(word.map_or(0, |w| w as usize))
    }

    /// `array.copy`.
    fn array_copy(store, _instance, dst: RawRef, dst_index: u32, src: RawRef, src_index: u32, len: u32) -> u32 {
        store.array_copy(dst, dst_index, src, src_index, len)
    }

    /// `array.init_data`.
    fn array_init_data(store, instance, array: RawRef, data: u32, dst: u32, offset: u32, len: u32) -> u32 {
        store.array_init_data(instance, array, DataIndex::from_u32(data), dst, offset, len)
    }

    /// `array.init_elem`.
    fn array_init_elem(store, instance, array: RawRef, elem: u32, dst: u32, offset: u32, len: u32) -> u32 {
        store.array_init_elem(instance, array, ElemIndex::from_u32(elem), dst, offset, len)
    }

    /// `array.new_data`.
    fn array_new_data(store: whole, instance, ty: u32, data: u32, offset: u32, len: u32) -> RawRef {
        let ty = SharedTypeIndex::from_u32(ty);
        let data = DataIndex::from_u32(data);
        let made = with_limiter(&mut store, |s, limiter| s.array_new_data(limiter, instance, ty, data, offset, len));
        RawRef::any(made.unwrap_or(NEW_OUT_OF_MEMORY))
    }

    /// `array.new_elem`.
    fn array_new_elem(store: whole, instance, ty: u32, elem: u32, offset: u32, len: u32) -> RawRef {
        let ty = SharedTypeIndex::from_u32(ty);
        let elem = ElemIndex::from_u32(elem);
        let made = with_limiter(&mut store, |s, limiter| s.array_new_elem(limiter, instance, ty, elem, offset, len));
        RawRef::any(made.unwrap_or(NEW_OUT_OF_MEMORY))
    }

    /// Whether canonical type `actual` is `expected` or a declared subtype of it.
    fn is_subtype(store, _instance, actual: u32, expected: u32) -> u32 {
        let (a, b) = (SharedTypeIndex::from_u32(actual), SharedTypeIndex::from_u32(expected));
        u32::from(store.engine().is_subtype(a, b))
    }
}

/// Find the handler of `exn` in this activation, from the frame the unwinding trampoline
/// recorded; when none catches it, keep it as the entry's error.
fn unwind_or_keep(store: &mut StoreOpaque, exn: RawRef) -> Option<exception::Resume> {
    let found = exception::find_handler(store, exn);
    if found.is_none() {
        let error = match exception::exception_of(store, exn) {
            Some(e) => crate::Error::Exception(crate::ExnRef::from_exception(e)),
            None => crate::Error::Other("throw_ref of a reference that is not an exception".into()),
        };
        store.pending = Some(Pending::Error(error));
    }
    found
}

kiln_environ::foreach_builtin!(define_builtin_table);

/// Reading a builtin's signature off its Rust function type, for the test above.
#[cfg(test)]
mod signature {
    use super::*;
    use kiln_environ::builtins::BuiltinType;

    /// A Rust type that carries a builtin value: its type, checked against its size.
    pub trait AbiType {
        const TYPE: BuiltinType;
    }

    impl AbiType for u32 {
        const TYPE: BuiltinType = BuiltinType::I32;
    }

    impl AbiType for u64 {
        const TYPE: BuiltinType = BuiltinType::I64;
    }

    impl AbiType for RawRef {
        const TYPE: BuiltinType = BuiltinType::Reference;
    }

    fn checked<A: AbiType>() -> BuiltinType {
        let size = match A::TYPE {
            BuiltinType::I32 => 4,
            BuiltinType::I64 => 8,
            BuiltinType::Reference => size_of::<usize>(),
        };
        assert_eq!(size_of::<A>(), size, "{:?} is carried in a type of another size", A::TYPE);
        A::TYPE
    }

    /// A builtin's function type.
    pub trait Signature {
        fn params() -> Vec<BuiltinType>;
        fn results() -> Vec<BuiltinType>;
    }

    /// What a builtin returns: nothing or one value.
    pub trait AbiResult {
        fn types() -> Vec<BuiltinType>;
    }

    impl AbiResult for () {
        fn types() -> Vec<BuiltinType> {
            Vec::new()
        }
    }

    impl<A: AbiType> AbiResult for A {
        fn types() -> Vec<BuiltinType> {
            vec![checked::<A>()]
        }
    }

    macro_rules! signatures {
        ($(($($p:ident),*))*) => {$(
            impl<R: AbiResult, $($p: AbiType),*> Signature for unsafe extern "C" fn(VmPtr<VMContext> $(, $p)*) -> R {
                fn params() -> Vec<BuiltinType> {
                    vec![$(checked::<$p>()),*]
                }
                fn results() -> Vec<BuiltinType> {
                    R::types()
                }
            }
        )*};
    }

    signatures! { () (A) (A, B) (A, B, C) (A, B, C, D) (A, B, C, D, E) (A, B, C, D, E, F) }

    pub fn params<S: Signature>(_: &S) -> Vec<BuiltinType> {
        S::params()
    }

    pub fn results<S: Signature>(_: &S) -> Vec<BuiltinType> {
        S::results()
    }
}
