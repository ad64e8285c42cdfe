//! Fused adapters: a call from one component instance to a function another instance
//! lifted, compiled as a core wasm function that copies the arguments from the caller's
//! representation into the callee's (flat values or linear memory, through the callee's
//! `realloc`), calls the callee, copies the results back, and runs `post-return`, so that no
//! value passes through the host. Each adapter is a small core module of its own, compiled
//! with the component's modules into its artifact and instantiated in place of the lowered
//! function.
//!
//! The canonical ABI's per-instance flags are mutable `i32` globals the runtime creates (bit
//! [`FLAG_MAY_LEAVE`], bit [`FLAG_MAY_ENTER`]) and the adapter reads and writes: a trap
//! anywhere in the call leaves the callee's `may_enter` cleared, which poisons it as the
//! runtime's own calls do. A trap the canonical ABI defines is a call of the imported
//! [`CoreDef::AdapterTrap`] with its [`AdapterTrap`] code; string encodings are checked by
//! the imported [`CoreDef::ValidateString`] on the source memory, before anything is copied.
//!
//! Handles (`own`, `borrow`) move between the runtime's handle tables through the imported
//! `ResourceTransfer*` functions, borrows inside a scope `ResourceEnterCall` opens and
//! `ResourceExitCall` checks. What is not fused keeps the runtime's host-side path, which
//! is exact for every type: maps, strings unless both
//! sides use utf8 or both utf16 (other pairs transcode), async functions and components that use the task intrinsics (a
//! fused call would not open the task they read), and calls between an instance and its
//! ancestor (refused at run time).
use wasm_encoder::{
    CodeSection, EntityType, ExportKind, ExportSection, Function, FunctionSection, GlobalType, ImportSection,
    Instruction as I, MemArg, MemArgTarget, MemoryType, Module, NameMap, NameSection, TypeSection, ValType,
};

use super::info::{CanonicalOptions, ComponentInfo, CoreDef, Initializer, LiftedFunction, LowerSource, StringEncoding};
use super::types::{ComponentTypes, FlatType, InterfaceType, ResourceIndex, TypeFuncIndex, discriminant_size};
use crate::StaticModuleIndex;
use std::collections::{BTreeMap, BTreeSet};

/// The flags bit set while an instance may call out of itself (clear during `post-return`).
pub const FLAG_MAY_LEAVE: i32 = 1;
/// The flags bit set while an instance may be entered (clear while it runs, and for good
/// once a trap left it).
pub const FLAG_MAY_ENTER: i32 = 2;

/// The export of an adapter module that is the lowered function.
pub const ADAPTER_EXPORT: &str = "adapter";

/// The traps of the canonical ABI an adapter raises, by the code it passes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum AdapterTrap {
    /// The caller is running `post-return`.
    CannotLeave = 0,
    /// The callee is running, or a trap left it.
    CannotEnter = 1,
    /// A pointer not aligned for what it points at.
    UnalignedPointer = 2,
    /// A list outside its memory (or `realloc`'s answer for one).
    ListOutOfBounds = 3,
    /// A string outside its memory (or `realloc`'s answer for one).
    StringOutOfBounds = 4,
    /// A `char` that is not a Unicode scalar value.
    InvalidChar = 5,
    /// A variant, enum, option or result discriminant with no case.
    InvalidDiscriminant = 6,
    /// The caller's parameters pointer outside its memory.
    ParamsOutOfBounds = 7,
    /// A results pointer outside its memory.
    ResultOutOfBounds = 8,
    /// A wasm exception that the callee did not catch: it may not cross into the caller.
    UncaughtException = 9,
}

impl AdapterTrap {
    const ALL: [AdapterTrap; 10] = [
        AdapterTrap::CannotLeave,
        AdapterTrap::CannotEnter,
        AdapterTrap::UnalignedPointer,
        AdapterTrap::ListOutOfBounds,
        AdapterTrap::StringOutOfBounds,
        AdapterTrap::InvalidChar,
        AdapterTrap::InvalidDiscriminant,
        AdapterTrap::ParamsOutOfBounds,
        AdapterTrap::ResultOutOfBounds,
        AdapterTrap::UncaughtException,
    ];

    /// The trap a code names.
    pub fn from_code(code: u32) -> Option<AdapterTrap> {
        Self::ALL.get(code as usize).copied()
    }

    /// The trap's message (the one wasmtime's adapters report).
    pub fn message(self) -> &'static str {
        match self {
            AdapterTrap::CannotLeave => "cannot leave component instance",
            AdapterTrap::CannotEnter => "cannot enter component instance",
            AdapterTrap::UnalignedPointer => "unaligned pointer",
            AdapterTrap::ListOutOfBounds => "list content out-of-bounds",
            AdapterTrap::StringOutOfBounds => "string content out-of-bounds",
            AdapterTrap::InvalidChar => "invalid `char` bit pattern",
            AdapterTrap::InvalidDiscriminant => "invalid variant discriminant",
            AdapterTrap::ParamsOutOfBounds => "params pointer out-of-bounds",
            AdapterTrap::ResultOutOfBounds => "result pointer out-of-bounds",
            AdapterTrap::UncaughtException => "uncaught wasm exception left its component instance",
        }
    }
}

/// Replaces every lowering of another instance's lifted function that can be fused by an
/// adapter, returning the adapters' module bytes: the first is `StaticModuleIndex`
/// `first_module`, the next one more, and so on.
pub(crate) fn fuse(info: &mut ComponentInfo, first_module: usize) -> Vec<Vec<u8>> {
    if uses_tasks(info) {
        return Vec::new();
    }
    let mut modules = Vec::new();
    let mut lowered = 0u32;
    for i in 0..info.initializers.len() {
        let Initializer::Lower { source, ty, options } = &info.initializers[i] else { continue };
        lowered += 1;
        let LowerSource::Lifted(lifted) = source else { continue };
        let Some(plan) = Plan::new(info, lifted, *ty, options) else { continue };
        let (bytes, args) = plan.generate(&info.types, lifted, lowered - 1);
        let module = StaticModuleIndex::from_u32((first_module + modules.len()) as u32);
        modules.push(bytes);
        let (ty, options) = (*ty, options.clone());
        info.initializers[i] = Initializer::Lower { source: LowerSource::Adapter { module, args }, ty, options };
    }
    modules
}

/// Whether any core instance imports a task intrinsic, or any function is `async`: such a
/// component's calls each need the task the runtime opens.
fn uses_tasks(info: &ComponentInfo) -> bool {
    info.initializers.iter().any(|init| match init {
        Initializer::InstantiateModule { args, .. } => args.iter().any(|a| {
            matches!(
                a,
                CoreDef::TaskReturn { .. }
                    | CoreDef::ContextGet(_)
                    | CoreDef::ContextSet(_)
                    | CoreDef::BackpressureInc(_)
                    | CoreDef::BackpressureDec(_)
                    | CoreDef::Unsupported { .. }
            )
        }),
        Initializer::Lower { options, source, .. } => {
            options.async_ || matches!(source, LowerSource::Lifted(l) if l.options.async_)
        }
        _ => false,
    })
}

/// What one adapter needs, decided before its code is written (imports come first in each
/// index space).
struct Plan {
    ty: TypeFuncIndex,
    caller: CanonicalOptions,
    callee: CanonicalOptions,
    /// What the parameters and the result hold (borrows only in parameters).
    params: Contents,
    results: Contents,
    params_in_memory: bool,
    results_in_memory: bool,
}

/// A handle type: whether it is a borrow, and its resource.
type Handle = (bool, ResourceIndex);

/// What a type contains that decides an adapter's imports.
#[derive(Default)]
struct Contents {
    strings: bool,
    lists: bool,
    handles: BTreeSet<Handle>,
    unfusable: bool,
}

fn contents(types: &ComponentTypes, roots: impl Iterator<Item = InterfaceType>) -> Contents {
    let mut c = Contents::default();
    // Types nest at most as deep as validation allows; an explicit stack all the same.
    let mut work: Vec<InterfaceType> = roots.collect();
    while let Some(t) = work.pop() {
        match t {
            InterfaceType::String => c.strings = true,
            InterfaceType::List(i) => {
                c.lists = true;
                work.push(types.lists[i]);
            }
            InterfaceType::Own(r) => _ = c.handles.insert((false, r)),
            InterfaceType::Borrow(r) => _ = c.handles.insert((true, r)),
            InterfaceType::Map(_) => c.unfusable = true,
            InterfaceType::Record(i) => work.extend(types.records[i].fields.iter().map(|(_, t)| *t)),
            InterfaceType::Tuple(i) => work.extend(types.tuples[i].types.iter().copied()),
            InterfaceType::Variant(i) => work.extend(types.variants[i].cases.iter().filter_map(|(_, t)| *t)),
            InterfaceType::Option(i) => work.push(types.options[i]),
            InterfaceType::Result(i) => work.extend([types.results[i].ok, types.results[i].err].into_iter().flatten()),
            _ => {}
        }
    }
    c
}

impl Plan {
    fn new(
        info: &ComponentInfo,
        lifted: &LiftedFunction,
        ty: TypeFuncIndex,
        caller: &CanonicalOptions,
    ) -> Option<Plan> {
        let callee = &lifted.options;
        if lifted.ty != ty || info.related(caller.instance, callee.instance) {
            return None;
        }
        let types = &info.types;
        let func = &types.funcs[ty];
        let params = contents(types, func.params.iter().map(|(_, t)| *t));
        let results = contents(types, func.result.into_iter());
        if params.unfusable || results.unfusable {
            return None;
        }
        // Strings are copied as they are: between two utf8 or two utf16 sides. (A
        // latin1+utf16 string is lowered in the narrowest encoding that holds it, whatever
        // the encoding it was lifted from.)
        let copyable =
            caller.string_encoding == callee.string_encoding && caller.string_encoding != StringEncoding::CompactUtf16;
        if (params.strings || results.strings) && !copyable {
            return None;
        }
        let plan = Plan {
            ty,
            caller: caller.clone(),
            callee: callee.clone(),
            params,
            results,
            params_in_memory: types.flat_params(ty).is_none(),
            results_in_memory: types.flat_results(ty).is_none(),
        };
        let memories_present = caller.memory.is_some() && callee.memory.is_some();
        if (plan.needs_memory() && !memories_present)
            || (plan.callee_allocates() && callee.realloc.is_none())
            || (plan.caller_allocates() && caller.realloc.is_none())
        {
            return None;
        }
        Some(plan)
    }

    /// Whether the callee's `realloc` is called: for parameters in memory, or strings and
    /// lists among them.
    fn callee_allocates(&self) -> bool {
        self.params_in_memory || self.params.strings || self.params.lists
    }

    /// Whether the caller's `realloc` is called: for strings and lists in the result.
    fn caller_allocates(&self) -> bool {
        self.results.strings || self.results.lists
    }

    /// Whether the adapter reads or writes either memory.
    fn needs_memory(&self) -> bool {
        self.callee_allocates() || self.caller_allocates() || self.results_in_memory
    }

    /// The adapter module and the definitions of its imports, in order.
    fn generate(&self, types: &ComponentTypes, lifted: &LiftedFunction, lowered: u32) -> (Vec<u8>, Vec<CoreDef>) {
        let func = &types.funcs[self.ty];
        let flat = |ts: Option<Vec<FlatType>>| ts.map(|v| v.into_iter().map(val_type).collect::<Vec<_>>());
        let flat_params = flat(types.flat_params(self.ty)).unwrap_or_else(|| vec![ValType::I32]);
        let flat_results = flat(types.flat_results(self.ty));
        // The callee's core type, then the lowered function's.
        let lift_results = flat_results.clone().unwrap_or_else(|| vec![ValType::I32]);
        let mut lower_params = flat_params.clone();
        let lower_results = match &flat_results {
            Some(r) => r.clone(),
            None => {
                lower_params.push(ValType::I32);
                Vec::new()
            }
        };
        let mut type_section = TypeSection::new();
        let mut num_types = 0u32;
        let (ts, n) = (&mut type_section, &mut num_types);
        let t_callee = func_type_after(ts, n, &flat_params, &lift_results);
        let t_trap = func_type_after(ts, n, &[ValType::I32], &[]);
        let t_realloc = func_type_after(ts, n, &[ValType::I32; 4], &[ValType::I32]);
        let t_post = func_type_after(ts, n, &lift_results, &[]);
        let t_validate = func_type_after(ts, n, &[ValType::I32, ValType::I32], &[]);
        let t_adapter = func_type_after(ts, n, &lower_params, &lower_results);

        let mut imports = ImportSection::new();
        let mut args = Vec::new();
        let mut num_funcs = 0u32;
        let mut import_func = |imports: &mut ImportSection, args: &mut Vec<CoreDef>, ty: u32, def: CoreDef| {
            imports.import("", &args.len().to_string(), EntityType::Function(ty));
            args.push(def);
            num_funcs += 1;
            num_funcs - 1
        };
        let f_callee = import_func(&mut imports, &mut args, t_callee, lifted.func.clone());
        let f_trap = import_func(&mut imports, &mut args, t_trap, CoreDef::AdapterTrap);
        let needs_memory = self.needs_memory();
        let realloc = |o: &CanonicalOptions, needed: bool| needed.then_some(o.realloc).flatten().map(CoreDef::Realloc);
        let callee_realloc = realloc(&self.callee, self.callee_allocates());
        let caller_realloc = realloc(&self.caller, self.caller_allocates());
        let f_callee_realloc = callee_realloc.map(|d| import_func(&mut imports, &mut args, t_realloc, d));
        let f_caller_realloc = caller_realloc.map(|d| import_func(&mut imports, &mut args, t_realloc, d));
        let f_post_return =
            self.callee.post_return.map(|p| import_func(&mut imports, &mut args, t_post, CoreDef::PostReturn(p)));
        let validate = |o: &CanonicalOptions, needed: bool| {
            let memory = needed.then_some(o.memory).flatten()?;
            Some(CoreDef::ValidateString { memory, encoding: o.string_encoding })
        };
        let f_validate_caller =
            validate(&self.caller, self.params.strings).map(|d| import_func(&mut imports, &mut args, t_validate, d));
        let f_validate_callee =
            validate(&self.callee, self.results.strings).map(|d| import_func(&mut imports, &mut args, t_validate, d));
        // Handles move through the runtime's tables; borrows within a scope of the call.
        let t_transfer = func_type_after(&mut type_section, &mut num_types, &[ValType::I32], &[ValType::I32]);
        let t_void = func_type_after(&mut type_section, &mut num_types, &[], &[]);
        let (from, to) = (self.caller.instance, self.callee.instance);
        let mut transfers = BTreeMap::new();
        for (results, handles) in [(false, &self.params.handles), (true, &self.results.handles)] {
            let (from, to) = if results { (to, from) } else { (from, to) };
            for &(borrow, resource) in handles {
                let def = if borrow {
                    CoreDef::ResourceTransferBorrow { resource, from, to }
                } else {
                    CoreDef::ResourceTransferOwn { resource, from, to }
                };
                transfers.insert((results, borrow, resource), import_func(&mut imports, &mut args, t_transfer, def));
            }
        }
        let borrows = self.params.handles.iter().any(|(borrow, _)| *borrow);
        let f_scope = borrows.then(|| {
            let enter = import_func(&mut imports, &mut args, t_void, CoreDef::ResourceEnterCall);
            (enter, import_func(&mut imports, &mut args, t_void, CoreDef::ResourceExitCall))
        });
        // Both memories, when either is used (`Plan::new` checked that both exist): the
        // caller's is memory 0, the callee's memory 1.
        let (m_caller, m_callee) = (0, 1);
        if needs_memory {
            for m in [self.caller.memory, self.callee.memory].into_iter().flatten() {
                let ty = MemoryType { minimum: 0, maximum: None, memory64: false, shared: false, page_size_log2: None };
                imports.import("", &args.len().to_string(), EntityType::Memory(ty));
                args.push(CoreDef::Memory(m));
            }
        }
        let flags_ty = GlobalType { val_type: ValType::I32, mutable: true, shared: false };
        for rci in [self.caller.instance, self.callee.instance] {
            imports.import("", &args.len().to_string(), EntityType::Global(flags_ty));
            args.push(CoreDef::InstanceFlags(rci));
        }
        let (g_caller, g_callee) = (0, 1);

        let mut g = Gen {
            types,
            code: Vec::new(),
            locals: Vec::new(),
            num_params: lower_params.len() as u32,
            f_trap,
            src: SideRefs { memory: m_caller, realloc: f_caller_realloc, validate: f_validate_caller },
            dst: SideRefs { memory: m_callee, realloc: f_callee_realloc, validate: f_validate_callee },
            encoding: self.caller.string_encoding,
            transfers,
            results: false,
        };
        let param_types: Vec<InterfaceType> = func.params.iter().map(|(_, t)| *t).collect();
        // The caller may leave, the callee may be entered (and may not be again until this
        // returns).
        g.trap_unless_flag(g_caller, FLAG_MAY_LEAVE, AdapterTrap::CannotLeave);
        g.trap_unless_flag(g_callee, FLAG_MAY_ENTER, AdapterTrap::CannotEnter);
        g.update_flag(g_callee, FLAG_MAY_ENTER, false);
        if let Some((enter, _)) = f_scope {
            g.code.push(I::Call(enter));
        }
        // Parameters: from the caller's flat values or memory into the callee's.
        let flat_param_types = types.flat_params(self.ty);
        match &flat_param_types {
            Some(flat) => {
                let src = Place::Stack(flat.iter().enumerate().map(|(i, t)| (i as u32, *t)).collect());
                let dst_locals: Vec<(u32, FlatType)> = flat.iter().map(|t| (g.local(*t), *t)).collect();
                g.translate_fields(&param_types, &src, &Place::Stack(dst_locals.clone()));
                g.open_exception_guard();
                for (l, _) in &dst_locals {
                    g.code.push(I::LocalGet(*l));
                }
            }
            None => {
                let layout = types.params_layout(self.ty);
                g.check_pointer(0, layout.align, layout.size, Which::Src, AdapterTrap::ParamsOutOfBounds);
                let dst = g.allocate(
                    Which::Dst,
                    layout.align,
                    I64Size::Const(layout.size as u64),
                    AdapterTrap::ListOutOfBounds,
                );
                let src = Place::Mem(Addr { memory: g.src.memory, base: 0, offset: 0 });
                g.translate_fields(
                    &param_types,
                    &src,
                    &Place::Mem(Addr { memory: g.dst.memory, base: dst, offset: 0 }),
                );
                g.open_exception_guard();
                g.code.push(I::LocalGet(dst));
            }
        }
        // An exception the callee does not catch stops here, as a trap.
        g.code.push(I::TryTable(
            wasm_encoder::BlockType::FunctionType(t_callee),
            std::borrow::Cow::Owned(vec![wasm_encoder::Catch::All { label: 0 }]),
        ));
        g.code.push(I::Call(f_callee));
        g.code.push(I::End);
        let result_locals: Vec<(u32, ValType)> = lift_results.iter().map(|t| (g.local_of(*t), *t)).collect();
        for (l, _) in result_locals.iter().rev() {
            g.code.push(I::LocalSet(*l));
        }
        g.close_exception_guard();
        // The callee may keep no borrow past its return.
        if let Some((_, exit)) = f_scope {
            g.code.push(I::Call(exit));
        }
        // Results: from the callee's into the caller's (whose `realloc` now allocates).
        std::mem::swap(&mut g.src, &mut g.dst);
        g.results = true;
        let mut out_locals = Vec::new();
        if let Some(result) = func.result {
            match types.flat_results(self.ty) {
                Some(flat) => {
                    let src = Place::Stack(result_locals.iter().zip(&flat).map(|((l, _), t)| (*l, *t)).collect());
                    out_locals = flat.iter().map(|t| (g.local(*t), *t)).collect();
                    g.translate(result, &src, &Place::Stack(out_locals.clone()));
                }
                None => {
                    let l = types.layout(result);
                    let from = result_locals[0].0;
                    g.check_pointer(from, l.align, l.size, Which::Src, AdapterTrap::ResultOutOfBounds);
                    let retptr = lower_params.len() as u32 - 1;
                    g.check_pointer(retptr, l.align, l.size, Which::Dst, AdapterTrap::ResultOutOfBounds);
                    let src = Place::Mem(Addr { memory: g.src.memory, base: from, offset: 0 });
                    g.translate(result, &src, &Place::Mem(Addr { memory: g.dst.memory, base: retptr, offset: 0 }));
                }
            }
        }
        if let Some(post) = f_post_return {
            g.update_flag(g_callee, FLAG_MAY_LEAVE, false);
            for (l, _) in &result_locals {
                g.code.push(I::LocalGet(*l));
            }
            g.code.push(I::Call(post));
            g.update_flag(g_callee, FLAG_MAY_LEAVE, true);
        }
        g.update_flag(g_callee, FLAG_MAY_ENTER, true);
        for (l, _) in &out_locals {
            g.code.push(I::LocalGet(*l));
        }
        g.code.push(I::End);

        let mut body = Function::new(g.locals.iter().map(|t| (1, *t)));
        for i in &g.code {
            body.instruction(i);
        }
        let mut functions = FunctionSection::new();
        functions.function(t_adapter);
        let mut code = CodeSection::new();
        code.function(&body);
        let mut exports = ExportSection::new();
        exports.export(ADAPTER_EXPORT, ExportKind::Func, num_funcs);
        let mut names = NameSection::new();
        names.module(&format!("adapter{lowered}"));
        let mut func_names = NameMap::new();
        func_names.append(num_funcs, &format!("adapter{lowered}"));
        names.functions(&func_names);
        let mut module = Module::new();
        module
            .section(&type_section)
            .section(&imports)
            .section(&functions)
            .section(&exports)
            .section(&code)
            .section(&names);
        (module.finish(), args)
    }
}

/// Appends a function type to `section`, returning its index.
fn func_type_after(section: &mut TypeSection, count: &mut u32, params: &[ValType], results: &[ValType]) -> u32 {
    section.ty().function(params.iter().copied(), results.iter().copied());
    *count += 1;
    *count - 1
}

fn val_type(t: FlatType) -> ValType {
    match t {
        FlatType::I32 => ValType::I32,
        FlatType::I64 => ValType::I64,
        FlatType::F32 => ValType::F32,
        FlatType::F64 => ValType::F64,
    }
}

/// A place in linear memory: `offset` bytes past the address in local `base`.
#[derive(Copy, Clone)]
struct Addr {
    memory: u32,
    base: u32,
    offset: u32,
}

impl Addr {
    fn at(self, offset: u32) -> Addr {
        Addr { offset: self.offset + offset, ..self }
    }

    fn arg(self, align: u32) -> MemArg {
        MemArg {
            offset: self.offset as u64,
            align: align.trailing_zeros(),
            target: MemArgTarget::Memory(self.memory),
            ordering: None,
        }
    }
}

/// Where a value is read from or written to: flat values in locals (of the types they were
/// declared with: a variant's payload shares joined types), or memory.
#[derive(Clone)]
enum Place {
    Stack(Vec<(u32, FlatType)>),
    Mem(Addr),
}

/// A place read from.
type Src = Place;
/// A place written to.
type Dst = Place;

/// One side's memory, `realloc` and string check, as the adapter's indices.
#[derive(Copy, Clone)]
struct SideRefs {
    memory: u32,
    realloc: Option<u32>,
    validate: Option<u32>,
}

#[derive(Copy, Clone)]
enum Which {
    Src,
    Dst,
}

/// A byte size: a constant, or an `i64` local.
#[derive(Copy, Clone)]
enum I64Size {
    Const(u64),
    Local(u32),
}

/// The code of one adapter function.
struct Gen<'a> {
    types: &'a ComponentTypes,
    code: Vec<I<'static>>,
    locals: Vec<ValType>,
    num_params: u32,
    f_trap: u32,
    /// The side values are read from (the caller's for parameters, the callee's for
    /// results) and the side they are written to.
    src: SideRefs,
    dst: SideRefs,
    encoding: StringEncoding,
    /// The function moving each handle type, by (results?, borrow?, resource).
    transfers: BTreeMap<(bool, bool, ResourceIndex), u32>,
    /// Whether results are being copied (from the callee to the caller).
    results: bool,
}

impl Gen<'_> {
    fn local_of(&mut self, t: ValType) -> u32 {
        self.locals.push(t);
        self.num_params + self.locals.len() as u32 - 1
    }

    fn local(&mut self, t: FlatType) -> u32 {
        self.local_of(val_type(t))
    }

    fn side(&self, which: Which) -> SideRefs {
        match which {
            Which::Src => self.src,
            Which::Dst => self.dst,
        }
    }

    /// Open the two blocks around the callee's call that [`Self::close_exception_guard`]
    /// closes: its `try_table`'s `catch_all` leaves the inner one, which traps.
    fn open_exception_guard(&mut self) {
        self.code.extend([I::Block(wasm_encoder::BlockType::Empty), I::Block(wasm_encoder::BlockType::Empty)]);
    }

    /// After the call's results are in locals: skip the trap, which the inner block's end
    /// reaches only from the `catch_all`.
    fn close_exception_guard(&mut self) {
        self.code.extend([I::Br(1), I::End]);
        self.trap(AdapterTrap::UncaughtException);
        self.code.push(I::End);
    }

    fn trap(&mut self, t: AdapterTrap) {
        self.code.extend([I::I32Const(t as i32), I::Call(self.f_trap), I::Unreachable]);
    }

    /// Traps with `t` when the condition on the stack holds.
    fn trap_if(&mut self, t: AdapterTrap) {
        self.code.push(I::If(wasm_encoder::BlockType::Empty));
        self.trap(t);
        self.code.push(I::End);
    }

    fn trap_unless_flag(&mut self, global: u32, bit: i32, t: AdapterTrap) {
        self.code.extend([I::GlobalGet(global), I::I32Const(bit), I::I32And, I::I32Eqz]);
        self.trap_if(t);
    }

    fn update_flag(&mut self, global: u32, bit: i32, set: bool) {
        self.code.push(I::GlobalGet(global));
        if set {
            self.code.extend([I::I32Const(bit), I::I32Or]);
        } else {
            self.code.extend([I::I32Const(!bit), I::I32And]);
        }
        self.code.push(I::GlobalSet(global));
    }

    /// Pushes the value of local `l`, declared `have`, as a `want`.
    fn get(&mut self, (l, have): (u32, FlatType), want: FlatType) {
        self.code.push(I::LocalGet(l));
        use FlatType::*;
        match (have, want) {
            (a, b) if a == b => {}
            (I32, F32) => self.code.push(I::F32ReinterpretI32),
            (I64, I32) => self.code.push(I::I32WrapI64),
            (I64, F32) => self.code.extend([I::I32WrapI64, I::F32ReinterpretI32]),
            (I64, F64) => self.code.push(I::F64ReinterpretI64),
            // Joining never gives other pairs.
            _ => self.code.push(I::Unreachable),
        }
    }

    /// Pops a `have` into local `l`, declared `want`.
    fn set(&mut self, have: FlatType, (l, want): (u32, FlatType)) {
        use FlatType::*;
        match (have, want) {
            (a, b) if a == b => {}
            (F32, I32) => self.code.push(I::I32ReinterpretF32),
            (I32, I64) => self.code.push(I::I64ExtendI32U),
            (F32, I64) => self.code.extend([I::I32ReinterpretF32, I::I64ExtendI32U]),
            (F64, I64) => self.code.push(I::I64ReinterpretF64),
            _ => self.code.push(I::Unreachable),
        }
        self.code.push(I::LocalSet(l));
    }

    /// Pushes the memory's size in bytes as an `i64`.
    fn memory_bytes(&mut self, memory: u32) {
        self.code.extend([I::MemorySize(memory), I::I64ExtendI32U, I::I64Const(16), I::I64Shl]);
    }

    /// Traps unless the `i32` in local `ptr` is aligned to `align` and `size` bytes from it
    /// lie in the memory of `which`.
    fn check_pointer(&mut self, ptr: u32, align: u32, size: u32, which: Which, oob: AdapterTrap) {
        self.check_range(ptr, align, I64Size::Const(size as u64), which, oob);
    }

    fn check_range(&mut self, ptr: u32, align: u32, size: I64Size, which: Which, oob: AdapterTrap) {
        if align > 1 {
            self.code.extend([I::LocalGet(ptr), I::I32Const(align as i32 - 1), I::I32And]);
            self.trap_if(AdapterTrap::UnalignedPointer);
        }
        self.code.extend([I::LocalGet(ptr), I::I64ExtendI32U]);
        self.push_size(size);
        self.code.push(I::I64Add);
        self.memory_bytes(self.side(which).memory);
        self.code.push(I::I64GtU);
        self.trap_if(oob);
    }

    fn push_size(&mut self, size: I64Size) {
        match size {
            I64Size::Const(c) => self.code.push(I::I64Const(c as i64)),
            I64Size::Local(l) => self.code.push(I::LocalGet(l)),
        }
    }

    /// Calls `which`'s `realloc(0, 0, align, size)` and checks its answer; returns the local
    /// holding the pointer.
    fn allocate(&mut self, which: Which, align: u32, size: I64Size, oob: AdapterTrap) -> u32 {
        let realloc = self.side(which).realloc.unwrap_or(u32::MAX);
        // A size above 4 GiB cannot be asked for (nor fit in a 32-bit memory).
        self.push_size(size);
        self.code.extend([I::I64Const(u32::MAX as i64), I::I64GtU]);
        self.trap_if(oob);
        self.code.extend([I::I32Const(0), I::I32Const(0), I::I32Const(align as i32)]);
        self.push_size(size);
        self.code.extend([I::I32WrapI64, I::Call(realloc)]);
        let ptr = self.local(FlatType::I32);
        self.code.push(I::LocalSet(ptr));
        self.check_range(ptr, align, size, which, oob);
        ptr
    }

    /// Pushes the `i32` a source holds at flat position 0 (or at its address).
    fn read_i32_pair(&mut self, src: &Src) -> (u32, u32) {
        let (p, l) = (self.local(FlatType::I32), self.local(FlatType::I32));
        match src {
            Place::Stack(locals) => {
                self.get(locals[0], FlatType::I32);
                self.code.push(I::LocalSet(p));
                self.get(locals[1], FlatType::I32);
                self.code.push(I::LocalSet(l));
            }
            Place::Mem(a) => {
                self.code.extend([I::LocalGet(a.base), I::I32Load(a.arg(4)), I::LocalSet(p)]);
                self.code.extend([I::LocalGet(a.base), I::I32Load(a.at(4).arg(4)), I::LocalSet(l)]);
            }
        }
        (p, l)
    }

    fn write_i32_pair(&mut self, (p, l): (u32, u32), dst: &Dst) {
        match dst {
            Place::Stack(locals) => {
                self.code.push(I::LocalGet(p));
                self.set(FlatType::I32, locals[0]);
                self.code.push(I::LocalGet(l));
                self.set(FlatType::I32, locals[1]);
            }
            Place::Mem(a) => {
                self.code.extend([I::LocalGet(a.base), I::LocalGet(p), I::I32Store(a.arg(4))]);
                self.code.extend([I::LocalGet(a.base), I::LocalGet(l), I::I32Store(a.at(4).arg(4))]);
            }
        }
    }

    fn flat_len(&self, t: InterfaceType) -> usize {
        self.types.flat(t).len()
    }

    /// The places of consecutive fields of types `tys` in `place`.
    fn split(&self, place: &Place, tys: &[InterfaceType]) -> Vec<Place> {
        match place {
            Place::Stack(locals) => {
                let mut at = 0;
                tys.iter()
                    .map(|t| {
                        let n = self.flat_len(*t);
                        let s = Place::Stack(locals[at..at + n].to_vec());
                        at += n;
                        s
                    })
                    .collect()
            }
            Place::Mem(a) => {
                self.types.field_offsets(tys.iter().copied()).into_iter().map(|o| Place::Mem(a.at(o))).collect()
            }
        }
    }

    fn translate_fields(&mut self, tys: &[InterfaceType], src: &Src, dst: &Dst) {
        let srcs = self.split(src, tys);
        let dsts = self.split(dst, tys);
        for ((t, s), d) in tys.iter().zip(srcs).zip(dsts) {
            self.translate(*t, &s, &d);
        }
    }

    /// Copies one value of type `ty` from `src` to `dst`, checking it as lifting does. The
    /// recursion follows the type, whose depth validation bounds.
    fn translate(&mut self, ty: InterfaceType, src: &Src, dst: &Dst) {
        let types = self.types;
        match ty {
            InterfaceType::Record(i) => {
                let tys: Vec<InterfaceType> = types.records[i].fields.iter().map(|(_, t)| *t).collect();
                self.translate_fields(&tys, src, dst)
            }
            InterfaceType::Tuple(i) => self.translate_fields(&types.tuples[i].types.clone(), src, dst),
            InterfaceType::Flags(i) => self.translate_flags(types.flags[i].names.len(), src, dst),
            InterfaceType::Enum(i) => self.translate_variant(ty, &vec![None; types.enums[i].names.len()], src, dst),
            InterfaceType::Variant(i) => {
                let cases: Vec<Option<InterfaceType>> = types.variants[i].cases.iter().map(|(_, t)| *t).collect();
                self.translate_variant(ty, &cases, src, dst)
            }
            InterfaceType::Option(i) => self.translate_variant(ty, &[None, Some(types.options[i])], src, dst),
            InterfaceType::Result(i) => {
                let r = &types.results[i];
                self.translate_variant(ty, &[r.ok, r.err], src, dst)
            }
            InterfaceType::String => self.translate_string(src, dst),
            InterfaceType::List(i) => self.translate_list(types.lists[i], src, dst),
            InterfaceType::Own(r) => self.translate_handle((false, r), src, dst),
            InterfaceType::Borrow(r) => self.translate_handle((true, r), src, dst),
            // Not fused (see `contents`).
            InterfaceType::Map(_) => self.code.push(I::Unreachable),
            prim => self.translate_prim(prim, src, dst),
        }
    }

    fn translate_prim(&mut self, ty: InterfaceType, src: &Src, dst: &Dst) {
        use InterfaceType as T;
        let flat = self.types.flat(ty)[0];
        let layout = self.types.layout(ty);
        match src {
            Place::Stack(locals) => {
                self.get(locals[0], flat);
                match ty {
                    T::Bool => self.code.extend([I::I32Const(0), I::I32Ne]),
                    T::U8 => self.code.extend([I::I32Const(0xff), I::I32And]),
                    T::S8 => self.code.push(I::I32Extend8S),
                    T::U16 => self.code.extend([I::I32Const(0xffff), I::I32And]),
                    T::S16 => self.code.push(I::I32Extend16S),
                    _ => {}
                }
            }
            Place::Mem(a) => {
                self.code.push(I::LocalGet(a.base));
                let arg = a.arg(layout.align);
                self.code.push(match ty {
                    T::Bool | T::U8 => I::I32Load8U(arg),
                    T::S8 => I::I32Load8S(arg),
                    T::U16 => I::I32Load16U(arg),
                    T::S16 => I::I32Load16S(arg),
                    T::S64 | T::U64 => I::I64Load(arg),
                    T::Float32 => I::F32Load(arg),
                    T::Float64 => I::F64Load(arg),
                    _ => I::I32Load(arg),
                });
                if ty == T::Bool {
                    self.code.extend([I::I32Const(0), I::I32Ne]);
                }
            }
        }
        let v = self.local(flat);
        self.code.push(I::LocalSet(v));
        if ty == T::Char {
            // Not above U+10FFFF and not a surrogate.
            self.code.extend([I::LocalGet(v), I::I32Const(0x11_0000), I::I32GeU]);
            self.code.extend([I::LocalGet(v), I::I32Const(0xd800), I::I32Sub, I::I32Const(0x800), I::I32LtU, I::I32Or]);
            self.trap_if(AdapterTrap::InvalidChar);
        }
        match dst {
            Place::Stack(locals) => {
                self.code.push(I::LocalGet(v));
                self.set(flat, locals[0]);
            }
            Place::Mem(a) => {
                self.code.extend([I::LocalGet(a.base), I::LocalGet(v)]);
                let arg = a.arg(layout.align);
                self.code.push(match ty {
                    T::Bool | T::U8 | T::S8 => I::I32Store8(arg),
                    T::U16 | T::S16 => I::I32Store16(arg),
                    T::S64 | T::U64 => I::I64Store(arg),
                    T::Float32 => I::F32Store(arg),
                    T::Float64 => I::F64Store(arg),
                    _ => I::I32Store(arg),
                });
            }
        }
    }

    /// Flags: bits past the last flag are dropped, as lifting drops them.
    fn translate_flags(&mut self, n: usize, src: &Src, dst: &Dst) {
        if n == 0 {
            return;
        }
        let words = n.div_ceil(32);
        let last_mask = if n.is_multiple_of(32) { -1i32 } else { ((1u32 << (n % 32)) - 1) as i32 };
        for w in 0..words {
            let mask = if w + 1 == words { last_mask } else { -1 };
            let width = if n <= 8 {
                1
            } else if n <= 16 {
                2
            } else {
                4
            };
            let offset = 4 * w as u32;
            if let Place::Mem(a) = dst {
                self.code.push(I::LocalGet(a.base));
            }
            match src {
                Place::Stack(locals) => self.get(locals[w], FlatType::I32),
                Place::Mem(a) => {
                    let arg = a.at(offset).arg(width);
                    self.code.push(I::LocalGet(a.base));
                    self.code.push(match width {
                        1 => I::I32Load8U(arg),
                        2 => I::I32Load16U(arg),
                        _ => I::I32Load(arg),
                    });
                }
            }
            if mask != -1 {
                self.code.extend([I::I32Const(mask), I::I32And]);
            }
            match dst {
                Place::Stack(locals) => self.set(FlatType::I32, locals[w]),
                Place::Mem(a) => {
                    let arg = a.at(offset).arg(width);
                    self.code.push(match width {
                        1 => I::I32Store8(arg),
                        2 => I::I32Store16(arg),
                        _ => I::I32Store(arg),
                    });
                }
            }
        }
    }

    fn translate_variant(&mut self, ty: InterfaceType, cases: &[Option<InterfaceType>], src: &Src, dst: &Dst) {
        let size = discriminant_size(cases.len());
        let disc = self.local(FlatType::I32);
        match src {
            Place::Stack(locals) => self.get(locals[0], FlatType::I32),
            Place::Mem(a) => {
                let arg = a.arg(size);
                self.code.push(I::LocalGet(a.base));
                self.code.push(match size {
                    1 => I::I32Load8U(arg),
                    2 => I::I32Load16U(arg),
                    _ => I::I32Load(arg),
                });
            }
        }
        self.code.push(I::LocalTee(disc));
        self.code.extend([I::I32Const(cases.len() as i32), I::I32GeU]);
        self.trap_if(AdapterTrap::InvalidDiscriminant);
        match dst {
            Place::Stack(locals) => {
                self.code.push(I::LocalGet(disc));
                self.set(FlatType::I32, locals[0]);
                // Payload slots a case does not fill are zero.
                for &(l, t) in &locals[1..] {
                    self.code.push(match t {
                        FlatType::I32 => I::I32Const(0),
                        FlatType::I64 => I::I64Const(0),
                        FlatType::F32 => I::F32Const(0.0f32.into()),
                        FlatType::F64 => I::F64Const(0.0f64.into()),
                    });
                    self.code.push(I::LocalSet(l));
                }
            }
            Place::Mem(a) => {
                let arg = a.arg(size);
                self.code.extend([I::LocalGet(a.base), I::LocalGet(disc)]);
                self.code.push(match size {
                    1 => I::I32Store8(arg),
                    2 => I::I32Store16(arg),
                    _ => I::I32Store(arg),
                });
            }
        }
        let payload_offset = self.types.payload_offset(ty);
        for (c, payload) in cases.iter().enumerate() {
            let Some(p) = payload else { continue };
            let n = self.flat_len(*p);
            let psrc = match src {
                Place::Stack(locals) => Place::Stack(locals[1..1 + n].to_vec()),
                Place::Mem(a) => Place::Mem(a.at(payload_offset)),
            };
            let pdst = match dst {
                Place::Stack(locals) => Place::Stack(locals[1..1 + n].to_vec()),
                Place::Mem(a) => Place::Mem(a.at(payload_offset)),
            };
            self.code.extend([
                I::LocalGet(disc),
                I::I32Const(c as i32),
                I::I32Eq,
                I::If(wasm_encoder::BlockType::Empty),
            ]);
            self.translate(*p, &psrc, &pdst);
            self.code.push(I::End);
        }
    }

    /// A handle: the runtime moves (or lends) it from one table to the other and gives the
    /// new index.
    fn translate_handle(&mut self, (borrow, r): Handle, src: &Src, dst: &Dst) {
        let transfer = self.transfers.get(&(self.results, borrow, r)).copied().unwrap_or(u32::MAX);
        if let Place::Mem(a) = dst {
            self.code.push(I::LocalGet(a.base));
        }
        match src {
            Place::Stack(locals) => self.get(locals[0], FlatType::I32),
            Place::Mem(a) => self.code.extend([I::LocalGet(a.base), I::I32Load(a.arg(4))]),
        }
        self.code.push(I::Call(transfer));
        match dst {
            Place::Stack(locals) => self.set(FlatType::I32, locals[0]),
            Place::Mem(a) => self.code.push(I::I32Store(a.arg(4))),
        }
    }

    fn translate_string(&mut self, src: &Src, dst: &Dst) {
        let (ptr, len) = self.read_i32_pair(src);
        // The byte length and alignment, by encoding.
        let bytes = self.local(FlatType::I64);
        let align = match self.encoding {
            StringEncoding::Utf8 => {
                self.code.extend([I::LocalGet(len), I::I64ExtendI32U, I::LocalSet(bytes)]);
                1
            }
            StringEncoding::Utf16 => {
                self.code.extend([I::LocalGet(len), I::I64ExtendI32U, I::I64Const(1), I::I64Shl, I::LocalSet(bytes)]);
                2
            }
            // Not fused (see `Plan::new`).
            StringEncoding::CompactUtf16 => {
                self.code.push(I::Unreachable);
                1
            }
        };
        self.check_range(ptr, align, I64Size::Local(bytes), Which::Src, AdapterTrap::StringOutOfBounds);
        if let Some(validate) = self.src.validate {
            self.validate_string(ptr, len, validate);
        }
        let to = self.allocate(Which::Dst, align, I64Size::Local(bytes), AdapterTrap::StringOutOfBounds);
        self.copy(to, ptr, bytes);
        self.write_i32_pair((to, len), dst);
    }

    /// Checks the encoding of the string at `ptr`, `len` code units long, in the source
    /// memory. Code units that need no check (ASCII bytes, utf16 units that are not
    /// surrogates) are scanned here, eight bytes or one unit at a time; a string with any
    /// other goes to the host's `validate`.
    fn validate_string(&mut self, ptr: u32, len: u32, validate: u32) {
        use wasm_encoder::BlockType::Empty;
        let memory = self.src.memory;
        let (at, left) = (self.local(FlatType::I32), self.local(FlatType::I32));
        self.code.extend([I::LocalGet(ptr), I::LocalSet(at), I::LocalGet(len), I::LocalSet(left)]);
        let step = |g: &mut Self, bytes: i32| {
            g.code.extend([I::LocalGet(at), I::I32Const(bytes), I::I32Add, I::LocalSet(at)]);
            g.code.extend([
                I::LocalGet(left),
                I::I32Const(if bytes == 8 { 8 } else { 1 }),
                I::I32Sub,
                I::LocalSet(left),
            ]);
        };
        let byte = MemArg { offset: 0, align: 0, target: MemArgTarget::Memory(memory), ordering: None };
        // Labels, innermost first, inside the loops: the loop, then `tail` (wide loop only),
        // `slow` (call the host), `done`.
        self.code.extend([I::Block(Empty), I::Block(Empty)]);
        if self.encoding == StringEncoding::Utf8 {
            self.code.extend([I::Block(Empty), I::Loop(Empty)]);
            self.code.extend([I::LocalGet(left), I::I32Const(8), I::I32LtU, I::BrIf(1)]);
            self.code.extend([I::LocalGet(at), I::I64Load(byte), I::I64Const(0x8080_8080_8080_8080u64 as i64)]);
            self.code.extend([I::I64And, I::I64Const(0), I::I64Ne, I::BrIf(2)]);
            step(self, 8);
            self.code.extend([I::Br(0), I::End, I::End]);
            self.code.push(I::Loop(Empty));
            self.code.extend([I::LocalGet(left), I::I32Eqz, I::BrIf(2)]);
            self.code.extend([I::LocalGet(at), I::I32Load8U(byte), I::I32Const(0x80), I::I32And, I::BrIf(1)]);
            step(self, 1);
        } else {
            self.code.push(I::Loop(Empty));
            self.code.extend([I::LocalGet(left), I::I32Eqz, I::BrIf(2)]);
            self.code.extend([I::LocalGet(at), I::I32Load16U(byte), I::I32Const(0xf800), I::I32And]);
            self.code.extend([I::I32Const(0xd800), I::I32Eq, I::BrIf(1)]);
            step(self, 2);
        }
        self.code.extend([I::Br(0), I::End, I::End]);
        self.code.extend([I::LocalGet(ptr), I::LocalGet(len), I::Call(validate), I::End]);
    }

    /// `memory.copy` of `bytes` (an `i64` local under 4 GiB) from the source to the
    /// destination memory.
    fn copy(&mut self, to: u32, from: u32, bytes: u32) {
        self.code.extend([I::LocalGet(to), I::LocalGet(from), I::LocalGet(bytes), I::I32WrapI64]);
        self.code.push(I::MemoryCopy { src_mem: self.src.memory, dst_mem: self.dst.memory });
    }

    fn translate_list(&mut self, elem: InterfaceType, src: &Src, dst: &Dst) {
        let (ptr, len) = self.read_i32_pair(src);
        let l = self.types.layout(elem);
        let bytes = self.local(FlatType::I64);
        self.code.extend([
            I::LocalGet(len),
            I::I64ExtendI32U,
            I::I64Const(l.size as i64),
            I::I64Mul,
            I::LocalSet(bytes),
        ]);
        self.check_range(ptr, l.align, I64Size::Local(bytes), Which::Src, AdapterTrap::ListOutOfBounds);
        let to = self.allocate(Which::Dst, l.align, I64Size::Local(bytes), AdapterTrap::ListOutOfBounds);
        if is_plain(self.types, elem) {
            self.copy(to, ptr, bytes);
        } else {
            // Element by element, with a cursor on each side.
            let (s, d, n) = (self.local(FlatType::I32), self.local(FlatType::I32), self.local(FlatType::I32));
            self.code.extend([I::LocalGet(ptr), I::LocalSet(s), I::LocalGet(to), I::LocalSet(d)]);
            self.code.extend([I::LocalGet(len), I::LocalSet(n)]);
            self.code.push(I::Block(wasm_encoder::BlockType::Empty));
            self.code.push(I::Loop(wasm_encoder::BlockType::Empty));
            self.code.extend([I::LocalGet(n), I::I32Eqz, I::BrIf(1)]);
            let esrc = Place::Mem(Addr { memory: self.src.memory, base: s, offset: 0 });
            let edst = Place::Mem(Addr { memory: self.dst.memory, base: d, offset: 0 });
            self.translate(elem, &esrc, &edst);
            for cursor in [s, d] {
                self.code.extend([I::LocalGet(cursor), I::I32Const(l.size as i32), I::I32Add, I::LocalSet(cursor)]);
            }
            self.code.extend([I::LocalGet(n), I::I32Const(1), I::I32Sub, I::LocalSet(n), I::Br(0), I::End, I::End]);
        }
        self.write_i32_pair((to, len), dst);
    }
}

/// Whether a value of `ty` is copied bit for bit: integers and floats, records and tuples of
/// them (and types that take no bytes).
fn is_plain(types: &ComponentTypes, ty: InterfaceType) -> bool {
    let mut work = vec![ty];
    while let Some(t) = work.pop() {
        match t {
            InterfaceType::S8
            | InterfaceType::U8
            | InterfaceType::S16
            | InterfaceType::U16
            | InterfaceType::S32
            | InterfaceType::U32
            | InterfaceType::S64
            | InterfaceType::U64
            | InterfaceType::Float32
            | InterfaceType::Float64 => {}
            InterfaceType::Record(i) => work.extend(types.records[i].fields.iter().map(|(_, t)| *t)),
            InterfaceType::Tuple(i) => work.extend(types.tuples[i].types.iter().copied()),
            other if types.layout(other).size == 0 => {}
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fused(wat: &str) -> (ComponentInfo, Vec<Vec<u8>>) {
        let bytes = wat::parse_str(wat).unwrap();
        let t = super::super::translate_component(&bytes).unwrap();
        (t.info, t.adapters)
    }

    const TWO: &str = r#"(component
      (component $callee
        (core module $m
          (memory (export "mem") 1)
          (global $next (mut i32) (i32.const 1024))
          (func (export "realloc") (param i32 i32 i32 i32) (result i32)
            (local $p i32)
            (local.set $p (global.get $next))
            (global.set $next (i32.add (local.get $p) (local.get 3)))
            (local.get $p))
          (func (export "f") (param i32 i32 i32 i64 f32) (result i32) (local.get 1)))
        (core instance $i (instantiate $m))
        (type $r' (record (field "a" u8) (field "b" s64) (field "c" f32)))
        (export $r "r" (type $r'))
        (func (export "f") (param "s" string) (param "r" $r) (result u32)
          (canon lift (core func $i "f") (memory (core memory $i "mem")) (realloc (core func $i "realloc")))))
      (component $caller
        (type $r' (record (field "a" u8) (field "b" s64) (field "c" f32)))
        (import "r" (type $r (eq $r')))
        (import "f" (func $f (param "s" string) (param "r" $r) (result u32)))
        (core module $m (memory (export "mem") 1)
          (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 0)))
        (core instance $mem (instantiate $m))
        (core func $lowered (canon lower (func $f) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
        (core module $use (import "" "f" (func (param i32 i32 i32 i64 f32) (result i32))))
        (core instance (instantiate $use (with "" (instance (export "f" (func $lowered)))))))
      (instance $a (instantiate $callee))
      (instance $b (instantiate $caller (with "r" (type $a "r")) (with "f" (func $a "f")))))"#;

    #[test]
    fn calls_between_components_become_valid_adapters() {
        let (info, adapters) = fused(TWO);
        assert_eq!(adapters.len(), 1);
        let lowered = info.initializers.iter().find_map(|i| match i {
            Initializer::Lower { source: LowerSource::Adapter { module, args }, .. } => Some((*module, args.len())),
            _ => None,
        });
        let (module, nargs) = lowered.expect("the call is fused");
        assert_eq!(module.as_u32(), 3, "after the component's three core modules");
        // callee, trap, callee realloc, string check, two memories, two flags.
        assert_eq!(nargs, 8);
        wasmparser::Validator::new_with_features(crate::wasm_features()).validate_all(&adapters[0]).unwrap();
    }

    #[test]
    fn the_same_component_gives_the_same_adapters() {
        assert_eq!(fused(TWO).1, fused(TWO).1);
    }

    #[test]
    fn trap_codes_round_trip() {
        for t in AdapterTrap::ALL {
            assert_eq!(AdapterTrap::from_code(t as u32), Some(t));
        }
        assert_eq!(AdapterTrap::from_code(AdapterTrap::ALL.len() as u32), None);
    }
}
