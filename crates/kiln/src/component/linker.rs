//! The component `Linker`: host definitions by name — functions taking and returning
//! dynamically typed [`Val`]s, and resource types with their destructors — and
//! instantiation, which satisfies a component's imports from them.
use std::sync::Arc;

use super::typed::{LiftList, LowerList, ValCx};
use super::values::{ResourceType, Val};
use super::{Component, Instance};
use crate::{AsContextMut, Engine, Error, Result, StoreContextMut};

/// A host function: parameters in, results written into the slice (one slot per result).
pub(crate) type HostFn<T> = dyn Fn(StoreContextMut<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync;
/// A host resource's destructor, called with the representation of a dropped `own`.
pub(crate) type HostDtor<T> = dyn Fn(StoreContextMut<'_, T>, u32) -> Result<()> + Send + Sync;

/// Checks a host function's Rust types against the type a component imports it with.
pub(crate) type Typecheck =
    fn(&kiln_environ::component::ComponentTypes, kiln_environ::component::TypeFuncIndex) -> Result<()>;

pub(crate) enum Definition<T> {
    Func(Arc<HostFn<T>>, Option<Typecheck>),
    Resource(ResourceType, Arc<HostDtor<T>>),
    Instance,
}

impl<T> Clone for Definition<T> {
    fn clone(&self) -> Self {
        match self {
            Definition::Func(f, t) => Definition::Func(f.clone(), *t),
            Definition::Resource(t, d) => Definition::Resource(*t, d.clone()),
            Definition::Instance => Definition::Instance,
        }
    }
}

/// Host definitions a component's imports are satisfied from, by name.
pub struct Linker<T> {
    engine: Engine,
    pub(crate) defs: Vec<(Vec<String>, Definition<T>)>,
}

/// The definitions at one path of a [`Linker`]: its root, or an instance inside it.
pub struct LinkerInstance<'a, T> {
    linker: &'a mut Linker<T>,
    path: Vec<String>,
}

impl<T: 'static> Linker<T> {
    /// An empty linker.
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker { engine: engine.clone(), defs: Vec::new() }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The root, where a component's plain (non-instance) imports are looked up.
    pub fn root(&mut self) -> LinkerInstance<'_, T> {
        LinkerInstance { linker: self, path: Vec::new() }
    }

    /// The instance `name` at the root, created if it is new.
    ///
    /// # Errors
    /// When `name` is already defined as something other than an instance.
    pub fn instance(&mut self, name: &str) -> Result<LinkerInstance<'_, T>> {
        self.root().into_instance(name)
    }

    /// The definition at `path`. An import of `pkg/iface@X.Y.Z` is also satisfied by a
    /// definition of another semver-compatible version (`0.2.1` by `0.2.12`, `1.2.0` by
    /// `1.4.0`), the newest such one, as wasmtime's linker does.
    pub(crate) fn get(&self, path: &[String]) -> Option<&Definition<T>> {
        if let Some((_, d)) = self.defs.iter().find(|(p, _)| p == path) {
            return Some(d);
        }
        let (first, rest) = path.split_first()?;
        let (name, key) = compatibility_key(first)?;
        self.defs
            .iter()
            .filter(|(p, _)| {
                p.split_first().is_some_and(|(f, r)| r == rest && compatibility_key(f) == Some((name, key)))
            })
            .max_by_key(|(p, _)| version_of(&p[0]))
            .map(|(_, d)| d)
    }

    fn define(&mut self, path: Vec<String>, def: Definition<T>) -> Result<()> {
        if self.get(&path).is_some() {
            return Err(Error::Link(format!("`{}` is already defined", path.join("#"))));
        }
        self.defs.push((path, def));
        Ok(())
    }

    /// Instantiates `component` in `store`, its imports satisfied from this linker.
    ///
    /// # Errors
    /// [`Error::Link`] when an import is missing or of another kind; a trap or host error
    /// that instantiation raised.
    pub fn instantiate(&self, store: impl AsContextMut<Data = T>, component: &Component) -> Result<Instance> {
        super::instance::instantiate(store, self, component)
    }
}

/// An interface name's part before `@` and its semver compatibility key: the major version,
/// or for `0.x` versions the minor one too.
fn compatibility_key(name: &str) -> Option<(&str, (u64, u64))> {
    let (base, version) = name.split_once('@')?;
    let mut parts = version.split(['.', '-', '+']).map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    Some((base, if major == 0 { (0, minor) } else { (major, u64::MAX) }))
}

/// The numeric version of an interface name, for choosing the newest compatible one.
fn version_of(name: &str) -> Vec<u64> {
    name.split_once('@').map(|(_, v)| v.split('.').filter_map(|p| p.parse().ok()).collect()).unwrap_or_default()
}

impl<'a, T: 'static> LinkerInstance<'a, T> {
    fn into_instance(self, name: &str) -> Result<LinkerInstance<'a, T>> {
        let mut path = self.path;
        path.push(name.to_string());
        match self.linker.get(&path) {
            Some(Definition::Instance) => {}
            Some(_) => return Err(Error::Link(format!("`{}` is already defined as a non-instance", path.join("#")))),
            None => self.linker.define(path.clone(), Definition::Instance)?,
        }
        Ok(LinkerInstance { linker: self.linker, path })
    }

    /// The instance `name` inside this one, created if it is new.
    ///
    /// # Errors
    /// When `name` is already defined as something other than an instance.
    pub fn instance(&mut self, name: &str) -> Result<LinkerInstance<'_, T>> {
        LinkerInstance { linker: &mut *self.linker, path: self.path.clone() }.into_instance(name)
    }

    fn path_of(&self, name: &str) -> Vec<String> {
        let mut path = self.path.clone();
        path.push(name.to_string());
        path
    }

    /// Defines the function `name` as `f`, which gets the parameters as [`Val`]s and writes
    /// one [`Val`] per result.
    ///
    /// # Errors
    /// When `name` is already defined here.
    pub fn func_new(
        &mut self,
        name: &str,
        f: impl Fn(StoreContextMut<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<()> {
        let path = self.path_of(name);
        self.linker.define(path, Definition::Func(Arc::new(f), None))
    }

    /// Defines the function `name` as `f`, with Rust parameter and result types (tuples),
    /// checked against the type each component imports it with when it is instantiated.
    ///
    /// # Errors
    /// When `name` is already defined here.
    pub fn func_wrap<P: LiftList + 'static, R: LowerList + 'static>(
        &mut self,
        name: &str,
        f: impl Fn(StoreContextMut<'_, T>, P) -> Result<R> + Send + Sync + 'static,
    ) -> Result<()> {
        let body = move |mut store: StoreContextMut<'_, T>, params: &[Val], results: &mut [Val]| -> Result<()> {
            let params = P::lift_list(params.to_vec(), &mut ValCx { host: &mut store.0.opaque.components.host })?;
            let r = f(store.as_context_mut(), params)?;
            let values = r.lower_list(&mut ValCx { host: &mut store.0.opaque.components.host })?;
            for (slot, v) in results.iter_mut().zip(values) {
                *slot = v;
            }
            Ok(())
        };
        let path = self.path_of(name);
        self.linker.define(path, Definition::Func(Arc::new(body), Some(super::typed::typecheck_func::<P, R>)))
    }

    /// Defines the resource type `name` as `ty`, with `dtor` run on the representation of
    /// each dropped `own` handle.
    ///
    /// # Errors
    /// When `name` is already defined here.
    pub fn resource(
        &mut self,
        name: &str,
        ty: ResourceType,
        dtor: impl Fn(StoreContextMut<'_, T>, u32) -> Result<()> + Send + Sync + 'static,
    ) -> Result<()> {
        let path = self.path_of(name);
        self.linker.define(path, Definition::Resource(ty, Arc::new(dtor)))
    }
}
