//! `Linker<T>`: a namespace of named definitions (`module::name` → item) that resolves a
//! module's imports by name and instantiates it. Host functions defined on the linker are
//! created in each store they are instantiated into.
use crate::{
    AsContext, AsContextMut, Caller, Engine, Error, Extern, Func, FuncType, Instance, IntoFunc, Module, Result, Val,
};
use std::collections::HashMap;
use std::sync::Arc;

type HostFn<T> = Arc<dyn Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync>;

enum Definition<T> {
    Extern(Extern),
    HostFunc(FuncType, HostFn<T>),
}

impl<T> Clone for Definition<T> {
    fn clone(&self) -> Self {
        match self {
            Definition::Extern(e) => Definition::Extern(*e),
            Definition::HostFunc(t, f) => Definition::HostFunc(t.clone(), f.clone()),
        }
    }
}

/// Named definitions for resolving imports.
pub struct Linker<T> {
    engine: Engine,
    map: HashMap<(String, String), Definition<T>>,
}

impl<T: 'static> Linker<T> {
    /// An empty linker.
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker { engine: engine.clone(), map: HashMap::new() }
    }

    /// The linker's engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn insert(&mut self, module: &str, name: &str, d: Definition<T>) -> Result<&mut Self> {
        self.map.insert((module.to_string(), name.to_string()), d);
        Ok(self)
    }

    /// Define `module::name` as `item`.
    ///
    /// # Errors
    /// None yet: a second definition of a name replaces the first.
    pub fn define(
        &mut self,
        _store: impl AsContext<Data = T>,
        module: &str,
        name: &str,
        item: impl Into<Extern>,
    ) -> Result<&mut Self> {
        self.insert(module, name, Definition::Extern(item.into()))
    }

    /// Define `module::name` as a host function of type `ty`.
    ///
    /// # Errors
    /// As for [`Linker::define`].
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<&mut Self> {
        self.insert(module, name, Definition::HostFunc(ty, Arc::new(f)))
    }

    /// Define `module::name` as a host function from a typed closure.
    ///
    /// # Errors
    /// As for [`Linker::define`].
    pub fn func_wrap<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Result<&mut Self> {
        let (ty, f) = f.into_dynamic();
        self.insert(module, name, Definition::HostFunc(ty, f))
    }

    /// Define every export of `instance` under `module_name`.
    ///
    /// # Errors
    /// As for [`Linker::define`].
    pub fn instance(
        &mut self,
        mut store: impl AsContextMut<Data = T>,
        module_name: &str,
        instance: Instance,
    ) -> Result<&mut Self> {
        for (name, item) in instance.exports(&mut store) {
            self.insert(module_name, &name, Definition::Extern(item))?;
        }
        Ok(self)
    }

    /// The definition of `module::name`, created in `store` if it is a host function.
    pub fn get(&self, mut store: impl AsContextMut<Data = T>, module: &str, name: &str) -> Option<Extern> {
        Some(match self.map.get(&(module.to_string(), name.to_string()))?.clone() {
            Definition::Extern(e) => e,
            Definition::HostFunc(ty, f) => Extern::Func(Func::new(&mut store, ty, move |c, p, r| f(c, p, r))),
        })
    }

    /// Resolve `module`'s imports by name and instantiate it.
    ///
    /// # Errors
    /// [`Error::Link`] for an import no definition matches by name (it names the import and
    /// its type), and everything [`Instance::new`] reports.
    pub fn instantiate(&self, mut store: impl AsContextMut<Data = T>, module: &Module) -> Result<Instance> {
        let mut imports = Vec::with_capacity(module.imports().len());
        for import in module.imports() {
            let item = self.get(&mut store, import.module(), import.name()).ok_or_else(|| {
                Error::Link(format!(
                    "unknown import: `{}::{}` has not been defined (expected {})",
                    import.module(),
                    import.name(),
                    import.ty()
                ))
            })?;
            imports.push(item);
        }
        Instance::new(store, module, &imports)
    }
}
