//! Instantiating a component — running its initializers in order: core instances, lowered
//! functions (host imports, or calls into another component instance), the memories and
//! functions canonical options name, resource types and destructors — and calling what it
//! exports. A lifted function is called by lowering its arguments into the callee (under its
//! options), calling the core function, lifting the results, then running `post-return`;
//! a lowered function does the reverse for its caller. A call from one component to another
//! is a fused adapter, compiled into the artifact (see `kiln_environ::component`'s
//! `adapter`), or, for what adapters do not cover, both of these through host code.
use std::sync::Arc;

use cranelift_entity::{PrimaryMap, SecondaryMap};
use kiln_environ::component::{
    ADAPTER_EXPORT, AdapterTrap, CanonicalOptions, ComponentInfo, CoreDef, Export, FLAG_MAY_ENTER, FLAG_MAY_LEAVE,
    ImportType, Initializer, InterfaceType, LiftedFunction, LowerSource, ResourceDef, ResourceIndex,
    RuntimeComponentInstanceIndex, TypeFuncIndex,
};

use super::Component;
use super::canonical::{self, Cx, Side, core_type};
use super::linker::{Definition, HostDtor, HostFn, Linker};
use super::resources::{Slot, trap};
use super::store::{ComponentInstanceId, InstanceState};
use super::typed::{LiftList, LowerList, TypedFunc};
use super::values::{ResourceType, ResourceTypeKind, Val};
use crate::store::StoreOpaqueExt;
use crate::{
    AsContext, AsContextMut, Caller, Error, Extern, FuncType, Result, StoreContextMut, Val as CoreVal, ValType,
};

/// An instance of a component in a store.
#[derive(Copy, Clone, Debug)]
pub struct Instance {
    store: crate::vm::ids::StoreId,
    id: ComponentInstanceId,
}

/// A function a component instance exports.
#[derive(Copy, Clone, Debug)]
pub struct Func {
    instance: Instance,
    /// The export's place: its index among the root's exports, then inside each instance.
    path: [u32; 4],
    depth: u8,
}

impl Instance {
    fn state<'s>(&self, store: &'s crate::vm::store::StoreOpaque) -> &'s InstanceState {
        &store.assert_store(self.store).components.instances[self.id]
    }

    /// The exported function `name`; a function inside an exported instance is named
    /// `instance#name` (nested instances by more `#`s, up to three).
    pub fn get_func(&self, store: impl AsContextMut, name: &str) -> Option<Func> {
        let cx = store.as_context();
        let info = self.state(&cx.0.opaque).component.inner.info.clone();
        let mut exports = &info.exports;
        let mut path = [0u32; 4];
        let parts: Vec<&str> = name.split('#').collect();
        if parts.len() > path.len() {
            return None;
        }
        for (depth, part) in parts.iter().enumerate() {
            let i = exports.iter().position(|(n, _)| n == part)?;
            path[depth] = i as u32;
            match &exports[i].1 {
                Export::Instance(i) if depth + 1 < parts.len() => exports = &info.export_instances[*i],
                Export::LiftedFunction(_) | Export::ImportedFunction(..) if depth + 1 == parts.len() => {
                    return Some(Func { instance: *self, path, depth: depth as u8 + 1 });
                }
                _ => return None,
            }
        }
        None
    }

    /// The component this is an instance of.
    pub fn component(&self, store: impl AsContext) -> Component {
        let cx = store.as_context();
        self.state(&cx.0.opaque).component.clone()
    }

    /// The exported function `name` (as for [`Instance::get_func`]) with Rust parameter and
    /// result types, checked against its type.
    ///
    /// # Errors
    /// When there is no such function, or its type is not `P` to `R`.
    pub fn get_typed_func<P: LowerList, R: LiftList>(
        &self,
        mut store: impl AsContextMut,
        name: &str,
    ) -> Result<TypedFunc<P, R>> {
        let func =
            self.get_func(&mut store, name).ok_or_else(|| Error::Other(format!("no exported function `{name}`")))?;
        let cx = store.as_context();
        let info = self.state(&cx.0.opaque).component.inner.info.clone();
        let ty = func.ty_index(&info).ok_or_else(|| Error::Other(format!("`{name}` is not a function")))?;
        super::typed::typecheck_func::<P, R>(&info.types, ty).map_err(|e| Error::Other(format!("`{name}`: {e}")))?;
        Ok(TypedFunc::new(func))
    }

    /// Parses `invocation` — `name(arg, ...)` with the arguments in WAVE syntax — against
    /// the exported function's parameter types, calls it, and returns its results.
    ///
    /// # Errors
    /// When the function does not exist, the arguments do not parse, or the call fails.
    pub fn invoke_wave<T>(&self, mut store: impl AsContextMut<Data = T>, invocation: &str) -> Result<Vec<Val>> {
        let mut cx = store.as_context_mut();
        let info = self.state(&cx.0.opaque).component.inner.info.clone();
        let mut found = None;
        let (_, args) = super::wave::parse_invocation(
            invocation,
            |name| {
                let func = self
                    .get_func(&mut cx, name)
                    .ok_or_else(|| Error::Other(format!("no exported function `{name}`")))?;
                let ty = func.ty_index(&info).ok_or_else(|| Error::Other(format!("`{name}` is not a function")))?;
                found = Some(func);
                Ok(info.types.funcs[ty].params.iter().map(|(_, t)| *t).collect())
            },
            &info.types,
        )?;
        let func = found.ok_or_else(|| Error::Other("no function named".into()))?;
        let mut results = vec![Val::Bool(false); func.results_len(&cx)];
        func.call(&mut cx, &args, &mut results)?;
        Ok(results)
    }
}

impl Func {
    fn export<'i>(&self, info: &'i ComponentInfo) -> &'i Export {
        let mut exports = &info.exports;
        let mut export = &exports[self.path[0] as usize].1;
        for d in 1..self.depth as usize {
            if let Export::Instance(i) = export {
                exports = &info.export_instances[*i];
                export = &exports[self.path[d] as usize].1;
            }
        }
        export
    }

    /// The function's type.
    fn ty_index(&self, info: &ComponentInfo) -> Option<TypeFuncIndex> {
        match self.export(info) {
            Export::LiftedFunction(f) => Some(f.ty),
            Export::ImportedFunction(_, ty) => Some(*ty),
            _ => None,
        }
    }

    /// How many results the function returns: 0 or 1.
    pub fn results_len(&self, store: impl AsContext) -> usize {
        let cx = store.as_context();
        let info = self.instance.state(&cx.0.opaque).component.inner.info.clone();
        let Some(ty) = self.ty_index(&info) else { return 0 };
        info.types.funcs[ty].result.is_some() as usize
    }

    /// Calls the function with `params`, writing its results into `results`; its
    /// `post-return` function, if it has one, runs before this returns.
    ///
    /// # Errors
    /// A trap (core wasm's, or the canonical ABI's [`Error::ComponentTrap`]), a host error,
    /// or [`Error::Other`] for arguments that do not match the function's type.
    pub fn call<T>(&self, mut store: impl AsContextMut<Data = T>, params: &[Val], results: &mut [Val]) -> Result<()> {
        let mut cx = store.as_context_mut();
        let state = self.instance.state(&cx.0.opaque);
        let info = state.component.inner.info.clone();
        let Export::LiftedFunction(lifted) = self.export(&info).clone() else {
            return Err(Error::Unsupported("calling an exported function that is a host import".into()));
        };
        let core = resolve_func(&mut cx, self.instance.id, &lifted.func)?;
        let call = LiftedCall { info: &info, id: self.instance.id, lifted: &lifted, core, args: params, fused: false };
        let values = call_lifted(&mut cx, call)?;
        if values.len() != results.len() {
            return Err(Error::Other(format!(
                "function returns {} results, {} slots given",
                values.len(),
                results.len()
            )));
        }
        for (slot, v) in results.iter_mut().zip(values) {
            *slot = v;
        }
        Ok(())
    }
}

fn side(id: ComponentInstanceId, options: &CanonicalOptions, store: &crate::vm::store::StoreOpaque) -> Side {
    let state = &store.components.instances[id];
    Side {
        instance: id,
        rci: options.instance,
        memory: options.memory.map(|m| state.memories[m]),
        realloc: options.realloc.map(|r| state.reallocs[r]),
        encoding: options.string_encoding,
    }
}

/// The core function a definition names.
fn resolve_func<T>(store: &mut StoreContextMut<'_, T>, id: ComponentInstanceId, def: &CoreDef) -> Result<crate::Func> {
    match resolve(store, id, def)? {
        Extern::Func(f) => Ok(f),
        _ => Err(Error::Other("internal: a canonical function that is not a function".into())),
    }
}

fn resolve<T>(store: &mut StoreContextMut<'_, T>, id: ComponentInstanceId, def: &CoreDef) -> Result<Extern> {
    let state = &store.0.opaque.components.instances[id];
    match def {
        CoreDef::Export(instance, name) => {
            let instance = state.core[*instance];
            instance
                .get_export(&mut *store, name)
                .ok_or_else(|| Error::Other(format!("internal: core export `{name}` missing")))
        }
        CoreDef::Lowered(i) => Ok(Extern::Func(state.lowered[*i])),
        _ => Err(Error::Other("internal: resource intrinsic resolved without its store type".into())),
    }
}

/// One call of a lifted function.
struct LiftedCall<'a> {
    info: &'a Arc<ComponentInfo>,
    id: ComponentInstanceId,
    lifted: &'a LiftedFunction,
    core: crate::Func,
    args: &'a [Val],
    /// Whether the caller is another component (see `Cx::fused`).
    fused: bool,
}

/// Calls a lifted function: lower `args` into the callee, call, lift the results, run
/// post-return.
fn call_lifted<T>(store: &mut StoreContextMut<'_, T>, call: LiftedCall<'_>) -> Result<Vec<Val>> {
    let LiftedCall { info, id, lifted, args, .. } = call;
    let rci = lifted.options.instance;
    let ty = &info.types.funcs[lifted.ty];
    if args.len() != ty.params.len() {
        return Err(Error::Other(format!("function takes {} arguments, {} given", ty.params.len(), args.len())));
    }
    let flags = instance_flags(store, id, rci)?;
    if flags & FLAG_MAY_ENTER == 0 {
        return Err(trap("cannot enter component instance"));
    }
    set_instance_flags(store, id, rci, flags & !FLAG_MAY_ENTER)?;
    let scope = canonical::enter_scope(store);
    store.0.opaque.components.scopes[scope].task = Some((rci, info.types.funcs[lifted.ty].result));
    // A wasm exception the callee did not catch may not cross into the caller: a trap.
    let result = call_lifted_in_scope(store, &call, scope).map_err(|e| match e {
        Error::Exception(_) => trap("uncaught wasm exception left its component instance"),
        e => e,
    });
    let ended = canonical::exit_scope(store, scope, result.is_ok());
    let result = result.and_then(|values| ended.map(|()| values));
    // A trap (the callee's, or a borrow it kept) leaves the instance's state unknown: the
    // canonical ABI forbids entering it again, so `may_enter` stays clear.
    if !matches!(result, Err(Error::Trap(..) | Error::ComponentTrap(_))) {
        let flags = instance_flags(store, id, rci)?;
        set_instance_flags(store, id, rci, flags | FLAG_MAY_ENTER)?;
    }
    result
}

fn call_lifted_in_scope<T>(
    store: &mut StoreContextMut<'_, T>,
    call: &LiftedCall<'_>,
    scope: usize,
) -> Result<Vec<Val>> {
    let &LiftedCall { info, id, lifted, core, args, fused } = call;
    let ty = &info.types.funcs[lifted.ty];
    let side = side(id, &lifted.options, &store.0.opaque);
    let flat_params = info.types.flat_params(lifted.ty);
    let flat_results = info.types.flat_results(lifted.ty);
    let mut cx = Cx { store: &mut *store, info: info.clone(), side: &side, scope, fused };
    let mut core_args = Vec::new();
    match &flat_params {
        Some(_) => {
            for ((_, t), v) in ty.params.iter().zip(args) {
                cx.lower_flat(*t, v, &mut core_args)?;
            }
        }
        None => {
            let layout = info.types.params_layout(lifted.ty);
            let ptr = cx.allocate(layout.align, layout.size as usize, "list")?;
            let types: Vec<InterfaceType> = ty.params.iter().map(|(_, t)| *t).collect();
            cx.store_fields(&types, args.iter(), ptr as usize)?;
            core_args.push(CoreVal::I32(ptr as i32));
        }
    }
    if lifted.options.async_ {
        // The stackful async ABI: the core function returns nothing and gives its result to
        // `task.return`; Kiln runs it to completion.
        cx.store.0.opaque.components.scopes[scope].async_task = true;
        core.call(&mut *cx.store, &core_args, &mut [])?;
        return cx.store.0.opaque.components.scopes[scope]
            .returned
            .take()
            .ok_or_else(|| trap("async-lifted export failed to produce a result"));
    }
    let result_types: Vec<ValType> = match &flat_results {
        Some(flat) => flat.iter().map(|t| core_type(*t)).collect(),
        None => vec![ValType::I32],
    };
    let mut core_results: Vec<CoreVal> = result_types.iter().map(|t| CoreVal::default_for(*t)).collect();
    core.call(&mut *cx.store, &core_args, &mut core_results)?;
    let mut values = Vec::new();
    if let Some(result) = ty.result {
        match &flat_results {
            Some(_) => {
                let mut it = core_results.clone().into_iter();
                values.push(cx.lift_flat(result, &mut it)?);
            }
            None => {
                let CoreVal::I32(ptr) = core_results[0] else {
                    return Err(Error::Other("internal: return pointer of the wrong type".into()));
                };
                let l = info.types.layout(result);
                cx.check_range(ptr as u32, l.align, l.size as usize, "result pointer")?;
                values.push(cx.load(result, ptr as u32 as usize)?);
            }
        }
    }
    if let Some(pr) = lifted.options.post_return {
        let post_return = store.0.opaque.components.instances[id].post_returns[pr];
        let rci = lifted.options.instance;
        let flags = instance_flags(store, id, rci)?;
        set_instance_flags(store, id, rci, flags & !FLAG_MAY_LEAVE)?;
        post_return.call(&mut *store, &core_results, &mut [])?;
        let flags = instance_flags(store, id, rci)?;
        set_instance_flags(store, id, rci, flags | FLAG_MAY_LEAVE)?;
    }
    Ok(values)
}

/// The core type of a lowered function of type `ty`.
fn lowered_core_type(info: &ComponentInfo, ty: TypeFuncIndex, async_: bool) -> FuncType {
    let types = &info.types;
    if async_ {
        let mut params: Vec<ValType> = match async_flat_params(info, ty) {
            Some(flat) => flat.iter().map(|t| core_type(*t)).collect(),
            None => vec![ValType::I32],
        };
        if types.funcs[ty].result.is_some() {
            params.push(ValType::I32);
        }
        return FuncType::new(params, [ValType::I32]);
    }
    let mut params: Vec<ValType> = match types.flat_params(ty) {
        Some(flat) => flat.iter().map(|t| core_type(*t)).collect(),
        None => vec![ValType::I32],
    };
    let results: Vec<ValType> = match types.flat_results(ty) {
        Some(flat) => flat.iter().map(|t| core_type(*t)).collect(),
        None => {
            params.push(ValType::I32);
            Vec::new()
        }
    };
    FuncType::new(params, results)
}

/// The flat parameters of an `async` lowering, or `None` when they go through memory.
fn async_flat_params(info: &ComponentInfo, ty: TypeFuncIndex) -> Option<Vec<kiln_environ::component::FlatType>> {
    info.types.flat_params(ty).filter(|f| f.len() <= kiln_environ::component::MAX_FLAT_ASYNC_PARAMS)
}

/// `Subtask::Returned`: what an `async` lowering returns when the call has completed.
const SUBTASK_RETURNED: i32 = 2;

fn check_may_leave<T>(
    store: &mut StoreContextMut<'_, T>,
    id: ComponentInstanceId,
    rci: RuntimeComponentInstanceIndex,
) -> Result<()> {
    if instance_flags(store, id, rci)? & FLAG_MAY_LEAVE != 0 {
        Ok(())
    } else {
        Err(trap("cannot leave component instance"))
    }
}

/// The canonical ABI's flags of component instance `rci` of `id`.
fn instance_flags<T>(
    store: &mut StoreContextMut<'_, T>,
    id: ComponentInstanceId,
    rci: RuntimeComponentInstanceIndex,
) -> Result<i32> {
    let global = store.0.opaque.components.instances[id].flags[rci];
    match global.get(&mut *store) {
        CoreVal::I32(flags) => Ok(flags),
        _ => Err(Error::Other("internal: instance flags of the wrong type".into())),
    }
}

fn set_instance_flags<T>(
    store: &mut StoreContextMut<'_, T>,
    id: ComponentInstanceId,
    rci: RuntimeComponentInstanceIndex,
    flags: i32,
) -> Result<()> {
    let global = store.0.opaque.components.instances[id].flags[rci];
    global.set(&mut *store, CoreVal::I32(flags))
}

/// The host's resource types and destructors, by the import they satisfy.
type HostResources<T> =
    SecondaryMap<kiln_environ::component::RuntimeImportIndex, Option<(ResourceType, Arc<HostDtor<T>>)>>;

/// What a lowered function calls.
enum Callee<T> {
    Host(Arc<HostFn<T>>),
    Lifted(LiftedFunction, crate::Func),
}

/// One lowered function: everything its body needs.
struct Lowering<T> {
    info: Arc<ComponentInfo>,
    id: ComponentInstanceId,
    ty: TypeFuncIndex,
    options: CanonicalOptions,
    callee: Callee<T>,
}

/// The body of a lowered function: lift the caller's arguments, call, lower the results
/// (for an `async` lowering, to memory, returning that the call has completed).
fn call_lowered<T>(
    mut caller: Caller<'_, T>,
    lowering: &Lowering<T>,
    params: &[CoreVal],
    results: &mut [CoreVal],
) -> Result<()> {
    let Lowering { info, id, ty, options, callee } = lowering;
    let (id, ty) = (*id, *ty);
    let mut store = StoreContextMut::from(&mut caller);
    check_may_leave(&mut store, id, options.instance)?;
    let fty = &info.types.funcs[ty];
    let side = side(id, options, &store.0.opaque);
    let flat_params = if options.async_ { async_flat_params(info, ty) } else { info.types.flat_params(ty) };
    // An async lowering always writes its result to memory.
    let flat_results = if options.async_ { None } else { info.types.flat_results(ty) };
    let scope = canonical::enter_scope(&mut store);
    let fused = matches!(callee, Callee::Lifted(..));
    let outcome = (|| -> Result<()> {
        let mut cx = Cx { store: &mut store, info: info.clone(), side: &side, scope, fused };
        let mut args = Vec::with_capacity(fty.params.len());
        match &flat_params {
            Some(_) => {
                let mut it = params.iter().cloned();
                for (_, t) in &fty.params {
                    args.push(cx.lift_flat(*t, &mut it)?);
                }
            }
            None => {
                let CoreVal::I32(ptr) = params[0] else { return Err(Error::Other("internal: params pointer".into())) };
                let layout = info.types.params_layout(ty);
                cx.check_range(ptr as u32, layout.align, layout.size as usize, "params pointer")?;
                let types: Vec<InterfaceType> = fty.params.iter().map(|(_, t)| *t).collect();
                args = cx.load_fields(&types, ptr as u32 as usize)?;
            }
        }
        let values = match callee {
            Callee::Host(f) => {
                let mut out = vec![Val::Bool(false); fty.result.is_some() as usize];
                f(cx.store.as_context_mut(), &args, &mut out)?;
                out
            }
            Callee::Lifted(lifted, core) => {
                if info.related(options.instance, lifted.options.instance) {
                    return Err(trap("cannot enter component instance"));
                }
                call_lifted(cx.store, LiftedCall { info, id, lifted, core: *core, args: &args, fused: true })?
            }
        };
        let mut cx = Cx { store: &mut store, info: info.clone(), side: &side, scope, fused };
        if let Some(result) = fty.result {
            let value = values.first().ok_or_else(|| Error::Other("host function returned no result".into()))?;
            match &flat_results {
                Some(_) => {
                    let mut out = Vec::new();
                    cx.lower_flat(result, value, &mut out)?;
                    for (slot, v) in results.iter_mut().zip(out) {
                        *slot = v;
                    }
                }
                None => {
                    let Some(CoreVal::I32(ptr)) = params.last().cloned() else {
                        return Err(Error::Other("internal: return pointer".into()));
                    };
                    let l = info.types.layout(result);
                    cx.check_range(ptr as u32, l.align, l.size as usize, "result pointer")?;
                    cx.store_val(result, value, ptr as u32 as usize)?;
                }
            }
        }
        if options.async_ {
            results[0] = CoreVal::I32(SUBTASK_RETURNED);
        }
        Ok(())
    })();
    let ended = canonical::exit_scope(&mut store, scope, false);
    outcome?;
    ended
}

/// Instantiates `component` in `store` with imports from `linker`.
pub(crate) fn instantiate<T: 'static>(
    mut store: impl AsContextMut<Data = T>,
    linker: &Linker<T>,
    component: &Component,
) -> Result<Instance> {
    let mut store = store.as_context_mut();
    let info = component.inner.info.clone();
    // Resolve every import first: a missing one instantiates nothing.
    let mut host_funcs: SecondaryMap<kiln_environ::component::RuntimeImportIndex, Option<Arc<HostFn<T>>>> =
        SecondaryMap::new();
    let mut host_resources: HostResources<T> = SecondaryMap::new();
    for (index, (name, path, ty)) in &info.imports {
        let mut full = vec![name.clone()];
        full.extend(path.iter().cloned());
        let shown = full.join("#");
        match (linker.get(&full), ty) {
            (Some(Definition::Func(f, check)), ImportType::Func(ty)) => {
                if let Some(check) = check {
                    check(&info.types, *ty).map_err(|e| Error::Link(format!("import `{shown}`: {e}")))?;
                }
                host_funcs[index] = Some(f.clone());
            }
            (Some(Definition::Resource(t, d)), ImportType::Resource) => host_resources[index] = Some((*t, d.clone())),
            (Some(_), _) => return Err(Error::Link(format!("import `{shown}` has the wrong kind"))),
            (None, _) => return Err(Error::Link(format!("import `{shown}` has not been defined"))),
        }
    }
    let store_id = store.0.opaque.id();
    let id = store.0.opaque.components.instances.next_key();
    let mut resource_types = PrimaryMap::new();
    for (r, def) in &info.resources {
        resource_types.push(match def {
            ResourceDef::Defined { .. } => ResourceType(ResourceTypeKind::Guest(id.as_u32() as u64, r)),
            ResourceDef::Imported(i) => {
                host_resources[*i].as_ref().map(|(t, _)| *t).unwrap_or(ResourceType::host::<()>())
            }
        });
    }
    let mut tables = PrimaryMap::new();
    for _ in 0..info.num_component_instances {
        tables.push(Default::default());
    }
    let mut flags = PrimaryMap::new();
    for _ in tables.keys() {
        let ty = crate::GlobalType::new(ValType::I32, crate::Mutability::Var);
        flags.push(crate::Global::new(&mut store, ty, CoreVal::I32(FLAG_MAY_LEAVE | FLAG_MAY_ENTER))?);
    }
    store.0.opaque.components.instances.push(InstanceState {
        component: component.clone(),
        core: PrimaryMap::new(),
        lowered: PrimaryMap::new(),
        memories: PrimaryMap::new(),
        reallocs: PrimaryMap::new(),
        post_returns: PrimaryMap::new(),
        resource_types,
        dtors: SecondaryMap::new(),
        backpressure: SecondaryMap::new(),
        tables,
        flags,
    });
    for init in &info.initializers {
        match init {
            Initializer::InstantiateModule { module, args } => {
                let mut imports = Vec::with_capacity(args.len());
                for def in args {
                    imports.push(resolve_extern(&mut store, &info, id, def, &host_resources)?);
                }
                let module = &component.inner.modules[*module];
                let instance = crate::Instance::new(&mut store, module, &imports)?;
                store.0.opaque.components.instances[id].core.push(instance);
            }
            Initializer::Lower { source, ty, options } => {
                let callee = match source {
                    LowerSource::Import(i) => Callee::Host(
                        host_funcs[*i].clone().ok_or_else(|| Error::Link("internal: unresolved import".into()))?,
                    ),
                    LowerSource::Lifted(l) => Callee::Lifted(l.clone(), resolve_func(&mut store, id, &l.func)?),
                    LowerSource::Adapter { module, args } => {
                        // A fused call: the adapter's export is the lowered function.
                        let mut imports = Vec::with_capacity(args.len());
                        for def in args {
                            imports.push(resolve_extern(&mut store, &info, id, def, &host_resources)?);
                        }
                        let module = &component.inner.modules[*module];
                        let adapter = crate::Instance::new(&mut store, module, &imports)?;
                        let Some(Extern::Func(func)) = adapter.get_export(&mut store, ADAPTER_EXPORT) else {
                            return Err(Error::Other("internal: an adapter without its function".into()));
                        };
                        store.0.opaque.components.instances[id].lowered.push(func);
                        continue;
                    }
                };
                let core_ty = lowered_core_type(&info, *ty, options.async_);
                let lowering = Lowering { info: info.clone(), id, ty: *ty, options: options.clone(), callee };
                let func = crate::Func::new(&mut store, core_ty, move |caller, params, results| {
                    call_lowered(caller, &lowering, params, results)
                });
                store.0.opaque.components.instances[id].lowered.push(func);
            }
            Initializer::ExtractMemory(def) => {
                let Extern::Memory(m) = resolve(&mut store, id, def)? else {
                    return Err(Error::Other("internal: a canonical memory that is not a memory".into()));
                };
                store.0.opaque.components.instances[id].memories.push(m);
            }
            Initializer::ExtractRealloc(def) => {
                let f = resolve_func(&mut store, id, def)?;
                store.0.opaque.components.instances[id].reallocs.push(f);
            }
            Initializer::ExtractPostReturn(def) => {
                let f = resolve_func(&mut store, id, def)?;
                store.0.opaque.components.instances[id].post_returns.push(f);
            }
            Initializer::ResourceDtor { resource, dtor } => {
                let f = resolve_func(&mut store, id, dtor)?;
                store.0.opaque.components.instances[id].dtors[*resource] = Some(f);
            }
        }
    }
    Ok(Instance { store: store_id, id })
}

/// The import a core instance gets for `def`, making resource intrinsics on demand.
fn resolve_extern<T: 'static>(
    store: &mut StoreContextMut<'_, T>,
    info: &Arc<ComponentInfo>,
    id: ComponentInstanceId,
    def: &CoreDef,
    host_resources: &HostResources<T>,
) -> Result<Extern> {
    let i32_ty = |params: usize, results: usize| FuncType::new(vec![ValType::I32; params], vec![ValType::I32; results]);
    Ok(match def {
        CoreDef::ResourceNew(r, rci) => {
            let (r, rci) = (*r, *rci);
            Extern::Func(crate::Func::new(&mut *store, i32_ty(1, 1), move |mut caller, params, results| {
                let mut store = StoreContextMut::from(&mut caller);
                check_may_leave(&mut store, id, rci)?;
                let CoreVal::I32(rep) = params[0] else { return Err(Error::Other("internal: rep".into())) };
                let state = &mut store.0.opaque.components.instances[id];
                let ty = state.resource_types[r];
                let h = state.tables[rci].insert(Slot::Own { rep: rep as u32, ty, lend: 0 })?;
                results[0] = CoreVal::I32(h as i32);
                Ok(())
            }))
        }
        CoreDef::ResourceRep(r, rci) => {
            let (r, rci) = (*r, *rci);
            Extern::Func(crate::Func::new(&mut *store, i32_ty(1, 1), move |mut caller, params, results| {
                let store = StoreContextMut::from(&mut caller);
                let CoreVal::I32(h) = params[0] else { return Err(Error::Other("internal: handle".into())) };
                let state = &store.0.opaque.components.instances[id];
                let rep = state.tables[rci].rep(h as u32, state.resource_types[r])?;
                results[0] = CoreVal::I32(rep as i32);
                Ok(())
            }))
        }
        CoreDef::ResourceDrop(r, rci) => {
            let (r, rci) = (*r, *rci);
            let host_dtor = match info.resources[r] {
                ResourceDef::Imported(i) => host_resources[i].as_ref().map(|(_, d)| d.clone()),
                ResourceDef::Defined { .. } => None,
            };
            Extern::Func(crate::Func::new(&mut *store, i32_ty(1, 0), move |mut caller, params, _| {
                let mut store = StoreContextMut::from(&mut caller);
                check_may_leave(&mut store, id, rci)?;
                let CoreVal::I32(h) = params[0] else { return Err(Error::Other("internal: handle".into())) };
                drop_handle(&mut store, id, r, rci, h as u32, host_dtor.as_deref())
            }))
        }
        CoreDef::TaskReturn { result, options } => {
            let (result, options, info) = (*result, options.clone(), info.clone());
            let flat = result.map(|t| info.types.flat(t)).unwrap_or_default();
            let in_memory = flat.len() > kiln_environ::component::MAX_FLAT_PARAMS;
            let params: Vec<ValType> =
                if in_memory { vec![ValType::I32] } else { flat.iter().map(|t| core_type(*t)).collect() };
            Extern::Func(crate::Func::new(&mut *store, FuncType::new(params, []), move |mut caller, params, _| {
                let mut store = StoreContextMut::from(&mut caller);
                check_may_leave(&mut store, id, options.instance)?;
                let scope = store.0.opaque.components.scopes.len().checked_sub(1);
                let task = scope.and_then(|s| store.0.opaque.components.scopes.get(s));
                let (Some(scope), Some(task)) = (scope, task) else {
                    return Err(trap("task.return called outside of an async task"));
                };
                if !task.async_task || task.returned.is_some() {
                    return Err(trap("task.return called twice, or by a task that returns synchronously"));
                }
                if task.task != Some((options.instance, result)) {
                    return Err(trap("task.return's type or instance is not the current task's"));
                }
                let side = side(id, &options, &store.0.opaque);
                let mut cx = Cx { store: &mut store, info: info.clone(), side: &side, scope, fused: false };
                let values = match result {
                    None => Vec::new(),
                    Some(t) if in_memory => {
                        let CoreVal::I32(ptr) = params[0] else { return Err(Error::Other("internal: pointer".into())) };
                        let l = info.types.layout(t);
                        cx.check_range(ptr as u32, l.align, l.size as usize, "result pointer")?;
                        vec![cx.load(t, ptr as u32 as usize)?]
                    }
                    Some(t) => vec![cx.lift_flat(t, &mut params.iter().cloned())?],
                };
                store.0.opaque.components.scopes[scope].returned = Some(values);
                Ok(())
            }))
        }
        CoreDef::ContextGet(slot) => {
            let slot = *slot as usize;
            Extern::Func(crate::Func::new(&mut *store, i32_ty(0, 1), move |mut caller, _, results| {
                let store = StoreContextMut::from(&mut caller);
                let task = store.0.opaque.components.scopes.last();
                results[0] = CoreVal::I32(task.map_or(0, |t| t.context[slot.min(1)]) as i32);
                Ok(())
            }))
        }
        CoreDef::ContextSet(slot) => {
            let slot = *slot as usize;
            Extern::Func(crate::Func::new(&mut *store, i32_ty(1, 0), move |mut caller, params, _| {
                let store = StoreContextMut::from(&mut caller);
                let CoreVal::I32(v) = params[0] else { return Err(Error::Other("internal: context value".into())) };
                if let Some(task) = store.0.opaque.components.scopes.last_mut() {
                    task.context[slot.min(1)] = v as u32;
                }
                Ok(())
            }))
        }
        CoreDef::BackpressureInc(rci) | CoreDef::BackpressureDec(rci) => {
            let (rci, inc) = (*rci, matches!(def, CoreDef::BackpressureInc(_)));
            Extern::Func(crate::Func::new(&mut *store, i32_ty(0, 0), move |mut caller, _, _| {
                let store = StoreContextMut::from(&mut caller);
                let counter = &mut store.0.opaque.components.instances[id].backpressure[rci];
                *counter = match (inc, counter.checked_add(1), counter.checked_sub(1)) {
                    (true, Some(n), _) => n,
                    (false, _, Some(n)) => n,
                    (true, None, _) => return Err(trap("backpressure counter overflow")),
                    (false, _, None) => return Err(trap("backpressure counter underflow")),
                };
                Ok(())
            }))
        }
        CoreDef::Unsupported { name, params, results, instance: rci } => {
            let (name, rci) = (name.clone(), *rci);
            let ty = FuncType::new(params.iter().map(|t| core_type(*t)), results.iter().map(|t| core_type(*t)));
            Extern::Func(crate::Func::new(&mut *store, ty, move |mut caller, _, _| {
                let mut store = StoreContextMut::from(&mut caller);
                check_may_leave(&mut store, id, rci)?;
                Err(Error::Unsupported(format!("component-model async (canon {name})")))
            }))
        }
        CoreDef::Memory(m) => Extern::Memory(store.0.opaque.components.instances[id].memories[*m]),
        CoreDef::Realloc(r) => Extern::Func(store.0.opaque.components.instances[id].reallocs[*r]),
        CoreDef::PostReturn(p) => Extern::Func(store.0.opaque.components.instances[id].post_returns[*p]),
        CoreDef::InstanceFlags(rci) => Extern::Global(store.0.opaque.components.instances[id].flags[*rci]),
        CoreDef::ResourceTransferOwn { resource, from, to } => {
            let (r, from, to) = (*resource, *from, *to);
            Extern::Func(crate::Func::new(&mut *store, i32_ty(1, 1), move |mut caller, params, results| {
                let store = StoreContextMut::from(&mut caller);
                let CoreVal::I32(h) = params[0] else { return Err(Error::Other("internal: handle".into())) };
                let state = &mut store.0.opaque.components.instances[id];
                let ty = state.resource_types[r];
                let rep = state.tables[from].take_own(h as u32, ty)?;
                results[0] = CoreVal::I32(state.tables[to].insert(Slot::Own { rep, ty, lend: 0 })? as i32);
                Ok(())
            }))
        }
        CoreDef::ResourceTransferBorrow { resource, from, to } => {
            let (r, from, to) = (*resource, *from, *to);
            let owner = matches!(info.resources[r], ResourceDef::Defined { instance } if instance == to);
            Extern::Func(crate::Func::new(&mut *store, i32_ty(1, 1), move |mut caller, params, results| {
                let store = StoreContextMut::from(&mut caller);
                let CoreVal::I32(h) = params[0] else { return Err(Error::Other("internal: handle".into())) };
                let components = &mut store.0.opaque.components;
                let state = &mut components.instances[id];
                let ty = state.resource_types[r];
                let (rep, lent) = state.tables[from].lend(h as u32, ty)?;
                // The scope the adapter opened for this call.
                let Some(scope) = components.scopes.last_mut() else {
                    return Err(Error::Other("internal: a borrow outside a call".into()));
                };
                if lent {
                    scope.lends.push((Some((id, from)), h as u32));
                }
                results[0] = CoreVal::I32(if owner {
                    rep as i32
                } else {
                    let b = state.tables[to].insert(Slot::Borrow { rep, ty, scope: scope.id })?;
                    scope.borrowed.push((id, to, b));
                    b as i32
                });
                Ok(())
            }))
        }
        CoreDef::ResourceEnterCall => Extern::Func(crate::Func::new(&mut *store, i32_ty(0, 0), |mut caller, _, _| {
            canonical::enter_scope(&mut StoreContextMut::from(&mut caller));
            Ok(())
        })),
        CoreDef::ResourceExitCall => Extern::Func(crate::Func::new(&mut *store, i32_ty(0, 0), |mut caller, _, _| {
            canonical::end_scope(&mut StoreContextMut::from(&mut caller), true)
        })),
        CoreDef::AdapterTrap => Extern::Func(crate::Func::new(&mut *store, i32_ty(1, 0), |_, params, _| {
            let code = match params[0] {
                CoreVal::I32(code) => AdapterTrap::from_code(code as u32),
                _ => None,
            };
            Err(code.map_or_else(|| Error::Other("internal: unknown adapter trap".into()), |t| trap(t.message())))
        })),
        CoreDef::ValidateString { memory, encoding } => {
            let (memory, encoding) = (store.0.opaque.components.instances[id].memories[*memory], *encoding);
            Extern::Func(crate::Func::new(&mut *store, i32_ty(2, 0), move |caller, params, _| {
                let (&CoreVal::I32(ptr), &CoreVal::I32(len)) = (&params[0], &params[1]) else {
                    return Err(Error::Other("internal: string pointer".into()));
                };
                canonical::validate_string(memory.data(&caller), encoding, ptr as u32, len as u32)
            }))
        }
        other => resolve(store, id, other)?,
    })
}

/// Runs the guest destructor of resource `r` (of the component instance `id`) on `rep`, in
/// the instance that defines it: entering it obeys the same rules as a call (`caller`, the
/// instance dropping the handle, if a guest drops it, may be that instance itself).
fn run_dtor<T>(
    store: &mut StoreContextMut<'_, T>,
    id: ComponentInstanceId,
    r: ResourceIndex,
    caller: Option<RuntimeComponentInstanceIndex>,
    rep: u32,
) -> Result<()> {
    let state = &store.0.opaque.components.instances[id];
    let (Some(dtor), Some(ResourceDef::Defined { instance: owner })) =
        (state.dtors[r], state.component.inner.info.resources.get(r).cloned())
    else {
        return Ok(());
    };
    let flags = instance_flags(store, id, owner)?;
    if caller != Some(owner) && flags & FLAG_MAY_ENTER == 0 {
        return Err(trap("cannot enter component instance"));
    }
    set_instance_flags(store, id, owner, flags & !FLAG_MAY_ENTER)?;
    let result = dtor.call(&mut *store, &[CoreVal::I32(rep as i32)], &mut []);
    // As for a call, a trap leaves the instance poisoned.
    if !matches!(result, Err(Error::Trap(..) | Error::ComponentTrap(_))) {
        let now = instance_flags(store, id, owner)?;
        set_instance_flags(store, id, owner, (now & !FLAG_MAY_ENTER) | (flags & FLAG_MAY_ENTER))?;
    }
    result
}

impl super::ResourceAny {
    /// Drops an owned handle the host holds: takes it out of the host's table and, for a
    /// resource a component defines, runs its destructor there. (A host resource's
    /// representation is the host's own to free.)
    ///
    /// # Errors
    /// For a borrowed handle, one already moved or dropped, or a trap of the destructor.
    pub fn resource_drop<T>(self, mut store: impl AsContextMut<Data = T>) -> Result<()> {
        if !self.own {
            return Err(Error::Other("a borrowed handle is not the host's to drop".into()));
        }
        let mut cx = store.as_context_mut();
        let rep = cx.0.opaque.components.host.take(&self)?;
        if let ResourceTypeKind::Guest(uid, r) = self.ty.0 {
            let id = ComponentInstanceId::from_u32(uid as u32);
            if cx.0.opaque.components.instances.get(id).is_some() {
                return run_dtor(&mut cx, id, r, None, rep);
            }
        }
        Ok(())
    }
}

/// `resource.drop`: removes the handle and, for an `own`, runs the destructor.
fn drop_handle<T>(
    store: &mut StoreContextMut<'_, T>,
    id: ComponentInstanceId,
    r: ResourceIndex,
    rci: RuntimeComponentInstanceIndex,
    h: u32,
    host_dtor: Option<&HostDtor<T>>,
) -> Result<()> {
    let components = &mut store.0.opaque.components;
    let state = &mut components.instances[id];
    let ty = state.resource_types[r];
    let rep = match *state.tables[rci].get(h)? {
        Slot::Own { ty: t, lend, rep } if t == ty => {
            if lend > 0 {
                return Err(trap("cannot remove owned resource while borrowed"));
            }
            state.tables[rci].remove(h)?;
            rep
        }
        Slot::Borrow { ty: t, scope, .. } if t == ty => {
            state.tables[rci].remove(h)?;
            if let Some(s) = components.scopes.iter_mut().rev().find(|s| s.id == scope) {
                s.borrowed.retain(|b| *b != (id, rci, h));
            }
            return Ok(());
        }
        _ => {
            state.tables[rci].rep(h, ty)?;
            return Err(trap(format!("unknown handle index {h}")));
        }
    };
    if state.dtors[r].is_some() {
        return run_dtor(store, id, r, Some(rci), rep);
    }
    if let Some(dtor) = host_dtor {
        return dtor(store.as_context_mut(), rep);
    }
    Ok(())
}
