//! Pass one of component translation: one wasmparser pass that validates the whole component
//! and records, for the root and every nested component, the items of its index spaces in
//! order (`Body`), with the validator's type of every component-level function, instance and
//! type, and the byte range and imports of every core module. Nothing is resolved here; the
//! flattening pass (`inline`) interprets the bodies afterwards. Parsing never recurses: nested
//! modules and components come as one stream of payloads, tracked with an explicit stack.
use std::ops::Range;

use wasmparser::component_types::{ComponentAnyTypeId, ComponentFuncTypeId, ComponentInstanceTypeId};
use wasmparser::types::Types;
use wasmparser::{
    CanonicalFunction, CanonicalOption, ComponentAlias, ComponentExternalKind, ComponentOuterAliasKind,
    ComponentTypeRef, ExternalKind, Parser, Payload, Validator,
};

use crate::CompileError;

/// The index of a component body: 0 is the root, the rest in the order they begin.
pub type BodyIndex = usize;

/// A core module of the component, by its place in the bytes.
pub struct StaticModule {
    /// Its bytes within the component's.
    pub range: Range<usize>,
    /// Its imports' `(module, name)`, in order.
    pub imports: Vec<(String, String)>,
}

/// A kind of core item that can be exported, imported or aliased.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CoreKind {
    /// A function.
    Func,
    /// A table.
    Table,
    /// A memory.
    Memory,
    /// A global.
    Global,
    /// A tag.
    Tag,
}

/// A kind of component-level item.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A core module.
    Module,
    /// A function.
    Func,
    /// A value.
    Value,
    /// A type.
    Type,
    /// An instance.
    Instance,
    /// A component.
    Component,
}

/// The canonical options as written.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The core memory index.
    pub memory: Option<u32>,
    /// The core function index of `realloc`.
    pub realloc: Option<u32>,
    /// The core function index of `post-return`.
    pub post_return: Option<u32>,
    /// `string-encoding`.
    pub string_encoding: super::StringEncoding,
    /// `async` (without a callback: the stackful ABI, which Kiln runs to completion).
    pub async_: bool,
}

/// One item of a component body, in the order the sections define them. Each pushes one
/// entry onto one index space.
#[derive(Clone, Debug)]
pub enum Item {
    /// A core module defined here.
    CoreModule(crate::StaticModuleIndex),
    /// `(core instance (instantiate $m (with "name" (instance $i))..))`
    CoreInstantiate {
        /// Core module index.
        module: u32,
        /// Argument names and core instance indices.
        args: Vec<(String, u32)>,
    },
    /// `(core instance (export "name" (func $f))..)`
    CoreInstanceExports(Vec<(String, CoreKind, u32)>),
    /// `(alias core export $i "name" (func))`
    CoreAlias {
        /// Core instance index.
        instance: u32,
        /// Export name.
        name: String,
        /// What is aliased.
        kind: CoreKind,
    },
    /// A core type definition (only validation uses core types).
    CoreType,
    /// An import.
    Import {
        /// The import's name.
        name: String,
        /// Its kind.
        kind: Kind,
    },
    /// An export, which defines a new index too.
    Export {
        /// The export's name.
        name: String,
        /// What is exported.
        kind: Kind,
        /// Its index in the kind's space.
        index: u32,
    },
    /// A nested component defined here.
    Component(BodyIndex),
    /// `(instance (instantiate $c (with "name" ..)..))`
    Instantiate {
        /// Component index.
        component: u32,
        /// Argument names, kinds and indices.
        args: Vec<(String, Kind, u32)>,
    },
    /// `(instance (export "name" ..)..)`
    InstanceExports(Vec<(String, Kind, u32)>),
    /// `(alias export $i "name" (func))`
    Alias {
        /// Instance index.
        instance: u32,
        /// Export name.
        name: String,
    },
    /// `(alias outer $count $index (type|module|component))`
    AliasOuter {
        /// How many components out.
        count: u32,
        /// The index there.
        index: u32,
        /// What is aliased.
        kind: Kind,
    },
    /// A type definition that is not a resource.
    Type,
    /// `(type (resource (rep i32) (dtor $f)?))`
    Resource {
        /// The destructor's core function index.
        dtor: Option<u32>,
    },
    /// `canon lift`
    Lift {
        /// The core function lifted.
        core_func: u32,
        /// The function's type index.
        ty: u32,
        /// Its options.
        options: Options,
    },
    /// `canon lower`
    Lower {
        /// The component function lowered.
        func: u32,
        /// Its options.
        options: Options,
    },
    /// `canon resource.new`
    ResourceNew(u32),
    /// `canon resource.rep`
    ResourceRep(u32),
    /// `canon resource.drop`
    ResourceDrop(u32),
    /// `canon task.return (result T)? (options)`
    TaskReturn {
        /// The result type as written: a primitive, or a type index.
        result: Option<wasmparser::ComponentValType>,
        /// Its options (the memory results are lifted from when they do not fit flat).
        options: Options,
    },
    /// `canon context.get i32 N`
    ContextGet(u32),
    /// `canon context.set i32 N`
    ContextSet(u32),
    /// `canon backpressure.inc`
    BackpressureInc,
    /// `canon backpressure.dec`
    BackpressureDec,
    /// A canonical builtin Kiln does not run yet (the async ABI's): it exists, with its core
    /// type, and refuses when called.
    Builtin(String),
}

/// One component's items and the validator's types of its index spaces.
#[derive(Default)]
pub struct Body {
    /// Its items, in order.
    pub items: Vec<Item>,
    /// The type of every function index.
    pub funcs: Vec<ComponentFuncTypeId>,
    /// The type of every instance index.
    pub instances: Vec<ComponentInstanceTypeId>,
    /// The type of every type index.
    pub types: Vec<ComponentAnyTypeId>,
    /// The type of every core function index.
    pub core_funcs: Vec<wasmparser::types::CoreTypeId>,
}

/// The outcome of pass one.
pub struct Translation {
    /// Every component body; 0 is the root.
    pub bodies: Vec<Body>,
    /// Every core module, in the order they begin.
    pub modules: Vec<StaticModule>,
    /// The validator's types, which every id recorded in the bodies indexes.
    pub types: Types,
}

fn inv(e: wasmparser::BinaryReaderError) -> CompileError {
    crate::invalid_from_wasmparser(e)
}

fn unsupported(what: &str) -> CompileError {
    CompileError::Unsupported(what.to_string())
}

fn core_kind(kind: ExternalKind) -> Result<CoreKind, CompileError> {
    Ok(match kind {
        ExternalKind::Func | ExternalKind::FuncExact => CoreKind::Func,
        ExternalKind::Table => CoreKind::Table,
        ExternalKind::Memory => CoreKind::Memory,
        ExternalKind::Global => CoreKind::Global,
        ExternalKind::Tag => CoreKind::Tag,
    })
}

fn kind(kind: ComponentExternalKind) -> Kind {
    match kind {
        ComponentExternalKind::Module => Kind::Module,
        ComponentExternalKind::Func => Kind::Func,
        ComponentExternalKind::Value => Kind::Value,
        ComponentExternalKind::Type => Kind::Type,
        ComponentExternalKind::Instance => Kind::Instance,
        ComponentExternalKind::Component => Kind::Component,
    }
}

fn ref_kind(ty: &ComponentTypeRef) -> Kind {
    match ty {
        ComponentTypeRef::Module(_) => Kind::Module,
        ComponentTypeRef::Func(_) => Kind::Func,
        ComponentTypeRef::Value(_) => Kind::Value,
        ComponentTypeRef::Type(_) => Kind::Type,
        ComponentTypeRef::Instance(_) => Kind::Instance,
        ComponentTypeRef::Component(_) => Kind::Component,
    }
}

fn options(list: &[CanonicalOption]) -> Result<Options, CompileError> {
    let mut o = Options::default();
    for opt in list {
        match *opt {
            CanonicalOption::UTF8 => o.string_encoding = super::StringEncoding::Utf8,
            CanonicalOption::UTF16 => o.string_encoding = super::StringEncoding::Utf16,
            CanonicalOption::CompactUTF16 => o.string_encoding = super::StringEncoding::CompactUtf16,
            CanonicalOption::Memory(m) => o.memory = Some(m),
            CanonicalOption::Realloc(f) => o.realloc = Some(f),
            CanonicalOption::PostReturn(f) => o.post_return = Some(f),
            CanonicalOption::Async => o.async_ = true,
            CanonicalOption::Callback(_) => return Err(unsupported("component-model async (callbacks)")),
            CanonicalOption::CoreType(_) | CanonicalOption::Gc => {
                return Err(unsupported("component-model GC canonical ABI"));
            }
        }
    }
    Ok(o)
}

/// Where the payload stream is: in a component body, or inside a core module.
enum Frame {
    Component(BodyIndex),
    Module(usize),
}

/// Validates `wasm` as a component and records its bodies and modules.
///
/// # Errors
/// [`CompileError::Invalid`] when the component is invalid, [`CompileError::Unsupported`] for
/// features Kiln does not run yet (async, values, start functions, GC lowering).
pub fn translate(wasm: &[u8], features: wasmparser::WasmFeatures) -> Result<Translation, CompileError> {
    let mut validator = Validator::new_with_features(features);
    let mut bodies: Vec<Body> = Vec::new();
    let mut modules: Vec<StaticModule> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut pending_unsupported: Option<CompileError> = None;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(inv)?;
        let valid = validator.payload(&payload).map_err(inv)?;
        let current = stack.last();
        match (&payload, current) {
            (Payload::Version { encoding: wasmparser::Encoding::Component, .. }, _) => {
                if let Some(Frame::Component(parent)) = current {
                    let index = bodies.len();
                    bodies[*parent].items.push(Item::Component(index));
                }
                stack.push(Frame::Component(bodies.len()));
                bodies.push(Body::default());
            }
            (Payload::Version { encoding: wasmparser::Encoding::Module, .. }, None) => {
                return Err(CompileError::Invalid {
                    message: "expected a component, found a core module".into(),
                    offset: 0,
                });
            }
            (Payload::ModuleSection { unchecked_range, .. }, Some(Frame::Component(b))) => {
                let index = modules.len();
                modules.push(StaticModule {
                    range: unchecked_range.start as usize..unchecked_range.end as usize,
                    imports: Vec::new(),
                });
                bodies[*b].items.push(Item::CoreModule(crate::StaticModuleIndex::from_u32(index as u32)));
                stack.push(Frame::Module(index));
            }
            (Payload::Version { .. }, Some(Frame::Module(_))) => {}
            (Payload::ImportSection(reader), Some(Frame::Module(m))) => {
                let m = *m;
                for import in reader.clone().into_imports() {
                    let import = import.map_err(inv)?;
                    modules[m].imports.push((import.module.to_string(), import.name.to_string()));
                }
            }
            (Payload::End(_), Some(Frame::Module(_))) => {
                stack.pop();
            }
            (_, Some(Frame::Module(_))) => {}
            (Payload::End(_), Some(Frame::Component(_))) => {
                stack.pop();
            }
            (_, Some(Frame::Component(b))) => {
                let b = *b;
                let items = record_section(&payload)?;
                if let Some(e) = items.1 {
                    pending_unsupported.get_or_insert(e);
                }
                bodies[b].items.extend(items.0);
            }
            (_, None) => {}
        }
        // Keep every component-level space's types in step with its items.
        if let (Some(Frame::Component(b)), Some(types)) = (stack.last(), validator.types(0)) {
            let body = &mut bodies[*b];
            for i in body.funcs.len() as u32..types.component_function_count() {
                body.funcs.push(types.component_function_at(i));
            }
            for i in body.instances.len() as u32..types.component_instance_count() {
                body.instances.push(types.component_instance_at(i));
            }
            for i in body.types.len() as u32..types.component_type_count() {
                body.types.push(types.component_any_type_at(i));
            }
            for i in body.core_funcs.len() as u32..types.function_count() {
                body.core_funcs.push(types.core_function_at(i));
            }
        }
        if let (wasmparser::ValidPayload::End(types), true) = (valid, stack.is_empty()) {
            if let Some(e) = pending_unsupported {
                return Err(e);
            }
            return Ok(Translation { bodies, modules, types });
        }
    }
    Err(CompileError::Invalid { message: "unexpected end of component".into(), offset: wasm.len() })
}

/// The items one section adds, and the first unsupported feature it uses (reported once the
/// whole component has validated: invalid beats unsupported).
fn record_section(payload: &Payload<'_>) -> Result<(Vec<Item>, Option<CompileError>), CompileError> {
    let mut items = Vec::new();
    let mut unsupported_seen = None;
    match payload {
        Payload::InstanceSection(reader) => {
            for instance in reader.clone() {
                items.push(match instance.map_err(inv)? {
                    wasmparser::Instance::Instantiate { module_index, args } => Item::CoreInstantiate {
                        module: module_index,
                        args: args.iter().map(|a| (a.name.to_string(), a.index)).collect(),
                    },
                    wasmparser::Instance::FromExports(exports) => Item::CoreInstanceExports(
                        exports
                            .iter()
                            .map(|e| Ok((e.name.to_string(), core_kind(e.kind)?, e.index)))
                            .collect::<Result<_, CompileError>>()?,
                    ),
                });
            }
        }
        Payload::CoreTypeSection(reader) => {
            for ty in reader.clone() {
                ty.map_err(inv)?;
                items.push(Item::CoreType);
            }
        }
        Payload::ComponentInstanceSection(reader) => {
            for instance in reader.clone() {
                items.push(match instance.map_err(inv)? {
                    wasmparser::ComponentInstance::Instantiate { component_index, args } => Item::Instantiate {
                        component: component_index,
                        args: args.iter().map(|a| (a.name.to_string(), kind(a.kind), a.index)).collect(),
                    },
                    wasmparser::ComponentInstance::FromExports(exports) => Item::InstanceExports(
                        exports.iter().map(|e| (e.name.name.to_string(), kind(e.kind), e.index)).collect(),
                    ),
                });
            }
        }
        Payload::ComponentAliasSection(reader) => {
            for alias in reader.clone() {
                items.push(match alias.map_err(inv)? {
                    ComponentAlias::InstanceExport { kind: k, instance_index, name } => {
                        let _ = k;
                        Item::Alias { instance: instance_index, name: name.to_string() }
                    }
                    ComponentAlias::CoreInstanceExport { kind: k, instance_index, name } => {
                        Item::CoreAlias { instance: instance_index, name: name.to_string(), kind: core_kind(k)? }
                    }
                    ComponentAlias::Outer { kind: k, count, index } => Item::AliasOuter {
                        count,
                        index,
                        kind: match k {
                            ComponentOuterAliasKind::CoreModule => Kind::Module,
                            ComponentOuterAliasKind::CoreType => {
                                items.push(Item::CoreType);
                                continue;
                            }
                            ComponentOuterAliasKind::Type => Kind::Type,
                            ComponentOuterAliasKind::Component => Kind::Component,
                        },
                    },
                });
            }
        }
        Payload::ComponentTypeSection(reader) => {
            for ty in reader.clone() {
                items.push(match ty.map_err(inv)? {
                    wasmparser::ComponentType::Resource { dtor, .. } => Item::Resource { dtor },
                    _ => Item::Type,
                });
            }
        }
        Payload::ComponentCanonicalSection(reader) => {
            for canon in reader.clone() {
                items.push(match canon.map_err(inv)? {
                    CanonicalFunction::Lift { core_func_index, type_index, options: o } => match options(&o) {
                        Ok(options) => Item::Lift { core_func: core_func_index, ty: type_index, options },
                        Err(e) => {
                            unsupported_seen.get_or_insert(e);
                            Item::CoreType
                        }
                    },
                    CanonicalFunction::Lower { func_index, options: o } => match options(&o) {
                        Ok(options) => Item::Lower { func: func_index, options },
                        Err(e) => {
                            unsupported_seen.get_or_insert(e);
                            Item::CoreType
                        }
                    },
                    CanonicalFunction::ResourceNew { resource } => Item::ResourceNew(resource),
                    CanonicalFunction::ResourceRep { resource } => Item::ResourceRep(resource),
                    CanonicalFunction::ResourceDrop { resource } => Item::ResourceDrop(resource),
                    CanonicalFunction::TaskReturn { result, options: o } => match options(&o) {
                        Ok(options) => Item::TaskReturn { result, options },
                        Err(e) => {
                            unsupported_seen.get_or_insert(e);
                            Item::CoreType
                        }
                    },
                    CanonicalFunction::ContextGet { slot, .. } => Item::ContextGet(slot),
                    CanonicalFunction::ContextSet { slot, .. } => Item::ContextSet(slot),
                    CanonicalFunction::BackpressureInc => Item::BackpressureInc,
                    CanonicalFunction::BackpressureDec => Item::BackpressureDec,
                    other => {
                        let name = format!("{other:?}");
                        Item::Builtin(name.split([' ', '{', '(']).next().unwrap_or("canon").to_string())
                    }
                });
            }
        }
        Payload::ComponentImportSection(reader) => {
            for import in reader.clone() {
                let import = import.map_err(inv)?;
                items.push(Item::Import { name: import.name.name.to_string(), kind: ref_kind(&import.ty) });
            }
        }
        Payload::ComponentExportSection(reader) => {
            for export in reader.clone() {
                let export = export.map_err(inv)?;
                items.push(Item::Export {
                    name: export.name.name.to_string(),
                    kind: kind(export.kind),
                    index: export.index,
                });
            }
        }
        Payload::ComponentStartSection { .. } => {
            unsupported_seen.get_or_insert(unsupported("component start functions"));
        }
        _ => {}
    }
    Ok((items, unsupported_seen))
}
