//! Module translation: one pass of wasmparser over the bytes, validating with the Wasm 3.0
//! feature set, into a [`ModuleTranslation`]. Function bodies are kept as byte ranges with
//! their `FuncToValidate`, so that they are validated (and translated) in parallel later.
//!
//! A valid module that uses a feature Kiln does not compile yet is not rejected here: the
//! first such feature is recorded in `unsupported`, and the compiler reports it only once every
//! function body has been validated, so an invalid module is always reported as invalid.
use crate::*;
use cranelift_entity::{EntityRef, PrimaryMap};
use wasmparser::{FuncToValidate, FunctionBody, Parser, Payload, Validator, ValidatorResources, WasmFeatures};

/// The features Kiln validates with: all of Wasm 3.0.
pub fn wasm_features() -> WasmFeatures {
    WasmFeatures::WASM3
}

/// A defined function's body, not yet validated.
pub struct FunctionBodyData<'data> {
    /// The body's bytes.
    pub body: FunctionBody<'data>,
    /// What validates it (in parallel, as it is translated).
    pub validator: FuncToValidate<ValidatorResources>,
}

/// The result of translating a module.
pub struct ModuleTranslation<'data> {
    /// The module's description.
    pub module: Module,
    /// Each defined function's body.
    pub function_bodies: PrimaryMap<DefinedFuncIndex, FunctionBodyData<'data>>,
    /// The first feature this module uses that Kiln does not compile yet.
    pub unsupported: Option<String>,
}

struct Translator<'data> {
    module: Module,
    /// The kind of each type declared so far.
    kinds: Vec<TypeKind>,
    bodies: PrimaryMap<DefinedFuncIndex, FunctionBodyData<'data>>,
    unsupported: Option<String>,
}

impl Translator<'_> {
    /// What the conversions need to know of the types declared so far.
    fn kind_of(&self) -> impl Fn(wasmparser::UnpackedIndex) -> Option<TypeKind> + '_ {
        |i| self.kinds.get(i.as_module_index()? as usize).copied()
    }

    /// Record an unsupported feature (the first one wins) and go on.
    fn note<T>(&mut self, r: Result<T, CompileError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(CompileError::Unsupported(what)) => {
                self.unsupported.get_or_insert(what);
                None
            }
            Err(other) => {
                // Only unsupported features come out of the conversions; anything else means
                // the validator let through what the conversions reject.
                self.unsupported.get_or_insert(other.to_string());
                None
            }
        }
    }
}

fn inv(e: wasmparser::BinaryReaderError) -> CompileError {
    invalid_from_wasmparser(e)
}

/// Validate the whole of `wasm`, function bodies included, with `features`.
///
/// # Errors
/// [`CompileError::Invalid`] (with the offset) for a malformed or invalid module.
pub fn validate_module(wasm: &[u8], features: WasmFeatures) -> Result<(), CompileError> {
    Validator::new_with_features(features).validate_all(wasm).map(drop).map_err(inv)
}

/// Parse and validate `wasm` (all but the function bodies) into a [`ModuleTranslation`].
///
/// # Errors
/// [`CompileError::Invalid`] (with the offset) for a malformed or invalid module.
pub fn translate_module(wasm: &[u8]) -> Result<ModuleTranslation<'_>, CompileError> {
    translate_module_with(wasm, wasm_features())
}

/// [`translate_module`], validating with `features` (a tunable: `-W simd=n`…).
///
/// # Errors
/// As for [`translate_module`].
pub fn translate_module_with(wasm: &[u8], features: WasmFeatures) -> Result<ModuleTranslation<'_>, CompileError> {
    let mut validator = Validator::new_with_features(features);
    let mut t =
        Translator { module: Module::default(), kinds: Vec::new(), bodies: PrimaryMap::new(), unsupported: None };
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(inv)?;
        match validator.payload(&payload).map_err(inv)? {
            wasmparser::ValidPayload::Func(validator, body) => {
                t.module.func_body_offsets.push(u32::try_from(body.range().start).unwrap_or(u32::MAX));
                t.bodies.push(FunctionBodyData { body, validator });
                continue;
            }
            wasmparser::ValidPayload::End(_) => break,
            _ => {}
        }
        translate_payload(&mut t, payload)?;
    }
    let mut module = t.module;
    module.dedup_types();
    for expr in module.global_inits.values() {
        for f in expr.func_refs() {
            module.functions[f].escapes = true;
        }
    }
    let table_refs: Vec<FuncIndex> = module.table_inits.values().flatten().flat_map(|e| e.func_refs()).collect();
    for f in table_refs {
        module.functions[f].escapes = true;
    }
    let escaping: Vec<FuncIndex> = module
        .exports
        .iter()
        .filter_map(|e| match e.index {
            EntityIndex::Function(f) => Some(f),
            _ => None,
        })
        .chain(module.elements.values().flat_map(|s| match &s.items {
            ElementItems::Functions(f) => f.clone(),
            ElementItems::Expressions(_, e) => e.iter().flat_map(|e| e.func_refs()).collect(),
        }))
        .chain(module.start)
        .collect();
    for f in escaping {
        module.functions[f].escapes = true;
    }
    Ok(ModuleTranslation { module, function_bodies: t.bodies, unsupported: t.unsupported })
}

fn translate_payload<'data>(t: &mut Translator<'data>, payload: Payload<'data>) -> Result<(), CompileError> {
    match payload {
        Payload::TypeSection(types) => {
            for group in types {
                let group: Vec<wasmparser::SubType> = group.map_err(inv)?.into_types().collect();
                let start = TypeIndex::from_u32(t.module.types.len() as u32);
                // The kinds first: a type may name any type of its own group.
                for sub in &group {
                    let kind = t.note(TypeKind::of(&sub.composite_type)).unwrap_or(TypeKind::Func);
                    t.kinds.push(kind);
                }
                for sub in &group {
                    let ty = WasmSubType::from_wasmparser(sub, &t.kind_of());
                    let ty = t.note(ty).unwrap_or_else(|| dummy_type(t.kinds[t.module.types.len()]));
                    t.module.types.push(ty);
                }
                // An empty group (`(rec)`) declares nothing.
                if !group.is_empty() {
                    t.module.rec_groups.push(RecGroup { start, len: group.len() as u32 });
                }
            }
        }
        Payload::ImportSection(imports) => {
            for import in imports.into_imports() {
                let import = import.map_err(inv)?;
                let index = match import.ty {
                    wasmparser::TypeRef::Func(ty) => {
                        t.module.num_imported_funcs += 1;
                        let f = t.module.functions.push(FunctionInfo { ty: TypeIndex::from_u32(ty), escapes: false });
                        EntityIndex::Function(f)
                    }
                    wasmparser::TypeRef::Table(ty) => {
                        t.module.num_imported_tables += 1;
                        let table = {
                            let r = Table::from_wasmparser(&ty, &t.kind_of());
                            t.note(r)
                        }
                        .unwrap_or(DUMMY_TABLE);
                        EntityIndex::Table(t.module.tables.push(table))
                    }
                    wasmparser::TypeRef::Memory(ty) => {
                        t.module.num_imported_memories += 1;
                        let memory = t.note(Memory::from_wasmparser(&ty)).unwrap_or(DUMMY_MEMORY);
                        EntityIndex::Memory(t.module.memories.push(memory))
                    }
                    wasmparser::TypeRef::Global(ty) => {
                        t.module.num_imported_globals += 1;
                        let global = {
                            let r = Global::from_wasmparser(&ty, &t.kind_of());
                            t.note(r)
                        }
                        .unwrap_or(DUMMY_GLOBAL);
                        EntityIndex::Global(t.module.globals.push(global))
                    }
                    wasmparser::TypeRef::Tag(tag) => {
                        t.module.num_imported_tags += 1;
                        EntityIndex::Tag(t.module.tags.push(TypeIndex::from_u32(tag.func_type_idx)))
                    }
                    wasmparser::TypeRef::FuncExact(_) => {
                        t.note::<()>(Err(CompileError::Unsupported("exact function imports".into())));
                        continue;
                    }
                };
                t.module.imports.push(Import {
                    module: import.module.to_string(),
                    field: import.name.to_string(),
                    index,
                });
            }
        }
        Payload::FunctionSection(funcs) => {
            for ty in funcs {
                let ty = TypeIndex::from_u32(ty.map_err(inv)?);
                t.module.functions.push(FunctionInfo { ty, escapes: false });
            }
        }
        Payload::TableSection(tables) => {
            for table in tables {
                let table = table.map_err(inv)?;
                let ty = {
                    let r = Table::from_wasmparser(&table.ty, &t.kind_of());
                    t.note(r)
                }
                .unwrap_or(DUMMY_TABLE);
                t.module.tables.push(ty);
                let init = match table.init {
                    wasmparser::TableInit::RefNull => None,
                    wasmparser::TableInit::Expr(e) => {
                        let r = ConstExpr::from_wasmparser(&e);
                        t.note(r)
                    }
                };
                t.module.table_inits.push(init);
            }
        }
        Payload::MemorySection(memories) => {
            for memory in memories {
                let memory = memory.map_err(inv)?;
                let ty = t.note(Memory::from_wasmparser(&memory)).unwrap_or(DUMMY_MEMORY);
                t.module.memories.push(ty);
            }
        }
        Payload::TagSection(tags) => {
            for tag in tags {
                t.module.tags.push(TypeIndex::from_u32(tag.map_err(inv)?.func_type_idx));
            }
        }
        Payload::GlobalSection(globals) => {
            for global in globals {
                let global = global.map_err(inv)?;
                let ty = {
                    let r = Global::from_wasmparser(&global.ty, &t.kind_of());
                    t.note(r)
                }
                .unwrap_or(DUMMY_GLOBAL);
                t.module.globals.push(ty);
                let init = ConstExpr::from_wasmparser(&global.init_expr);
                let init = t.note(init).unwrap_or_default();
                t.module.global_inits.push(init);
            }
        }
        Payload::ExportSection(exports) => {
            for export in exports {
                let export = export.map_err(inv)?;
                let index = match export.kind {
                    wasmparser::ExternalKind::Func => EntityIndex::Function(FuncIndex::from_u32(export.index)),
                    wasmparser::ExternalKind::Table => EntityIndex::Table(TableIndex::from_u32(export.index)),
                    wasmparser::ExternalKind::Memory => EntityIndex::Memory(MemoryIndex::from_u32(export.index)),
                    wasmparser::ExternalKind::Global => EntityIndex::Global(GlobalIndex::from_u32(export.index)),
                    wasmparser::ExternalKind::Tag => EntityIndex::Tag(TagIndex::from_u32(export.index)),
                    wasmparser::ExternalKind::FuncExact => {
                        t.note::<()>(Err(CompileError::Unsupported("exact function exports".into())));
                        continue;
                    }
                };
                t.module.exports.push(Export { name: export.name.to_string(), index });
            }
        }
        Payload::StartSection { func, .. } => t.module.start = Some(FuncIndex::from_u32(func)),
        Payload::ElementSection(elements) => {
            for element in elements {
                let element = element.map_err(inv)?;
                let mode = match element.kind {
                    wasmparser::ElementKind::Passive => SegmentMode::Passive,
                    wasmparser::ElementKind::Declared => SegmentMode::Declared,
                    wasmparser::ElementKind::Active { table_index, offset_expr } => {
                        let offset = ConstExpr::from_wasmparser(&offset_expr);
                        let offset = t.note(offset).unwrap_or_default();
                        SegmentMode::Active(TableIndex::from_u32(table_index.unwrap_or(0)), offset)
                    }
                };
                let items = match element.items {
                    wasmparser::ElementItems::Functions(funcs) => ElementItems::Functions(
                        funcs.into_iter().map(|f| f.map(FuncIndex::from_u32)).collect::<Result<_, _>>().map_err(inv)?,
                    ),
                    wasmparser::ElementItems::Expressions(ty, exprs) => {
                        let ty = {
                            let r = WasmValType::from_ref_type(ty, &t.kind_of());
                            t.note(r)
                        }
                        .unwrap_or(WasmValType::FuncRef);
                        let mut items = Vec::new();
                        for expr in exprs {
                            let expr = ConstExpr::from_wasmparser(&expr.map_err(inv)?);
                            items.push(t.note(expr).unwrap_or_default());
                        }
                        ElementItems::Expressions(ty, items)
                    }
                };
                t.module.elements.push(Segment { mode, items });
            }
        }
        Payload::DataSection(data) => {
            for segment in data {
                let segment = segment.map_err(inv)?;
                let mode = match segment.kind {
                    wasmparser::DataKind::Passive => SegmentMode::Passive,
                    wasmparser::DataKind::Active { memory_index, offset_expr } => {
                        let offset = ConstExpr::from_wasmparser(&offset_expr);
                        let offset = t.note(offset).unwrap_or_default();
                        SegmentMode::Active(MemoryIndex::from_u32(memory_index), offset)
                    }
                };
                t.module.data.push(Segment { mode, items: segment.data.to_vec() });
            }
        }
        Payload::CustomSection(section) => {
            if let wasmparser::KnownCustom::Name(names) = section.as_known() {
                // A malformed name section is not an error (it is a custom section); keep
                // whatever could be read.
                read_names(&mut t.module, names);
            }
        }
        Payload::Version { encoding: wasmparser::Encoding::Component, .. } => {
            return Err(CompileError::Unsupported("components (this is a component, not a core module)".into()));
        }
        _ => {}
    }
    Ok(())
}

fn read_names(module: &mut Module, names: wasmparser::NameSectionReader<'_>) {
    for name in names.into_iter().flatten() {
        match name {
            wasmparser::Name::Module { name, .. } => module.name = Some(name.to_string()),
            wasmparser::Name::Function(map) => {
                for naming in map.into_iter().flatten() {
                    let f = FuncIndex::from_u32(naming.index);
                    if f.index() < module.functions.len() {
                        module.func_names.insert(f, naming.name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
}

const DUMMY_TABLE: Table =
    Table { element: WasmRefType::FUNCREF, index_type: IndexType::I32, minimum: 0, maximum: None };
/// What stands for a type Kiln does not compile (the module is reported unsupported; the
/// type only keeps the index space whole while the rest is validated).
fn dummy_type(kind: TypeKind) -> WasmSubType {
    let field = WasmFieldType { storage: WasmStorageType::I8, mutable: false };
    let composite = match kind {
        TypeKind::Func => {
            WasmCompositeType::Func(WasmFuncType { params: Box::new([]), results: Box::new([]) }, Box::new([]))
        }
        TypeKind::Struct => WasmCompositeType::Struct(Box::new([])),
        TypeKind::Array => WasmCompositeType::Array(field),
    };
    WasmSubType { is_final: true, supertype: None, composite }
}
const DUMMY_MEMORY: Memory = Memory { index_type: IndexType::I32, minimum: 0, maximum: None };
const DUMMY_GLOBAL: Global = Global { ty: WasmValType::I32, mutable: false, reference: None };

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(wat: &str) -> Result<ModuleTranslation<'static>, CompileError> {
        let bytes: &'static [u8] = Box::leak(wat::parse_str(wat).unwrap().into_boxed_slice());
        translate_module(bytes)
    }

    #[test]
    fn translates_entities_and_escapes() {
        let t = translate(
            r#"(module $m
                (import "env" "f" (func $f (param i32)))
                (import "env" "g" (global $g i32))
                (memory 1 2)
                (table 3 funcref)
                (global $h (mut i64) (i64.const 7))
                (func $a (export "a") (result i32) i32.const 1)
                (func $b)
                (func $c)
                (elem (i32.const 0) $c)
                (data (i32.const 8) "hi"))"#,
        )
        .unwrap();
        let m = &t.module;
        assert_eq!(m.name.as_deref(), Some("m"));
        assert_eq!(m.num_imported_funcs, 1);
        assert_eq!(m.num_defined_funcs(), 3);
        assert_eq!(t.function_bodies.len(), 3);
        assert_eq!(m.num_imported_globals, 1);
        assert_eq!(m.num_defined_globals(), 1);
        assert_eq!(m.func_name(FuncIndex::new(1)), Some("a"));
        let escapes: Vec<bool> = m.functions.values().map(|f| f.escapes).collect();
        assert_eq!(escapes, [false, true, false, true]);
        assert_eq!(m.data[DataIndex::new(0)].items, b"hi");
        assert!(t.unsupported.is_none());
    }

    #[test]
    fn invalid_and_unsupported_are_told_apart() {
        let bad = translate_module(b"\0asm\x01\0\0\0\x01").err().unwrap();
        assert!(matches!(bad, CompileError::Invalid { .. }), "{bad}");
        assert!(bad.to_string().starts_with("failed to parse WebAssembly module"));
        let t = translate("(module (memory 1 1 shared))").unwrap();
        assert_eq!(t.unsupported.as_deref(), Some("shared memories (threads)"));
    }

    #[test]
    fn keeps_rec_groups_and_subtypes() {
        let t = translate(
            "(module (rec) (type $a (sub (struct (field i8) (field (mut (ref null $a))))))
               (rec (type $b (sub final $a (struct (field i8) (field (mut (ref null $a))) (field i64))))
                    (type $f (func (param (ref $c)) (result anyref)))
                    (type $c (array (mut i16)))))",
        )
        .unwrap();
        let m = &t.module;
        assert!(t.unsupported.is_none(), "{:?}", t.unsupported);
        let groups: Vec<(u32, u32)> = m.rec_groups.iter().map(|g| (g.start.as_u32(), g.len)).collect();
        assert_eq!(groups, [(0, 1), (1, 3)]);
        let (a, b, f, c) = (TypeIndex::new(0), TypeIndex::new(1), TypeIndex::new(2), TypeIndex::new(3));
        assert!(!m.types[a].is_final && m.types[b].is_final);
        assert_eq!(m.types[b].supertype, Some(a));
        assert_eq!(m.types[c].kind(), TypeKind::Array);
        let WasmCompositeType::Array(element) = m.types[c].composite else { panic!("an array") };
        assert_eq!((element.storage, element.mutable), (WasmStorageType::I16, true));
        let refs = m.types[f].func_refs();
        assert_eq!(refs.len(), 1, "anyref is plain, (ref $c) is typed");
        assert_eq!(refs[0].ty, WasmRefType { nullable: false, heap: WasmHeapType::Concrete(TypeKind::Array, c) });
        assert_eq!(m.signature(f).results[..], [WasmValType::AnyRef]);
        assert_eq!(m.signature(f).params[..], [WasmValType::AnyRef], "an array reference is an anyref");
        assert_eq!(m.host_callable_types().collect::<Vec<_>>(), [f]);
        m.check_consistent().unwrap();
    }

    #[test]
    fn dedups_types() {
        let t = translate("(module (type (func)) (type (func (param i32))) (type (func)))").unwrap();
        let m = &t.module;
        assert_eq!(m.host_callable_types().count(), 2);
        assert_eq!(m.canonical_type(TypeIndex::new(2)), TypeIndex::new(0));
    }
}
