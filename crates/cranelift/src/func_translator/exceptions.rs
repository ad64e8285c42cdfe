//! Exception handling: `throw`, `throw_ref` and `try_table`, on Cranelift's exceptions.
//!
//! Inside a `try_table`, every call that can throw (`call`, `call_indirect`, `call_ref`, and
//! the `throw` builtins themselves) is a `try_call` whose exception table lists the handlers
//! of every enclosing `try_table`, innermost first, after a dynamic context: this function's
//! vmctx, which the unwinder needs to tell which instance's tag a `catch $t` means. The
//! runtime's unwinder walks frame pointers from the throwing builtin's trampoline, finds each
//! frame's call site in the artifact's exception table, and resumes at the first handler
//! whose tag is the exception's (or that catches all) with the frame's stack pointer, its
//! frame pointer, and the exception reference in the first payload register. A `try_call`
//! clobbers every register on its exceptional edge, so nothing else needs restoring.
//!
//! A handler block takes the exception reference and does what its clause says before
//! branching to the clause's label: `catch` reads the payload through the `exn_payload`
//! builtin (releasing the exception unless a reference to it was handed out before),
//! `catch_ref` reads it and keeps the reference (marking it as handed out), `catch_all`
//! releases it, `catch_all_ref` marks it and passes it on.
//!
//! `throw` spills its operands into a stack slot and calls the `throw` builtin; `throw_ref`
//! traps on null and calls `throw_ref`. Both return only when no frame of this entry into
//! wasm catches the exception, which the runtime then keeps as the entry's error: the code
//! traps with `HostError` there.
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{
    Block, BlockArg, BlockCall, ExceptionTableData, ExceptionTableItem, ExceptionTag, FuncRef, InstBuilder, SigRef,
    StackSlotData, StackSlotKind, Value,
};
use kiln_environ::builtins::{EXN_NAMED, EXN_RELEASE};
use kiln_environ::{BuiltinFunction, CompileError, TagIndex, Trap, WasmValType};
use wasmparser::{Catch, TryTable};

use super::{FuncTranslator, internal};
use crate::abi::{self, VAL_RAW_SIZE};

/// The handlers of one open `try_table` (or legacy `try`), in clause order.
pub(super) struct HandlerScope {
    pub(super) handlers: Vec<(Option<TagIndex>, Block)>,
}

/// Where a call goes, for [`FuncTranslator::emit_try_call`].
#[derive(Clone, Copy)]
pub(super) enum Target {
    /// An imported IR function (a defined wasm function or a builtin trampoline).
    Direct(FuncRef),
    /// A code pointer (of the call's signature).
    Indirect(Value),
}

impl FuncTranslator<'_, '_> {
    /// Whether a call here needs a `try_call`: some `try_table` is open.
    pub(super) fn in_try(&self) -> bool {
        !self.handler_scopes.is_empty()
    }

    /// The param types of tag `tag`'s function type.
    fn tag_params(&self, tag: u32) -> Result<Vec<WasmValType>, CompileError> {
        let ty = self
            .env
            .module
            .tags
            .get(TagIndex::from_u32(tag))
            .and_then(|ty| self.env.module.types.get(*ty)?.as_func())
            .ok_or_else(|| internal(format!("tag {tag} is not in the module")))?;
        Ok(ty.params.to_vec())
    }

    /// A stack slot of `n` 16-byte value slots (at least one) and its address.
    fn value_slots(&mut self, n: usize) -> (cranelift_codegen::ir::StackSlot, Value) {
        let size = u32::try_from(n.max(1)).unwrap_or(u32::MAX).saturating_mul(VAL_RAW_SIZE);
        let slot = self.builder.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, size, 4));
        let addr = self.builder.ins().stack_addr(self.pointer_type, slot, 0);
        (slot, addr)
    }

    /// A `try_call` of `target` with `args` whose exception table holds every open
    /// handler; returns the call's results, in the block that continues after it.
    pub(super) fn emit_try_call(&mut self, target: Target, sig: SigRef, args: &[Value]) -> Vec<Value> {
        self.emit_try_call_within(target, sig, args, self.handler_scopes.len())
    }

    /// A `try_call` whose exception table holds the handlers of the outermost `scopes`
    /// open handler scopes only (a legacy `delegate` skips the inner ones).
    fn emit_try_call_within(&mut self, target: Target, sig: SigRef, args: &[Value], scopes: usize) -> Vec<Value> {
        let returns: Vec<_> = self.builder.func.dfg.signatures[sig].returns.iter().map(|r| r.value_type).collect();
        let next = self.builder.create_block();
        for ty in &returns {
            self.builder.append_block_param(next, *ty);
        }
        let pool = &mut self.builder.func.dfg.value_lists;
        let normal = BlockCall::new(next, (0..returns.len() as u32).map(BlockArg::TryCallRet), pool);
        let mut items = vec![ExceptionTableItem::Context(self.vmctx)];
        for scope in self.handler_scopes[..scopes.min(self.handler_scopes.len())].iter().rev() {
            for (tag, block) in &scope.handlers {
                let call = BlockCall::new(*block, [BlockArg::TryCallExn(0)], pool);
                items.push(match tag {
                    Some(t) => ExceptionTableItem::Tag(ExceptionTag::from_u32(t.as_u32()), call),
                    None => ExceptionTableItem::Default(call),
                });
            }
        }
        let table = self.builder.func.dfg.exception_tables.push(ExceptionTableData::new(sig, normal, items));
        match target {
            Target::Direct(f) => self.builder.ins().try_call(f, args, table),
            Target::Indirect(code) => self.builder.ins().try_call_indirect(code, args, table),
        };
        self.builder.seal_block(next);
        self.builder.switch_to_block(next);
        self.builder.block_params(next).to_vec()
    }

    /// Call an unwinding builtin (`throw`, `throw_ref`): a `try_call` inside a `try_table`.
    /// It returns only when nothing catches, so the code after it traps.
    pub(super) fn call_throwing_builtin(&mut self, builtin: BuiltinFunction, args: &[Value]) {
        self.call_throwing_builtin_within(builtin, args, self.handler_scopes.len());
    }

    /// [`Self::call_throwing_builtin`], caught by the outermost `scopes` handler scopes.
    pub(super) fn call_throwing_builtin_within(&mut self, builtin: BuiltinFunction, args: &[Value], scopes: usize) {
        let callee = self.builtin(builtin);
        let args = [&[self.vmctx][..], args].concat();
        self.fuel_flush();
        self.fuel_save();
        if scopes > 0 {
            let sig = self.builder.func.dfg.ext_funcs[callee].signature;
            self.emit_try_call_within(Target::Direct(callee), sig, &args, scopes);
        } else {
            self.builder.ins().call(callee, &args);
        }
        self.builder.ins().trap(abi::trap_code(Trap::HostError));
        self.reachable = false;
    }

    /// `throw $tag`.
    pub(super) fn throw(&mut self, tag: u32) -> Result<(), CompileError> {
        let params = self.tag_params(tag)?;
        let values = self.popn(params.len())?;
        let (slot, addr) = self.value_slots(values.len());
        for (i, v) in values.iter().enumerate() {
            let offset = i32::try_from(i as u32 * VAL_RAW_SIZE).map_err(|_| internal("payload too large"))?;
            self.builder.ins().stack_store(self.pointer_type, *v, slot, offset);
        }
        let tag = self.builder.ins().iconst(I32, i64::from(tag));
        let addr = self.pointer_to_i64(addr);
        self.call_throwing_builtin(BuiltinFunction::Throw, &[tag, addr]);
        Ok(())
    }

    /// `throw_ref`.
    pub(super) fn throw_ref(&mut self) -> Result<(), CompileError> {
        let exn = self.pop()?;
        self.builder.ins().trapz(exn, abi::trap_code(Trap::NullExceptionReference));
        self.call_throwing_builtin(BuiltinFunction::ThrowRef, &[exn]);
        Ok(())
    }

    /// `try_table`: a block whose calls are caught by its clauses. Each clause gets a
    /// handler block, filled now (its label is interpreted outside the `try_table`) and
    /// sealed at the `try_table`'s end, once every call inside has been seen.
    pub(super) fn try_table(&mut self, table: &TryTable) -> Result<(), CompileError> {
        // The body starts in a block of its own, so that the current one is finished (and
        // stays before the handlers in the layout) while the handlers are filled.
        let body = self.builder.create_block();
        self.builder.ins().jump(body, &[]);
        let mut handlers = Vec::with_capacity(table.catches.len());
        for catch in &table.catches {
            let (tag, label, keep_ref) = match *catch {
                Catch::One { tag, label } => (Some(tag), label, false),
                Catch::OneRef { tag, label } => (Some(tag), label, true),
                Catch::All { label } => (None, label, false),
                Catch::AllRef { label } => (None, label, true),
            };
            let block = self.builder.create_block();
            let exn = self.builder.append_block_param(block, self.pointer_type);
            self.builder.switch_to_block(block);
            self.fuel_load();
            let mode = if keep_ref { EXN_NAMED } else { EXN_RELEASE };
            let mut args = self.exn_payload(exn, tag, mode)?;
            if keep_ref {
                args.push(exn);
            }
            let (target, arity) = self.branch_target(label)?;
            if arity != args.len() {
                return Err(internal(format!("catch clause passes {} values to a label of {arity}", args.len())));
            }
            self.builder.ins().jump(target, &super::stack::block_args(&args));
            handlers.push((tag.map(TagIndex::from_u32), block));
        }
        self.builder.seal_block(body);
        self.builder.switch_to_block(body);
        self.handler_scopes.push(HandlerScope { handlers });
        self.block(table.ty)?;
        self.mark_try_table();
        Ok(())
    }

    /// Close the innermost handler scope (a `try_table`'s end, a legacy `try`'s first
    /// clause): its handlers have all their predecessors now.
    pub(super) fn close_handler_scope(&mut self) -> Result<(), CompileError> {
        let scope = self.handler_scopes.pop().ok_or_else(|| internal("a handler scope closed twice"))?;
        for (_, block) in scope.handlers {
            self.builder.seal_block(block);
        }
        Ok(())
    }

    /// Call the `exn_payload` builtin with `mode` on the caught `exn`; with the exception's
    /// `tag` known, the payload values it reads.
    pub(super) fn exn_payload(&mut self, exn: Value, tag: Option<u32>, mode: u32) -> Result<Vec<Value>, CompileError> {
        let payload = match tag {
            Some(t) => {
                let params = self.tag_params(t)?;
                let (slot, addr) = self.value_slots(params.len());
                Some((params, slot, self.pointer_to_i64(addr)))
            }
            None => None,
        };
        let out = match &payload {
            Some((.., addr)) => *addr,
            None => self.builder.ins().iconst(I64, 0),
        };
        let mode = self.builder.ins().iconst(I32, i64::from(mode));
        self.call_builtin(BuiltinFunction::ExnPayload, &[exn, out, mode]);
        let Some((params, slot, _)) = payload else { return Ok(Vec::new()) };
        let mut values = Vec::with_capacity(params.len() + 1);
        for (i, ty) in params.iter().enumerate() {
            let ir = self.value_type(*ty)?;
            let offset = i32::try_from(i as u32 * VAL_RAW_SIZE).map_err(|_| internal("payload too large"))?;
            values.push(self.builder.ins().stack_load(self.pointer_type, ir, slot, offset));
        }
        Ok(values)
    }

    /// A pointer as the `i64` a builtin takes.
    fn pointer_to_i64(&mut self, v: Value) -> Value {
        if self.pointer_type == I64 { v } else { self.builder.ins().uextend(I64, v) }
    }
}
