//! Instantiation: resolve and type-check imports, lay out and fill the `VMContext`, create the
//! defined memories, tables and globals, apply element and data segments in order, and run the
//! start function. An instance that traps part-way stays in its store, with the effects of the
//! segments applied before the trap, as the spec requires.
use super::memory::LinearMemory;
use super::store::{InstanceData, StoreOpaque, ValRaw, init_vmctx_header};
use super::table::{LazyImage, TableStorage};
use super::vmcontext::*;
use crate::Error;
use cranelift_entity::EntityRef;
use kiln_environ::{
    ConstExpr, ConstOp, DefinedFuncIndex, ElementItems, EntityIndex, FuncIndex, FuncKey, SegmentMode, Trap, VMOffsets,
};

/// An import, resolved to its index in the store.
#[derive(Clone, Copy, Debug)]
pub enum ResolvedImport {
    Func(usize),
    Table(usize),
    Memory(usize),
    Global(usize),
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
pub fn instantiate(
    store: &mut StoreOpaque,
    module: &crate::Module,
    imports: &[ResolvedImport],
) -> Result<usize, Error> {
    let env = module.env();
    if imports.len() != env.imports.len() {
        return Err(Error::Link(format!("expected {} imports, got {}", env.imports.len(), imports.len())));
    }
    let offsets: &VMOffsets = module.offsets();
    let code = module.code().clone();
    store.keep_code(&code);
    store.give_host_funcs_entries(module);

    // Type-check the imports.
    for (import, resolved) in env.imports.iter().zip(imports) {
        let typed_reference = match import.index {
            EntityIndex::Table(t) => env.tables[t].typed_reference,
            EntityIndex::Global(g) => env.globals[g].typed_reference,
            _ => false,
        };
        if typed_reference {
            return Err(Error::Unsupported(format!(
                "importing `{}::{}`, whose type is a typed reference (function references)",
                import.module, import.field
            )));
        }
        match (import.index, *resolved) {
            (EntityIndex::Function(f), ResolvedImport::Func(i)) => {
                let want = module.shared_type(env.functions[f].ty);
                if store.func_ref(i).type_index != want {
                    return Err(link_error(import, "function types differ"));
                }
            }
            (EntityIndex::Table(t), ResolvedImport::Table(i)) => {
                let (want, have) = (env.tables[t], store.tables[i].ty());
                if want.element != have.element
                    || want.typed_reference != have.typed_reference
                    || !limits_match(have.minimum, have.maximum, want.minimum, want.maximum)
                {
                    return Err(link_error(import, "table types differ"));
                }
            }
            (EntityIndex::Memory(m), ResolvedImport::Memory(i)) => {
                let (want, have) = (env.memories[m], store.memories[i].ty());
                if !limits_match(have.minimum, have.maximum, want.minimum, want.maximum) {
                    return Err(link_error(import, "memory limits differ"));
                }
            }
            (EntityIndex::Global(g), ResolvedImport::Global(i)) => {
                if env.globals[g] != store.globals[i].ty {
                    return Err(link_error(import, "global types differ"));
                }
            }
            _ => return Err(link_error(import, "wrong kind of item")),
        }
    }

    let index = store.instances.len();
    let vmctx = VMContextBlock::new(offsets.size());
    init_vmctx_header(store, &vmctx, index);
    for (t, _) in env.types.iter() {
        vmctx.write(offsets.type_id(t), module.shared_type(t));
    }

    let mut data = InstanceData {
        module: module.clone(),
        vmctx,
        funcs: vec![None; env.functions.len()],
        tables: Vec::new(),
        memories: Vec::new(),
        globals: Vec::new(),
        dropped_data: vec![false; env.data.len()],
        dropped_elems: vec![false; env.elements.len()],
    };

    // Imports.
    let mut imported_funcs = 0;
    for (import, resolved) in env.imports.iter().zip(imports) {
        match (import.index, *resolved) {
            (EntityIndex::Function(f), ResolvedImport::Func(i)) => {
                let r = store.func_ref(i);
                let entry = VMFunctionImport {
                    wasm_call: r.wasm_call,
                    array_call: r.array_call,
                    vmctx: r.vmctx,
                    func_ref: r as *const VMFuncRef,
                };
                data.vmctx.write(offsets.imported_function(f), entry);
                data.funcs[f.index()] = Some(i);
                imported_funcs += 1;
            }
            (EntityIndex::Table(t), ResolvedImport::Table(i)) => {
                data.vmctx.write(offsets.imported_table(t), VMImport { from: store.tables[i].definition(), vmctx: 0 });
                data.tables.push(i);
            }
            (EntityIndex::Memory(m), ResolvedImport::Memory(i)) => {
                data.vmctx
                    .write(offsets.imported_memory(m), VMImport { from: store.memories[i].definition(), vmctx: 0 });
                data.memories.push(i);
            }
            (EntityIndex::Global(g), ResolvedImport::Global(i)) => {
                data.vmctx.write(offsets.imported_global(g), store.globals[i].def);
                data.globals.push(i);
            }
            _ => unreachable!("import kinds were checked above"),
        }
    }
    debug_assert_eq!(imported_funcs, env.num_imported_funcs);

    // Defined functions' references.
    for def in (0..env.num_defined_funcs()).map(DefinedFuncIndex::new) {
        let f = env.func_index(def);
        let func_ref = VMFuncRef {
            array_call: code.func_addr(FuncKey::ArrayToWasmTrampoline(0, def)).unwrap_or(0),
            wasm_call: code.func_addr(FuncKey::DefinedWasmFunction(0, def)).unwrap_or(0),
            type_index: module.shared_type(env.functions[f].ty),
            vmctx: data.vmctx.addr(),
        };
        data.vmctx.write(offsets.func_ref(def), func_ref);
    }

    // Defined memories, tables and globals. Until the instance is committed to the store,
    // a failure rolls the store back: nothing may keep pointing into this vmctx.
    let saved = (store.memories.len(), store.tables.len(), store.globals.len());
    if let Err(e) = define_entities(store, &mut data, index) {
        store.memories.truncate(saved.0);
        store.tables.truncate(saved.1);
        store.globals.truncate(saved.2);
        return Err(e);
    }

    // From here on the instance is observable even if a segment or the start function traps.
    store.instances.push(data);
    let result = initialize(store, index);
    result.map(|()| index)
}

/// Create the defined memories, tables and globals of a new instance and initialize tables.
fn define_entities(store: &mut StoreOpaque, data: &mut InstanceData, index: usize) -> Result<(), Error> {
    let module = data.module.clone();
    let env = module.env();
    let offsets = module.offsets();
    let tunables = store.engine.tunables().clone();
    for (m, ty) in env.memories.iter().skip(env.num_imported_memories) {
        let def = env.defined_memory_index(m).expect("defined memory");
        let mut memory = LinearMemory::new(*ty, &tunables, module.memory_image(def)).map_err(Error::Limit)?;
        memory.set_definition(data.vmctx.at(offsets.defined_memory(def)));
        store.memories.push(memory);
        data.memories.push(store.memories.len() - 1);
    }
    for (t, ty) in env.tables.iter().skip(env.num_imported_tables) {
        let encoded = tunables.table_lazy_init && ty.element == kiln_environ::WasmValType::FuncRef;
        let mut table = TableStorage::new(*ty, 0, encoded).map_err(Error::Limit)?;
        let def = env.defined_table_index(t).expect("defined table");
        if let Some(elements) = module.table_image(def) {
            table.set_lazy_image(LazyImage { instance: index, elements: elements.clone() });
        }
        table.set_definition(data.vmctx.at(offsets.defined_table(def)));
        store.tables.push(table);
        data.tables.push(store.tables.len() - 1);
    }

    // Globals, in order (an initializer may read earlier globals).
    for (g, ty) in env.globals.iter().skip(env.num_imported_globals) {
        let def = env.defined_global_index(g).expect("defined global");
        let value = eval(store, data, &env.global_inits[def])?;
        let ptr: *mut VMGlobalDefinition = data.vmctx.at(offsets.defined_global(def));
        data.vmctx.write(offsets.defined_global(def), VMGlobalDefinition { bytes: value.0 });
        data.globals.push(store.add_global_def(ptr, *ty));
    }

    // Table initializer expressions.
    for (def, init) in env.table_inits.iter() {
        if let Some(init) = init {
            let value = eval(store, data, init)?.bits() as usize;
            let t = data.tables[env.table_index(def).index()];
            let len = store.tables[t].len();
            store.tables[t].fill(0, len, value);
        }
    }

    Ok(())
}

fn initialize(store: &mut StoreOpaque, index: usize) -> Result<(), Error> {
    let module = store.instances[index].module.clone();
    let env = module.env();
    for (e, segment) in env.elements.iter() {
        // Active and declared segments are dropped once instantiation has applied them.
        store.instances[index].dropped_elems[e.index()] = !matches!(segment.mode, SegmentMode::Passive);
        let SegmentMode::Active(table, offset) = &segment.mode else { continue };
        if module.segment_in_table_image(e) {
            // The table reads it from its image on demand.
            continue;
        }
        let offset = eval(store, &store.instances[index], offset)?.bits() as u32 as usize;
        let items = element_items(store, index, &segment.items, 0, segment.items.len())?;
        let t = store.instances[index].tables[table.index()];
        if offset.checked_add(items.len()).is_none_or(|end| end > store.tables[t].len()) {
            return Err(Error::Trap(Trap::TableOutOfBounds, None));
        }
        store.tables[t].write(offset, &items);
    }
    for (d, segment) in env.data.iter() {
        let SegmentMode::Active(memory, offset) = &segment.mode else { continue };
        store.instances[index].dropped_data[d.index()] = true;
        if module.segment_is_imaged(d) {
            // Already mapped in from the module's memory image.
            continue;
        }
        let offset = eval(store, &store.instances[index], offset)?.bits() as u32 as usize;
        let m = store.instances[index].memories[memory.index()];
        let bytes = store.memories[m].data_mut();
        let Some(dst) = offset.checked_add(segment.items.len()).and_then(|end| bytes.get_mut(offset..end)) else {
            return Err(Error::Trap(Trap::MemoryOutOfBounds, None));
        };
        dst.copy_from_slice(&segment.items);
    }
    if let Some(start) = env.start {
        let f = instance_func(store, index, start);
        let n = env.func_type(start).params.len().max(env.func_type(start).results.len());
        let mut values = vec![ValRaw::default(); n];
        store.call(f, &mut values)?;
    }
    Ok(())
}

/// The raw values (function reference addresses) of `items[start..start + len]` of an element
/// segment of instance `index`. The caller checks the range.
pub fn element_items(
    store: &StoreOpaque,
    index: usize,
    items: &ElementItems,
    start: usize,
    len: usize,
) -> Result<Vec<usize>, Error> {
    let data = &store.instances[index];
    match items {
        ElementItems::Functions(funcs) => {
            Ok(funcs[start..start + len].iter().map(|f| func_ref_addr(store, data, *f)).collect())
        }
        ElementItems::Expressions(_, exprs) => {
            exprs[start..start + len].iter().map(|e| Ok(eval(store, data, e)?.bits() as usize)).collect()
        }
    }
}

/// The address of the `VMFuncRef` of function `f` of an instance.
pub fn func_ref_addr(store: &StoreOpaque, data: &InstanceData, f: FuncIndex) -> usize {
    let env = data.module.env();
    match env.defined_func_index(f) {
        Some(def) => data.vmctx.addr() + data.module.offsets().func_ref(def) as usize,
        None => store.funcs[data.funcs[f.index()].expect("imported function")].func_ref as usize,
    }
}

/// The store index of function `f` of instance `index`, registering it on first use.
pub fn instance_func(store: &mut StoreOpaque, index: usize, f: FuncIndex) -> usize {
    if let Some(i) = store.instances[index].funcs[f.index()] {
        return i;
    }
    let addr = func_ref_addr(store, &store.instances[index], f);
    let i = store.add_func_ref(addr as *const VMFuncRef, None);
    store.instances[index].funcs[f.index()] = Some(i);
    i
}

/// Evaluate a constant expression in the context of a (partly built) instance.
fn eval(store: &StoreOpaque, data: &InstanceData, expr: &ConstExpr) -> Result<ValRaw, Error> {
    let mut stack: Vec<u128> = Vec::with_capacity(4);
    let pop = |stack: &mut Vec<u128>| stack.pop().ok_or_else(|| Error::Other("malformed constant expression".into()));
    for op in &expr.ops {
        let v = match *op {
            ConstOp::I32Const(v) => v as u32 as u128,
            ConstOp::I64Const(v) => v as u64 as u128,
            ConstOp::F32Const(v) => v as u128,
            ConstOp::F64Const(v) => v as u128,
            ConstOp::V128Const(v) => v,
            ConstOp::RefNull => 0,
            ConstOp::RefFunc(f) => func_ref_addr(store, data, f) as u128,
            ConstOp::GlobalGet(g) => {
                let i = *data
                    .globals
                    .get(g.index())
                    .ok_or_else(|| Error::Other("global read before it is defined".into()))?;
                store.global_get(i).bits()
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
