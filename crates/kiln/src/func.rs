//! `Func`: a function in a store — a wasm export or a host closure — callable from the host
//! with dynamically typed values; and `Caller`, what a host function sees of its caller.
use crate::store::StoreOpaqueExt;
use crate::vm::entry;
use crate::vm::host_func::add_host_func;
use crate::vm::ids::{FuncId, InstanceId, StoreId};
use crate::vm::store::StoreInner;
use crate::vm::val_raw::ValRaw;
use crate::{AsContext, AsContextMut, Error, Extern, FuncType, Instance, Result, StoreContext, StoreContextMut, Val};

/// A function handle (a store and the function's place in it).
#[derive(Clone, Copy, Debug)]
pub struct Func {
    store: StoreId,
    index: FuncId,
}

impl Func {
    pub(crate) fn from_index(store: StoreId, index: FuncId) -> Func {
        Func { store, index }
    }

    pub(crate) fn store_id(&self) -> StoreId {
        self.store
    }

    pub(crate) fn index(&self) -> FuncId {
        self.index
    }

    /// A host function of type `ty` that runs `f`.
    pub fn new<T: 'static>(
        mut store: impl AsContextMut<Data = T>,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Func {
        let mut cx = store.as_context_mut();
        let s = cx.opaque();
        let env_ty = ty.to_env();
        let type_index = s.engine().register_plain_type(&env_ty);
        let body = move |store: &mut StoreInner<T>, instance: Option<InstanceId>, values: &mut [ValRaw]| {
            call_host(store, instance, values, &ty, &f)
        };
        let index = add_host_func(cx.0, &env_ty, type_index, body);
        Func { store: cx.0.opaque.id(), index }
    }

    /// The function's type.
    ///
    /// # Panics
    /// If the handle belongs to another store.
    pub fn ty(&self, store: impl AsContext) -> FuncType {
        let cx = store.as_context();
        let id = cx.opaque().assert_store(self.store).func_ref(self.index).type_index;
        FuncType::from_env(&cx.opaque().engine().func_type(id))
    }

    /// Call the function with `params`, writing its results into `results`.
    ///
    /// # Errors
    /// [`Error::Trap`] when wasm traps (with its backtrace), the error a host function
    /// returned, [`Error::Limit`] when this thread's stack cannot hold the engine's
    /// `max_wasm_stack`, [`Error::Unrooted`] for a reference argument whose root is gone, and
    /// [`Error::Other`] for arguments of the wrong number or types or a function of another
    /// store. A store stays usable after any of them.
    ///
    /// # Panics
    /// A host function's panic resumes here, once wasm has been left.
    pub fn call(&self, mut store: impl AsContextMut, params: &[Val], results: &mut [Val]) -> Result<()> {
        let mut cx = store.as_context_mut();
        let mut whole = cx.whole();
        let store = whole.opaque();
        store.check_store(self.store)?;
        let id = store.func_ref(self.index).type_index;
        let ty = store.engine().func_type(id);
        if params.len() != ty.params.len() || results.len() != ty.results.len() {
            return Err(Error::Other(format!(
                "function of type {ty} called with {} params and {} result slots",
                params.len(),
                results.len()
            )));
        }
        let mut values = vec![ValRaw::default(); ty.params.len().max(ty.results.len())];
        for (p, t) in params.iter().zip(ty.params.iter()) {
            if p.ty() != *t {
                return Err(Error::Other(format!("argument of type {} where {t} is expected", p.ty())));
            }
        }
        // A parameter of a typed reference type takes only values of that type: compiled
        // code trusts it.
        let refs = store.engine().func_type_refs(id);
        for r in refs.iter() {
            if let Some(p) = usize::try_from(r.position).ok().and_then(|i| params.get(i)) {
                p.check_ref(store, r.ty)?;
            }
        }
        for (p, slot) in params.iter().zip(values.iter_mut()) {
            *slot = p.to_raw(store)?;
        }
        entry::invoke(&mut whole, self.index, &mut values)?;
        let store = whole.opaque();
        for ((r, t), raw) in results.iter_mut().zip(ty.results.iter()).zip(values) {
            *r = Val::from_raw(store, raw, *t);
        }
        Ok(())
    }
}

/// What a host function sees of the store and instance that called it.
pub struct Caller<'a, T> {
    pub(crate) store: &'a mut StoreInner<T>,
    pub(crate) instance: Option<Instance>,
}

impl<T> Caller<'_, T> {
    /// The store's data.
    pub fn data(&self) -> &T {
        &self.store.data
    }

    /// The store's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.store.data
    }

    /// As [`Store::set_fuel`](crate::Store::set_fuel): a host function may charge for its
    /// work, or refill the guest.
    ///
    /// # Errors
    /// When the engine does not consume fuel.
    pub fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        self.as_context_mut().set_fuel(fuel)
    }

    /// As [`Store::get_fuel`](crate::Store::get_fuel).
    ///
    /// # Errors
    /// When the engine does not consume fuel.
    pub fn get_fuel(&self) -> Result<u64> {
        crate::store::get_fuel(&self.store.opaque)
    }

    /// As [`Store::gc`](crate::Store::gc), with the frames of the calling wasm as roots.
    pub fn gc(&mut self) {
        self.as_context_mut().gc();
    }

    /// An export of the calling instance.
    pub fn get_export(&mut self, name: &str) -> Option<Extern> {
        let instance = self.instance?;
        instance.get_export(StoreContextMut(self.store), name)
    }
}

impl<T> AsContext for Caller<'_, T> {
    type Data = T;
    fn as_context(&self) -> StoreContext<'_, T> {
        StoreContext(self.store)
    }
}

impl<T> AsContextMut for Caller<'_, T> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        StoreContextMut(self.store)
    }
}

impl<'a, T> From<&'a mut Caller<'_, T>> for StoreContextMut<'a, T> {
    fn from(c: &'a mut Caller<'_, T>) -> Self {
        StoreContextMut(c.store)
    }
}

impl<'a, T> From<&'a Caller<'_, T>> for StoreContext<'a, T> {
    fn from(c: &'a Caller<'_, T>) -> Self {
        StoreContext(c.store)
    }
}

/// Run host function `f` of type `ty` on the raw arguments in `values`, leaving its results
/// there.
///
/// # Errors
/// What `f` failed with, or a result that is not of its type.
fn call_host<T: 'static>(
    store: &mut StoreInner<T>,
    instance: Option<InstanceId>,
    values: &mut [ValRaw],
    ty: &FuncType,
    f: &impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()>,
) -> Result<()> {
    let params: Vec<Val> =
        ty.params().iter().zip(values.iter()).map(|(t, v)| Val::from_raw(&mut store.opaque, *v, *t)).collect();
    let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default_for(*t)).collect();
    let id = store.opaque.id();
    f(Caller { store: &mut *store, instance: instance.map(|i| Instance::from_index(id, i)) }, &params, &mut results)?;
    // Wasm waits at this call: a collection here sees its frames, and the results are still
    // the host's.
    store.opaque.maybe_gc();
    for ((r, t), slot) in results.iter().zip(ty.results()).zip(values.iter_mut()) {
        if r.ty() != *t {
            return Err(Error::Other(format!("host function returned a {} where its type says {t}", r.ty())));
        }
        *slot = r.to_raw(&mut store.opaque)?;
    }
    Ok(())
}
