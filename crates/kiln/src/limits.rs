//! Resource limits, as wasmtime has them: a [`ResourceLimiter`] installed with
//! [`Store::limiter`](crate::Store::limiter) is asked before any memory or table of its store
//! grows — by `memory.grow` and `table.grow`, by [`Memory::grow`](crate::Memory::grow) and
//! [`Table::grow`](crate::Table::grow), and for the initial size of every memory and table an
//! instantiation or the host creates — and gives the most instances, memories and tables
//! the store may have (read once, when it is installed). The store's GC heap is asked about
//! as a memory, through [`ResourceLimiter::memory_growing`]: when it is made (`current` 0)
//! and before it grows, with `gc-heap-max` as its maximum; a refusal makes the allocation
//! that needed the room trap with `out of memory: the GC heap is full`. [`StoreLimits`] is a ready one, built
//! with [`StoreLimitsBuilder`]. A memory or table that declares no maximum is presented with
//! the most its type allows (4 GiB, `u32::MAX` elements), as wasmtime does.
use crate::{Error, Result};

/// The most instances, memories or tables a store may have unless its limiter says
/// otherwise (wasmtime's default).
pub const DEFAULT_INSTANCE_LIMIT: usize = 10_000;
/// See [`DEFAULT_INSTANCE_LIMIT`].
pub const DEFAULT_TABLE_LIMIT: usize = 10_000;
/// See [`DEFAULT_INSTANCE_LIMIT`].
pub const DEFAULT_MEMORY_LIMIT: usize = 10_000;

/// Decides whether a store's memories and tables may grow, and how many instances, memories
/// and tables the store may hold.
///
/// A refusal (`Ok(false)`) makes `memory.grow` or `table.grow` return -1, the host API's
/// `grow` fail, and an instantiation or host creation fail with an error that names the
/// limit; an error (`Err`) makes the wasm that grew trap with it.
pub trait ResourceLimiter {
    /// A memory wants to grow from `current` to `desired` bytes; `maximum` is its declared
    /// maximum, if it has one. Called with `current` 0 for a memory being created.
    ///
    /// # Errors
    /// An error traps the wasm that asked (or fails the host call or instantiation).
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> Result<bool>;

    /// A memory growth that was allowed failed after all (the memory's maximum, Kiln's limits,
    /// or the host's memory): `error` says why. The default ignores it (the grow returns -1).
    ///
    /// # Errors
    /// An error traps the wasm that grew the memory.
    fn memory_grow_failed(&mut self, error: Error) -> Result<()> {
        log::debug!("ignoring memory growth failure: {error}");
        Ok(())
    }

    /// A table wants to grow from `current` to `desired` elements; `maximum` is its declared
    /// maximum, if it has one. Called with `current` 0 for a table being created.
    ///
    /// # Errors
    /// An error traps the wasm that asked (or fails the host call or instantiation).
    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> Result<bool>;

    /// A table growth that was allowed failed after all; as for
    /// [`memory_grow_failed`](Self::memory_grow_failed).
    ///
    /// # Errors
    /// An error traps the wasm that grew the table.
    fn table_grow_failed(&mut self, error: Error) -> Result<()> {
        log::debug!("ignoring table growth failure: {error}");
        Ok(())
    }

    /// The most instances the store may hold.
    fn instances(&self) -> usize {
        DEFAULT_INSTANCE_LIMIT
    }

    /// The most tables the store's instances may define.
    fn tables(&self) -> usize {
        DEFAULT_TABLE_LIMIT
    }

    /// The most memories the store's instances may define.
    fn memories(&self) -> usize {
        DEFAULT_MEMORY_LIMIT
    }
}

/// A [`ResourceLimiter`] with fixed limits; see [`StoreLimitsBuilder`].
#[derive(Clone, Debug)]
pub struct StoreLimits {
    memory_size: Option<usize>,
    table_elements: Option<usize>,
    instances: usize,
    tables: usize,
    memories: usize,
    trap_on_grow_failure: bool,
}

impl Default for StoreLimits {
    fn default() -> StoreLimits {
        StoreLimits {
            memory_size: None,
            table_elements: None,
            instances: DEFAULT_INSTANCE_LIMIT,
            tables: DEFAULT_TABLE_LIMIT,
            memories: DEFAULT_MEMORY_LIMIT,
            trap_on_grow_failure: false,
        }
    }
}

/// Builds a [`StoreLimits`]; every limit starts unset (or at the default counts).
#[derive(Clone, Debug, Default)]
pub struct StoreLimitsBuilder(StoreLimits);

impl StoreLimitsBuilder {
    /// A builder with no limits set.
    pub fn new() -> StoreLimitsBuilder {
        StoreLimitsBuilder::default()
    }

    /// The most bytes any one memory may have.
    pub fn memory_size(mut self, bytes: usize) -> StoreLimitsBuilder {
        self.0.memory_size = Some(bytes);
        self
    }

    /// The most elements any one table may have.
    pub fn table_elements(mut self, elements: usize) -> StoreLimitsBuilder {
        self.0.table_elements = Some(elements);
        self
    }

    /// The most instances the store may hold.
    pub fn instances(mut self, limit: usize) -> StoreLimitsBuilder {
        self.0.instances = limit;
        self
    }

    /// The most tables the store's instances may define.
    pub fn tables(mut self, limit: usize) -> StoreLimitsBuilder {
        self.0.tables = limit;
        self
    }

    /// The most memories the store's instances may define.
    pub fn memories(mut self, limit: usize) -> StoreLimitsBuilder {
        self.0.memories = limit;
        self
    }

    /// Whether a refused or failed growth traps instead of returning -1 (default: no).
    pub fn trap_on_grow_failure(mut self, trap: bool) -> StoreLimitsBuilder {
        self.0.trap_on_grow_failure = trap;
        self
    }

    /// The limits.
    pub fn build(self) -> StoreLimits {
        self.0
    }
}

/// Whether growing to `desired` stays within `limit` and the declared `maximum`.
fn within(desired: usize, limit: Option<usize>, maximum: Option<usize>) -> bool {
    limit.is_none_or(|l| desired <= l) && maximum.is_none_or(|m| desired <= m)
}

impl ResourceLimiter for StoreLimits {
    fn memory_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> Result<bool> {
        let allow = within(desired, self.memory_size, maximum);
        if !allow && self.trap_on_grow_failure {
            return Err(Error::Limit(format!("forcing trap when growing memory to {desired} bytes")));
        }
        Ok(allow)
    }

    fn memory_grow_failed(&mut self, error: Error) -> Result<()> {
        if self.trap_on_grow_failure {
            log::debug!("memory growth failed: {error}");
            return Err(Error::Limit("forcing a memory growth failure to be a trap".into()));
        }
        log::debug!("ignoring memory growth failure: {error}");
        Ok(())
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> Result<bool> {
        let allow = within(desired, self.table_elements, maximum);
        if !allow && self.trap_on_grow_failure {
            return Err(Error::Limit(format!("forcing trap when growing table to {desired} elements")));
        }
        Ok(allow)
    }

    fn table_grow_failed(&mut self, error: Error) -> Result<()> {
        if self.trap_on_grow_failure {
            log::debug!("table growth failed: {error}");
            return Err(Error::Limit("forcing a table growth failure to be a trap".into()));
        }
        log::debug!("ignoring table growth failure: {error}");
        Ok(())
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.memories
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_limits_refuse_past_their_limits_and_the_maximum() {
        let mut limits = StoreLimitsBuilder::new().memory_size(1 << 20).table_elements(10).instances(2).build();
        assert!(limits.memory_growing(0, 1 << 20, None).unwrap());
        assert!(!limits.memory_growing(0, (1 << 20) + 1, None).unwrap());
        assert!(!limits.memory_growing(0, 1 << 16, Some(1)).unwrap());
        assert!(limits.table_growing(0, 10, None).unwrap());
        assert!(!limits.table_growing(0, 11, None).unwrap());
        assert!(limits.memory_grow_failed(Error::Limit("no".into())).is_ok());
        assert_eq!((limits.instances(), limits.tables(), limits.memories()), (2, DEFAULT_TABLE_LIMIT, 10_000));
        let mut trapping = StoreLimitsBuilder::new().memory_size(0).trap_on_grow_failure(true).build();
        assert_eq!(
            trapping.memory_growing(0, 1, None).unwrap_err().to_string(),
            "forcing trap when growing memory to 1 bytes"
        );
        assert!(trapping.table_grow_failed(Error::Limit("no".into())).is_err());
    }
}
