//! The operand stack: wasm's value stack, holding the SSA value of each operand. The
//! validator has already checked every operator's stack effect, so an underflow here means
//! the translator and the validator disagree about a type (e.g. the module's description of a
//! type is a stand-in for one Kiln does not support); it is reported as an internal error
//! rather than a panic. After each operator, the references it pushed that the store's
//! collector traces are declared to need stack maps (`declare_pushed_references`).
use cranelift_codegen::ir::{BlockArg, Value};
use kiln_environ::{CompileError, WasmValType};
use wasmparser::{FuncValidator, ValidatorResources};

use super::FuncTranslator;

fn underflow() -> CompileError {
    CompileError::Internal("operand stack underflow in the function translator".into())
}

/// Wrap values as block-call arguments.
pub(super) fn block_args(values: &[Value]) -> Vec<BlockArg> {
    values.iter().map(|v| BlockArg::Value(*v)).collect()
}

impl FuncTranslator<'_, '_> {
    /// Push one operand.
    pub(super) fn push(&mut self, value: Value) {
        self.stack.push(value);
        self.pushed += 1;
    }

    /// Push several operands, first one deepest.
    pub(super) fn push_all(&mut self, values: &[Value]) {
        self.stack.extend_from_slice(values);
        self.pushed += values.len();
    }

    /// Pop the top operand.
    pub(super) fn pop(&mut self) -> Result<Value, CompileError> {
        self.pushed = self.pushed.saturating_sub(1);
        self.stack.pop().ok_or_else(underflow)
    }

    /// Pop two operands: `(deeper, top)`.
    pub(super) fn pop2(&mut self) -> Result<(Value, Value), CompileError> {
        let b = self.pop()?;
        let a = self.pop()?;
        Ok((a, b))
    }

    /// Pop three operands, deepest first.
    pub(super) fn pop3(&mut self) -> Result<(Value, Value, Value), CompileError> {
        let c = self.pop()?;
        let (a, b) = self.pop2()?;
        Ok((a, b, c))
    }

    /// Pop the top `n` operands, deepest first.
    pub(super) fn popn(&mut self, n: usize) -> Result<Vec<Value>, CompileError> {
        let at = self.stack.len().checked_sub(n).ok_or_else(underflow)?;
        self.pushed = self.pushed.saturating_sub(n);
        Ok(self.stack.split_off(at))
    }

    /// The top `n` operands, deepest first, left on the stack.
    pub(super) fn peekn(&self, n: usize) -> Result<&[Value], CompileError> {
        let at = self.stack.len().checked_sub(n).ok_or_else(underflow)?;
        Ok(&self.stack[at..])
    }

    /// Drop operands above height `base` (leaving a block, or reaching code after a branch).
    pub(super) fn truncate_stack(&mut self, base: usize) {
        self.pushed = self.pushed.saturating_sub(self.stack.len().saturating_sub(base));
        self.stack.truncate(base);
    }

    /// Declare the references the operator just translated pushed that the store's
    /// collector traces (all but functions) as needing stack maps: wherever such a value is
    /// live across a call, Cranelift spills it to a slot that the call's stack map lists, and
    /// the collector finds it there. `validator` has validated that operator, so the types of
    /// its results are on top of its operand stack.
    pub(super) fn declare_pushed_references(&mut self, validator: &FuncValidator<ValidatorResources>) {
        let pushed = std::mem::take(&mut self.pushed).min(self.stack.len());
        for depth in 0..pushed {
            let Some(Some(wasmparser::ValType::Ref(r))) = validator.get_operand_type(depth) else { continue };
            let traced = WasmValType::from_ref_type(r, &self.kind_of()).is_ok_and(WasmValType::is_traced);
            let value = self.stack[self.stack.len() - 1 - depth];
            if traced && self.builder.func.dfg.value_type(value) == self.pointer_type {
                self.builder.declare_value_needs_stack_map(value);
            }
        }
    }
}
