//! The store's resource limiter in the runtime: how the runtime reaches the user's
//! [`ResourceLimiter`] (kept in the user's data, typed by the store's `T`), and every way a
//! memory or table comes to exist or grows — instantiation, the host API, `memory.grow` and
//! `table.grow` — asking it first, with wasmtime's order of questions and messages. The GC
//! heap asks it as a memory when it is made and whenever it grows.
//!
//! The limiter lives in the user's data, so the runtime reaches it through the whole
//! `StoreInner<T>`: `StoreInner::limiter` holds the user's accessor, and the opaque part keeps
//! a function, made for that `T` when the limiter is installed, that applies it.
use super::ids::{MemoryId, TableId};
use super::store::{StoreInner, StoreOpaque, WholeStore};
use super::val_raw::RawRef;
use crate::{Error, ResourceLimiter};
use kiln_environ::{Memory, Table, WASM_PAGE_SIZE};

/// The user's accessor from the store's data to its limiter.
pub type LimiterFn<T> = Box<dyn (FnMut(&mut T) -> &mut dyn ResourceLimiter) + Send + Sync>;

/// Splits the whole store into its opaque part and its limiter (two disjoint parts of the
/// `StoreInner<T>`).
pub type LimiterAccess = for<'a, 'b> fn(&'a mut WholeStore<'b>) -> (&'a mut StoreOpaque, Limiter<'a>);

/// A store's limiter, borrowed beside its opaque part (for the GC heap's growth, deep in
/// the runtime).
pub type Limiter<'a> = Option<&'a mut dyn ResourceLimiter>;

/// What instantiations have made so far (wasmtime counts them the same way: never down), and
/// the most they may make, read from the limiter when it is installed (as wasmtime does).
#[derive(Clone, Copy, Debug)]
pub struct ResourceCounts {
    instances: usize,
    memories: usize,
    tables: usize,
    max_instances: usize,
    max_memories: usize,
    max_tables: usize,
}

impl Default for ResourceCounts {
    fn default() -> ResourceCounts {
        ResourceCounts {
            instances: 0,
            memories: 0,
            tables: 0,
            max_instances: crate::DEFAULT_INSTANCE_LIMIT,
            max_memories: crate::DEFAULT_MEMORY_LIMIT,
            max_tables: crate::DEFAULT_TABLE_LIMIT,
        }
    }
}

/// Install `limiter` as `store`'s resource limiter.
pub fn set_limiter<T: 'static>(
    store: &mut StoreInner<T>,
    limiter: impl (FnMut(&mut T) -> &mut dyn ResourceLimiter) + Send + Sync + 'static,
) {
    let mut limiter: LimiterFn<T> = Box::new(limiter);
    let l = limiter(&mut store.data);
    let counts = &mut store.opaque.counts;
    (counts.max_instances, counts.max_memories, counts.max_tables) = (l.instances(), l.memories(), l.tables());
    store.limiter = Some(limiter);
    store.opaque.limiter = Some(access::<T>);
}

/// The opaque part and the limiter of a store whose data is `T`.
fn access<'a, T: 'static>(store: &'a mut WholeStore<'_>) -> (&'a mut StoreOpaque, Limiter<'a>) {
    // SAFETY: `set_limiter::<T>` installs this function only in a store whose data is `T`,
    // and a store's opaque part never moves to another store.
    let inner = unsafe { store.inner::<T>() };
    let StoreInner { opaque, data, limiter } = inner;
    (opaque, limiter.as_mut().map(|l| l(data)))
}

/// A shorter borrow of `limiter`, for one of several asks.
pub fn reborrow<'a>(limiter: &'a mut Limiter<'_>) -> Limiter<'a> {
    match limiter {
        Some(l) => Some(&mut **l),
        None => None,
    }
}

/// `store`'s opaque part and its limiter, if it has one.
pub fn split<'a>(store: &'a mut WholeStore<'_>) -> (&'a mut StoreOpaque, Limiter<'a>) {
    match store.opaque().limiter {
        Some(access) => access(store),
        None => (store.opaque(), None),
    }
}

/// `store`'s limiter, if it has one.
fn limiter<'a>(store: &'a mut WholeStore<'_>) -> Limiter<'a> {
    split(store).1
}

/// The size the GC heap may grow to from `current` bytes (of at most `maximum`): the first
/// of `sizes` (what it should grow to, then the least that serves) the limiter allows, asked
/// as for a memory; `None` when it allows neither.
///
/// # Errors
/// The limiter's (which traps the wasm that allocated).
pub fn gc_heap_size(
    limiter: Limiter<'_>,
    current: usize,
    sizes: [usize; 2],
    maximum: usize,
) -> Result<Option<usize>, Error> {
    let Some(l) = limiter else { return Ok(Some(sizes[0])) };
    if l.memory_growing(current, sizes[0], Some(maximum))? {
        return Ok(Some(sizes[0]));
    }
    if sizes[1] < sizes[0] && l.memory_growing(current, sizes[1], Some(maximum))? {
        return Ok(Some(sizes[1]));
    }
    Ok(None)
}

/// Tell the limiter that a GC heap growth it allowed failed, and why.
///
/// # Errors
/// The limiter's.
pub fn gc_heap_grow_failed(limiter: Limiter<'_>, why: String) -> Result<(), Error> {
    match limiter {
        Some(l) => l.memory_grow_failed(Error::Limit(why)),
        None => Ok(()),
    }
}

/// `n` as a `usize`, saturating.
fn size(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// A memory's maximum in bytes, as the limiter is told it: the declared one, or else the
/// most its index type allows (wasmtime's values).
fn memory_maximum(ty: &Memory) -> Option<usize> {
    Some(size(ty.max_bytes()))
}

/// A table's maximum as the limiter is told it: the declared one, or else the most its
/// index type allows.
fn table_maximum<T>(ty: &Table<T>) -> Option<usize> {
    Some(size(ty.max_size()))
}

/// Before an instantiation of a module defining `memories` and `tables` creates anything:
/// count it against the store's limits, and ask the limiter about each memory's and
/// table's initial size.
///
/// # Errors
/// `resource limit exceeded: … count too high at N`, `memory minimum size of N pages exceeds
/// memory limits`, `table minimum size of N elements exceeds table limits`, or the limiter's
/// own error.
pub fn admit_instance<T>(store: &mut WholeStore<'_>, memories: &[Memory], tables: &[Table<T>]) -> Result<(), Error> {
    let counts = &mut store.opaque().counts;
    let (max_instances, max_memories, max_tables) = (counts.max_instances, counts.max_memories, counts.max_tables);
    let bump = |count: &mut usize, max: usize, n: usize, what: &str| {
        let new = count.saturating_add(n);
        if new > max {
            return Err(Error::Limit(format!("resource limit exceeded: {what} count too high at {new}")));
        }
        *count = new;
        Ok(())
    };
    bump(&mut counts.instances, max_instances, 1, "instance")?;
    bump(&mut counts.memories, max_memories, memories.len(), "memory")?;
    bump(&mut counts.tables, max_tables, tables.len(), "table")?;
    for ty in memories {
        admit_memory(store, ty)?;
    }
    for ty in tables {
        admit_table(store, ty)?;
    }
    Ok(())
}

/// Before a memory of type `ty` is created: ask the limiter about its initial size.
///
/// # Errors
/// As for [`admit_instance`].
pub fn admit_memory(store: &mut WholeStore<'_>, ty: &Memory) -> Result<(), Error> {
    let Some(l) = limiter(store) else { return Ok(()) };
    if !l.memory_growing(0, size(ty.minimum.saturating_mul(WASM_PAGE_SIZE)), memory_maximum(ty))? {
        return Err(Error::Limit(format!("memory minimum size of {} pages exceeds memory limits", ty.minimum)));
    }
    Ok(())
}

/// Before a table of type `ty` is created: ask the limiter about its initial size.
///
/// # Errors
/// As for [`admit_instance`].
pub fn admit_table<T>(store: &mut WholeStore<'_>, ty: &Table<T>) -> Result<(), Error> {
    let Some(l) = limiter(store) else { return Ok(()) };
    if !l.table_growing(0, size(ty.minimum), table_maximum(ty))? {
        return Err(Error::Limit(format!("table minimum size of {} elements exceeds table limits", ty.minimum)));
    }
    Ok(())
}

/// Grow memory `m` by `delta` pages if the limiter allows: the old size in pages, or `None`
/// when it was refused or failed.
///
/// # Errors
/// The limiter's error (which traps the wasm that grew the memory).
pub fn grow_memory(store: &mut WholeStore<'_>, m: MemoryId, delta: u64) -> Result<Option<u64>, Error> {
    let memory = &store.opaque().memories[m];
    let old = memory.pages();
    if delta == 0 {
        return Ok(Some(old));
    }
    let current = size(old * WASM_PAGE_SIZE);
    let declared = memory.declared();
    if old.checked_add(delta).is_none_or(|new| new > declared.max_pages()) {
        // Past what the type allows: only a failure to report (wasmtime asks nothing).
        if let Some(l) = limiter(store) {
            l.memory_grow_failed(Error::Limit("memory growth exceeds memory type's limits".into()))?;
        }
        return Ok(None);
    }
    let desired = size((old + delta).saturating_mul(WASM_PAGE_SIZE));
    let maximum = memory_maximum(&declared);
    if let Some(l) = limiter(store)
        && !l.memory_growing(current, desired, maximum)?
    {
        return Ok(None);
    }
    match store.opaque().memories[m].grow(delta) {
        Ok(old) => Ok(Some(old)),
        Err(why) => {
            if let Some(l) = limiter(store) {
                l.memory_grow_failed(Error::Limit(why))?;
            }
            Ok(None)
        }
    }
}

/// Grow table `t` by `delta` elements set to `init` if the limiter allows: the old size, or
/// `None` when it was refused or failed.
///
/// # Errors
/// The limiter's error (which traps the wasm that grew the table).
pub fn grow_table(store: &mut WholeStore<'_>, t: TableId, delta: u64, init: RawRef) -> Result<Option<u64>, Error> {
    let table = &store.opaque().tables[t];
    let old = table.len();
    if delta == 0 {
        return Ok(Some(old));
    }
    let maximum = table_maximum(&table.ty());
    let Some(new) = old.checked_add(delta) else {
        if let Some(l) = limiter(store) {
            l.table_grow_failed(Error::Limit("overflow calculating new table size".into()))?;
        }
        return Ok(None);
    };
    if let Some(l) = limiter(store)
        && !l.table_growing(size(old), size(new), maximum)?
    {
        return Ok(None);
    }
    match store.opaque().tables[t].grow(delta, init) {
        Ok(old) => Ok(Some(old)),
        Err(why) => {
            if let Some(l) = limiter(store) {
                l.table_grow_failed(Error::Limit(why))?;
            }
            Ok(None)
        }
    }
}
