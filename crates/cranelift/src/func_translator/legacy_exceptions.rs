//! The legacy exception-handling instructions (`-W legacy-exceptions`): `try`, `catch`,
//! `catch_all`, `delegate` and `rethrow`, on the same unwinder as `try_table`.
//!
//! A `try` opens one handler scope whose only clause catches everything into a landing
//! block taking the exception reference, and a block frame for its results. Its `catch`
//! clauses come after the body, so the landing block tests them in order: `catch $t` asks
//! the `exn_matches` builtin and, on a match, reads the payload onto the operand stack and
//! runs the clause's code; `catch_all` runs its code for anything. When no clause matches
//! (or the `try` has none), the landing block throws the exception on to the handlers around
//! the `try`. The `try`'s own scope closes at its first clause, so the clauses' code is
//! covered only by the handlers around it. `rethrow` throws again the exception a
//! surrounding clause caught; `delegate` ends the body by throwing what reaches the landing
//! block on to the handlers of its label, skipping those in between. A clause that finishes
//! normally releases its exception (a `rethrow` might have needed it until then).
use cranelift_codegen::ir::{Block, InstBuilder, Value, types};
use kiln_environ::builtins::{EXN_KEEP, EXN_NAMED, EXN_RELEASE};
use kiln_environ::{BuiltinFunction, CompileError};
use wasmparser::BlockType;

use super::exceptions::HandlerScope;
use super::stack::block_args;
use super::{FuncTranslator, internal};

/// Where a legacy `try` is.
pub(super) struct LegacyTry {
    /// The landing block every exception of the body comes to, with its reference.
    landing: Block,
    /// Once its first clause has begun: the exception, and the block that tests the next
    /// clause (`None` after `catch_all`).
    catching: Option<(Value, Option<Block>)>,
}

impl LegacyTry {
    /// Whether the body is still being translated.
    pub(super) fn in_body(&self) -> bool {
        self.catching.is_none()
    }
}

impl FuncTranslator<'_, '_> {
    /// `try`.
    pub(super) fn legacy_try(&mut self, ty: BlockType) -> Result<(), CompileError> {
        let landing = self.builder.create_block();
        self.builder.append_block_param(landing, self.pointer_type);
        self.handler_scopes.push(HandlerScope { handlers: vec![(None, landing)] });
        self.block(ty)?;
        self.mark_legacy_try(LegacyTry { landing, catching: None });
        Ok(())
    }

    /// Close the body or the clause being translated: jump to the `try`'s end with its
    /// results, releasing a clause's exception; then make the next test's block current.
    /// Returns the block where the next clause is tested, and the exception.
    fn close_arm(&mut self) -> Result<(Option<Block>, Value), CompileError> {
        let (t, next, num_results, stack_base) =
            self.top_legacy_try().ok_or_else(|| internal("`catch` outside a legacy `try`"))?;
        let (landing, catching) = (t.landing, t.catching);
        if self.reachable {
            if let Some((exn, _)) = catching {
                // A clause that completes releases its exception, unless wasm named it.
                self.exn_payload(exn, None, EXN_RELEASE)?;
            }
            let results = block_args(self.peekn(num_results)?);
            self.builder.ins().jump(next, &results);
            self.top_next_reached();
        }
        self.truncate_stack(stack_base);
        match catching {
            Some((exn, test)) => Ok((test, exn)),
            None => {
                // The body is done: its scope closes, and the landing block is entered.
                self.close_handler_scope()?;
                self.builder.switch_to_block(landing);
                let exn = self.builder.block_params(landing)[0];
                self.fuel_load();
                Ok((Some(landing), exn))
            }
        }
    }

    /// `catch $tag` and `catch_all` (`tag` `None`).
    pub(super) fn legacy_catch(&mut self, tag: Option<u32>) -> Result<(), CompileError> {
        let (test, exn) = self.close_arm()?;
        let test = test.ok_or_else(|| internal("a clause after `catch_all`"))?;
        if self.builder.current_block() != Some(test) {
            self.builder.switch_to_block(test);
        }
        let next_test = match tag {
            Some(tag) => {
                let index = self.builder.ins().iconst(types::I32, i64::from(tag));
                let matches = *self
                    .call_builtin(BuiltinFunction::ExnMatches, &[exn, index])
                    .first()
                    .ok_or_else(|| internal("exn_matches without a result"))?;
                let (arm, next_test) = (self.builder.create_block(), self.builder.create_block());
                self.builder.ins().brif(matches, arm, &[], next_test, &[]);
                self.builder.seal_block(arm);
                self.builder.seal_block(next_test);
                self.builder.switch_to_block(arm);
                let payload = self.exn_payload(exn, Some(tag), EXN_KEEP)?;
                self.push_all(&payload);
                Some(next_test)
            }
            None => None,
        };
        if let Some((t, ..)) = self.top_legacy_try() {
            t.catching = Some((exn, next_test));
        }
        self.reachable = true;
        Ok(())
    }

    /// Before the `end` of a legacy `try`: close its body or last clause; an exception that
    /// no clause took goes on to the handlers around the `try`.
    pub(super) fn finish_legacy_try(&mut self) -> Result<(), CompileError> {
        let (test, exn) = self.close_arm()?;
        self.throw_unmatched(test, exn, self.handler_scopes.len());
        Ok(())
    }

    /// In the block `test` where the next clause would be tested (if any clause may still
    /// not match), throw the exception on to the outermost `scopes` handler scopes.
    fn throw_unmatched(&mut self, test: Option<Block>, exn: Value, scopes: usize) {
        if let Some(test) = test {
            if self.builder.current_block() != Some(test) {
                self.builder.switch_to_block(test);
            }
            self.call_throwing_builtin_within(BuiltinFunction::ThrowRef, &[exn], scopes);
        }
        self.reachable = false;
    }

    /// `delegate $label`: end the body; what reaches the landing block is thrown on to the
    /// handlers of `label` (counted from outside the `try`), and the `try` ends.
    pub(super) fn legacy_delegate(&mut self, depth: u32) -> Result<(), CompileError> {
        let scopes = depth
            .checked_add(1)
            .and_then(|d| self.scopes_of_label(d))
            .ok_or_else(|| internal(format!("`delegate` to label {depth}")))?;
        let (test, exn) = self.close_arm()?;
        self.throw_unmatched(test, exn, scopes);
        if let Some((t, ..)) = self.top_legacy_try() {
            t.catching = Some((exn, None));
        }
        self.end()
    }

    /// `rethrow $label`: throw again the exception the clause at `label` caught.
    pub(super) fn legacy_rethrow(&mut self, depth: u32) -> Result<(), CompileError> {
        let exn = self
            .legacy_try_at(depth)
            .and_then(|t| t.catching.map(|(exn, _)| exn))
            .ok_or_else(|| internal(format!("`rethrow` to label {depth}, not a catch clause")))?;
        // From here the exception has two holders (this clause, and whoever catches it
        // now): neither may free it on completing.
        self.exn_payload(exn, None, EXN_NAMED)?;
        self.call_throwing_builtin(BuiltinFunction::ThrowRef, &[exn]);
        Ok(())
    }
}
