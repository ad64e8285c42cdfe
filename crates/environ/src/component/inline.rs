//! Pass two of component translation: flattening. The bodies that pass one recorded are
//! interpreted at compile time, the root once and each nested component once per
//! instantiation, over *static* values: a core instance is the index of the runtime instance
//! that will exist, a function is a lifted core function with its options, a resource type
//! is the [`ResourceIndex`] instantiation will create. What comes out is a
//! [`ComponentInfo`]: the initializers a runtime runs in order, with nothing left to resolve.
//!
//! The interpreter keeps its frames on an explicit stack (a hostile component's nesting
//! never becomes native recursion), and it bounds the work a component can ask for, since
//! nested instantiation multiplies. Resource types are tracked by wasmparser's `ResourceId`s:
//! the validator gives every definition and every instantiation's exports fresh ids, and
//! each frame binds the ids it sees to the resources they are at this point of the
//! flattening, so a type in any frame translates to the right [`ResourceIndex`].
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use wasmparser::component_types::{
    ComponentAnyTypeId, ComponentDefinedType, ComponentEntityType, ComponentInstanceTypeId, ComponentValType,
    ResourceId,
};
use wasmparser::{PrimitiveValType, types::Types};

use super::info::*;
use super::translate::{Body, BodyIndex, CoreKind, Item, Kind, Options, Translation};
use super::types::*;
use crate::{CompileError, StaticModuleIndex};

/// The module a root import of a core module stands for (no component has this many).
fn imported_module() -> StaticModuleIndex {
    StaticModuleIndex::from_u32(u32::MAX - 1)
}
/// The body a root import of a component stands for.
const IMPORTED_COMPONENT: BodyIndex = usize::MAX;

/// The most items the flattening may interpret, over all instantiations.
const MAX_STEPS: usize = 1_000_000;
/// The most defined types the flattening may convert, over all scopes.
const MAX_TYPE_STEPS: usize = 10_000_000;
/// The deepest a type, an instance or the nesting of instantiations may go.
const MAX_DEPTH: usize = 100;

#[derive(Clone, Debug)]
enum CoreInst {
    Runtime(RuntimeInstanceIndex),
    Exports(Rc<Vec<(String, CoreDef)>>),
}

#[derive(Clone, Debug)]
enum FuncVal {
    Lifted(Rc<LiftedFunction>),
    Import(RuntimeImportIndex, TypeFuncIndex),
}

#[derive(Clone, Debug)]
enum TypeVal {
    Resource(ResourceIndex),
    Other,
}

#[derive(Clone, Debug)]
struct ComponentVal {
    body: BodyIndex,
    scope: Rc<Scope>,
}

type InstanceVal = Rc<Vec<(String, Val)>>;

#[derive(Clone, Debug)]
enum Val {
    Module(StaticModuleIndex),
    Func(FuncVal),
    Type(TypeVal),
    Instance(InstanceVal),
    Component(ComponentVal),
    Value,
}

fn lookup<'a>(instance: &'a InstanceVal, name: &str) -> Option<&'a Val> {
    instance.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// The index spaces an `alias outer` can reach, shared with the components defined inside.
#[derive(Debug, Default)]
struct Scope {
    modules: RefCell<Vec<StaticModuleIndex>>,
    components: RefCell<Vec<ComponentVal>>,
    types: RefCell<Vec<TypeVal>>,
    resources: RefCell<HashMap<ResourceId, ResourceIndex>>,
    /// Defined types already converted in this scope.
    converted: RefCell<HashMap<wasmparser::component_types::ComponentDefinedTypeId, InterfaceType>>,
    parent: Option<Rc<Scope>>,
}

impl Scope {
    fn resource(&self, id: ResourceId) -> Option<ResourceIndex> {
        let mut scope = Some(self);
        while let Some(s) = scope {
            if let Some(r) = s.resources.borrow().get(&id) {
                return Some(*r);
            }
            scope = s.parent.as_deref();
        }
        None
    }
}

/// One instantiation of one body in progress.
struct Frame {
    body: BodyIndex,
    pos: usize,
    scope: Rc<Scope>,
    args: HashMap<String, Val>,
    instance: RuntimeComponentInstanceIndex,
    core_instances: Vec<CoreInst>,
    core: [Vec<CoreDef>; 5],
    funcs: Vec<FuncVal>,
    instances: Vec<InstanceVal>,
    exports: Vec<(String, Val)>,
}

fn core_index(kind: CoreKind) -> usize {
    match kind {
        CoreKind::Func => 0,
        CoreKind::Table => 1,
        CoreKind::Memory => 2,
        CoreKind::Global => 3,
        CoreKind::Tag => 4,
    }
}

struct Inliner<'a> {
    translation: &'a Translation,
    types: &'a Types,
    builder: ComponentTypesBuilder,
    info: ComponentInfo,
    memories: HashMap<CoreDef, RuntimeMemoryIndex>,
    reallocs: HashMap<CoreDef, RuntimeReallocIndex>,
    post_returns: HashMap<CoreDef, RuntimePostReturnIndex>,
    num_instances: u32,
    num_lowered: u32,
    num_core_instances: u32,
    /// How many defined types have been converted (see `val_type`).
    type_steps: usize,
}

fn internal(what: &str) -> CompileError {
    CompileError::Internal(format!("component flattening: {what}"))
}

fn limit(what: &str) -> CompileError {
    CompileError::Limit(what.to_string())
}

/// Flattens a translated component into what the runtime instantiates.
///
/// # Errors
/// [`CompileError::Unsupported`] for imports Kiln cannot link yet (core modules, components
/// and values imported by the root), [`CompileError::Limit`] when flattening would take
/// more than a million steps or nest deeper than 100.
pub fn inline(translation: &Translation) -> Result<ComponentInfo, CompileError> {
    let mut inliner = Inliner {
        translation,
        types: &translation.types,
        builder: ComponentTypesBuilder::default(),
        info: ComponentInfo::default(),
        memories: HashMap::new(),
        reallocs: HashMap::new(),
        post_returns: HashMap::new(),
        num_instances: 0,
        num_lowered: 0,
        num_core_instances: 0,
        type_steps: 0,
    };
    let root_scope = Rc::new(Scope::default());
    let mut stack = vec![inliner.frame(0, root_scope, HashMap::new(), None)];
    let mut steps = 0usize;
    loop {
        steps += 1;
        if steps > MAX_STEPS {
            return Err(limit("component flattening takes more than 1,000,000 steps"));
        }
        let depth = stack.len();
        let frame = stack.last_mut().ok_or_else(|| internal("empty frame stack"))?;
        let body: &Body = &translation.bodies[frame.body];
        let Some(item) = body.items.get(frame.pos) else {
            let done = stack.pop().ok_or_else(|| internal("empty frame stack"))?;
            let exports: InstanceVal = Rc::new(done.exports);
            let Some(parent) = stack.last_mut() else {
                inliner.info.exports = exports
                    .iter()
                    .map(|(n, v)| Ok((n.clone(), inliner.export(v, 0)?)))
                    .collect::<Result<_, CompileError>>()?;
                break;
            };
            // The parent's `Instantiate` item is finished: bind and push its instance.
            let index = parent.instances.len();
            let ty = translation.bodies[parent.body].instances[index];
            inliner.bind_instance(&parent.scope, ty, &exports, 0)?;
            parent.instances.push(exports);
            parent.pos += 1;
            continue;
        };
        let item = item.clone();
        if let Item::Instantiate { component, args } = &item {
            if depth >= MAX_DEPTH {
                return Err(limit("components instantiated more than 100 deep"));
            }
            let closure = frame.scope.components.borrow()[*component as usize].clone();
            if closure.body == IMPORTED_COMPONENT {
                return Err(CompileError::Unsupported("instantiating a component the component imports".into()));
            }
            let mut values = HashMap::new();
            for (name, kind, index) in args {
                values.insert(name.clone(), inliner.get(frame, *kind, *index)?);
            }
            let scope = Rc::new(Scope { parent: Some(closure.scope.clone()), ..Scope::default() });
            let child = inliner.frame(closure.body, scope, values, Some(frame.instance));
            stack.push(child);
            continue;
        }
        let root = depth == 1;
        inliner.step(frame, &item, root)?;
        frame.pos += 1;
    }
    inliner.info.types = inliner.builder.finish();
    inliner.info.num_component_instances = inliner.num_instances;
    Ok(inliner.info)
}

impl Inliner<'_> {
    fn frame(
        &mut self,
        body: BodyIndex,
        scope: Rc<Scope>,
        args: HashMap<String, Val>,
        parent: Option<RuntimeComponentInstanceIndex>,
    ) -> Frame {
        let instance = self.info.instance_parents.push(parent);
        self.num_instances += 1;
        Frame {
            body,
            pos: 0,
            scope,
            args,
            instance,
            core_instances: Vec::new(),
            core: Default::default(),
            funcs: Vec::new(),
            instances: Vec::new(),
            exports: Vec::new(),
        }
    }

    fn body(&self, frame: &Frame) -> &Body {
        &self.translation.bodies[frame.body]
    }

    /// The value at `index` of `kind`'s space.
    fn get(&self, frame: &Frame, kind: Kind, index: u32) -> Result<Val, CompileError> {
        let i = index as usize;
        let missing = || internal("index out of range after validation");
        Ok(match kind {
            Kind::Module => Val::Module(*frame.scope.modules.borrow().get(i).ok_or_else(missing)?),
            Kind::Func => Val::Func(frame.funcs.get(i).ok_or_else(missing)?.clone()),
            Kind::Type => Val::Type(frame.scope.types.borrow().get(i).ok_or_else(missing)?.clone()),
            Kind::Instance => Val::Instance(frame.instances.get(i).ok_or_else(missing)?.clone()),
            Kind::Component => Val::Component(frame.scope.components.borrow().get(i).ok_or_else(missing)?.clone()),
            Kind::Value => Val::Value,
        })
    }

    /// Pushes `val` onto its kind's space, binding any resource type it brings.
    fn push(&mut self, frame: &mut Frame, val: Val) -> Result<(), CompileError> {
        match val {
            Val::Module(m) => frame.scope.modules.borrow_mut().push(m),
            Val::Func(f) => frame.funcs.push(f),
            Val::Type(t) => {
                let index = frame.scope.types.borrow().len();
                let id = *self.body(frame).types.get(index).ok_or_else(|| internal("type without its id"))?;
                bind_type(&frame.scope, id, &t);
                frame.scope.types.borrow_mut().push(t);
            }
            Val::Instance(i) => {
                let index = frame.instances.len();
                let id = *self.body(frame).instances.get(index).ok_or_else(|| internal("instance without its id"))?;
                self.bind_instance(&frame.scope, id, &i, 0)?;
                frame.instances.push(i);
            }
            Val::Component(c) => frame.scope.components.borrow_mut().push(c),
            Val::Value => return Err(CompileError::Unsupported("component-model values".into())),
        }
        Ok(())
    }

    fn core_def(&self, frame: &Frame, kind: CoreKind, index: u32) -> Result<CoreDef, CompileError> {
        frame.core[core_index(kind)].get(index as usize).cloned().ok_or_else(|| internal("core index out of range"))
    }

    fn core_export(&self, instance: &CoreInst, name: &str) -> Result<CoreDef, CompileError> {
        match instance {
            CoreInst::Runtime(i) => Ok(CoreDef::Export(*i, name.to_string())),
            CoreInst::Exports(list) => list
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, d)| d.clone())
                .ok_or_else(|| internal("core export missing after validation")),
        }
    }

    fn step(&mut self, frame: &mut Frame, item: &Item, root: bool) -> Result<(), CompileError> {
        match item {
            Item::CoreModule(m) => frame.scope.modules.borrow_mut().push(*m),
            Item::CoreType => {}
            Item::CoreInstantiate { module, args } => {
                let m = *frame.scope.modules.borrow().get(*module as usize).ok_or_else(|| internal("module index"))?;
                if m == imported_module() {
                    return Err(CompileError::Unsupported("instantiating a core module the component imports".into()));
                }
                let mut defs = Vec::new();
                for (module_name, field) in &self.translation.modules[cranelift_entity::EntityRef::index(m)].imports {
                    let (_, instance) = args
                        .iter()
                        .find(|(n, _)| n == module_name)
                        .ok_or_else(|| internal("instantiation argument missing after validation"))?;
                    let instance =
                        frame.core_instances.get(*instance as usize).ok_or_else(|| internal("core instance"))?;
                    defs.push(self.core_export(instance, field)?);
                }
                self.info.initializers.push(Initializer::InstantiateModule { module: m, args: defs });
                let index = RuntimeInstanceIndex::from_u32(self.num_core_instances);
                self.num_core_instances += 1;
                frame.core_instances.push(CoreInst::Runtime(index));
            }
            Item::CoreInstanceExports(list) => {
                let mut exports = Vec::new();
                for (name, kind, index) in list {
                    exports.push((name.clone(), self.core_def(frame, *kind, *index)?));
                }
                frame.core_instances.push(CoreInst::Exports(Rc::new(exports)));
            }
            Item::CoreAlias { instance, name, kind } => {
                let inst = frame.core_instances.get(*instance as usize).ok_or_else(|| internal("core instance"))?;
                let def = self.core_export(inst, name)?;
                frame.core[core_index(*kind)].push(def);
            }
            Item::Import { name, kind } => {
                let val = if root {
                    self.root_import(frame, name, *kind)?
                } else {
                    frame.args.get(name).cloned().ok_or_else(|| internal("import argument missing after validation"))?
                };
                self.push(frame, val)?;
            }
            Item::Export { name, kind, index } => {
                let val = self.get(frame, *kind, *index)?;
                frame.exports.push((name.clone(), val.clone()));
                self.push(frame, val)?;
            }
            Item::Component(body) => {
                let closure = ComponentVal { body: *body, scope: frame.scope.clone() };
                frame.scope.components.borrow_mut().push(closure);
            }
            Item::Instantiate { .. } => return Err(internal("instantiation reached step")),
            Item::InstanceExports(list) => {
                let mut exports = Vec::new();
                for (name, kind, index) in list {
                    exports.push((name.clone(), self.get(frame, *kind, *index)?));
                }
                self.push(frame, Val::Instance(Rc::new(exports)))?;
            }
            Item::Alias { instance, name } => {
                let inst = frame.instances.get(*instance as usize).ok_or_else(|| internal("instance index"))?;
                let val = lookup(inst, name).cloned().ok_or_else(|| internal("instance export missing"))?;
                self.push(frame, val)?;
            }
            Item::AliasOuter { count, index, kind } => {
                let mut scope = frame.scope.clone();
                for _ in 0..*count {
                    scope = scope.parent.clone().ok_or_else(|| internal("outer alias past the root"))?;
                }
                let i = *index as usize;
                let val = match kind {
                    Kind::Module => {
                        Val::Module(*scope.modules.borrow().get(i).ok_or_else(|| internal("outer module"))?)
                    }
                    Kind::Component => Val::Component(
                        scope.components.borrow().get(i).cloned().ok_or_else(|| internal("outer component"))?,
                    ),
                    Kind::Type => {
                        Val::Type(scope.types.borrow().get(i).cloned().ok_or_else(|| internal("outer type"))?)
                    }
                    _ => return Err(internal("outer alias of this kind")),
                };
                self.push(frame, val)?;
            }
            Item::Type => self.push(frame, Val::Type(TypeVal::Other))?,
            Item::Resource { dtor } => {
                let resource = self.info.resources.push(ResourceDef::Defined { instance: frame.instance });
                if let Some(dtor) = dtor {
                    let dtor = self.core_def(frame, CoreKind::Func, *dtor)?;
                    self.info.initializers.push(Initializer::ResourceDtor { resource, dtor });
                }
                self.push(frame, Val::Type(TypeVal::Resource(resource)))?;
            }
            Item::Lift { core_func, ty, options } => {
                let func = self.core_def(frame, CoreKind::Func, *core_func)?;
                let id = *self.body(frame).types.get(*ty as usize).ok_or_else(|| internal("lift type"))?;
                let ComponentAnyTypeId::Func(id) = id else { return Err(internal("lift of a non-function type")) };
                let ty = self.func_type(&frame.scope, id)?;
                let options = self.options(frame, options)?;
                frame.funcs.push(FuncVal::Lifted(Rc::new(LiftedFunction { ty, func, options })));
            }
            Item::Lower { func, options } => {
                let f = frame.funcs.get(*func as usize).cloned().ok_or_else(|| internal("lowered function"))?;
                let id =
                    *self.body(frame).funcs.get(*func as usize).ok_or_else(|| internal("lowered function type"))?;
                let ty = self.func_type(&frame.scope, id)?;
                let options = self.options(frame, options)?;
                let source = match f {
                    FuncVal::Lifted(l) => LowerSource::Lifted((*l).clone()),
                    FuncVal::Import(i, _) => LowerSource::Import(i),
                };
                self.info.initializers.push(Initializer::Lower { source, ty, options });
                let index = LoweredIndex::from_u32(self.num_lowered);
                self.num_lowered += 1;
                frame.core[0].push(CoreDef::Lowered(index));
            }
            Item::TaskReturn { result, options } => {
                let result = match result {
                    None => None,
                    Some(wasmparser::ComponentValType::Primitive(p)) => Some(primitive(*p)?),
                    Some(wasmparser::ComponentValType::Type(t)) => {
                        let id =
                            *self.body(frame).types.get(*t as usize).ok_or_else(|| internal("task.return type"))?;
                        let ComponentAnyTypeId::Defined(id) = id else {
                            return Err(internal("task.return of a non-value type"));
                        };
                        Some(self.val_type(&frame.scope, &ComponentValType::Type(id), 0)?)
                    }
                };
                let options = self.options(frame, options)?;
                frame.core[0].push(CoreDef::TaskReturn { result, options });
            }
            Item::ContextGet(slot) => frame.core[0].push(CoreDef::ContextGet(*slot)),
            Item::ContextSet(slot) => frame.core[0].push(CoreDef::ContextSet(*slot)),
            Item::BackpressureInc => frame.core[0].push(CoreDef::BackpressureInc(frame.instance)),
            Item::BackpressureDec => frame.core[0].push(CoreDef::BackpressureDec(frame.instance)),
            Item::Builtin(name) => {
                let index = frame.core[0].len();
                let id = *self.body(frame).core_funcs.get(index).ok_or_else(|| internal("builtin type"))?;
                let (params, results) = self.core_func_type(id)?;
                frame.core[0].push(CoreDef::Unsupported {
                    name: name.clone(),
                    params,
                    results,
                    instance: frame.instance,
                });
            }
            Item::ResourceNew(t) | Item::ResourceRep(t) | Item::ResourceDrop(t) => {
                let ty =
                    frame.scope.types.borrow().get(*t as usize).cloned().ok_or_else(|| internal("resource type"))?;
                let TypeVal::Resource(r) = ty else {
                    return Err(internal("resource intrinsic of a non-resource type"));
                };
                let def = match item {
                    Item::ResourceNew(_) => CoreDef::ResourceNew(r, frame.instance),
                    Item::ResourceRep(_) => CoreDef::ResourceRep(r, frame.instance),
                    _ => CoreDef::ResourceDrop(r, frame.instance),
                };
                frame.core[0].push(def);
            }
        }
        Ok(())
    }

    fn options(&mut self, frame: &Frame, o: &Options) -> Result<CanonicalOptions, CompileError> {
        let memory = match o.memory {
            Some(m) => {
                let def = self.core_def(frame, CoreKind::Memory, m)?;
                Some(extract(&mut self.memories, &mut self.info.initializers, def, Initializer::ExtractMemory))
            }
            None => None,
        };
        let func = |f: Option<u32>| f.map(|f| self.core_def(frame, CoreKind::Func, f)).transpose();
        let (realloc, post_return) = (func(o.realloc)?, func(o.post_return)?);
        let realloc = realloc
            .map(|def| extract(&mut self.reallocs, &mut self.info.initializers, def, Initializer::ExtractRealloc));
        let post_return = post_return.map(|def| {
            extract(&mut self.post_returns, &mut self.info.initializers, def, Initializer::ExtractPostReturn)
        });
        Ok(CanonicalOptions {
            instance: frame.instance,
            memory,
            realloc,
            post_return,
            string_encoding: o.string_encoding,
            async_: o.async_,
        })
    }

    /// A value for an import of the root: every function and resource in it becomes a
    /// runtime import the embedder supplies.
    fn root_import(&mut self, frame: &Frame, name: &str, kind: Kind) -> Result<Val, CompileError> {
        match kind {
            Kind::Func => {
                let index = frame.funcs.len();
                let id = *self.body(frame).funcs.get(index).ok_or_else(|| internal("import type"))?;
                let ty = self.func_type(&frame.scope, id)?;
                let import = self.info.imports.push((name.to_string(), Vec::new(), ImportType::Func(ty)));
                Ok(Val::Func(FuncVal::Import(import, ty)))
            }
            Kind::Type => {
                let index = frame.scope.types.borrow().len();
                let id = *self.body(frame).types.get(index).ok_or_else(|| internal("import type"))?;
                Ok(Val::Type(self.import_type(name, &[], id)))
            }
            Kind::Instance => {
                let index = frame.instances.len();
                let id = *self.body(frame).instances.get(index).ok_or_else(|| internal("import type"))?;
                Ok(Val::Instance(self.import_instance(&frame.scope, name, Vec::new(), id, 0)?))
            }
            // Imported modules and components can be named, passed on and aliased; only
            // instantiating one is refused (below), since no linker supplies them yet.
            Kind::Module => Ok(Val::Module(imported_module())),
            Kind::Component => {
                Ok(Val::Component(ComponentVal { body: IMPORTED_COMPONENT, scope: frame.scope.clone() }))
            }
            Kind::Value => Err(CompileError::Unsupported("component-model values".into())),
        }
    }

    fn import_type(&mut self, name: &str, path: &[String], id: ComponentAnyTypeId) -> TypeVal {
        match id {
            ComponentAnyTypeId::Resource(_) => {
                let import = self.info.imports.push((name.to_string(), path.to_vec(), ImportType::Resource));
                TypeVal::Resource(self.info.resources.push(ResourceDef::Imported(import)))
            }
            _ => TypeVal::Other,
        }
    }

    fn import_instance(
        &mut self,
        scope: &Rc<Scope>,
        name: &str,
        path: Vec<String>,
        id: ComponentInstanceTypeId,
        depth: usize,
    ) -> Result<InstanceVal, CompileError> {
        if depth > MAX_DEPTH {
            return Err(limit("instance types nested more than 100 deep"));
        }
        let types = self.types;
        let mut exports = Vec::new();
        for (export, item) in &types[id].exports {
            let mut path = path.clone();
            path.push(export.clone());
            let val = match &item.ty {
                ComponentEntityType::Func(f) => {
                    let ty = self.func_type(scope, *f)?;
                    let import = self.info.imports.push((name.to_string(), path, ImportType::Func(ty)));
                    Val::Func(FuncVal::Import(import, ty))
                }
                ComponentEntityType::Type { referenced, created } => {
                    // A type that only restates one already in scope (`(eq ..)`) is that
                    // type, not a new import.
                    let bound = match referenced {
                        ComponentAnyTypeId::Resource(r) => scope.resource(r.resource()),
                        _ => None,
                    };
                    let t = match bound {
                        Some(r) => TypeVal::Resource(r),
                        None => self.import_type(name, &path, *referenced),
                    };
                    bind_type(scope, *referenced, &t);
                    bind_type(scope, *created, &t);
                    Val::Type(t)
                }
                ComponentEntityType::Instance(i) => {
                    Val::Instance(self.import_instance(scope, name, path, *i, depth + 1)?)
                }
                ComponentEntityType::Module(_) => {
                    return Err(CompileError::Unsupported("a component that imports a core module".into()));
                }
                ComponentEntityType::Component(_) => {
                    return Err(CompileError::Unsupported("a component that imports a component".into()));
                }
                ComponentEntityType::Value(_) => {
                    return Err(CompileError::Unsupported("component-model values".into()));
                }
            };
            exports.push((export.clone(), val));
        }
        Ok(Rc::new(exports))
    }

    /// Binds the resource types an instance of type `id` exports to what `value` holds.
    fn bind_instance(
        &self,
        scope: &Rc<Scope>,
        id: ComponentInstanceTypeId,
        value: &InstanceVal,
        depth: usize,
    ) -> Result<(), CompileError> {
        if depth > MAX_DEPTH {
            return Err(limit("instance types nested more than 100 deep"));
        }
        for (name, item) in &self.types[id].exports {
            match (&item.ty, lookup(value, name)) {
                (ComponentEntityType::Type { referenced, created }, Some(Val::Type(t))) => {
                    bind_type(scope, *referenced, t);
                    bind_type(scope, *created, t);
                }
                (ComponentEntityType::Instance(i), Some(Val::Instance(v))) => {
                    self.bind_instance(scope, *i, v, depth + 1)?
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn export(&mut self, val: &Val, depth: usize) -> Result<Export, CompileError> {
        if depth > MAX_DEPTH {
            return Err(limit("exported instances nested more than 100 deep"));
        }
        Ok(match val {
            Val::Func(FuncVal::Lifted(l)) => Export::LiftedFunction((**l).clone()),
            Val::Func(FuncVal::Import(i, ty)) => Export::ImportedFunction(*i, *ty),
            Val::Instance(i) => {
                let mut items = Vec::with_capacity(i.len());
                for (n, v) in i.iter() {
                    items.push((n.clone(), self.export(v, depth + 1)?));
                }
                Export::Instance(self.info.export_instances.push(items))
            }
            Val::Type(TypeVal::Resource(r)) => Export::Resource(*r),
            Val::Type(TypeVal::Other) => Export::Type,
            Val::Module(m) if *m == imported_module() => {
                return Err(CompileError::Unsupported("exporting a core module the component imports".into()));
            }
            Val::Module(m) => Export::Module(*m),
            Val::Component(_) => return Err(CompileError::Unsupported("a component that exports a component".into())),
            Val::Value => return Err(CompileError::Unsupported("component-model values".into())),
        })
    }

    fn func_type(
        &mut self,
        scope: &Scope,
        id: wasmparser::component_types::ComponentFuncTypeId,
    ) -> Result<TypeFuncIndex, CompileError> {
        let ty = &self.types[id];
        let mut params = Vec::new();
        for (name, p) in ty.params.iter() {
            params.push((name.to_string(), self.val_type(scope, p, 0)?));
        }
        let result = match &ty.result {
            Some(r) => Some(self.val_type(scope, r, 0)?),
            None => None,
        };
        Ok(self.builder.func(TypeFunc { params, result }))
    }

    /// The interface type of `ty` in `scope`. Each defined type converts once per scope (a
    /// scope's resource bindings never change once made), and every conversion counts
    /// against a budget, since a large type converted in many instantiations multiplies.
    fn val_type(&mut self, scope: &Scope, ty: &ComponentValType, depth: usize) -> Result<InterfaceType, CompileError> {
        if depth > MAX_DEPTH {
            return Err(limit("component value types nested more than 100 deep"));
        }
        let id = match ty {
            ComponentValType::Primitive(p) => return primitive(*p),
            ComponentValType::Type(id) => *id,
        };
        if let Some(t) = scope.converted.borrow().get(&id) {
            return Ok(*t);
        }
        self.type_steps += 1;
        if self.type_steps > MAX_TYPE_STEPS {
            return Err(limit("converting the component's types takes more than 10,000,000 steps"));
        }
        let t = self.defined_type(scope, id, depth)?;
        scope.converted.borrow_mut().insert(id, t);
        Ok(t)
    }

    fn defined_type(
        &mut self,
        scope: &Scope,
        id: wasmparser::component_types::ComponentDefinedTypeId,
        depth: usize,
    ) -> Result<InterfaceType, CompileError> {
        let types = self.types;
        let d = depth + 1;
        Ok(match &types[id] {
            ComponentDefinedType::Primitive(p) => primitive(*p)?,
            ComponentDefinedType::Record(r) => {
                let mut fields = Vec::new();
                for (name, t) in &r.fields {
                    fields.push((name.to_string(), self.val_type(scope, t, d)?));
                }
                InterfaceType::Record(self.builder.record(TypeRecord { fields }))
            }
            ComponentDefinedType::Variant(v) => {
                let mut cases = Vec::new();
                for (name, c) in &v.cases {
                    let payload = match &c.ty {
                        Some(t) => Some(self.val_type(scope, t, d)?),
                        None => None,
                    };
                    cases.push((name.to_string(), payload));
                }
                InterfaceType::Variant(self.builder.variant(TypeVariant { cases }))
            }
            ComponentDefinedType::List { element, .. } => {
                let e = self.val_type(scope, element, d)?;
                InterfaceType::List(self.builder.list(e))
            }
            ComponentDefinedType::Tuple(t) => {
                let mut elems = Vec::new();
                for e in t.types.iter() {
                    elems.push(self.val_type(scope, e, d)?);
                }
                InterfaceType::Tuple(self.builder.tuple(TypeTuple { types: elems }))
            }
            ComponentDefinedType::Flags(names) => InterfaceType::Flags(
                self.builder.flags(TypeNames { names: names.iter().map(|n| n.to_string()).collect() }),
            ),
            ComponentDefinedType::Enum(names) => InterfaceType::Enum(
                self.builder.enum_(TypeNames { names: names.iter().map(|n| n.to_string()).collect() }),
            ),
            ComponentDefinedType::Option { ty, .. } => {
                let t = self.val_type(scope, ty, d)?;
                InterfaceType::Option(self.builder.option(t))
            }
            ComponentDefinedType::Result { ok, err, .. } => {
                let ok = match ok {
                    Some(t) => Some(self.val_type(scope, t, d)?),
                    None => None,
                };
                let err = match err {
                    Some(t) => Some(self.val_type(scope, t, d)?),
                    None => None,
                };
                InterfaceType::Result(self.builder.result(TypeResult { ok, err }))
            }
            ComponentDefinedType::Own(r) => InterfaceType::Own(self.resource(scope, r.resource())?),
            ComponentDefinedType::Borrow(r) => InterfaceType::Borrow(self.resource(scope, r.resource())?),
            ComponentDefinedType::Map { key, value, .. } => {
                let key = self.val_type(scope, key, d)?;
                let value = self.val_type(scope, value, d)?;
                InterfaceType::Map(self.builder.map(TypeMap { key, value }))
            }
            ComponentDefinedType::FixedLengthList { .. } => {
                return Err(CompileError::Unsupported("component-model fixed-length lists".into()));
            }
            ComponentDefinedType::Future { .. } | ComponentDefinedType::Stream { .. } => {
                return Err(CompileError::Unsupported("component-model async".into()));
            }
        })
    }

    fn core_func_type(
        &self,
        id: wasmparser::types::CoreTypeId,
    ) -> Result<(Vec<FlatType>, Vec<FlatType>), CompileError> {
        let wasmparser::CompositeInnerType::Func(f) = &self.types[id].composite_type.inner else {
            return Err(internal("a builtin whose type is not a function"));
        };
        let flat = |ts: &[wasmparser::ValType]| -> Result<Vec<FlatType>, CompileError> {
            ts.iter()
                .map(|t| match t {
                    wasmparser::ValType::I32 => Ok(FlatType::I32),
                    wasmparser::ValType::I64 => Ok(FlatType::I64),
                    wasmparser::ValType::F32 => Ok(FlatType::F32),
                    wasmparser::ValType::F64 => Ok(FlatType::F64),
                    _ => {
                        Err(CompileError::Unsupported("component-model async (a builtin with reference types)".into()))
                    }
                })
                .collect()
        };
        Ok((flat(f.params())?, flat(f.results())?))
    }

    fn resource(&self, scope: &Scope, id: ResourceId) -> Result<ResourceIndex, CompileError> {
        scope.resource(id).ok_or_else(|| internal("a resource type no frame has bound"))
    }
}

/// The runtime index of the canonical-option item `def`, recording it (with `init`) the
/// first time it is named.
fn extract<I: cranelift_entity::EntityRef>(
    seen: &mut HashMap<CoreDef, I>,
    initializers: &mut Vec<Initializer>,
    def: CoreDef,
    init: fn(CoreDef) -> Initializer,
) -> I {
    let next = I::new(seen.len());
    *seen.entry(def.clone()).or_insert_with(|| {
        initializers.push(init(def));
        next
    })
}

fn bind_type(scope: &Scope, id: ComponentAnyTypeId, val: &TypeVal) {
    if let (ComponentAnyTypeId::Resource(r), TypeVal::Resource(index)) = (id, val) {
        scope.resources.borrow_mut().entry(r.resource()).or_insert(*index);
    }
}

fn primitive(p: PrimitiveValType) -> Result<InterfaceType, CompileError> {
    Ok(match p {
        PrimitiveValType::Bool => InterfaceType::Bool,
        PrimitiveValType::S8 => InterfaceType::S8,
        PrimitiveValType::U8 => InterfaceType::U8,
        PrimitiveValType::S16 => InterfaceType::S16,
        PrimitiveValType::U16 => InterfaceType::U16,
        PrimitiveValType::S32 => InterfaceType::S32,
        PrimitiveValType::U32 => InterfaceType::U32,
        PrimitiveValType::S64 => InterfaceType::S64,
        PrimitiveValType::U64 => InterfaceType::U64,
        PrimitiveValType::F32 => InterfaceType::Float32,
        PrimitiveValType::F64 => InterfaceType::Float64,
        PrimitiveValType::Char => InterfaceType::Char,
        PrimitiveValType::String => InterfaceType::String,
        PrimitiveValType::ErrorContext => return Err(CompileError::Unsupported("component-model async".into())),
    })
}
