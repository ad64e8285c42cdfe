//! `Linker<T>`: a namespace of named definitions (`module::name` → item) that resolves a
//! module's imports by name and instantiates it. Host functions defined on the linker are
//! created in each store they are instantiated into. A name is defined once unless
//! shadowing is allowed; `instantiate_pre` resolves a module's imports once into an
//! [`InstancePre`] that instantiates it many times.
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

impl<T: 'static> Definition<T> {
    /// The item, a host function created in `store`.
    fn create(self, mut store: impl AsContextMut<Data = T>) -> Extern {
        match self {
            Definition::Extern(e) => e,
            Definition::HostFunc(ty, f) => Extern::Func(Func::new(&mut store, ty, move |c, p, r| f(c, p, r))),
        }
    }
}

/// Named definitions for resolving imports.
pub struct Linker<T> {
    engine: Engine,
    map: HashMap<(String, String), Definition<T>>,
    allow_shadowing: bool,
}

impl<T: 'static> Linker<T> {
    /// An empty linker.
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker { engine: engine.clone(), map: HashMap::new(), allow_shadowing: false }
    }

    /// Whether a second definition of a name replaces the first (`true`) or is an error
    /// (`false`, the default).
    pub fn allow_shadowing(&mut self, allow: bool) -> &mut Self {
        self.allow_shadowing = allow;
        self
    }

    /// The linker's engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn insert(&mut self, module: &str, name: &str, d: Definition<T>) -> Result<&mut Self> {
        let key = (module.to_string(), name.to_string());
        if !self.allow_shadowing && self.map.contains_key(&key) {
            return Err(Error::Link(format!(
                "`{module}::{name}` is defined twice (Linker::allow_shadowing(true) lets the second replace the first)"
            )));
        }
        self.map.insert(key, d);
        Ok(self)
    }

    /// Define `module::name` as `item`.
    ///
    /// # Errors
    /// [`Error::Link`] when `module::name` is defined already and shadowing is not allowed.
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
    pub fn get(&self, store: impl AsContextMut<Data = T>, module: &str, name: &str) -> Option<Extern> {
        Some(self.map.get(&(module.to_string(), name.to_string()))?.clone().create(store))
    }

    /// Resolve `module`'s imports by name and instantiate it.
    ///
    /// # Errors
    /// [`Error::Link`] for an import no definition matches by name (it names the import and
    /// its type), and everything [`Instance::new`] reports.
    pub fn instantiate(&self, store: impl AsContextMut<Data = T>, module: &Module) -> Result<Instance> {
        self.instantiate_pre(module)?.instantiate(store)
    }

    /// Resolve `module`'s imports by name once, for instantiating it many times.
    ///
    /// # Errors
    /// [`Error::Link`] for an import no definition matches by name.
    pub fn instantiate_pre(&self, module: &Module) -> Result<InstancePre<T>> {
        let mut imports = Vec::with_capacity(module.imports().len());
        for import in module.imports() {
            let key = (import.module().to_string(), import.name().to_string());
            let item = self.map.get(&key).cloned().ok_or_else(|| {
                Error::Link(format!(
                    "unknown import: `{}::{}` has not been defined (expected {})",
                    import.module(),
                    import.name(),
                    import.ty()
                ))
            })?;
            imports.push(item);
        }
        Ok(InstancePre { module: module.clone(), imports })
    }

    /// Instantiate `module` and define its exports under `name` (for a WASI reactor, after
    /// calling its `_initialize`).
    ///
    /// # Errors
    /// As for [`Linker::instantiate`] and [`Linker::define`], and a trap of `_initialize`.
    pub fn module(&mut self, mut store: impl AsContextMut<Data = T>, name: &str, module: &Module) -> Result<&mut Self> {
        let instance = self.instantiate(&mut store, module)?;
        if let Some(init) = instance.get_func(&mut store, "_initialize") {
            init.call(&mut store, &[], &mut [])?;
        }
        self.instance(store, name, instance)
    }

    /// Define every function `module` imports that has no definition yet as a function of
    /// its type that traps when called (naming the import); other kinds of imports stay
    /// undefined.
    ///
    /// # Errors
    /// None today; the signature leaves room for definitions that can fail.
    pub fn define_unknown_imports_as_traps(&mut self, module: &Module) -> Result<&mut Self> {
        for import in module.imports() {
            let (m, n) = (import.module().to_string(), import.name().to_string());
            if self.map.contains_key(&(m.clone(), n.clone())) {
                continue;
            }
            if let crate::ExternType::Func(ty) = import.ty() {
                let f: HostFn<T> =
                    Arc::new(move |_, _, _| Err(Error::Other(format!("called the undefined import `{m}::{n}`"))));
                self.map.insert((import.module().to_string(), import.name().to_string()), Definition::HostFunc(ty, f));
            }
        }
        Ok(self)
    }
}

/// A module with its imports resolved by a [`Linker`], ready to be instantiated many times.
pub struct InstancePre<T> {
    module: Module,
    imports: Vec<Definition<T>>,
}

impl<T> Clone for InstancePre<T> {
    fn clone(&self) -> Self {
        InstancePre { module: self.module.clone(), imports: self.imports.clone() }
    }
}

impl<T: 'static> InstancePre<T> {
    /// The module.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Instantiate the module in `store`: host functions are created in it, other
    /// definitions must belong to it.
    ///
    /// # Errors
    /// Everything [`Instance::new`] reports.
    pub fn instantiate(&self, mut store: impl AsContextMut<Data = T>) -> Result<Instance> {
        let imports: Vec<Extern> = self.imports.iter().map(|d| d.clone().create(&mut store)).collect();
        Instance::new(store, &self.module, &imports)
    }
}
