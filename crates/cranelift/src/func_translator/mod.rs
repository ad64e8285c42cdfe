//! Translating one WebAssembly function body to Cranelift IR, validating it on the way.
//!
//! [`translate_function`] reads the body once: each local declaration and each operator is
//! first given to wasmparser's function validator, then translated. Translation keeps wasm's
//! operand stack as SSA values (`stack`), wasm's control stack as an explicit stack of frames
//! (`control`, never recursion: bodies are untrusted), locals as Cranelift variables
//! (`locals`), and emits code for numeric and SIMD operators (`numeric`, `simd`), heap
//! accesses (`memory`), calls (`calls`), casts (`casts`) and globals (`globals`). Loads of runtime structures
//! and wasm memory accesses are sorted into alias regions (`regions`). When the engine asks
//! for them, fuel accounting (`fuel`) and epoch checks (`epoch`) are woven in.
//!
//! The first operator Kiln cannot translate stops translation, but validation goes on to the
//! end of the body: an invalid body is always reported as invalid, a valid one that uses an
//! unsupported feature as unsupported (`unsupported`).
mod bulk;
mod calls;
mod casts;
mod control;
mod epoch;
mod exceptions;
mod fuel;
mod gc;
mod globals;
mod legacy_exceptions;
mod locals;
mod memory;
mod numeric;
mod references;
pub mod regions;
mod relaxed_simd;
mod simd;
mod stack;
mod unsupported;

use std::collections::HashMap;

use cranelift_codegen::ir::{
    self, FuncRef, Function, GlobalValueData, InstBuilder, SigRef, SourceLoc, Type, UserFuncName, Value,
    immediates::Offset32,
};
use cranelift_codegen::packed_option::ReservedValue;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use kiln_environ::{
    BuiltinFunction, CompileError, DefinedFuncIndex, FuncIndex, FuncKey, Trap, TypeIndex, VMOffsets, WasmFuncType,
    WasmValType, invalid_from_wasmparser,
};
use wasmparser::{FuncValidator, FunctionBody, Operator, ValidatorResources};

use crate::abi::{self, FuncEnv};
use control::Frame;
use regions::Access;

/// Translate the body of defined function `def_index` to Cranelift IR, validating it with
/// `validator` (the function's `FuncToValidate`, made into a validator) as it goes.
///
/// The IR function is named by `FuncKey::DefinedWasmFunction(env.module_index, def_index)`
/// and has the wasm ABI signature of the function's type.
pub fn translate_function(
    env: &FuncEnv<'_>,
    def_index: DefinedFuncIndex,
    body: &FunctionBody<'_>,
    validator: &mut FuncValidator<ValidatorResources>,
) -> Result<Function, CompileError> {
    let func_index = env.module.func_index(def_index);
    let ty = env
        .module
        .functions
        .get(func_index)
        .and_then(|f| env.module.types.get(f.ty)?.as_func())
        .ok_or_else(|| internal(format!("no type for defined function {}", def_index.as_u32())))?;
    let name = UserFuncName::User(abi::external_name(FuncKey::DefinedWasmFunction(env.module_index, def_index)));
    let mut func = Function::with_name_signature(name, abi::wasm_signature(env.isa, ty));
    let mut builder_context = FunctionBuilderContext::new();
    let resources = validator.resources().clone();
    let mut translator = FuncTranslator::new(env, resources, FunctionBuilder::new(&mut func, &mut builder_context), ty);

    // The first reason to stop translating; validation goes on regardless.
    let mut stopped: Option<CompileError> = translator.begin(ty).err();

    let mut locals = body.get_locals_reader().map_err(invalid_from_wasmparser)?;
    for _ in 0..locals.get_count() {
        let offset = locals.original_position();
        let (count, local_ty) = locals.read().map_err(invalid_from_wasmparser)?;
        validator.define_locals(offset, count, local_ty).map_err(invalid_from_wasmparser)?;
        if stopped.is_none() {
            stopped = translator.declare_locals(count, local_ty).err();
        }
    }

    let mut operators = body.get_operators_reader().map_err(invalid_from_wasmparser)?;
    while !operators.eof() {
        let (op, offset) = operators.read_with_offset().map_err(invalid_from_wasmparser)?;
        validator.op(offset, &op).map_err(invalid_from_wasmparser)?;
        if stopped.is_none() {
            translator.set_source_offset(offset);
            stopped = translator.translate_operator(&op).err();
            translator.declare_pushed_references(validator);
        }
    }
    let end = operators.original_position();
    operators.get_binary_reader().finish_expression(&validator.visitor(end)).map_err(invalid_from_wasmparser)?;

    if let Some(error) = stopped {
        return Err(error);
    }
    translator.finish()?;
    Ok(func)
}

fn internal(what: impl Into<String>) -> CompileError {
    CompileError::Internal(what.into())
}

/// The state of translating one function.
struct FuncTranslator<'e, 'b> {
    env: &'e FuncEnv<'e>,
    /// The validator's view of the module, for the exact types of memories, tables and
    /// globals (Kiln's `Module` has stand-ins where a type is unsupported).
    resources: ValidatorResources,
    builder: FunctionBuilder<'b>,
    pointer_type: Type,
    /// This instance's `VMContext`: the first parameter (`callee_vmctx`).
    vmctx: Value,
    /// One variable per local, parameters first.
    locals: Vec<Variable>,
    /// The zero each type of declared local starts as, made once in the entry block.
    zeros: HashMap<Type, Value>,
    /// The operand stack.
    stack: Vec<Value>,
    /// How many of the operands on top of the stack the operator being translated pushed.
    pushed: usize,
    /// The control stack; the function body is the bottom frame.
    frames: Vec<Frame>,
    /// Whether the code being translated can run: false after `br`, `return`, `unreachable`
    /// and the like, until the end of the enclosing block.
    reachable: bool,
    /// How many results the function returns.
    num_results: usize,
    /// Imported IR functions of direct calls to defined functions.
    callees: HashMap<DefinedFuncIndex, FuncRef>,
    /// Imported IR signatures of module types.
    signatures: HashMap<TypeIndex, SigRef>,
    /// Imported IR functions of builtin trampolines.
    builtins: HashMap<BuiltinFunction, FuncRef>,
    /// The fuel count, when the engine consumes fuel.
    fuel: Option<fuel::Fuel>,
    /// The epoch state, when the engine interrupts on epochs.
    epoch: Option<epoch::Epoch>,
    /// The handlers of the open `try_table`s, outermost first.
    handler_scopes: Vec<exceptions::HandlerScope>,
}

impl<'e, 'b> FuncTranslator<'e, 'b> {
    fn new(
        env: &'e FuncEnv<'e>,
        resources: ValidatorResources,
        builder: FunctionBuilder<'b>,
        ty: &WasmFuncType,
    ) -> Self {
        // A placeholder until `begin` knows the entry block's first parameter.
        let vmctx = Value::reserved_value();
        FuncTranslator {
            env,
            resources,
            builder,
            pointer_type: env.isa.pointer_type(),
            vmctx,
            locals: Vec::new(),
            zeros: HashMap::new(),
            stack: Vec::new(),
            pushed: 0,
            frames: Vec::new(),
            reachable: true,
            num_results: ty.results.len(),
            callees: HashMap::new(),
            signatures: HashMap::new(),
            builtins: HashMap::new(),
            fuel: None,
            epoch: None,
            handler_scopes: Vec::new(),
        }
    }

    /// Set up the entry block: parameters become locals, the stack limit is declared, and the
    /// function body's frame is pushed.
    fn begin(&mut self, ty: &WasmFuncType) -> Result<(), CompileError> {
        let entry = self.builder.create_block();
        self.builder.append_block_params_for_function_params(entry);
        self.builder.switch_to_block(entry);
        self.builder.seal_block(entry);
        let params = self.builder.block_params(entry).to_vec();
        self.vmctx = *params.first().ok_or_else(|| internal("wasm signature without a vmctx"))?;
        for (param, wasm_ty) in params.iter().skip(2).zip(ty.params.iter()) {
            let var = self.builder.declare_var(abi::ir_type(self.env.isa, *wasm_ty));
            if wasm_ty.is_traced() {
                self.builder.declare_var_needs_stack_map(var);
            }
            self.define(var, *param)?;
            self.locals.push(var);
        }
        self.declare_stack_limit()?;
        self.fuel_function_entry();
        self.epoch_function_entry();
        let results: Vec<Type> = ty.results.iter().map(|t| abi::ir_type(self.env.isa, *t)).collect();
        self.push_function_frame(&results);
        Ok(())
    }

    /// Make Cranelift check the stack in the prologue: the limit is
    /// `*(*(vmctx + STORE_CONTEXT) + STORE_CONTEXT_STACK_LIMIT)`.
    fn declare_stack_limit(&mut self) -> Result<(), CompileError> {
        let func = &mut *self.builder.func;
        let readonly = func
            .dfg
            .mem_flags
            .insert(ir::MemFlagsData::trusted().with_readonly())
            .map_err(|_| internal("too many memory flags"))?;
        let vmctx = func.create_global_value(GlobalValueData::VMContext);
        let store_context = func.create_global_value(GlobalValueData::Load {
            base: vmctx,
            offset: offset32(VMOffsets::STORE_CONTEXT)?,
            global_type: self.pointer_type,
            flags: readonly,
        });
        let limit = func.create_global_value(GlobalValueData::Load {
            base: store_context,
            offset: offset32(VMOffsets::STORE_CONTEXT_STACK_LIMIT)?,
            global_type: self.pointer_type,
            flags: readonly,
        });
        func.stack_limit = Some(limit);
        Ok(())
    }

    /// Finish the IR function.
    fn finish(self) -> Result<(), CompileError> {
        if !self.frames.is_empty() {
            return Err(internal("control frames left at the end of the function"));
        }
        self.builder.finalize(self.env.isa.frontend_config());
        Ok(())
    }

    /// Record the wasm offset of the operator being translated on the instructions it emits.
    fn set_source_offset(&mut self, offset: u64) {
        self.builder.set_srcloc(SourceLoc::new(u32::try_from(offset).unwrap_or(u32::MAX - 1)));
    }

    /// The IR type of a wasm value type Kiln translates.
    fn value_type(&self, ty: WasmValType) -> Result<Type, CompileError> {
        Ok(abi::ir_type(self.env.isa, ty))
    }

    /// The IR type of a value type as wasmparser reads it.
    fn parser_value_type(&self, ty: wasmparser::ValType) -> Result<Type, CompileError> {
        self.value_type(WasmValType::from_wasmparser(ty, &self.kind_of())?)
    }

    /// The kind of the concrete type a (module or validator) index names, for the
    /// conversions of reference types.
    fn kind_of(&self) -> impl Fn(wasmparser::UnpackedIndex) -> Option<kiln_environ::TypeKind> + '_ {
        move |i| match i {
            wasmparser::UnpackedIndex::Module(m) => self.env.module.types.get(TypeIndex::from_u32(m)).map(|t| t.kind()),
            wasmparser::UnpackedIndex::Id(id) => kiln_environ::TypeKind::of(
                &wasmparser::WasmModuleResources::sub_type_at_id(&self.resources, id).composite_type,
            )
            .ok(),
            wasmparser::UnpackedIndex::RecGroup(_) => None,
        }
    }

    /// The memory flags of a kind of access.
    fn flags(&mut self, access: Access) -> ir::MemFlagsData {
        access.flags(self.builder.func)
    }

    /// Trap unconditionally; the code after this is unreachable.
    fn trap(&mut self, trap: Trap) {
        self.builder.ins().trap(abi::trap_code(trap));
        self.reachable = false;
    }

    /// Translate one (already validated) operator.
    fn translate_operator(&mut self, op: &Operator<'_>) -> Result<(), CompileError> {
        if !self.reachable {
            return self.translate_unreachable_operator(op);
        }
        self.fuel_before_op(op);
        self.translate_reachable_operator(op)?;
        self.fuel_after_op(op);
        Ok(())
    }

    /// Translate one operator in code that can run.
    fn translate_reachable_operator(&mut self, op: &Operator<'_>) -> Result<(), CompileError> {
        use crate::func_translator::memory::{LoadKind, StoreKind};
        use cranelift_codegen::ir::types::{F32, F64, I32, I64};
        match *op {
            Operator::Unreachable => self.trap(Trap::UnreachableCodeReached),
            Operator::Nop => {}
            Operator::Block { blockty } => self.block(blockty)?,
            Operator::Loop { blockty } => self.loop_(blockty)?,
            Operator::If { blockty } => self.if_(blockty)?,
            Operator::Else => self.else_()?,
            Operator::End => self.end()?,
            Operator::Br { relative_depth } => self.br(relative_depth)?,
            Operator::BrIf { relative_depth } => self.br_if(relative_depth)?,
            Operator::BrTable { ref targets } => self.br_table(targets)?,
            Operator::Return => self.return_()?,
            Operator::Throw { tag_index } => self.throw(tag_index)?,
            Operator::ThrowRef => self.throw_ref()?,
            Operator::TryTable { ref try_table } => self.try_table(try_table)?,
            Operator::Try { blockty } => self.legacy_try(blockty)?,
            Operator::Catch { tag_index } => self.legacy_catch(Some(tag_index))?,
            Operator::CatchAll => self.legacy_catch(None)?,
            Operator::Delegate { relative_depth } => self.legacy_delegate(relative_depth)?,
            Operator::Rethrow { relative_depth } => self.legacy_rethrow(relative_depth)?,
            Operator::Call { function_index } => self.call(FuncIndex::from_u32(function_index), false)?,
            Operator::ReturnCall { function_index } => self.call(FuncIndex::from_u32(function_index), true)?,
            Operator::CallIndirect { type_index, table_index } => {
                self.call_indirect(TypeIndex::from_u32(type_index), table_index, false)?
            }
            Operator::ReturnCallIndirect { type_index, table_index } => {
                self.call_indirect(TypeIndex::from_u32(type_index), table_index, true)?
            }
            Operator::CallRef { type_index } => self.call_ref(TypeIndex::from_u32(type_index), false)?,
            Operator::ReturnCallRef { type_index } => self.call_ref(TypeIndex::from_u32(type_index), true)?,
            Operator::BrOnNull { relative_depth } => self.br_on_null(relative_depth)?,
            Operator::BrOnNonNull { relative_depth } => self.br_on_non_null(relative_depth)?,
            Operator::Drop => {
                self.pop()?;
            }
            Operator::Select | Operator::TypedSelect { .. } => {
                let (a, b, cond) = self.pop3()?;
                let v = self.builder.ins().select(cond, a, b);
                self.push(v);
            }
            Operator::LocalGet { local_index } => self.local_get(local_index)?,
            Operator::LocalSet { local_index } => self.local_set(local_index)?,
            Operator::LocalTee { local_index } => self.local_tee(local_index)?,
            Operator::GlobalGet { global_index } => self.global_get(global_index)?,
            Operator::GlobalSet { global_index } => self.global_set(global_index)?,

            Operator::I32Load { memarg } => self.load(op, &memarg, LoadKind::Full(I32))?,
            Operator::I64Load { memarg } => self.load(op, &memarg, LoadKind::Full(I64))?,
            Operator::F32Load { memarg } => self.load(op, &memarg, LoadKind::Full(F32))?,
            Operator::F64Load { memarg } => self.load(op, &memarg, LoadKind::Full(F64))?,
            Operator::I32Load8S { memarg } => self.load(op, &memarg, LoadKind::S8(I32))?,
            Operator::I32Load8U { memarg } => self.load(op, &memarg, LoadKind::U8(I32))?,
            Operator::I32Load16S { memarg } => self.load(op, &memarg, LoadKind::S16(I32))?,
            Operator::I32Load16U { memarg } => self.load(op, &memarg, LoadKind::U16(I32))?,
            Operator::I64Load8S { memarg } => self.load(op, &memarg, LoadKind::S8(I64))?,
            Operator::I64Load8U { memarg } => self.load(op, &memarg, LoadKind::U8(I64))?,
            Operator::I64Load16S { memarg } => self.load(op, &memarg, LoadKind::S16(I64))?,
            Operator::I64Load16U { memarg } => self.load(op, &memarg, LoadKind::U16(I64))?,
            Operator::I64Load32S { memarg } => self.load(op, &memarg, LoadKind::S32)?,
            Operator::I64Load32U { memarg } => self.load(op, &memarg, LoadKind::U32)?,
            Operator::I32Store { memarg }
            | Operator::I64Store { memarg }
            | Operator::F32Store { memarg }
            | Operator::F64Store { memarg } => self.store(op, &memarg, StoreKind::Full)?,
            Operator::I32Store8 { memarg } | Operator::I64Store8 { memarg } => {
                self.store(op, &memarg, StoreKind::Low8)?
            }
            Operator::I32Store16 { memarg } | Operator::I64Store16 { memarg } => {
                self.store(op, &memarg, StoreKind::Low16)?
            }
            Operator::I64Store32 { memarg } => self.store(op, &memarg, StoreKind::Low32)?,
            Operator::MemorySize { mem } => self.memory_size(mem)?,
            Operator::MemoryGrow { mem } => self.memory_grow(mem)?,
            Operator::RefNull { .. } => self.ref_null(),
            Operator::RefIsNull => self.ref_is_null()?,
            Operator::RefAsNonNull => self.ref_as_non_null()?,
            Operator::RefFunc { function_index } => self.ref_func(function_index)?,
            Operator::RefTestNonNull { hty } => self.ref_test(hty, false)?,
            Operator::RefTestNullable { hty } => self.ref_test(hty, true)?,
            Operator::RefCastNonNull { hty } => self.ref_cast(hty, false)?,
            Operator::RefCastNullable { hty } => self.ref_cast(hty, true)?,
            Operator::BrOnCast { relative_depth, to_ref_type, .. } => {
                self.br_on_cast(relative_depth, to_ref_type, false)?
            }
            Operator::BrOnCastFail { relative_depth, to_ref_type, .. } => {
                self.br_on_cast(relative_depth, to_ref_type, true)?
            }
            Operator::RefI31 => self.ref_i31()?,
            Operator::I31GetS => self.i31_get(true)?,
            Operator::I31GetU => self.i31_get(false)?,
            Operator::RefEq => self.ref_eq()?,
            Operator::StructNew { struct_type_index } => self.struct_new(struct_type_index, false)?,
            Operator::StructNewDefault { struct_type_index } => self.struct_new(struct_type_index, true)?,
            Operator::StructGet { struct_type_index, field_index } => {
                self.struct_get(struct_type_index, field_index, gc::Extend::None)?
            }
            Operator::StructGetS { struct_type_index, field_index } => {
                self.struct_get(struct_type_index, field_index, gc::Extend::Signed)?
            }
            Operator::StructGetU { struct_type_index, field_index } => {
                self.struct_get(struct_type_index, field_index, gc::Extend::Unsigned)?
            }
            Operator::StructSet { struct_type_index, field_index } => {
                self.struct_set(struct_type_index, field_index)?
            }
            Operator::ArrayNew { array_type_index } => self.array_new(array_type_index, false)?,
            Operator::ArrayNewDefault { array_type_index } => self.array_new(array_type_index, true)?,
            Operator::ArrayNewFixed { array_type_index, array_size } => {
                self.array_new_fixed(array_type_index, array_size)?
            }
            Operator::ArrayGet { array_type_index } => self.array_get(array_type_index, gc::Extend::None)?,
            Operator::ArrayGetS { array_type_index } => self.array_get(array_type_index, gc::Extend::Signed)?,
            Operator::ArrayGetU { array_type_index } => self.array_get(array_type_index, gc::Extend::Unsigned)?,
            Operator::ArraySet { array_type_index } => self.array_set(array_type_index)?,
            Operator::ArrayLen => self.array_len()?,
            Operator::ArrayFill { array_type_index } => self.array_fill(array_type_index)?,
            Operator::ArrayCopy { .. } => self.array_copy()?,
            Operator::ArrayInitData { array_data_index, .. } => self.array_init_segment(array_data_index, true)?,
            Operator::ArrayInitElem { array_elem_index, .. } => self.array_init_segment(array_elem_index, false)?,
            Operator::ArrayNewData { array_type_index, array_data_index } => {
                self.array_new_segment(array_type_index, array_data_index, true)?
            }
            Operator::ArrayNewElem { array_type_index, array_elem_index } => {
                self.array_new_segment(array_type_index, array_elem_index, false)?
            }
            // Every non-function reference is a self-describing word: converting keeps it.
            Operator::AnyConvertExtern | Operator::ExternConvertAny => {}
            Operator::TableGet { table } => self.table_get(table)?,
            Operator::TableSet { table } => self.table_set(table)?,
            Operator::TableSize { table } => self.table_size(table)?,
            Operator::MemoryCopy { dst_mem, src_mem } => self.memory_copy(dst_mem, src_mem)?,
            Operator::MemoryFill { mem } => self.memory_fill(mem)?,
            Operator::MemoryInit { data_index, mem } => self.memory_init(data_index, mem)?,
            Operator::DataDrop { data_index } => self.data_drop(data_index),
            Operator::TableGrow { table } => self.table_grow(table)?,
            Operator::TableFill { table } => self.table_fill(table)?,
            Operator::TableCopy { dst_table, src_table } => self.table_copy(dst_table, src_table)?,
            Operator::TableInit { elem_index, table } => self.table_init(elem_index, table)?,
            Operator::ElemDrop { elem_index } => self.elem_drop(elem_index),

            _ => {
                if self.translate_simd(op)? || self.translate_relaxed_simd(op)? {
                    return Ok(());
                }
                if !self.translate_numeric(op)? {
                    return Err(unsupported::unsupported_operator(op));
                }
            }
        }
        Ok(())
    }
}

/// An offset into a runtime structure as a Cranelift load offset.
fn offset32(offset: u32) -> Result<Offset32, CompileError> {
    i32::try_from(offset)
        .map(Offset32::new)
        .map_err(|_| CompileError::Limit(format!("runtime structure offset {offset:#x} exceeds 2 GiB")))
}
