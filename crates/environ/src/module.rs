//! `Module`: everything about a module that outlives compilation (types, imports, the
//! entities it defines, exports, segments, names), with the conversions between the full
//! index spaces and the "defined" ones.
use crate::*;
use cranelift_entity::{EntityRef, PrimaryMap};
use std::collections::BTreeMap;

/// Something a module imports or exports.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum EntityIndex {
    /// A function.
    Function(FuncIndex),
    /// A table.
    Table(TableIndex),
    /// A memory.
    Memory(MemoryIndex),
    /// A global.
    Global(GlobalIndex),
    /// An exception tag.
    Tag(TagIndex),
}

/// One import.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Import {
    /// The module name it is imported from.
    pub module: String,
    /// The field name.
    pub field: String,
    /// The entity it defines in this module.
    pub index: EntityIndex,
}

/// One export.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Export {
    /// The export's name.
    pub name: String,
    /// The entity it exports.
    pub index: EntityIndex,
}

/// Where a segment goes.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum SegmentMode<T> {
    /// Applied at instantiation: `(target, offset)`.
    Active(T, ConstExpr),
    /// Applied by `table.init`/`memory.init`.
    Passive,
    /// Only declares function references (element segments).
    Declared,
}

/// An element or data segment.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Segment<T, I> {
    /// When and where it is applied.
    pub mode: SegmentMode<T>,
    /// Its contents.
    pub items: I,
}

/// The items of an element segment.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum ElementItems {
    /// Function indices (`elemkind funcref`).
    Functions(Vec<FuncIndex>),
    /// Constant expressions of the segment's reference type.
    Expressions(WasmValType, Vec<ConstExpr>),
}

impl ElementItems {
    /// The number of items.
    pub fn len(&self) -> usize {
        match self {
            ElementItems::Functions(f) => f.len(),
            ElementItems::Expressions(_, e) => e.len(),
        }
    }

    /// Whether the segment has no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A function in the function index space.
#[derive(Copy, Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FunctionInfo {
    /// Its type.
    pub ty: TypeIndex,
    /// Whether it can be reached from outside its body's direct callers: exported, in an
    /// element segment, or named by `ref.func`. Only escaping functions get an
    /// array-to-wasm trampoline.
    pub escapes: bool,
}

/// A translated module's description.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Module {
    /// The module's name from the name section.
    pub name: Option<String>,
    /// The type section's types.
    pub types: PrimaryMap<TypeIndex, WasmSubType>,
    /// The type section's rec groups, in order: together they cover `types`.
    pub rec_groups: Vec<RecGroup>,
    /// For each function type, the first function type whose signature is the same (the same
    /// representations: they share trampolines); each other type is its own.
    pub type_dedup: PrimaryMap<TypeIndex, TypeIndex>,
    /// Every function, imported ones first.
    pub functions: PrimaryMap<FuncIndex, FunctionInfo>,
    /// Every table's type, imported ones first.
    pub tables: PrimaryMap<TableIndex, Table>,
    /// Every memory's type, imported ones first.
    pub memories: PrimaryMap<MemoryIndex, Memory>,
    /// Every global's type, imported ones first.
    pub globals: PrimaryMap<GlobalIndex, Global>,
    /// Every exception tag's function type (its payload is the parameters), imported ones
    /// first.
    pub tags: PrimaryMap<TagIndex, TypeIndex>,
    /// The initializer of each defined global.
    pub global_inits: PrimaryMap<DefinedGlobalIndex, ConstExpr>,
    /// How many functions are imported (they come first in the index space).
    pub num_imported_funcs: usize,
    /// How many tables are imported.
    pub num_imported_tables: usize,
    /// How many memories are imported.
    pub num_imported_memories: usize,
    /// How many globals are imported.
    pub num_imported_globals: usize,
    /// How many tags are imported.
    pub num_imported_tags: usize,
    /// The imports, in order.
    pub imports: Vec<Import>,
    /// The exports, in order.
    pub exports: Vec<Export>,
    /// The start function.
    pub start: Option<FuncIndex>,
    /// Initial contents of the defined tables (`(ref.null)` when absent) .
    pub table_inits: PrimaryMap<DefinedTableIndex, Option<ConstExpr>>,
    /// The element segments.
    pub elements: PrimaryMap<ElemIndex, Segment<TableIndex, ElementItems>>,
    /// The data segments.
    pub data: PrimaryMap<DataIndex, Segment<MemoryIndex, Vec<u8>>>,
    /// Function names from the name section.
    pub func_names: BTreeMap<FuncIndex, String>,
    /// The module offset where each defined function's body starts (for backtraces'
    /// function-relative offsets).
    pub func_body_offsets: PrimaryMap<DefinedFuncIndex, u32>,
}

impl Module {
    /// The type of a function.
    pub fn func_type(&self, f: FuncIndex) -> &WasmFuncType {
        self.signature(self.functions[f].ty)
    }

    /// Function type `t` (of a function, a tag, `call_indirect`…).
    ///
    /// # Panics
    /// If `t` is not a function type: validation (and `check_consistent` for an artifact's
    /// description) rules it out where a function type is due.
    pub fn signature(&self, t: TypeIndex) -> &WasmFuncType {
        self.types[t].as_func().expect("a function type")
    }

    /// The number of functions the module defines.
    pub fn num_defined_funcs(&self) -> usize {
        self.functions.len() - self.num_imported_funcs
    }

    /// The number of tables the module defines.
    pub fn num_defined_tables(&self) -> usize {
        self.tables.len() - self.num_imported_tables
    }

    /// The number of memories the module defines.
    pub fn num_defined_memories(&self) -> usize {
        self.memories.len() - self.num_imported_memories
    }

    /// The number of globals the module defines.
    pub fn num_defined_globals(&self) -> usize {
        self.globals.len() - self.num_imported_globals
    }

    /// The function index of a defined function.
    pub fn func_index(&self, d: DefinedFuncIndex) -> FuncIndex {
        FuncIndex::new(self.num_imported_funcs + d.index())
    }

    /// The defined index of a function, or `None` for an import.
    pub fn defined_func_index(&self, f: FuncIndex) -> Option<DefinedFuncIndex> {
        f.index().checked_sub(self.num_imported_funcs).map(DefinedFuncIndex::new)
    }

    /// The table index of a defined table.
    pub fn table_index(&self, d: DefinedTableIndex) -> TableIndex {
        TableIndex::new(self.num_imported_tables + d.index())
    }

    /// The defined index of a table, or `None` for an import.
    pub fn defined_table_index(&self, t: TableIndex) -> Option<DefinedTableIndex> {
        t.index().checked_sub(self.num_imported_tables).map(DefinedTableIndex::new)
    }

    /// The memory index of a defined memory.
    pub fn memory_index(&self, d: DefinedMemoryIndex) -> MemoryIndex {
        MemoryIndex::new(self.num_imported_memories + d.index())
    }

    /// The defined index of a memory, or `None` for an import.
    pub fn defined_memory_index(&self, m: MemoryIndex) -> Option<DefinedMemoryIndex> {
        m.index().checked_sub(self.num_imported_memories).map(DefinedMemoryIndex::new)
    }

    /// The global index of a defined global.
    pub fn global_index(&self, d: DefinedGlobalIndex) -> GlobalIndex {
        GlobalIndex::new(self.num_imported_globals + d.index())
    }

    /// The defined index of a global, or `None` for an import.
    pub fn defined_global_index(&self, g: GlobalIndex) -> Option<DefinedGlobalIndex> {
        g.index().checked_sub(self.num_imported_globals).map(DefinedGlobalIndex::new)
    }

    /// Whether tag `t` is imported.
    pub fn is_imported_tag(&self, t: TagIndex) -> bool {
        t.index() < self.num_imported_tags
    }

    /// The export with this name.
    pub fn export(&self, name: &str) -> Option<EntityIndex> {
        self.exports.iter().find(|e| e.name == name).map(|e| e.index)
    }

    /// The name of a function in the name section.
    pub fn func_name(&self, f: FuncIndex) -> Option<&str> {
        self.func_names.get(&f).map(|s| s.as_str())
    }

    /// The symbol of the code `key` names in this module's artifact:
    /// `wasm[M]::function[N]::<name>` with the name section's (cleaned) name for wasm
    /// functions, a descriptive name for trampolines.
    pub fn symbol_name(&self, key: FuncKey) -> String {
        let name = match key {
            // A key from an artifact's table may name a function this module does not have.
            FuncKey::DefinedWasmFunction(_, def) if def.index() < self.num_defined_funcs() => {
                self.func_name(self.func_index(def))
            }
            _ => None,
        };
        key.symbol_name(name)
    }

    /// Check that every count and index of this description is consistent, as translation
    /// makes them: for a description decoded from an artifact, before anything indexes by it.
    ///
    /// # Errors
    /// A description of the first inconsistency found.
    pub fn check_consistent(&self) -> Result<(), String> {
        let limit = u32::MAX as usize - 1;
        let counts = [
            ("types", self.types.len()),
            ("functions", self.functions.len()),
            ("tables", self.tables.len()),
            ("memories", self.memories.len()),
            ("globals", self.globals.len()),
            ("tags", self.tags.len()),
            ("elements", self.elements.len()),
            ("data", self.data.len()),
        ];
        if let Some((what, n)) = counts.iter().find(|(_, n)| *n > limit) {
            return Err(format!("{n} {what}"));
        }
        let imported = [
            ("functions", self.num_imported_funcs, self.functions.len()),
            ("tables", self.num_imported_tables, self.tables.len()),
            ("memories", self.num_imported_memories, self.memories.len()),
            ("globals", self.num_imported_globals, self.globals.len()),
            ("tags", self.num_imported_tags, self.tags.len()),
        ];
        if let Some((what, n, total)) = imported.iter().find(|(_, n, total)| n > total) {
            return Err(format!("{n} imported {what} of {total}"));
        }
        // Instantiation fills index `i` of each kind from the `i`-th import of that kind, and
        // takes every index below the count of imported ones as filled: the imports must be
        // those indices, each once and in order.
        let mut next = [0usize; 5];
        for import in &self.imports {
            let (kind, index) = match import.index {
                EntityIndex::Function(f) => (0, f.index()),
                EntityIndex::Table(t) => (1, t.index()),
                EntityIndex::Memory(m) => (2, m.index()),
                EntityIndex::Global(g) => (3, g.index()),
                EntityIndex::Tag(t) => (4, t.index()),
            };
            if index != next[kind] {
                return Err(format!(
                    "import `{}::{}` of imported {} {index}",
                    import.module, import.field, imported[kind].0
                ));
            }
            next[kind] += 1;
        }
        if let Some(((what, n, _), got)) = imported.iter().zip(next).find(|((_, n, _), got)| n != got) {
            return Err(format!("{n} imported {what}, {got} imports of them"));
        }
        if self.type_dedup.len() != self.types.len() || self.type_dedup.values().any(|t| t.index() >= self.types.len())
        {
            return Err("type deduplication table".into());
        }
        self.check_types()?;
        let is_func = |t: TypeIndex| self.types.get(t).is_some_and(|t| t.as_func().is_some());
        if !self.functions.values().map(|f| f.ty).chain(self.tags.values().copied()).all(is_func) {
            return Err("a function or tag whose type is not a function type".into());
        }
        let names_a_type = |r: WasmRefType| match r.heap {
            WasmHeapType::Concrete(kind, c) => self.types.get(c).is_some_and(|t| t.kind() == kind),
            _ => true,
        };
        if !self
            .tables
            .values()
            .map(|t| t.element)
            .chain(self.globals.values().filter_map(|g| g.reference))
            .all(names_a_type)
            || self.globals.values().any(|g| g.reference.map(|r| r.representation()) != g.ty.is_ref().then_some(g.ty))
        {
            return Err("a table or global of a type out of range".into());
        }
        if self.global_inits.len() != self.num_defined_globals() || self.table_inits.len() != self.num_defined_tables()
        {
            return Err("initializers for the defined globals or tables".into());
        }
        let func = |f: FuncIndex| f.index() < self.functions.len();
        let entity = |e: EntityIndex| match e {
            EntityIndex::Function(f) => func(f),
            EntityIndex::Table(t) => t.index() < self.tables.len(),
            EntityIndex::Memory(m) => m.index() < self.memories.len(),
            EntityIndex::Global(g) => g.index() < self.globals.len(),
            EntityIndex::Tag(t) => t.index() < self.tags.len(),
        };
        let expr = |e: &ConstExpr| {
            e.ops.iter().all(|op| match op {
                ConstOp::RefFunc(f) => func(*f),
                ConstOp::GlobalGet(g) => g.index() < self.globals.len(),
                ConstOp::StructNew(t) | ConstOp::StructNewDefault(t) => {
                    self.types.get(*t).is_some_and(|t| t.kind() == TypeKind::Struct)
                }
                ConstOp::ArrayNew(t) | ConstOp::ArrayNewDefault(t) | ConstOp::ArrayNewFixed(t, _) => {
                    self.types.get(*t).is_some_and(|t| t.kind() == TypeKind::Array)
                }
                _ => true,
            })
        };
        if self.imports.iter().any(|i| !entity(i.index)) || self.exports.iter().any(|e| !entity(e.index)) {
            return Err("an import or export out of range".into());
        }
        if self.start.is_some_and(|f| !func(f)) || self.func_names.keys().any(|f| !func(*f)) {
            return Err("a start function or function name out of range".into());
        }
        if !self.global_inits.values().all(expr) || !self.table_inits.values().flatten().all(expr) {
            return Err("an initializer out of range".into());
        }
        for segment in self.elements.values() {
            let in_range = match &segment.mode {
                SegmentMode::Active(t, offset) => t.index() < self.tables.len() && expr(offset),
                _ => true,
            } && match &segment.items {
                ElementItems::Functions(fs) => fs.iter().all(|f| func(*f)),
                ElementItems::Expressions(_, es) => es.iter().all(expr),
            };
            if !in_range {
                return Err("an element segment out of range".into());
            }
        }
        for segment in self.data.values() {
            if let SegmentMode::Active(m, offset) = &segment.mode
                && (m.index() >= self.memories.len() || !expr(offset))
            {
                return Err("a data segment out of range".into());
            }
        }
        Ok(())
    }

    /// The module-local types that a host function may be called with from this module:
    /// each distinct signature once (the first index of the function types that have it).
    pub fn host_callable_types(&self) -> impl Iterator<Item = TypeIndex> + '_ {
        self.type_dedup.iter().filter(|(i, c)| i == *c && self.types[*i].as_func().is_some()).map(|(i, _)| i)
    }

    /// The first type index structurally equal to `ty`.
    pub fn canonical_type(&self, ty: TypeIndex) -> TypeIndex {
        self.type_dedup[ty]
    }

    /// Fill `type_dedup` from `types`.
    pub(crate) fn dedup_types(&mut self) {
        let mut first: std::collections::HashMap<&WasmFuncType, TypeIndex> = Default::default();
        let mut dedup = PrimaryMap::with_capacity(self.types.len());
        for (index, ty) in self.types.iter() {
            dedup.push(match ty.as_func() {
                Some(f) => *first.entry(f).or_insert(index),
                None => index,
            });
        }
        self.type_dedup = dedup;
    }

    /// Check the type section as translation makes it: rec groups that cover the types in
    /// order, each type naming only types of its own or earlier groups, of the kinds the
    /// references say, with a supertype before it of its own kind, and function types whose
    /// typed references agree with their representations.
    fn check_types(&self) -> Result<(), String> {
        let mut next = 0u32;
        for group in &self.rec_groups {
            if group.start.as_u32() != next || group.len == 0 {
                return Err("rec groups that do not cover the types".into());
            }
            next = next.checked_add(group.len).ok_or("a rec group out of range")?;
            let end = next as usize;
            if end > self.types.len() {
                return Err("a rec group out of range".into());
            }
            for t in group.types() {
                let ty = &self.types[t];
                let named_ok = |r: &WasmRefType| match r.heap {
                    WasmHeapType::Concrete(kind, c) => c.index() < end && self.types[c].kind() == kind,
                    _ => true,
                };
                let fields_ok = match &ty.composite {
                    WasmCompositeType::Func(f, refs) => refs
                        .iter()
                        .all(|r| f.param_or_result(r.position) == Some(r.ty.representation()) && named_ok(&r.ty)),
                    WasmCompositeType::Struct(fields) => fields.iter().all(|x| storage_ok(x.storage, &named_ok)),
                    WasmCompositeType::Array(element) => storage_ok(element.storage, &named_ok),
                };
                let super_ok =
                    ty.supertype.is_none_or(|s| s < t && !self.types[s].is_final && self.types[s].kind() == ty.kind());
                if !fields_ok || !super_ok {
                    return Err(format!("type {} names a type out of range", t.as_u32()));
                }
            }
        }
        if next as usize != self.types.len() {
            return Err("rec groups that do not cover the types".into());
        }
        Ok(())
    }
}

/// Whether a storage type is well formed: a value of a non-reference type, or a reference
/// `named_ok` accepts.
fn storage_ok(s: WasmStorageType, named_ok: &impl Fn(&WasmRefType) -> bool) -> bool {
    match s {
        WasmStorageType::Val(v) => !v.is_ref(),
        WasmStorageType::Ref(r) => named_ok(&r),
        WasmStorageType::I8 | WasmStorageType::I16 => true,
    }
}
