//! The operand stack: wasm's value stack, holding the SSA value of each operand. The
//! validator has already checked every operator's stack effect, so an underflow here means
//! the translator and the validator disagree about a type (e.g. the module's description of a
//! type is a stand-in for one Kiln does not support); it is reported as an internal error
//! rather than a panic.
use cranelift_codegen::ir::{BlockArg, Value};
use kiln_environ::CompileError;

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
    }

    /// Push several operands, first one deepest.
    pub(super) fn push_all(&mut self, values: &[Value]) {
        self.stack.extend_from_slice(values);
    }

    /// Pop the top operand.
    pub(super) fn pop(&mut self) -> Result<Value, CompileError> {
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
        Ok(self.stack.split_off(at))
    }

    /// The top `n` operands, deepest first, left on the stack.
    pub(super) fn peekn(&self, n: usize) -> Result<&[Value], CompileError> {
        let at = self.stack.len().checked_sub(n).ok_or_else(underflow)?;
        Ok(&self.stack[at..])
    }

    /// Drop operands above height `base` (leaving a block, or reaching code after a branch).
    pub(super) fn truncate_stack(&mut self, base: usize) {
        self.stack.truncate(base);
    }
}
