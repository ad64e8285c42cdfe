//! `Store<T>`: owns every instance, function, memory, table and global, plus the user's data
//! `T`, and the controls on the guests it runs: fuel, the epoch deadline, and the resource
//! limiter. The context traits let API methods take a store, a `&mut Store`, or a `Caller`
//! alike.
use crate::vm::ids::StoreId;
use crate::vm::store::{StoreInner, StoreOpaque, WholeStore};
use crate::vm::store_box::StoreBox;
use crate::{Engine, Error, Result};

/// A collection of instances and host state.
pub struct Store<T> {
    pub(crate) inner: StoreBox<StoreInner<T>>,
}

impl<T> Store<T> {
    /// A new store with `data`.
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        Store { inner: StoreInner::new(engine, data) }
    }

    /// The store's engine.
    pub fn engine(&self) -> &Engine {
        self.inner.get().opaque.engine()
    }

    /// The user's data.
    pub fn data(&self) -> &T {
        &self.inner.get().data
    }

    /// The user's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.inner.get_mut().data
    }

    /// Collect: release the externrefs, exceptions and GC objects that neither wasm (tables,
    /// globals, the frames of wasm that is running, when this is called from a host
    /// function) nor the host (a `Rooted` whose scope lives, an `OwnedRooted`, an `ExnRef`)
    /// can reach any more, and sweep the GC heap. The store also collects by itself, as
    /// externrefs accumulate and when the GC heap is full.
    pub fn gc(&mut self) {
        self.inner.get_mut().opaque.gc();
    }

    /// Take the user's data back.
    pub fn into_data(self) -> T {
        self.inner.into_inner().data
    }

    /// Give the store `fuel` units (replacing what is left): wasm of this store consumes it
    /// as it runs (see [`Config::consume_fuel`](crate::Config::consume_fuel)) and traps with
    /// [`Trap::OutOfFuel`](crate::Trap::OutOfFuel) when it runs out. A new store has none.
    ///
    /// # Errors
    /// When the engine does not consume fuel.
    pub fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        self.as_context_mut().set_fuel(fuel)
    }

    /// The fuel left.
    ///
    /// # Errors
    /// When the engine does not consume fuel.
    pub fn get_fuel(&self) -> Result<u64> {
        get_fuel(&self.inner.get().opaque)
    }

    /// Set the deadline `ticks` epochs after the engine's current one (see
    /// [`Config::epoch_interruption`](crate::Config::epoch_interruption) and
    /// [`Engine::increment_epoch`]). A new store's deadline is epoch 0, which has passed.
    pub fn set_epoch_deadline(&mut self, ticks: u64) {
        self.as_context_mut().set_epoch_deadline(ticks);
    }

    /// When the deadline passes, trap with [`Trap::Interrupt`](crate::Trap::Interrupt) (the
    /// default).
    pub fn epoch_deadline_trap(&mut self) {
        self.inner.get_mut().opaque.epoch_callback = None;
    }

    /// When the deadline passes, call `callback` with the store: it returns
    /// [`UpdateDeadline::Continue`] with how many more epochs to run, or
    /// [`UpdateDeadline::Interrupt`] to trap, or an error, which the wasm traps with.
    pub fn epoch_deadline_callback(
        &mut self,
        callback: impl FnMut(StoreContextMut<'_, T>) -> Result<UpdateDeadline> + Send + Sync + 'static,
    ) where
        T: 'static,
    {
        crate::vm::epoch::set_epoch_callback(self.inner.get_mut(), callback);
    }

    /// Make `limiter` the store's resource limiter: given the store's data, it returns the
    /// [`ResourceLimiter`](crate::ResourceLimiter) (often a field, such as a
    /// [`StoreLimits`](crate::StoreLimits)) that every later growth of a memory or table, and
    /// every instantiation, must satisfy.
    pub fn limiter(&mut self, limiter: impl (FnMut(&mut T) -> &mut dyn crate::ResourceLimiter) + Send + Sync + 'static)
    where
        T: 'static,
    {
        crate::vm::limits::set_limiter(self.inner.get_mut(), limiter);
    }
}

/// What to do once an epoch deadline callback returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpdateDeadline {
    /// Trap with [`Trap::Interrupt`](crate::Trap::Interrupt), leaving the deadline as it is.
    Interrupt,
    /// Run on, with the deadline this many epochs after the current one.
    Continue(u64),
}

/// An error unless the store's engine consumes fuel.
fn fuel_configured(opaque: &StoreOpaque) -> Result<()> {
    if opaque.engine().tunables().consume_fuel {
        Ok(())
    } else {
        Err(Error::Other("fuel is not configured in this store".into()))
    }
}

/// The fuel left in `opaque`'s store.
pub(crate) fn get_fuel(opaque: &StoreOpaque) -> Result<u64> {
    fuel_configured(opaque)?;
    Ok(opaque.fuel())
}

/// A shared borrow of a store.
pub struct StoreContext<'a, T>(pub(crate) &'a StoreInner<T>);

/// An exclusive borrow of a store.
pub struct StoreContextMut<'a, T>(pub(crate) &'a mut StoreInner<T>);

impl<'a, T> StoreContext<'a, T> {
    pub(crate) fn opaque(&self) -> &StoreOpaque {
        &self.0.opaque
    }

    /// The store's opaque part, for as long as the borrow lasts.
    pub(crate) fn into_opaque(self) -> &'a StoreOpaque {
        &self.0.opaque
    }
}

impl<T> StoreContextMut<'_, T> {
    pub(crate) fn opaque(&mut self) -> &mut StoreOpaque {
        &mut self.0.opaque
    }

    /// The whole store, as entering wasm needs it.
    pub(crate) fn whole(&mut self) -> WholeStore<'_> {
        WholeStore::new(self.0)
    }

    /// The user's data.
    pub fn data(&self) -> &T {
        &self.0.data
    }

    /// The user's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.0.data
    }

    /// As [`Store::set_fuel`] (from a host function or an epoch callback, say).
    ///
    /// # Errors
    /// When the engine does not consume fuel.
    pub fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        fuel_configured(&self.0.opaque)?;
        self.0.opaque.set_fuel(fuel);
        Ok(())
    }

    /// As [`Store::get_fuel`].
    ///
    /// # Errors
    /// When the engine does not consume fuel.
    pub fn get_fuel(&self) -> Result<u64> {
        get_fuel(&self.0.opaque)
    }

    /// As [`Store::set_epoch_deadline`].
    pub fn set_epoch_deadline(&mut self, ticks: u64) {
        self.0.opaque.set_epoch_deadline(ticks);
    }

    /// As [`Store::gc`]; from a host function, the frames of the wasm that called it are
    /// roots too.
    pub fn gc(&mut self) {
        self.0.opaque.gc();
    }
}

/// Anything that can lend a store for reading.
pub trait AsContext {
    /// The store's data type.
    type Data;
    /// The store, borrowed for reading.
    fn as_context(&self) -> StoreContext<'_, Self::Data>;
}

/// Anything that can lend a store for writing.
pub trait AsContextMut: AsContext {
    /// The store, borrowed for writing.
    fn as_context_mut(&mut self) -> StoreContextMut<'_, Self::Data>;
}

impl<T> AsContext for Store<T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.inner.get())
    }
}

impl<T> AsContextMut for Store<T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.inner.get_mut())
    }
}

impl<T> AsContext for StoreContext<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.0)
    }
}

impl<T> AsContext for StoreContextMut<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.0)
    }
}

impl<T> AsContextMut for StoreContextMut<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.0)
    }
}

impl<C: AsContext + ?Sized> AsContext for &C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}

impl<C: AsContext + ?Sized> AsContext for &mut C {
    type Data = C::Data;
    fn as_context(&self) -> StoreContext<'_, C::Data> {
        (**self).as_context()
    }
}

impl<C: AsContextMut + ?Sized> AsContextMut for &mut C {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, C::Data> {
        (**self).as_context_mut()
    }
}

impl<'a, T> From<&'a Store<T>> for StoreContext<'a, T> {
    fn from(s: &'a Store<T>) -> Self {
        StoreContext(s.inner.get())
    }
}

impl<'a, T> From<&'a mut Store<T>> for StoreContext<'a, T> {
    fn from(s: &'a mut Store<T>) -> Self {
        StoreContext(s.inner.get())
    }
}

impl<'a, T> From<&'a mut Store<T>> for StoreContextMut<'a, T> {
    fn from(s: &'a mut Store<T>) -> Self {
        StoreContextMut(s.inner.get_mut())
    }
}

/// Checks shared by every handle type.
pub(crate) trait StoreOpaqueExt {
    /// An error unless the handle with store id `id` belongs to this store.
    fn check_store(&self, id: StoreId) -> Result<()>;
    /// The same for methods without a `Result`: misusing a handle with another store panics
    /// with a clear message rather than acting on an unrelated object.
    fn assert_store(&self, id: StoreId) -> &Self;
}

impl StoreOpaqueExt for StoreOpaque {
    fn check_store(&self, id: StoreId) -> Result<()> {
        if self.id() == id { Ok(()) } else { Err(Error::Other("object used with the wrong store".into())) }
    }

    fn assert_store(&self, id: StoreId) -> &Self {
        assert!(self.id() == id, "object used with the wrong store");
        self
    }
}
