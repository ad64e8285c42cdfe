//! The ABI facts shared by the function translator, the trampolines and the linker: how wasm
//! types map to IR types, the wasm, array and builtin signatures, how a `FuncKey` becomes an
//! IR name, and how Kiln's traps map to Cranelift trap codes.
//!
//! - Wasm ABI (`CallConv::Tail`): `(callee_vmctx, caller_vmctx, wasm params…) -> wasm results`.
//! - Array ABI (the platform's C convention): `(callee_vmctx, caller_vmctx, values: *mut ValRaw,
//!   len) -> bool`, where each `ValRaw` is a 16-byte slot holding a param on entry and a result
//!   on return; `false` means a trap was recorded.
//! - Builtin trampolines (wasm ABI): `(vmctx, builtin params…) -> builtin results`; they call
//!   the runtime's builtin (C convention) with the same arguments.
use cranelift_codegen::ir::{self, AbiParam, ArgumentPurpose, Signature, TrapCode, UserExternalName, types};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use kiln_environ::builtins::BuiltinType;
use kiln_environ::{BuiltinFunction, FuncKey, Module, Trap, Tunables, VMOffsets, WasmFuncType, WasmValType};

/// The size of one `ValRaw` slot of the array ABI.
pub const VAL_RAW_SIZE: u32 = 16;

/// What translating one function of a module needs to know.
pub struct FuncEnv<'a> {
    pub module: &'a Module,
    pub offsets: &'a VMOffsets,
    pub tunables: &'a Tunables,
    pub isa: &'a dyn TargetIsa,
    /// The `M` of this module's `FuncKey`s.
    pub module_index: kiln_environ::StaticModuleIndex,
}

/// The IR type of a wasm value type. References are pointers (`*const VMFuncRef` for funcref).
pub fn ir_type(isa: &dyn TargetIsa, ty: WasmValType) -> ir::Type {
    match ty {
        WasmValType::I32 => types::I32,
        WasmValType::I64 => types::I64,
        WasmValType::F32 => types::F32,
        WasmValType::F64 => types::F64,
        WasmValType::V128 => types::I8X16,
        WasmValType::FuncRef | WasmValType::ExternRef | WasmValType::AnyRef | WasmValType::ExnRef => isa.pointer_type(),
    }
}

/// The signature of a wasm function of type `ty` under the wasm ABI.
pub fn wasm_signature(isa: &dyn TargetIsa, ty: &WasmFuncType) -> Signature {
    let ptr = isa.pointer_type();
    let mut sig = Signature::new(CallConv::Tail);
    sig.params.push(AbiParam::special(ptr, ArgumentPurpose::VMContext));
    sig.params.push(AbiParam::new(ptr));
    sig.params.extend(ty.params.iter().map(|t| AbiParam::new(ir_type(isa, *t))));
    sig.returns.extend(ty.results.iter().map(|t| AbiParam::new(ir_type(isa, *t))));
    sig
}

/// The signature of the array ABI (host ↔ wasm).
pub fn array_signature(isa: &dyn TargetIsa) -> Signature {
    let ptr = isa.pointer_type();
    let mut sig = Signature::new(isa.default_call_conv());
    sig.params.push(AbiParam::special(ptr, ArgumentPurpose::VMContext));
    sig.params.push(AbiParam::new(ptr));
    sig.params.push(AbiParam::new(ptr));
    sig.params.push(AbiParam::new(ptr));
    sig.returns.push(AbiParam::new(types::I8));
    sig
}

fn builtin_type(isa: &dyn TargetIsa, ty: BuiltinType) -> ir::Type {
    match ty {
        BuiltinType::I32 => types::I32,
        BuiltinType::I64 => types::I64,
        BuiltinType::Reference => isa.pointer_type(),
    }
}

/// The signature of builtin `b` under `call_conv`: `(vmctx, params…) -> results`.
pub fn builtin_signature(isa: &dyn TargetIsa, b: BuiltinFunction, call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::special(isa.pointer_type(), ArgumentPurpose::VMContext));
    sig.params.extend(b.params().iter().map(|t| AbiParam::new(builtin_type(isa, *t))));
    sig.returns.extend(b.results().iter().map(|t| AbiParam::new(builtin_type(isa, *t))));
    sig
}

/// The IR name of a function key.
pub fn external_name(key: FuncKey) -> UserExternalName {
    let (namespace, index) = key.into_raw();
    UserExternalName { namespace, index }
}

/// The Cranelift trap code for a Kiln trap.
pub fn trap_code(trap: Trap) -> TrapCode {
    match trap {
        Trap::StackOverflow => TrapCode::STACK_OVERFLOW,
        Trap::IntegerOverflow => TrapCode::INTEGER_OVERFLOW,
        Trap::MemoryOutOfBounds => TrapCode::HEAP_OUT_OF_BOUNDS,
        Trap::IntegerDivisionByZero => TrapCode::INTEGER_DIVISION_BY_ZERO,
        Trap::BadConversionToInteger => TrapCode::BAD_CONVERSION_TO_INTEGER,
        other => TrapCode::unwrap_user(other.code()),
    }
}

/// The Kiln trap of a Cranelift trap code, if it is one of ours.
pub fn trap_from_code(code: TrapCode) -> Option<Trap> {
    Trap::ALL.iter().copied().find(|t| trap_code(*t) == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_codes_round_trip() {
        for t in Trap::ALL {
            assert_eq!(trap_from_code(trap_code(t)), Some(t));
        }
    }
}
