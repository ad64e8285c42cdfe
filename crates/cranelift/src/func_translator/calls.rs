//! Calls. All wasm functions share the wasm ABI: `(callee_vmctx, caller_vmctx, args…)`.
//!
//! - A defined function is called directly, by its `FuncKey` name (colocated: the linker puts
//!   all code in one text section), passing our own vmctx twice.
//! - An imported function is called through its import record: its `wasm_call` pointer with
//!   the record's vmctx as the callee's.
//! - `call_indirect` bounds-checks the index against the table's current length (`undefined
//!   element`), loads the `*const VMFuncRef` (null: `uninitialized element`), compares the
//!   function's canonical type id with the one expected (`indirect call type mismatch`; equal
//!   types have equal ids, so for a final type this is the whole check; a type that is not
//!   final asks the `is_subtype` builtin when the ids differ), and calls its `wasm_call` with
//!   its vmctx.
//!
//! - `call_ref` traps on a null reference (`null function reference`) and calls the
//!   `VMFuncRef`'s `wasm_call` with its vmctx; validation has already proven its type.
//!
//! Inside a `try_table` a (non-tail) call is a `try_call` (see `exceptions`).
//!
//! `return_call`, `return_call_indirect` and `return_call_ref` reach their callee the same way and end the
//! function with Cranelift's tail call, which reuses this function's frame (every wasm
//! function and wasm-to-host trampoline uses the `tail` calling convention, which allows it).
use cranelift_codegen::ir::{
    ExtFuncData, ExternalName, FuncRef, InstBuilder, SigRef, UserExternalName, Value, condcodes::IntCC, types::I32,
};
use kiln_environ::{CompileError, FuncIndex, FuncKey, Trap, TypeIndex, VMOffsets};

use super::exceptions::Target;
use super::regions::Access;
use super::{FuncTranslator, internal};
use crate::abi;

impl FuncTranslator<'_, '_> {
    /// Declare an external function of the artifact (a direct, colocated call target).
    pub(super) fn import_function(&mut self, name: UserExternalName, signature: SigRef) -> FuncRef {
        let name = self.builder.func.declare_imported_user_function(name);
        self.builder.import_function(ExtFuncData {
            name: ExternalName::User(name),
            signature,
            colocated: true,
            patchable: false,
        })
    }

    /// The IR signature of module type `ty`, imported once.
    fn signature(&mut self, ty: TypeIndex) -> Result<SigRef, CompileError> {
        if let Some(sig) = self.signatures.get(&ty) {
            return Ok(*sig);
        }
        let wasm_ty = self
            .env
            .module
            .types
            .get(ty)
            .and_then(|t| t.as_func())
            .ok_or_else(|| internal(format!("function type {} is not in the module", ty.as_u32())))?;
        let sig = self.builder.import_signature(abi::wasm_signature(self.env.isa, wasm_ty));
        self.signatures.insert(ty, sig);
        Ok(sig)
    }

    /// The number of params of module type `ty`.
    fn num_params(&self, ty: TypeIndex) -> Result<usize, CompileError> {
        self.env
            .module
            .types
            .get(ty)
            .and_then(|t| t.as_func())
            .map(|t| t.params.len())
            .ok_or_else(|| internal(format!("function type {} is not in the module", ty.as_u32())))
    }

    /// Call `callee` with `args`: a plain call pushes its results; a tail call returns them
    /// from this function, and the code after it is unreachable.
    fn emit_call(&mut self, callee: Callee, args: &[Value], tail: bool) {
        if !tail && self.in_try() {
            // Inside a `try_table` the call may land in one of its handlers.
            let (target, sig) = match callee {
                Callee::Direct(f) => (Target::Direct(f), self.builder.func.dfg.ext_funcs[f].signature),
                Callee::Indirect(sig, code) => (Target::Indirect(code), sig),
            };
            let results = self.emit_try_call(target, sig, args);
            self.push_all(&results);
            return;
        }
        let ins = self.builder.ins();
        let call = match (callee, tail) {
            (Callee::Direct(f), false) => ins.call(f, args),
            (Callee::Indirect(sig, code), false) => ins.call_indirect(sig, code, args),
            (Callee::Direct(f), true) => {
                ins.return_call(f, args);
                self.reachable = false;
                return;
            }
            (Callee::Indirect(sig, code), true) => {
                ins.return_call_indirect(sig, code, args);
                self.reachable = false;
                return;
            }
        };
        let results = self.builder.inst_results(call).to_vec();
        self.push_all(&results);
    }

    /// `call`, or `return_call` when `tail`.
    pub(super) fn call(&mut self, f: FuncIndex, tail: bool) -> Result<(), CompileError> {
        let ty = self
            .env
            .module
            .functions
            .get(f)
            .ok_or_else(|| internal(format!("function {} is not in the module", f.as_u32())))?
            .ty;
        let signature = self.signature(ty)?;
        let args = self.popn(self.num_params(ty)?)?;
        match self.env.module.defined_func_index(f) {
            Some(def) => {
                let callee = match self.callees.get(&def) {
                    Some(callee) => *callee,
                    None => {
                        let name = abi::external_name(FuncKey::DefinedWasmFunction(self.env.module_index, def));
                        let callee = self.import_function(name, signature);
                        self.callees.insert(def, callee);
                        callee
                    }
                };
                let call_args = [&[self.vmctx, self.vmctx][..], &args].concat();
                self.emit_call(Callee::Direct(callee), &call_args, tail);
            }
            None => {
                let import = self.env.offsets.imported_function(f);
                let flags = self.flags(Access::ReadOnly);
                let code = self.load_pointer(flags, self.vmctx, import + VMOffsets::FUNCTION_IMPORT_WASM_CALL);
                let callee_vmctx = self.load_pointer(flags, self.vmctx, import + VMOffsets::FUNCTION_IMPORT_VMCTX);
                let call_args = [&[callee_vmctx, self.vmctx][..], &args].concat();
                self.emit_call(Callee::Indirect(signature, code), &call_args, tail);
            }
        }
        Ok(())
    }

    /// `call_ref`, or `return_call_ref` when `tail`.
    pub(super) fn call_ref(&mut self, ty: TypeIndex, tail: bool) -> Result<(), CompileError> {
        let signature = self.signature(ty)?;
        let func_ref = self.pop()?;
        let args = self.popn(self.num_params(ty)?)?;
        self.builder.ins().trapz(func_ref, abi::trap_code(Trap::NullFunctionReference));
        self.call_func_ref(signature, func_ref, &args, tail);
        Ok(())
    }

    /// Call the non-null `func_ref`, whose type is `signature`'s.
    fn call_func_ref(&mut self, signature: SigRef, func_ref: Value, args: &[Value], tail: bool) {
        let readonly = self.flags(Access::ReadOnly);
        let code = self.load_pointer(readonly, func_ref, VMOffsets::FUNC_REF_WASM_CALL);
        let callee_vmctx = self.load_pointer(readonly, func_ref, VMOffsets::FUNC_REF_VMCTX);
        let call_args = [&[callee_vmctx, self.vmctx][..], args].concat();
        self.emit_call(Callee::Indirect(signature, code), &call_args, tail);
    }

    /// `call_indirect`, or `return_call_indirect` when `tail`.
    pub(super) fn call_indirect(&mut self, ty: TypeIndex, table: u32, tail: bool) -> Result<(), CompileError> {
        let signature = self.signature(ty)?;
        let index = self.pop()?;
        let args = self.popn(self.num_params(ty)?)?;

        // The table entry, bounds-checked.
        let entry_address = self.table_entry_address(table, index)?;
        let readonly = self.flags(Access::ReadOnly);
        let func_ref = self.load_table_entry(table, index, entry_address)?;
        self.builder.ins().trapz(func_ref, abi::trap_code(Trap::IndirectCallToNull));

        // The signature check: the same canonical type, or (for a type that is not final) a
        // declared subtype of it.
        let actual = self.load_field(I32, readonly, func_ref, VMOffsets::FUNC_REF_TYPE_INDEX);
        if !self.may_have_subtypes(ty)? {
            let expected = self.type_id(ty);
            let mismatch = self.builder.ins().icmp(IntCC::NotEqual, actual, expected);
            self.builder.ins().trapnz(mismatch, abi::trap_code(Trap::BadSignature));
        } else {
            let ok = self.is_subtype_of_type(actual, ty)?;
            self.builder.ins().trapz(ok, abi::trap_code(Trap::BadSignature));
        }
        self.call_func_ref(signature, func_ref, &args, tail);
        Ok(())
    }
}

/// Where a call goes: a function of this artifact by name, or a code pointer of a signature.
#[derive(Clone, Copy)]
enum Callee {
    Direct(FuncRef),
    Indirect(SigRef, Value),
}
