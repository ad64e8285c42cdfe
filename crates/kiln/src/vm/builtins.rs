//! The runtime builtins compiled code calls through `WasmToBuiltinTrampoline`s, and the
//! table of their addresses that every vmctx points at (in `BuiltinFunction` index order,
//! pinned by a test). Each receives the calling instance's vmctx; builtins that can fail
//! return 0 for "trap" and check every bound before writing anything, as the spec orders.
use super::instance::element_items;
use super::store::StoreOpaque;
use super::vmcontext::VMStoreContext;
use cranelift_entity::EntityRef;
use kiln_environ::{DataIndex, ElemIndex, VMOffsets};

/// The runtime builtins, in `BuiltinFunction` index order.
#[repr(C)]
pub struct BuiltinTable {
    memory_grow: unsafe extern "C" fn(usize, u32, u64) -> u64,
    memory_copy: unsafe extern "C" fn(usize, u32, u64, u32, u64, u64) -> u32,
    memory_fill: unsafe extern "C" fn(usize, u32, u64, u32, u64) -> u32,
    memory_init: unsafe extern "C" fn(usize, u32, u32, u64, u32, u32) -> u32,
    data_drop: unsafe extern "C" fn(usize, u32),
    table_grow: unsafe extern "C" fn(usize, u32, u32, usize) -> u32,
    table_fill: unsafe extern "C" fn(usize, u32, u32, usize, u32) -> u32,
    table_copy: unsafe extern "C" fn(usize, u32, u32, u32, u32, u32) -> u32,
    table_init: unsafe extern "C" fn(usize, u32, u32, u32, u32, u32) -> u32,
    elem_drop: unsafe extern "C" fn(usize, u32),
    table_lazy_init: unsafe extern "C" fn(usize, u32, u32) -> usize,
}

/// The table every vmctx points at.
pub static BUILTINS: BuiltinTable = BuiltinTable {
    memory_grow,
    memory_copy,
    memory_fill,
    memory_init,
    data_drop,
    table_grow,
    table_fill,
    table_copy,
    table_init,
    elem_drop,
    table_lazy_init,
};

/// The store and instance index behind a vmctx.
///
/// # Safety
/// `vmctx` must be a live instance's vmctx, called from wasm running in that store (whose
/// outer borrow is suspended while wasm runs).
unsafe fn store_of<'a>(vmctx: usize) -> (&'a mut StoreOpaque, usize) {
    // SAFETY: per the contract, the header holds the store context and instance index, and
    // the store context points at the `StoreInner<T>`, whose first field is the `StoreOpaque`.
    unsafe {
        let ctx = *((vmctx + VMOffsets::STORE_CONTEXT as usize) as *const *const VMStoreContext);
        let instance = *((vmctx + VMOffsets::RUNTIME_DATA as usize) as *const usize);
        (&mut *(*ctx).store.cast::<StoreOpaque>(), instance)
    }
}

/// Whether `start..start + len` lies within `size`.
fn in_bounds(start: u64, len: u64, size: u64) -> bool {
    start.checked_add(len).is_some_and(|end| end <= size)
}

unsafe extern "C" fn memory_grow(vmctx: usize, memory: u32, delta: u64) -> u64 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_of(vmctx) };
    let m = store.instances[instance].memories[memory as usize];
    store.memories[m].grow(delta).unwrap_or(u64::MAX)
}

unsafe extern "C" fn memory_copy(vmctx: usize, dst_mem: u32, dst: u64, src_mem: u32, src: u64, len: u64) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_of(vmctx) };
    let (d, s) =
        (store.instances[instance].memories[dst_mem as usize], store.instances[instance].memories[src_mem as usize]);
    let (src_len, dst_len) = (store.memories[s].data().len() as u64, store.memories[d].data().len() as u64);
    if !in_bounds(src, len, src_len) || !in_bounds(dst, len, dst_len) {
        return 0;
    }
    let from = store.memories[s].data()[src as usize..].as_ptr();
    let to = store.memories[d].data_mut()[dst as usize..].as_mut_ptr();
    // SAFETY: both ranges were checked to lie in their memories; `copy` allows overlap (the
    // same memory), and no reference to either memory is live across it.
    unsafe { std::ptr::copy(from, to, len as usize) };
    1
}

unsafe extern "C" fn memory_fill(vmctx: usize, mem: u32, dst: u64, value: u32, len: u64) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_of(vmctx) };
    let m = store.instances[instance].memories[mem as usize];
    let bytes = store.memories[m].data_mut();
    if !in_bounds(dst, len, bytes.len() as u64) {
        return 0;
    }
    bytes[dst as usize..(dst + len) as usize].fill(value as u8);
    1
}

unsafe extern "C" fn memory_init(vmctx: usize, mem: u32, data: u32, dst: u64, src: u32, len: u32) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_of(vmctx) };
    let module = store.instances[instance].module.clone();
    let segment: &[u8] = if store.instances[instance].dropped_data[data as usize] {
        &[]
    } else {
        &module.env().data[DataIndex::new(data as usize)].items
    };
    let m = store.instances[instance].memories[mem as usize];
    let bytes = store.memories[m].data_mut();
    if !in_bounds(u64::from(src), u64::from(len), segment.len() as u64)
        || !in_bounds(dst, u64::from(len), bytes.len() as u64)
    {
        return 0;
    }
    bytes[dst as usize..dst as usize + len as usize].copy_from_slice(&segment[src as usize..(src + len) as usize]);
    1
}

unsafe extern "C" fn data_drop(vmctx: usize, data: u32) {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_of(vmctx) };
    store.instances[instance].dropped_data[data as usize] = true;
}

unsafe extern "C" fn table_grow(vmctx: usize, table: u32, delta: u32, init: usize) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_of(vmctx) };
    let t = store.instances[instance].tables[table as usize];
    store.tables[t].grow(delta, init).unwrap_or(u32::MAX)
}

unsafe extern "C" fn table_fill(vmctx: usize, table: u32, dst: u32, value: usize, len: u32) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_of(vmctx) };
    let t = store.instances[instance].tables[table as usize];
    if !in_bounds(u64::from(dst), u64::from(len), store.tables[t].len() as u64) {
        return 0;
    }
    store.tables[t].fill(dst as usize, len as usize, value);
    1
}

unsafe extern "C" fn table_copy(vmctx: usize, dst_table: u32, src_table: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_of(vmctx) };
    let (d, s) =
        (store.instances[instance].tables[dst_table as usize], store.instances[instance].tables[src_table as usize]);
    let (dst_len, src_len) = (store.tables[d].len() as u64, store.tables[s].len() as u64);
    if !in_bounds(u64::from(src), u64::from(len), src_len) || !in_bounds(u64::from(dst), u64::from(len), dst_len) {
        return 0;
    }
    // Decoded (and lazily filled) source elements: a "not yet initialized" source means the
    // source table's image, not the destination's.
    let items: Vec<usize> = (src..src + len).map(|i| store.table_get(s, i as usize).unwrap_or(0)).collect();
    store.tables[d].write(dst as usize, &items);
    1
}

unsafe extern "C" fn table_init(vmctx: usize, table: u32, elem: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_of(vmctx) };
    let module = store.instances[instance].module.clone();
    let items = &module.env().elements[ElemIndex::new(elem as usize)].items;
    let available = if store.instances[instance].dropped_elems[elem as usize] { 0 } else { items.len() as u64 };
    let t = store.instances[instance].tables[table as usize];
    let size = store.tables[t].len() as u64;
    if !in_bounds(u64::from(src), u64::from(len), available) || !in_bounds(u64::from(dst), u64::from(len), size) {
        return 0;
    }
    let Ok(values) = element_items(store, instance, items, src as usize, len as usize) else { return 0 };
    store.tables[t].write(dst as usize, &values);
    1
}

unsafe extern "C" fn elem_drop(vmctx: usize, elem: u32) {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_of(vmctx) };
    store.instances[instance].dropped_elems[elem as usize] = true;
}

unsafe extern "C" fn table_lazy_init(vmctx: usize, table: u32, index: u32) -> usize {
    // SAFETY: called by compiled code with its own vmctx.
    let (store, instance) = unsafe { store_of(vmctx) };
    let t = store.instances[instance].tables[table as usize];
    store.table_get(t, index as usize).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_environ::BuiltinFunction;
    use std::mem::offset_of;

    #[test]
    fn builtin_table_matches_the_builtin_list() {
        assert_eq!(std::mem::size_of::<BuiltinTable>(), BuiltinFunction::ALL.len() * 8);
        let fields = [
            (BuiltinFunction::MemoryGrow, offset_of!(BuiltinTable, memory_grow)),
            (BuiltinFunction::MemoryCopy, offset_of!(BuiltinTable, memory_copy)),
            (BuiltinFunction::MemoryFill, offset_of!(BuiltinTable, memory_fill)),
            (BuiltinFunction::MemoryInit, offset_of!(BuiltinTable, memory_init)),
            (BuiltinFunction::DataDrop, offset_of!(BuiltinTable, data_drop)),
            (BuiltinFunction::TableGrow, offset_of!(BuiltinTable, table_grow)),
            (BuiltinFunction::TableFill, offset_of!(BuiltinTable, table_fill)),
            (BuiltinFunction::TableCopy, offset_of!(BuiltinTable, table_copy)),
            (BuiltinFunction::TableInit, offset_of!(BuiltinTable, table_init)),
            (BuiltinFunction::ElemDrop, offset_of!(BuiltinTable, elem_drop)),
            (BuiltinFunction::TableLazyInit, offset_of!(BuiltinTable, table_lazy_init)),
        ];
        for (b, offset) in fields {
            assert_eq!(offset, b.index() as usize * 8, "{}", b.name());
        }
    }
}
