//! Instantiation: resolve and type-check imports, lay out and fill the `VMContext`, create the
//! defined memories, tables, globals and tags, apply element and data segments in order, and run the
//! start function. An instance that traps part-way stays in its store, with the effects of the
//! segments applied before the trap, as the spec requires.
use super::entry;
use super::host_func::give_host_funcs_entries;
use super::ids::{FuncId, GlobalId, InstanceId, MemoryId, TableId, TagId};
use super::limits::Limiter;
use super::memory::LinearMemory;
use super::store::{InstanceData, StoreOpaque, WholeStore};
use super::table::{LazyImage, TableStorage};
use super::val_raw::{RawRef, ValRaw};
use super::vm_ptr::VmPtr;
use super::vmcontext::{
    VMContextBlock, VMContextHeader, VMFuncRef, VMFunctionImport, VMGlobalDefinition, VMImport, VMMemoryDefinition,
    VMTableDefinition,
};
use crate::Error;
use cranelift_entity::{EntityRef, EntitySet, PrimaryMap, SecondaryMap};
use kiln_environ::{
    ConstExpr, ConstOp, DefinedFuncIndex, ElemIndex, ElementItems, EntityIndex, FuncIndex, FuncKey, GcLayout,
    IndexType, SegmentMode, SharedTypeIndex, Trap, VM_MAGIC,
};

/// An import, resolved to its handle in the store.
#[derive(Clone, Copy, Debug)]
pub enum ResolvedImport {
    /// A function.
    Func(FuncId),
    /// A table.
    Table(TableId),
    /// A memory.
    Memory(MemoryId),
    /// A global.
    Global(GlobalId),
    /// An exception tag.
    Tag(TagId),
}

fn link_error(import: &kiln_environ::Import, why: &str) -> Error {
    Error::Link(format!("incompatible import type for `{}::{}`: {why}", import.module, import.field))
}

fn limits_match(actual_min: u64, actual_max: Option<u64>, want_min: u64, want_max: Option<u64>) -> bool {
    actual_min >= want_min
        && match want_max {
            None => true,
            Some(w) => actual_max.is_some_and(|a| a <= w),
        }
}

/// Instantiate `module` in `store` with `imports` (one per module import, in order).
///
/// # Errors
/// A link error for imports of the wrong number or types, a limit for memories and tables
/// that cannot be created, and the trap of a segment or the start function (the instance
/// then stays in the store).
pub fn instantiate(
    store: &mut WholeStore<'_>,
    module: &crate::Module,
    imports: &[ResolvedImport],
) -> Result<InstanceId, Error> {
    let s = store.opaque();
    if !crate::Engine::same(s.engine(), module.engine()) {
        return Err(Error::Other("module and store belong to different engines".into()));
    }
    let env = module.env();
    if imports.len() != env.imports.len() {
        return Err(Error::Link(format!("expected {} imports, got {}", env.imports.len(), imports.len())));
    }
    check_imports(s, module, imports)?;
    let memories: Vec<_> = env.memories.values().skip(env.num_imported_memories).copied().collect();
    let tables: Vec<_> = env.tables.values().skip(env.num_imported_tables).copied().collect();
    super::limits::admit_instance(store, &memories, &tables)?;
    let s = store.opaque();
    // This keeps the module's code alive in the store, too.
    give_host_funcs_entries(s, module);
    let code = module.code().clone();

    let index = s.instances.next_key();
    let offsets = module.offsets();
    let mut vmctx = VMContextBlock::new(offsets.size());
    let header = VMContextHeader {
        magic: VM_MAGIC,
        builtins: VmPtr::from_ref(&super::builtins::BUILTINS),
        store_context: s.context(),
        instance: index,
    };
    // SAFETY: the builtin table is static, the store context lives as long as the store
    // that will own this instance, and `index` is the id the instance gets there.
    unsafe { vmctx.write_header(header) };
    for (t, _) in env.types.iter() {
        // SAFETY: the layout's type-id slot of `t` holds its engine-wide id (a plain u32).
        unsafe { vmctx.write(offsets.type_id(t), module.shared_type(t)) };
    }

    let mut data = InstanceData {
        module: module.clone(),
        vmctx,
        funcs: SecondaryMap::new(),
        tables: PrimaryMap::new(),
        memories: PrimaryMap::new(),
        globals: PrimaryMap::new(),
        tags: PrimaryMap::new(),
        dropped_data: EntitySet::with_capacity(env.data.len()),
        dropped_elems: EntitySet::with_capacity(env.elements.len()),
        gc_elements: Default::default(),
    };

    for (import, resolved) in env.imports.iter().zip(imports) {
        match (import.index, *resolved) {
            (EntityIndex::Function(f), ResolvedImport::Func(i)) => {
                let r = s.func_ref(i);
                let entry = VMFunctionImport {
                    wasm_call: r.wasm_call,
                    array_call: r.array_call,
                    vmctx: r.vmctx,
                    func_ref: s.func_ref_ptr(i),
                };
                // SAFETY: the import's slot holds a `VMFunctionImport`, whose pointers are into
                // a function this store owns (checked by type above) and its code, kept alive.
                unsafe { data.vmctx.write(offsets.imported_function(f), entry) };
                data.funcs[f] = Some(i);
            }
            (EntityIndex::Table(t), ResolvedImport::Table(i)) => {
                let from = s.tables[i].definition();
                // SAFETY: the slot holds the definition's pointer; the table is this store's.
                unsafe { data.vmctx.write(offsets.imported_table(t), VMImport { from }) };
                data.tables.push(i);
            }
            (EntityIndex::Memory(m), ResolvedImport::Memory(i)) => {
                let from = s.memories[i].definition();
                // SAFETY: the slot holds the definition's pointer; the memory is this store's.
                unsafe { data.vmctx.write(offsets.imported_memory(m), VMImport { from }) };
                data.memories.push(i);
            }
            (EntityIndex::Global(g), ResolvedImport::Global(i)) => {
                let from = s.global_def(i);
                // SAFETY: the slot holds the definition's pointer; the global is this store's.
                unsafe { data.vmctx.write(offsets.imported_global(g), VMImport { from }) };
                data.globals.push(i);
            }
            (EntityIndex::Tag(_), ResolvedImport::Tag(i)) => {
                data.tags.push(i);
            }
            _ => unreachable!("import kinds were checked above"),
        }
    }

    // Defined functions' references, found in the code by this module's own index (a
    // component's modules share one artifact's code).
    let m = module.static_index();
    for def in (0..env.num_defined_funcs()).map(DefinedFuncIndex::new) {
        let f = env.func_index(def);
        let func_ref = VMFuncRef {
            array_call: code.array_call(FuncKey::ArrayToWasmTrampoline(m, def)),
            wasm_call: code.func_code(FuncKey::DefinedWasmFunction(m, def)),
            type_index: module.shared_type(env.functions[f].ty),
            vmctx: data.vmctx.vmctx(),
        };
        // SAFETY: the slot holds the function's `VMFuncRef`: entries into this module's code,
        // which the store keeps, and this very vmctx.
        unsafe { data.vmctx.write(offsets.func_ref(def), func_ref) };
    }

    // Defined memories, tables and globals: everything that can fail happens before the
    // first of them enters the store, so a failure leaves nothing pointing into this vmctx.
    let (s, mut limiter) = super::limits::split(store);
    define_entities(s, &mut limiter, &mut data, index)?;

    // From here on the instance is observable even if a segment or the start function traps.
    s.instances.push(data);
    log::trace!("instantiated {} as {index:?}", module.name().unwrap_or("a module"));
    initialize(store, index)?;
    Ok(index)
}

/// Check each import's type against what the module expects.
fn check_imports(s: &StoreOpaque, module: &crate::Module, imports: &[ResolvedImport]) -> Result<(), Error> {
    let env = module.env();
    for (import, resolved) in env.imports.iter().zip(imports) {
        match (import.index, *resolved) {
            (EntityIndex::Function(f), ResolvedImport::Func(i)) => {
                let want = module.shared_type(env.functions[f].ty);
                if !s.engine().is_subtype(s.func_ref(i).type_index, want) {
                    return Err(link_error(import, "function types differ"));
                }
            }
            (EntityIndex::Table(t), ResolvedImport::Table(i)) => {
                let (want, have) = (env.tables[t].map(|t| module.shared_type(t)), s.tables[i].ty());
                // Tables are mutable: their element types must be equal.
                if want.element != have.element
                    || want.index_type != have.index_type
                    || !limits_match(have.minimum, have.maximum, want.minimum, want.maximum)
                {
                    return Err(link_error(import, "table types differ"));
                }
            }
            (EntityIndex::Memory(m), ResolvedImport::Memory(i)) => {
                let (want, have) = (env.memories[m], s.memories[i].ty());
                if want.index_type != have.index_type {
                    return Err(link_error(import, "memory index types differ"));
                }
                if !limits_match(have.minimum, have.maximum, want.minimum, want.maximum) {
                    return Err(link_error(import, "memory limits differ"));
                }
            }
            (EntityIndex::Global(g), ResolvedImport::Global(i)) => {
                let want = env.globals[g].map(|t| module.shared_type(t));
                if !s.global(i).ty.matches(&want, |a, b| s.engine().is_subtype(a, b)) {
                    return Err(link_error(import, "global types differ"));
                }
            }
            (EntityIndex::Tag(t), ResolvedImport::Tag(i)) => {
                // Tags are compared by their canonical function types, exactly.
                if s.tags[i] != module.shared_type(env.tags[t]) {
                    return Err(link_error(import, "tag types differ"));
                }
            }
            _ => return Err(link_error(import, "wrong kind of item")),
        }
    }
    Ok(())
}

/// Create the defined memories, tables, globals and tags of a new instance, with its tables'
/// initializer expressions applied, and add them to the store and the instance.
fn define_entities(
    store: &mut StoreOpaque,
    limiter: &mut Limiter<'_>,
    data: &mut InstanceData,
    index: InstanceId,
) -> Result<(), Error> {
    let module = data.module.clone();
    let env = module.env();
    let offsets = module.offsets();
    let tunables = store.engine().tunables().clone();
    let mut memories = Vec::with_capacity(env.num_defined_memories());
    for (m, ty) in env.memories.iter().skip(env.num_imported_memories) {
        let def = env.defined_memory_index(m).expect("defined memory");
        let mut memory = LinearMemory::new(*ty, &tunables, module.memory_image(def)).map_err(Error::Limit)?;
        // SAFETY: the definition lies in this instance's vmctx, which the store keeps with
        // the memory for as long as the store lives (or drops with it if this fails).
        unsafe { memory.set_definition(data.vmctx.at::<VMMemoryDefinition>(offsets.defined_memory(def))) };
        memories.push(memory);
    }
    let mut tables = Vec::with_capacity(env.num_defined_tables());
    // The tables' initial values, which nothing roots until the tables join the store.
    let mut initial = Vec::new();
    for (t, ty) in env.tables.iter().skip(env.num_imported_tables) {
        let encoded = tunables.table_lazy_init && ty.element_type() == kiln_environ::WasmValType::FuncRef;
        let ty = ty.map(|t| module.shared_type(t));
        let mut table = TableStorage::new(ty, RawRef::NULL, encoded).map_err(Error::Limit)?;
        let def = env.defined_table_index(t).expect("defined table");
        if let Some(elements) = module.table_image(def) {
            table.set_lazy_image(LazyImage { instance: index, elements: elements.clone() });
        }
        if let Some(init) = &env.table_inits[def] {
            let value = eval(store, limiter, Source::Building(data), &[], &initial, init)?.to_ref();
            initial.push(value);
            let len = table.len();
            table.fill(0, len, value);
        }
        // SAFETY: as for memories above.
        unsafe { table.set_definition(data.vmctx.at::<VMTableDefinition>(offsets.defined_table(def))) };
        tables.push(table);
    }
    // Globals, in order: an initializer may read the globals before it.
    let mut values = Vec::with_capacity(env.num_defined_globals());
    for (def, init) in env.global_inits.iter() {
        debug_assert_eq!(def.index(), values.len());
        values.push(eval(store, limiter, Source::Building(data), &values, &initial, init)?);
    }

    // Nothing fails from here on.
    for memory in memories {
        data.memories.push(store.memories.push(memory));
    }
    for table in tables {
        data.tables.push(store.tables.push(table));
    }
    for ((g, ty), value) in env.globals.iter().skip(env.num_imported_globals).zip(values) {
        let def = env.defined_global_index(g).expect("defined global");
        let at = offsets.defined_global(def);
        // SAFETY: the slot holds the global's value, plain bytes.
        unsafe { data.vmctx.write(at, VMGlobalDefinition { bytes: value.0 }) };
        let ty = ty.map(|t| module.shared_type(t));
        // SAFETY: as for memories above.
        data.globals.push(unsafe { store.add_global_def(data.vmctx.at::<VMGlobalDefinition>(at), ty) });
    }
    // Each defined tag is a new identity; the module's registration holds its type.
    for ty in env.tags.values().skip(env.num_imported_tags) {
        data.tags.push(store.tags.push(module.shared_type(*ty)));
    }
    Ok(())
}

fn initialize(store: &mut WholeStore<'_>, index: InstanceId) -> Result<(), Error> {
    let (s, mut limiter) = super::limits::split(store);
    let module = s.instances[index].module.clone();
    let env = module.env();
    // A passive segment whose expressions allocate is evaluated once, before any active
    // segment is applied (as the spec evaluates every segment first): whatever later reads
    // it gets these objects, and allocates nothing.
    for (e, segment) in env.elements.iter() {
        if let (SegmentMode::Passive, ElementItems::Expressions(_, exprs)) = (&segment.mode, &segment.items)
            && exprs.iter().any(|e| e.allocates())
        {
            let items = segment_items(s, &mut limiter, index, e, 0, exprs.len())?;
            s.instances[index].gc_elements.insert(e, items.into());
        }
    }
    for (e, segment) in env.elements.iter() {
        // Active and declared segments are dropped once instantiation has applied them.
        if !matches!(segment.mode, SegmentMode::Passive) {
            s.instances[index].dropped_elems.insert(e);
        }
        let SegmentMode::Active(table, offset) = &segment.mode else { continue };
        if module.segment_in_table_image(e) {
            // The table reads it from its image on demand.
            continue;
        }
        let offset = segment_offset(
            eval(s, &mut limiter, Source::Live(index), &[], &[], offset)?,
            env.tables[*table].index_type,
        );
        let items = segment_items(s, &mut limiter, index, e, 0, segment.items.len())?;
        let t = s.instances[index].tables[*table];
        if offset.checked_add(items.len() as u64).is_none_or(|end| end > s.tables[t].len()) {
            return Err(Error::Trap(Trap::TableOutOfBounds, None));
        }
        s.tables[t].write(offset, &items);
    }
    for (d, segment) in env.data.iter() {
        let SegmentMode::Active(memory, offset) = &segment.mode else { continue };
        s.instances[index].dropped_data.insert(d);
        if module.segment_is_imaged(d) {
            // Already mapped in from the module's memory image.
            continue;
        }
        let offset = segment_offset(
            eval(s, &mut limiter, Source::Live(index), &[], &[], offset)?,
            env.memories[*memory].index_type,
        );
        let m = s.instances[index].memories[*memory];
        let bytes = s.memories[m].data_mut();
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        let Some(dst) = offset.checked_add(segment.items.len()).and_then(|end| bytes.get_mut(offset..end)) else {
            return Err(Error::Trap(Trap::MemoryOutOfBounds, None));
        };
        dst.copy_from_slice(&segment.items);
    }
    if let Some(start) = env.start {
        let f = instance_func(s, index, start);
        let n = env.func_type(start).params.len().max(env.func_type(start).results.len());
        let mut values = vec![ValRaw::default(); n];
        entry::invoke(store, f, &mut values)?;
    }
    Ok(())
}

/// The references of items `start..start + len` of element segment `elem` of instance
/// `index`, after its instantiation (a segment whose expressions allocate was evaluated
/// then, so this allocates nothing). The caller checks the range.
///
/// # Errors
/// For a malformed constant expression.
pub fn element_items(
    store: &mut StoreOpaque,
    index: InstanceId,
    elem: ElemIndex,
    start: usize,
    len: usize,
) -> Result<Vec<RawRef>, Error> {
    segment_items(store, &mut None, index, elem, start, len)
}

/// [`element_items`], evaluated now, or at instantiation for one whose expressions allocate
/// (with the store's limiter for the GC heap).
///
/// # Errors
/// For a malformed constant expression, and when an allocation fails.
fn segment_items(
    store: &mut StoreOpaque,
    limiter: &mut Limiter<'_>,
    index: InstanceId,
    elem: ElemIndex,
    start: usize,
    len: usize,
) -> Result<Vec<RawRef>, Error> {
    if let Some(items) = store.instances[index].gc_elements.get(&elem) {
        return Ok(items[start..start + len].to_vec());
    }
    let module = store.instances[index].module.clone();
    match &module.env().elements[elem].items {
        ElementItems::Functions(funcs) => {
            let data = &store.instances[index];
            Ok(funcs[start..start + len].iter().map(|f| RawRef::func(Some(func_ref_in(store, data, *f)))).collect())
        }
        ElementItems::Expressions(_, exprs) => {
            let mut items = Vec::with_capacity(len);
            for e in &exprs[start..start + len] {
                // The items made so far are roots of the next one's allocations.
                let item = eval(store, limiter, Source::Live(index), &[], &items, e)?.to_ref();
                items.push(item);
            }
            Ok(items)
        }
    }
}

/// The `VMFuncRef` of function `f` of instance `instance`.
pub fn func_ref_of(store: &StoreOpaque, instance: InstanceId, f: FuncIndex) -> VmPtr<VMFuncRef> {
    func_ref_in(store, &store.instances[instance], f)
}

/// The `VMFuncRef` of function `f` of an instance (possibly not yet in the store).
fn func_ref_in(store: &StoreOpaque, data: &InstanceData, f: FuncIndex) -> VmPtr<VMFuncRef> {
    let env = data.module.env();
    match env.defined_func_index(f) {
        Some(def) => data.vmctx.at(data.module.offsets().func_ref(def)),
        None => store.func_ref_ptr(data.funcs[f].expect("an imported function is resolved")),
    }
}

/// The store handle of function `f` of instance `index`, registering it on first use.
pub fn instance_func(store: &mut StoreOpaque, index: InstanceId, f: FuncIndex) -> FuncId {
    if let Some(i) = store.instances[index].funcs[f] {
        return i;
    }
    let func_ref = func_ref_of(store, index, f);
    let module = store.instances[index].module.clone();
    // SAFETY: a defined function's reference lies in the instance's vmctx, which the store
    // keeps for life (an imported one is registered already, above), and it has this type.
    let i = unsafe { store.add_func_ref(func_ref, None, module.env().func_type(f)) };
    store.instances[index].funcs[f] = Some(i);
    i
}

/// The value of an active segment's offset expression, of the index type of the table or
/// memory it is for.
fn segment_offset(value: ValRaw, ty: IndexType) -> u64 {
    value.bits() as u64 & ty.max_value()
}

/// The instance a constant expression is evaluated for: one being built (not in the store
/// yet), or one of the store's.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// An instance being built.
    Building(&'a InstanceData),
    /// Instance `id` of the store.
    Live(InstanceId),
}

impl<'a> Source<'a> {
    fn data<'s>(self, store: &'s StoreOpaque) -> &'s InstanceData
    where
        'a: 's,
    {
        match self {
            Source::Building(data) => data,
            Source::Live(id) => &store.instances[id],
        }
    }
}

/// Evaluate a constant expression in the context of a (partly built) instance, whose
/// defined globals are either in the instance already or, while they are being initialized,
/// the values in `defining` so far. An allocation keeps the operands, `defining` and `keep`
/// (references made before this expression that nothing else holds yet) across the
/// collection it may make.
fn eval(
    store: &mut StoreOpaque,
    limiter: &mut Limiter<'_>,
    source: Source<'_>,
    defining: &[ValRaw],
    keep: &[RawRef],
    expr: &ConstExpr,
) -> Result<ValRaw, Error> {
    let mut stack: Vec<u128> = Vec::with_capacity(4);
    let malformed = || Error::Other("malformed constant expression".into());
    let pop = |stack: &mut Vec<u128>| stack.pop().ok_or_else(malformed);
    let module = source.data(store).module.clone();
    for op in &expr.ops {
        let v = match *op {
            ConstOp::I32Const(v) => v as u32 as u128,
            ConstOp::I64Const(v) => v as u64 as u128,
            ConstOp::F32Const(v) => v as u128,
            ConstOp::F64Const(v) => v as u128,
            ConstOp::V128Const(v) => v,
            ConstOp::RefNull => 0,
            ConstOp::RefFunc(f) => {
                let data = source.data(store);
                ValRaw::from_ref(RawRef::func(Some(func_ref_in(store, data, f)))).bits()
            }
            ConstOp::RefI31 => {
                let v = pop(&mut stack)? as u32;
                ValRaw::from_ref(RawRef::any(crate::I31::wrapping_u32(v).to_word())).bits()
            }
            ConstOp::Convert => pop(&mut stack)?,
            ConstOp::GlobalGet(g) => {
                let data = source.data(store);
                match data.globals.get(g) {
                    Some(i) => store.global_get(*i).bits(),
                    None => defining
                        .get(g.index() - data.globals.len())
                        .ok_or_else(|| Error::Other("global read before it is defined".into()))?
                        .bits(),
                }
            }
            ConstOp::StructNew(t) | ConstOp::StructNewDefault(t) => {
                let ty = module.shared_type(t);
                let Some(layout) = store.engine().gc_layout(ty) else { return Err(malformed()) };
                let GcLayout::Struct { fields, .. } = &*layout else { return Err(malformed()) };
                let values = match op {
                    ConstOp::StructNew(_) => {
                        stack.split_off(stack.len().checked_sub(fields.len()).ok_or_else(malformed)?)
                    }
                    _ => Vec::new(),
                };
                let word = allocate(store, limiter, ty, 0, [&stack, &values], defining, keep)?;
                let heap = store.gc.heap.as_mut().ok_or_else(malformed)?;
                for (f, v) in fields.iter().zip(values) {
                    heap.write_field(word + f.offset, f.size, v);
                }
                u128::from(word)
            }
            ConstOp::ArrayNew(t) | ConstOp::ArrayNewDefault(t) | ConstOp::ArrayNewFixed(t, _) => {
                let ty = module.shared_type(t);
                let Some(layout) = store.engine().gc_layout(ty) else { return Err(malformed()) };
                let GcLayout::Array { element } = *layout else { return Err(malformed()) };
                // The elements one by one (`array.new_fixed`), or one value for them all.
                let (length, values) = match *op {
                    ConstOp::ArrayNewFixed(_, n) => {
                        let at = stack.len().checked_sub(n as usize).ok_or_else(malformed)?;
                        (n, stack.split_off(at))
                    }
                    ConstOp::ArrayNew(_) => {
                        let length = pop(&mut stack)? as u32;
                        (length, vec![pop(&mut stack)?])
                    }
                    _ => (pop(&mut stack)? as u32, Vec::new()),
                };
                if length > layout.max_length() {
                    return Err(Error::Trap(Trap::AllocationTooLarge, None));
                }
                let word = allocate(store, limiter, ty, length, [&stack, &values], defining, keep)?;
                let heap = store.gc.heap.as_mut().ok_or_else(malformed)?;
                let at = |i: u32| word + element.offset + i * element.size;
                match (op, values.first()) {
                    (ConstOp::ArrayNew(_), Some(v)) => {
                        (0..length).for_each(|i| heap.write_field(at(i), element.size, *v))
                    }
                    _ => (0u32..).zip(values).for_each(|(i, v)| heap.write_field(at(i), element.size, v)),
                }
                u128::from(word)
            }
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                let (b, a) = (pop(&mut stack)? as u32, pop(&mut stack)? as u32);
                (match op {
                    ConstOp::I32Add => a.wrapping_add(b),
                    ConstOp::I32Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                }) as u128
            }
            ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                let (b, a) = (pop(&mut stack)? as u64, pop(&mut stack)? as u64);
                (match op {
                    ConstOp::I64Add => a.wrapping_add(b),
                    ConstOp::I64Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                }) as u128
            }
        };
        stack.push(v);
    }
    Ok(ValRaw::from_bits(pop(&mut stack)?))
}

/// Allocate an object of canonical type `ty` for a constant expression, keeping every
/// operand in `operands`, every global in `defining` (words or not: a number that is no
/// reference keeps nothing) and `keep` across the collection this may make.
fn allocate(
    store: &mut StoreOpaque,
    limiter: &mut Limiter<'_>,
    ty: SharedTypeIndex,
    length: u32,
    operands: [&[u128]; 2],
    defining: &[ValRaw],
    keep: &[RawRef],
) -> Result<u32, Error> {
    let keep: Vec<RawRef> = operands
        .iter()
        .flat_map(|o| o.iter())
        .map(|v| ValRaw::from_bits(*v).to_ref())
        .chain(defining.iter().map(|v| v.to_ref()))
        .chain(keep.iter().copied())
        .collect();
    store
        .gc_alloc(ty, length, &keep, super::limits::reborrow(limiter))?
        .ok_or(Error::Trap(Trap::GcHeapOutOfMemory, None))
}
