//! Fuel: with `consume_fuel`, compiled code counts what it executes in the store context's
//! `fuel_consumed`, which starts at minus the fuel the store was given, and calls the
//! `out_of_gas` builtin when the count is no longer negative.
//!
//! The costs are wasmtime's, so that a budget means the same in both: entering a function
//! costs one unit, and every operator one, except `nop`, `drop`, `block`, `loop`, `else`, `end`, `unreachable` and
//! `return`, which cost nothing; `memory.copy`, `memory.fill` and `memory.init` also cost one
//! unit per byte, `table.copy`, `table.fill`, `table.init` and `table.grow` one per element,
//! charged once the operation's bounds are checked (Kiln charges after the operation, so an
//! out-of-bounds one traps as such, whatever fuel is left, and a `table.grow` that fails
//! costs no more than its one unit).
//!
//! A function keeps the count in a variable. The cost of straight-line code is added up at
//! compile time and added to the variable once, where control flow leaves the straight line
//! (a branch, `if`, `else`, `end`, a loop's entry); the variable is written back to the store
//! context before every call and return (the callee, a builtin or the host may read or change
//! it) and read again after every call. The count is checked — and `out_of_gas` called —
//! at function entry, at every loop header, and after each per-byte charge. Since the count
//! lives in memory across calls, inlining a function does not change what a run consumes.
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{InstBuilder, InstructionData, Opcode, Value};
use cranelift_frontend::Variable;
use kiln_environ::{BuiltinFunction, Trap, VMOffsets};
use wasmparser::Operator;

use super::FuncTranslator;
use super::regions::Access;
use crate::abi;

/// A function's fuel count while it is translated.
pub(super) struct Fuel {
    /// The store context's `fuel_consumed`, as this function last computed it.
    var: Variable,
    /// The cost of the operators translated since `var` was last brought up to date.
    pending: i64,
}

/// What executing `op` costs.
fn operator_cost(op: &Operator<'_>) -> i64 {
    match op {
        Operator::Nop
        | Operator::Drop
        | Operator::Block { .. }
        | Operator::Loop { .. }
        | Operator::Unreachable
        | Operator::Return
        | Operator::Else
        | Operator::End => 0,
        _ => 1,
    }
}

impl FuncTranslator<'_, '_> {
    /// At function entry: load the count and check it.
    pub(super) fn fuel_function_entry(&mut self) {
        if !self.env.tunables.consume_fuel {
            return;
        }
        let var = self.builder.declare_var(I64);
        // A call costs one unit before anything in the body runs, so that even an empty
        // function consumes fuel (wasmtime's rule).
        self.fuel = Some(Fuel { var, pending: 1 });
        self.fuel_load();
        self.fuel_check();
    }

    /// Before a reachable operator: charge its cost, and bring the count up to date (or
    /// write it back) where control leaves the straight line.
    pub(super) fn fuel_before_op(&mut self, op: &Operator<'_>) {
        let Some(fuel) = &mut self.fuel else { return };
        fuel.pending += operator_cost(op);
        match op {
            Operator::Unreachable
            | Operator::Return
            | Operator::Call { .. }
            | Operator::CallIndirect { .. }
            | Operator::CallRef { .. }
            | Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. }
            | Operator::ReturnCallRef { .. } => {
                self.fuel_flush();
                self.fuel_save();
            }
            // `throw`, `throw_ref` and `rethrow` bring the count up to date where they call
            // their builtin (`exceptions::call_throwing_builtin_within`), as the legacy
            // `end` and `delegate` that throw on do.
            Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Else
            | Operator::End
            | Operator::Br { .. }
            | Operator::BrIf { .. }
            | Operator::BrTable { .. }
            | Operator::BrOnNull { .. }
            | Operator::BrOnNonNull { .. }
            | Operator::TryTable { .. }
            | Operator::Try { .. }
            | Operator::Catch { .. }
            | Operator::CatchAll
            | Operator::Delegate { .. } => self.fuel_flush(),
            _ => {}
        }
    }

    /// After an operator: read the count back after a call, and forget the cost of code
    /// that can no longer be reached.
    pub(super) fn fuel_after_op(&mut self, op: &Operator<'_>) {
        if self.fuel.is_none() {
            return;
        }
        if !self.reachable {
            // What became unreachable did so by a branch, return or trap, each of which
            // brought the count up to date or does not need it.
            if let Some(fuel) = &mut self.fuel {
                fuel.pending = 0;
            }
            return;
        }
        if matches!(op, Operator::Call { .. } | Operator::CallIndirect { .. } | Operator::CallRef { .. }) {
            self.fuel_load();
        }
    }

    /// Charge `units` (an `i32` or `i64` count) more, and check the count: the per-byte or
    /// per-element cost of a bulk operator, charged before it runs. A 64-bit count is charged
    /// at most `i64::MAX`, so that it cannot wrap the count around.
    pub(super) fn fuel_charge(&mut self, units: Value) {
        let Some(fuel) = &self.fuel else { return };
        let var = fuel.var;
        self.fuel_flush();
        let units = if self.builder.func.dfg.value_type(units) == I64 {
            let max = self.builder.ins().iconst(I64, i64::MAX);
            let huge = self.builder.ins().icmp(IntCC::UnsignedGreaterThan, units, max);
            self.builder.ins().select(huge, max, units)
        } else {
            self.builder.ins().uextend(I64, units)
        };
        let count = self.builder.use_var(var);
        let count = self.builder.ins().iadd(count, units);
        self.builder.def_var(var, count);
        self.fuel_check();
    }

    /// The per-byte charge of `memory.copy` or `memory.init`: as [`Self::fuel_charge`], except
    /// that a constant length of at most 128 bytes is added to the pending cost without a
    /// check (wasmtime copies those inline, unchecked).
    pub(super) fn fuel_charge_copy(&mut self, len: Value) {
        let constant = match self.builder.func.dfg.value_def(len).inst().map(|i| &self.builder.func.dfg.insts[i]) {
            Some(InstructionData::UnaryImm { opcode: Opcode::Iconst, imm }) => {
                Some(match self.builder.func.dfg.value_type(len) {
                    I64 => imm.bits() as u64,
                    _ => u64::from(imm.bits() as u32),
                })
            }
            _ => None,
        };
        match (&mut self.fuel, constant) {
            (Some(fuel), Some(bytes)) if bytes <= 128 => fuel.pending += bytes as i64,
            _ => self.fuel_charge(len),
        }
    }

    /// Write the count back to the store context, before a call or return.
    pub(super) fn fuel_save(&mut self) {
        let Some(fuel) = &self.fuel else { return };
        let var = fuel.var;
        let context = self.store_context();
        let count = self.builder.use_var(var);
        let flags = self.flags(Access::StoreContext);
        self.builder.ins().store(flags, count, context, VMOffsets::STORE_CONTEXT_FUEL_CONSUMED as i32);
    }

    /// Add the pending cost to the count.
    pub(super) fn fuel_flush(&mut self) {
        let Some(fuel) = &mut self.fuel else { return };
        let (var, pending) = (fuel.var, std::mem::take(&mut fuel.pending));
        if pending != 0 {
            let count = self.builder.use_var(var);
            let count = self.builder.ins().iadd_imm_s(count, pending);
            self.builder.def_var(var, count);
        }
    }

    /// Read the count from the store context.
    pub(super) fn fuel_load(&mut self) {
        let Some(fuel) = &self.fuel else { return };
        let var = fuel.var;
        let context = self.store_context();
        let flags = self.flags(Access::StoreContext);
        let count = self.builder.ins().load(I64, flags, context, VMOffsets::STORE_CONTEXT_FUEL_CONSUMED as i32);
        self.builder.def_var(var, count);
    }

    /// If the count is no longer negative, call `out_of_gas` (with the count written back),
    /// which refills it or says to trap with `OutOfFuel`.
    pub(super) fn fuel_check(&mut self) {
        let Some(fuel) = &self.fuel else { return };
        let var = fuel.var;
        self.fuel_flush();
        let count = self.builder.use_var(var);
        let exhausted = self.builder.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, count, 0);
        let refill = self.builder.create_block();
        let continuation = self.builder.create_block();
        self.builder.ins().brif(exhausted, refill, &[], continuation, &[]);
        self.builder.seal_block(refill);
        self.builder.set_cold_block(refill);
        self.builder.switch_to_block(refill);
        self.fuel_save();
        let callee = self.builtin(BuiltinFunction::OutOfGas);
        let call = self.builder.ins().call(callee, &[self.vmctx]);
        if let Some(&ok) = self.builder.inst_results(call).first() {
            self.builder.ins().trapz(ok, abi::trap_code(Trap::OutOfFuel));
        }
        self.fuel_load();
        self.builder.ins().jump(continuation, &[]);
        self.builder.seal_block(continuation);
        self.builder.switch_to_block(continuation);
    }

    /// The store context's address: `*(vmctx + STORE_CONTEXT)`, fixed for the instance's life.
    pub(super) fn store_context(&mut self) -> Value {
        let flags = self.flags(Access::ReadOnly);
        let ptr = self.pointer_type;
        self.builder.ins().load(ptr, flags, self.vmctx, VMOffsets::STORE_CONTEXT as i32)
    }
}
