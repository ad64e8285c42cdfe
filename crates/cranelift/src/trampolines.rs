//! The three kinds of trampolines, each built as a Cranelift function:
//!
//! - **array-to-wasm** (one per escaping function): the host enters wasm through it. It reads
//!   the parameters out of the `ValRaw` array, calls the wasm function directly, and writes the
//!   results back into the same array.
//! - **wasm-to-array** (one per distinct host-callable signature): wasm calls a host function
//!   through it. It spills the arguments into a `ValRaw` array on its stack, calls the host
//!   function's `array_call`, and reads the results back. When that returns false it calls
//!   the `rethrow_host_error` builtin, which throws a host function's wasm exception on into
//!   the calling wasm, and traps with `HostError` if that returns.
//! - **wasm-to-builtin** (one per builtin that code names): it loads the builtin's address
//!   from the runtime's builtin table and calls it with the platform's calling convention.
//!   The trampolines of the builtins that unwind (`throw`, `throw_ref`) first record their
//!   frame pointer in the store context, where the unwinder starts.
use crate::abi::{self, VAL_RAW_SIZE};
use cranelift_codegen::ir::{
    self, ExtFuncData, ExternalName, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, UserFuncName, types,
};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use kiln_environ::{BuiltinFunction, FuncKey, Trap, VMOffsets, WasmFuncType};

fn new_function(key: FuncKey, sig: ir::Signature) -> ir::Function {
    ir::Function::with_name_signature(UserFuncName::User(abi::external_name(key)), sig)
}

/// A builder in `func`'s (sealed) entry block, and the function's parameters.
fn entry_block<'a>(
    func: &'a mut ir::Function,
    ctx: &'a mut FunctionBuilderContext,
) -> (FunctionBuilder<'a>, Vec<ir::Value>) {
    let mut b = FunctionBuilder::new(func, ctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    (b, params)
}

/// Loads and stores of the trampolines' own runtime structures and spill slots.
fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Store this function's frame pointer as the store context's `exit_fp` (`vmctx` is an
/// instance's), for the unwinder.
fn record_exit_fp(b: &mut FunctionBuilder<'_>, isa: &dyn TargetIsa, vmctx: ir::Value) {
    let ptr = isa.pointer_type();
    let context = b.ins().load(ptr, trusted().with_readonly(), vmctx, VMOffsets::STORE_CONTEXT as i32);
    let fp = b.ins().get_frame_pointer(ptr);
    b.ins().store(trusted(), fp, context, VMOffsets::STORE_CONTEXT_EXIT_FP as i32);
}

/// The address of `builtin`, from the builtin table of instance `vmctx`.
fn builtin_address(
    b: &mut FunctionBuilder<'_>,
    isa: &dyn TargetIsa,
    vmctx: ir::Value,
    builtin: BuiltinFunction,
) -> ir::Value {
    let ptr = isa.pointer_type();
    let table = b.ins().load(ptr, trusted().with_readonly(), vmctx, VMOffsets::BUILTINS as i32);
    let offset = (builtin.index() * VMOffsets::PTR) as i32;
    b.ins().load(ptr, trusted().with_readonly(), table, offset)
}

/// The array-to-wasm trampoline of defined function `callee` (whose key is `callee_key`).
pub fn array_to_wasm(isa: &dyn TargetIsa, key: FuncKey, callee_key: FuncKey, ty: &WasmFuncType) -> ir::Function {
    let mut func = new_function(key, abi::array_signature(isa));
    let mut ctx = FunctionBuilderContext::new();
    let (mut b, params) = entry_block(&mut func, &mut ctx);
    let (callee_vmctx, caller_vmctx, values) = (params[0], params[1], params[2]);

    let mut args = vec![callee_vmctx, caller_vmctx];
    for (i, t) in ty.params.iter().enumerate() {
        let offset = i32::try_from(i as u32 * VAL_RAW_SIZE).unwrap_or(i32::MAX);
        args.push(b.ins().load(abi::ir_type(isa, *t), trusted(), values, offset));
    }
    let sig = b.import_signature(abi::wasm_signature(isa, ty));
    let name = b.func.declare_imported_user_function(abi::external_name(callee_key));
    let callee = b.import_function(ExtFuncData {
        name: ExternalName::user(name),
        signature: sig,
        colocated: true,
        patchable: false,
    });
    let call = b.ins().call(callee, &args);
    let results = b.inst_results(call).to_vec();
    for (i, r) in results.into_iter().enumerate() {
        let offset = i32::try_from(i as u32 * VAL_RAW_SIZE).unwrap_or(i32::MAX);
        b.ins().store(trusted(), r, values, offset);
    }
    let ok = b.ins().iconst(types::I8, 1);
    b.ins().return_(&[ok]);
    b.finalize(isa.frontend_config());
    func
}

/// The wasm-to-array trampoline for host functions of type `ty` (keyed by `key`).
pub fn wasm_to_array(isa: &dyn TargetIsa, key: FuncKey, ty: &WasmFuncType) -> ir::Function {
    let mut func = new_function(key, abi::wasm_signature(isa, ty));
    let mut ctx = FunctionBuilderContext::new();
    let (mut b, params) = entry_block(&mut func, &mut ctx);
    let (callee_vmctx, caller_vmctx) = (params[0], params[1]);
    let ptr = isa.pointer_type();

    let slots = ty.params.len().max(ty.results.len()).max(1) as u32;
    let slot = b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, slots * VAL_RAW_SIZE, 4));
    for (i, p) in params[2..].iter().enumerate() {
        b.ins().stack_store(ptr, *p, slot, (i as u32 * VAL_RAW_SIZE) as i32);
    }
    let values = b.ins().stack_addr(ptr, slot, 0);
    let len = b.ins().iconst(ptr, i64::from(slots));
    // The caller is a wasm instance: its vmctx has the builtin table and the store context.
    // The host function may collect (or throw): the walks of the wasm stack start here.
    record_exit_fp(&mut b, isa, caller_vmctx);
    let array_call = b.ins().load(
        ptr,
        trusted(),
        callee_vmctx,
        (VMOffsets::HOST_FUNC_FUNC_REF + VMOffsets::FUNC_REF_ARRAY_CALL) as i32,
    );
    let sig = b.import_signature(abi::array_signature(isa));
    let call = b.ins().call_indirect(sig, array_call, &[callee_vmctx, caller_vmctx, values, len]);
    let ok = b.inst_results(call)[0];
    let (failed, done) = (b.create_block(), b.create_block());
    b.ins().brif(ok, done, &[], failed, &[]);
    b.seal_block(failed);
    b.seal_block(done);
    b.switch_to_block(failed);
    b.set_cold_block(failed);
    let builtin = BuiltinFunction::RethrowHostError;
    let target = builtin_address(&mut b, isa, caller_vmctx, builtin);
    let sig = b.import_signature(abi::builtin_signature(isa, builtin, isa.default_call_conv()));
    b.ins().call_indirect(sig, target, &[caller_vmctx]);
    b.ins().trap(abi::trap_code(Trap::HostError));
    b.switch_to_block(done);
    let results: Vec<ir::Value> = ty
        .results
        .iter()
        .enumerate()
        .map(|(i, t)| b.ins().stack_load(ptr, abi::ir_type(isa, *t), slot, (i as u32 * VAL_RAW_SIZE) as i32))
        .collect();
    b.ins().return_(&results);
    b.finalize(isa.frontend_config());
    func
}

/// The wasm-to-builtin trampoline of builtin `builtin`.
pub fn wasm_to_builtin(isa: &dyn TargetIsa, builtin: BuiltinFunction) -> ir::Function {
    let key = FuncKey::WasmToBuiltinTrampoline(builtin);
    let mut func = new_function(key, abi::builtin_signature(isa, builtin, CallConv::Tail));
    let mut ctx = FunctionBuilderContext::new();
    let (mut b, params) = entry_block(&mut func, &mut ctx);
    // A builtin may collect, throw, or run the host's callbacks: the walks of the wasm stack
    // start here.
    record_exit_fp(&mut b, isa, params[0]);
    let target = builtin_address(&mut b, isa, params[0], builtin);
    let sig = b.import_signature(abi::builtin_signature(isa, builtin, isa.default_call_conv()));
    let call = b.ins().call_indirect(sig, target, &params);
    let results = b.inst_results(call).to_vec();
    b.ins().return_(&results);
    b.finalize(isa.frontend_config());
    func
}
