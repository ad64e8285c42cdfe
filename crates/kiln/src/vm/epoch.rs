//! The store's epoch deadline: compiled code calls the `new_epoch` builtin when the engine's
//! epoch reaches the deadline in the store context, which then traps (the default), or runs
//! the store's callback — user code, given the store — and sets the deadline it returns.
use super::host_func::Pending;
use super::store::{StoreInner, StoreOpaque, WholeStore};
use crate::{Error, StoreContextMut, UpdateDeadline};
use kiln_environ::builtins::{EPOCH_CONTINUE, EPOCH_FAILED, EPOCH_INTERRUPT};

/// A store's deadline callback, taking the whole store.
pub type EpochCallback = Box<dyn FnMut(WholeStore<'_>) -> Result<UpdateDeadline, Error> + Send + Sync>;

/// Make `callback` what `store` does when its deadline passes.
pub fn set_epoch_callback<T: 'static>(
    store: &mut StoreInner<T>,
    mut callback: impl FnMut(StoreContextMut<'_, T>) -> Result<UpdateDeadline, Error> + Send + Sync + 'static,
) {
    store.opaque.epoch_callback = Some(Box::new(move |mut whole: WholeStore<'_>| {
        // SAFETY: this closure is installed only in `store`, whose data is `T`, and a store's
        // callback is only ever called with that store.
        let inner = unsafe { whole.inner::<T>() };
        callback(StoreContextMut(inner))
    }));
}

impl StoreOpaque {
    /// Set the deadline `ticks` epochs after the engine's current one.
    pub fn set_epoch_deadline(&mut self, ticks: u64) {
        let deadline = self.engine().current_epoch().saturating_add(ticks);
        self.context_mut().epoch_deadline = deadline;
    }
}

/// The deadline passed: trap, or run the callback and take its new deadline. Returns the
/// builtin's status; a callback's error is kept in the store as pending.
pub fn deadline_reached(store: &mut WholeStore<'_>) -> u32 {
    let Some(mut callback) = store.opaque().epoch_callback.take() else { return EPOCH_INTERRUPT };
    // What the callback roots ends with it, as for a host function.
    let depth = store.opaque().gc.roots.depth();
    let result = callback(store.reborrow());
    let opaque = store.opaque();
    opaque.gc.roots.pop_to(depth);
    if opaque.epoch_callback.is_none() {
        opaque.epoch_callback = Some(callback);
    }
    match result {
        Ok(UpdateDeadline::Continue(ticks)) => {
            opaque.set_epoch_deadline(ticks);
            EPOCH_CONTINUE
        }
        Ok(UpdateDeadline::Interrupt) => EPOCH_INTERRUPT,
        Err(e) => {
            opaque.pending = Some(Pending::Error(e));
            EPOCH_FAILED
        }
    }
}
