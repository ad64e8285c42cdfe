//! Locals: each wasm local is a Cranelift variable (the SSA construction of
//! cranelift-frontend places the block parameters). Parameters start as the function's
//! arguments, declared locals as zero (a null pointer for references). A local of a traced
//! reference type is a variable that needs stack maps (see `stack`).
use cranelift_codegen::ir::{
    InstBuilder, Type, Value,
    immediates::{Ieee32, Ieee64},
    types,
};
use cranelift_frontend::Variable;
use kiln_environ::{CompileError, WasmValType};

use super::FuncTranslator;

impl FuncTranslator<'_, '_> {
    /// Declare `count` locals of type `ty`, each starting as zero. Called in the entry block,
    /// before the first operator.
    pub(super) fn declare_locals(&mut self, count: u32, ty: wasmparser::ValType) -> Result<(), CompileError> {
        let traced = WasmValType::from_wasmparser(ty, &self.kind_of())?.is_traced();
        let ty = self.parser_value_type(ty)?;
        let zero = self.zero(ty);
        for _ in 0..count {
            let var = self.builder.declare_var(ty);
            if traced {
                self.builder.declare_var_needs_stack_map(var);
            }
            self.define(var, zero)?;
            self.locals.push(var);
        }
        Ok(())
    }

    /// The zero of type `ty`, made once.
    fn zero(&mut self, ty: Type) -> Value {
        if let Some(zero) = self.zeros.get(&ty) {
            return *zero;
        }
        let zero = match ty {
            types::F32 => self.builder.ins().f32const(Ieee32::with_bits(0)),
            types::F64 => self.builder.ins().f64const(Ieee64::with_bits(0)),
            types::I8X16 => super::simd::vector_zero(&mut self.builder, ty),
            _ => self.builder.ins().iconst(ty, 0),
        };
        self.zeros.insert(ty, zero);
        zero
    }

    fn local(&self, index: u32) -> Result<Variable, CompileError> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.locals.get(i))
            .copied()
            .ok_or_else(|| CompileError::Internal(format!("local {index} was not declared")))
    }

    /// `local.get`.
    pub(super) fn local_get(&mut self, index: u32) -> Result<(), CompileError> {
        let var = self.local(index)?;
        let value = self.builder.use_var(var);
        self.push(value);
        Ok(())
    }

    /// `local.set`.
    pub(super) fn local_set(&mut self, index: u32) -> Result<(), CompileError> {
        let var = self.local(index)?;
        let value = self.pop()?;
        self.define(var, value)
    }

    /// `local.tee`: set, leaving the value on the stack.
    pub(super) fn local_tee(&mut self, index: u32) -> Result<(), CompileError> {
        let var = self.local(index)?;
        let value = *self.peekn(1)?.first().ok_or_else(|| CompileError::Internal("empty stack".into()))?;
        self.define(var, value)
    }

    /// Give a local a new value.
    pub(super) fn define(&mut self, var: Variable, value: Value) -> Result<(), CompileError> {
        self.builder
            .try_def_var(var, value)
            .map_err(|e| CompileError::Internal(format!("local of the wrong type: {e}")))
    }
}
