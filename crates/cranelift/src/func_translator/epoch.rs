//! Epoch interruption: with `epoch_interruption`, compiled code compares the engine's epoch
//! (a counter other threads increment, reached through the store context) with the store's
//! deadline at every function entry and loop header, and calls the `new_epoch` builtin once
//! the epoch has reached it. The builtin runs the store's deadline behavior: it traps
//! (`interrupt`), or writes a new deadline and lets the code go on.
//!
//! The deadline is kept in a variable, so that a check between ticks is one load of the epoch
//! and one compare; only when that compare fails is the deadline read again from the store
//! context (a callee may have moved it) before `new_epoch` is called. Checking at function
//! entry as well as at loop headers bounds the time between checks by the length of one
//! function body, even in code that recurses instead of looping.
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{Block, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::Variable;
use kiln_environ::builtins::EPOCH_FAILED;
use kiln_environ::{BuiltinFunction, Trap, VMOffsets};

use super::FuncTranslator;
use super::regions::Access;
use crate::abi;

/// A function's epoch state while it is translated.
pub(super) struct Epoch {
    /// The deadline, as this function last read it.
    deadline: Variable,
    /// The address of the engine's epoch counter.
    counter: Variable,
}

impl FuncTranslator<'_, '_> {
    /// At function entry: read the counter's address and the deadline, and check.
    pub(super) fn epoch_function_entry(&mut self) {
        if !self.env.tunables.epoch_interruption {
            return;
        }
        let ptr = self.pointer_type;
        let deadline = self.builder.declare_var(I64);
        let counter = self.builder.declare_var(ptr);
        let context = self.store_context();
        let flags = self.flags(Access::ReadOnly);
        let address = self.builder.ins().load(ptr, flags, context, VMOffsets::STORE_CONTEXT_EPOCH_COUNTER as i32);
        self.builder.def_var(counter, address);
        self.epoch = Some(Epoch { deadline, counter });
        let continuation = self.builder.create_block();
        let epoch = self.epoch_now(counter);
        self.epoch_check_reloaded(epoch, continuation);
    }

    /// At a loop header: compare with the deadline this function knows, and if that has
    /// passed, with the store's.
    pub(super) fn epoch_check(&mut self) {
        let Some(state) = &self.epoch else { return };
        let counter = state.counter;
        let continuation = self.builder.create_block();
        let epoch = self.epoch_now(counter);
        self.epoch_branch_if_before_deadline(epoch, continuation);
        self.epoch_check_reloaded(epoch, continuation);
    }

    /// The engine's epoch now: an atomic load, which nothing may merge with an earlier one.
    fn epoch_now(&mut self, counter: Variable) -> Value {
        let counter = self.builder.use_var(counter);
        self.builder.ins().atomic_load(I64, MemFlagsData::trusted(), counter)
    }

    /// Go on to `continuation` if `epoch` is before the known deadline; otherwise stay in a
    /// new (cold) block.
    fn epoch_branch_if_before_deadline(&mut self, epoch: Value, continuation: Block) {
        let Some(state) = &self.epoch else { return };
        let deadline = self.builder.use_var(state.deadline);
        let reached = self.builder.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, epoch, deadline);
        let slow = self.builder.create_block();
        self.builder.ins().brif(reached, slow, &[], continuation, &[]);
        self.builder.seal_block(slow);
        self.builder.set_cold_block(slow);
        self.builder.switch_to_block(slow);
    }

    /// Read the store's deadline and compare again; if it has passed, call `new_epoch`, trap
    /// as it says or take the new deadline, and continue at `continuation`.
    fn epoch_check_reloaded(&mut self, epoch: Value, continuation: Block) {
        self.epoch_load_deadline();
        self.epoch_branch_if_before_deadline(epoch, continuation);
        let callee = self.builtin(BuiltinFunction::NewEpoch);
        let call = self.builder.ins().call(callee, &[self.vmctx]);
        if let Some(&status) = self.builder.inst_results(call).first() {
            self.builder.ins().trapz(status, abi::trap_code(Trap::Interrupt));
            let failed = self.builder.ins().icmp_imm_s(IntCC::Equal, status, i64::from(EPOCH_FAILED));
            self.builder.ins().trapnz(failed, abi::trap_code(Trap::HostError));
        }
        self.epoch_load_deadline();
        self.builder.ins().jump(continuation, &[]);
        self.builder.seal_block(continuation);
        self.builder.switch_to_block(continuation);
    }

    /// Read the deadline from the store context.
    fn epoch_load_deadline(&mut self) {
        let Some(state) = &self.epoch else { return };
        let var = state.deadline;
        let context = self.store_context();
        let flags = self.flags(Access::StoreContext);
        let deadline = self.builder.ins().load(I64, flags, context, VMOffsets::STORE_CONTEXT_EPOCH_DEADLINE as i32);
        self.builder.def_var(var, deadline);
    }
}
