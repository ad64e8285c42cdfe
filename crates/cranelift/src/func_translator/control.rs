//! Structured control flow: the control stack of `block`, `loop` and `if` frames, branches to
//! their labels, and the handling of unreachable code.
//!
//! Each frame knows the IR block that follows its `end` (`next`, whose block parameters are
//! the frame's results) and, for a loop, its header (whose parameters are the loop's params).
//! Operands a block takes stay on the operand stack as SSA values; a branch passes the top
//! operands as block arguments, and `br_table` uses a jump table whose entries carry them.
//!
//! An `if` whose params and results have the same types first branches straight to `next` on
//! false (as wasm's missing `else` passes the params through); if an `else` turns up, that
//! branch is redirected to a fresh else block. Otherwise the else block exists from the start.
//!
//! After `br`, `br_table`, `return` or `unreachable` the rest of the block is unreachable: no
//! code is emitted, and nested block openers push `Dead` frames only so that their `end`s are
//! matched. Code becomes reachable again at the `else` of a live `if` whose head was reachable
//! or at an `end` whose `next` has a predecessor.
use cranelift_codegen::ir::{Block, BlockCall, Inst, InstBuilder, JumpTableData, Type};
use kiln_environ::{CompileError, TypeIndex};
use wasmparser::{BlockType, BrTable, Operator};

/// The most targets a `br_table` may have. Compiling costs a few hundred bytes of host memory
/// per target, so an unbounded count lets a small module take gigabytes; the limit is
/// wasmtime's, so that a module that compiles there compiles here.
const MAX_BR_TABLE_TARGETS: u32 = 65_520;

use super::stack::block_args;
use super::{FuncTranslator, internal};

/// A frame of the control stack.
pub(super) enum Frame {
    /// A block, loop or if in code that can run.
    Live(LiveFrame),
    /// A block, loop, if or try that starts in unreachable code; only its nesting matters.
    Dead,
}

/// A frame whose code can run.
pub(super) struct LiveFrame {
    kind: FrameKind,
    /// The block after the frame's `end`; its parameters are the frame's results.
    next: Block,
    /// The types of the frame's params (the else block of an `if` takes them).
    params: Vec<Type>,
    num_results: usize,
    /// The operand stack height below the frame's params.
    stack_base: usize,
    /// Whether a branch, or the fall-through of an `if`'s then arm, goes to `next`.
    next_has_predecessor: bool,
    /// How many handler scopes were open when the frame was pushed (its own included, for a
    /// `try_table` or a legacy `try`).
    pub(super) scopes_at_open: usize,
}

enum FrameKind {
    /// A `block`, or the function body.
    Block,
    /// A `loop`: branches go to its header.
    Loop { header: Block },
    /// An `if`.
    If { otherwise: Else },
    /// A `try_table`: a block whose end also closes its handlers.
    TryTable,
    /// A legacy `try` (see `legacy_exceptions`).
    LegacyTry(super::legacy_exceptions::LegacyTry),
}

/// Where the false edge of an `if` goes.
enum Else {
    /// Straight to `next`, from this branch: no `else` seen yet, params equal results.
    ToNext(Inst),
    /// To this else block, not yet entered.
    Pending(Block),
    /// The `else` arm is being translated (or is done).
    Entered,
}

impl FuncTranslator<'_, '_> {
    /// The param and result types of a block type.
    fn block_types(&self, ty: BlockType) -> Result<(Vec<Type>, Vec<Type>), CompileError> {
        match ty {
            BlockType::Empty => Ok((Vec::new(), Vec::new())),
            BlockType::Type(t) => Ok((Vec::new(), vec![self.parser_value_type(t)?])),
            BlockType::FuncType(index) => {
                let ty = self
                    .env
                    .module
                    .types
                    .get(TypeIndex::from_u32(index))
                    .and_then(|t| t.as_func())
                    .ok_or_else(|| internal(format!("block type {index} is not in the module")))?;
                let convert = |tys: &[kiln_environ::WasmValType]| {
                    tys.iter().map(|t| self.value_type(*t)).collect::<Result<Vec<_>, _>>()
                };
                Ok((convert(&ty.params)?, convert(&ty.results)?))
            }
        }
    }

    /// A new block with parameters of the given types.
    fn block_with_params(&mut self, types: &[Type]) -> Block {
        let block = self.builder.create_block();
        for ty in types {
            self.builder.append_block_param(block, *ty);
        }
        block
    }

    /// Push the frame of the function body, whose `next` returns.
    pub(super) fn push_function_frame(&mut self, results: &[Type]) {
        let next = self.block_with_params(results);
        self.frames.push(Frame::Live(LiveFrame {
            kind: FrameKind::Block,
            next,
            params: Vec::new(),
            num_results: results.len(),
            stack_base: 0,
            next_has_predecessor: false,
            scopes_at_open: 0,
        }));
    }

    /// In unreachable code only the nesting of frames is tracked.
    pub(super) fn translate_unreachable_operator(&mut self, op: &Operator<'_>) -> Result<(), CompileError> {
        match op {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::TryTable { .. }
            | Operator::Try { .. } => self.frames.push(Frame::Dead),
            Operator::Else => self.else_()?,
            Operator::End => self.end()?,
            // The clauses of a live `try` whose body ended unreachable begin reachable code.
            Operator::Catch { tag_index } if self.top_legacy_try().is_some() => self.legacy_catch(Some(*tag_index))?,
            Operator::CatchAll if self.top_legacy_try().is_some() => self.legacy_catch(None)?,
            // A legacy `delegate` closes its `try` like an `end`.
            Operator::Delegate { relative_depth } => {
                if matches!(self.frames.last(), Some(Frame::Dead)) {
                    self.frames.pop();
                } else if self.top_legacy_try().is_some() {
                    self.legacy_delegate(*relative_depth)?;
                } else {
                    return Err(internal("`delegate` closes a frame that is not a `try`"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `block`.
    pub(super) fn block(&mut self, ty: BlockType) -> Result<(), CompileError> {
        let (params, results) = self.block_types(ty)?;
        let stack_base = self.stack_base_below(params.len())?;
        let next = self.block_with_params(&results);
        self.frames.push(Frame::Live(LiveFrame {
            kind: FrameKind::Block,
            next,
            num_results: results.len(),
            params,
            stack_base,
            next_has_predecessor: false,
            scopes_at_open: self.handler_scopes.len(),
        }));
        Ok(())
    }

    /// Make the frame `block` just pushed a `try_table`'s.
    pub(super) fn mark_try_table(&mut self) {
        if let Some(Frame::Live(frame)) = self.frames.last_mut() {
            frame.kind = FrameKind::TryTable;
        }
    }

    /// Make the frame `block` just pushed a legacy `try`'s.
    pub(super) fn mark_legacy_try(&mut self, t: super::legacy_exceptions::LegacyTry) {
        if let Some(Frame::Live(frame)) = self.frames.last_mut() {
            frame.kind = FrameKind::LegacyTry(t);
        }
    }

    /// The top frame, if it is a live legacy `try`: its state, and what its body or catch
    /// arm needs to close (next block, result count, stack base).
    pub(super) fn top_legacy_try(&mut self) -> Option<(&mut super::legacy_exceptions::LegacyTry, Block, usize, usize)> {
        match self.frames.last_mut() {
            Some(Frame::Live(LiveFrame { kind: FrameKind::LegacyTry(t), next, num_results, stack_base, .. })) => {
                Some((t, *next, *num_results, *stack_base))
            }
            _ => None,
        }
    }

    /// Note that `next` of the top frame has a predecessor.
    pub(super) fn top_next_reached(&mut self) {
        if let Some(Frame::Live(frame)) = self.frames.last_mut() {
            frame.next_has_predecessor = true;
        }
    }

    /// The index in the control stack of the frame label `depth` names.
    fn label_index(&self, depth: u32) -> Option<usize> {
        self.frames.len().checked_sub(usize::try_from(depth).ok()?.checked_add(1)?)
    }

    /// The legacy `try` at label `depth`, if that label is one.
    pub(super) fn legacy_try_at(&self, depth: u32) -> Option<&super::legacy_exceptions::LegacyTry> {
        match &self.frames[self.label_index(depth)?] {
            Frame::Live(LiveFrame { kind: FrameKind::LegacyTry(t), .. }) => Some(t),
            _ => None,
        }
    }

    /// How many handler scopes apply to an exception delegated to label `depth`: those of
    /// the frames around it, and its own if it is a legacy `try` still in its body.
    pub(super) fn scopes_of_label(&self, depth: u32) -> Option<usize> {
        match &self.frames[self.label_index(depth)?] {
            Frame::Live(frame) => Some(match &frame.kind {
                FrameKind::LegacyTry(t) if t.in_body() => frame.scopes_at_open,
                FrameKind::LegacyTry(_) | FrameKind::TryTable => frame.scopes_at_open.saturating_sub(1),
                _ => frame.scopes_at_open,
            }),
            Frame::Dead => None,
        }
    }

    /// `loop`: jump to a header block whose parameters are the loop's params.
    pub(super) fn loop_(&mut self, ty: BlockType) -> Result<(), CompileError> {
        let (params, results) = self.block_types(ty)?;
        let header = self.block_with_params(&params);
        let args = self.popn(params.len())?;
        self.builder.ins().jump(header, &block_args(&args));
        self.builder.switch_to_block(header);
        // The loop's params, read before the checks below use variables in the (unsealed)
        // header, which gives it more block params for them.
        let header_params = self.builder.block_params(header).to_vec();
        self.fuel_check();
        self.epoch_check();
        let stack_base = self.stack.len();
        self.push_all(&header_params);
        let next = self.block_with_params(&results);
        self.frames.push(Frame::Live(LiveFrame {
            kind: FrameKind::Loop { header },
            next,
            num_results: results.len(),
            params,
            stack_base,
            next_has_predecessor: false,
            scopes_at_open: self.handler_scopes.len(),
        }));
        Ok(())
    }

    /// `if`: branch on the condition to the then block or to the else block (or `next`).
    pub(super) fn if_(&mut self, ty: BlockType) -> Result<(), CompileError> {
        let (params, results) = self.block_types(ty)?;
        let cond = self.pop()?;
        let stack_base = self.stack_base_below(params.len())?;
        let args = block_args(self.peekn(params.len())?);
        let then_block = self.builder.create_block();
        let next = self.block_with_params(&results);
        let otherwise = if params == results {
            let branch = self.builder.ins().brif(cond, then_block, &[], next, &args);
            Else::ToNext(branch)
        } else {
            let else_block = self.block_with_params(&params);
            self.builder.ins().brif(cond, then_block, &[], else_block, &args);
            self.builder.seal_block(else_block);
            Else::Pending(else_block)
        };
        self.builder.seal_block(then_block);
        self.builder.switch_to_block(then_block);
        self.frames.push(Frame::Live(LiveFrame {
            kind: FrameKind::If { otherwise },
            next,
            num_results: results.len(),
            params,
            stack_base,
            next_has_predecessor: false,
            scopes_at_open: self.handler_scopes.len(),
        }));
        Ok(())
    }

    /// `else`: close the then arm and enter the else block.
    pub(super) fn else_(&mut self) -> Result<(), CompileError> {
        let (next, num_results, stack_base, otherwise, params) = match self.frames.last_mut() {
            Some(Frame::Live(frame)) => {
                let FrameKind::If { otherwise } = &mut frame.kind else {
                    return Err(internal("`else` outside an `if`"));
                };
                let otherwise = std::mem::replace(otherwise, Else::Entered);
                (frame.next, frame.num_results, frame.stack_base, otherwise, frame.params.clone())
            }
            Some(Frame::Dead) => return Ok(()), // the `else` of a dead `if`
            None => return Err(internal("`else` with no open frame")),
        };
        if self.reachable {
            let results = block_args(self.peekn(num_results)?);
            self.builder.ins().jump(next, &results);
            if let Some(Frame::Live(frame)) = self.frames.last_mut() {
                frame.next_has_predecessor = true;
            }
        }
        let else_block = match otherwise {
            Else::Pending(block) => block,
            Else::ToNext(branch) => {
                // The false edge went to `next` with the params as arguments; send it to a new
                // else block taking those params instead.
                let block = self.block_with_params(&params);
                self.builder.change_jump_destination(branch, next, block);
                self.builder.seal_block(block);
                block
            }
            Else::Entered => return Err(internal("second `else` in an `if`")),
        };
        self.builder.switch_to_block(else_block);
        self.truncate_stack(stack_base);
        let params = self.builder.block_params(else_block).to_vec();
        self.push_all(&params);
        self.reachable = true;
        Ok(())
    }

    /// `end`: close the frame; the code after it is reachable if anything reaches `next`.
    pub(super) fn end(&mut self) -> Result<(), CompileError> {
        if self.top_legacy_try().is_some() {
            self.finish_legacy_try()?;
        }
        let frame = match self.frames.pop() {
            Some(Frame::Live(frame)) => frame,
            Some(Frame::Dead) => return Ok(()),
            None => return Err(internal("`end` with no open frame")),
        };
        if self.frames.is_empty() {
            return self.end_function(frame);
        }
        let mut next_reachable = frame.next_has_predecessor;
        if self.reachable {
            let results = block_args(self.peekn(frame.num_results)?);
            self.builder.ins().jump(frame.next, &results);
            next_reachable = true;
        }
        match frame.kind {
            FrameKind::Block | FrameKind::If { otherwise: Else::Entered } => {}
            FrameKind::TryTable => self.close_handler_scope()?,
            FrameKind::LegacyTry(_) => {}
            // No `else`: the false edge of the `if` reaches `next`.
            FrameKind::If { otherwise: Else::ToNext(_) } => next_reachable = true,
            FrameKind::Loop { header } => self.builder.seal_block(header),
            FrameKind::If { otherwise: Else::Pending(_) } => {
                return Err(internal("`if` without `else` whose params differ from its results"));
            }
        }
        self.builder.seal_block(frame.next);
        self.truncate_stack(frame.stack_base);
        if next_reachable {
            self.builder.switch_to_block(frame.next);
            let results = self.builder.block_params(frame.next).to_vec();
            self.push_all(&results);
        }
        self.reachable = next_reachable;
        Ok(())
    }

    /// The `end` of the function body: return the results.
    fn end_function(&mut self, frame: LiveFrame) -> Result<(), CompileError> {
        if self.reachable {
            let results = self.peekn(frame.num_results)?.to_vec();
            self.fuel_save();
            self.builder.ins().return_(&results);
        }
        self.builder.seal_block(frame.next);
        if frame.next_has_predecessor {
            // Branches to the function's label pass the results to `next`.
            self.builder.switch_to_block(frame.next);
            let results = self.builder.block_params(frame.next).to_vec();
            self.fuel_save();
            self.builder.ins().return_(&results);
        }
        self.truncate_stack(0);
        self.reachable = false;
        Ok(())
    }

    /// The stack height below the top `n` operands.
    fn stack_base_below(&self, n: usize) -> Result<usize, CompileError> {
        self.stack.len().checked_sub(n).ok_or_else(|| internal("block params missing from the operand stack"))
    }

    /// The block a branch to label `depth` goes to, and how many operands it passes.
    pub(super) fn branch_target(&mut self, depth: u32) -> Result<(Block, usize), CompileError> {
        let index = self.label_index(depth).ok_or_else(|| internal(format!("branch to missing label {depth}")))?;
        match &mut self.frames[index] {
            Frame::Live(frame) => match frame.kind {
                FrameKind::Loop { header } => Ok((header, frame.params.len())),
                FrameKind::Block | FrameKind::If { .. } | FrameKind::TryTable | FrameKind::LegacyTry(_) => {
                    frame.next_has_predecessor = true;
                    Ok((frame.next, frame.num_results))
                }
            },
            Frame::Dead => Err(internal("branch from live code to a dead frame")),
        }
    }

    /// `br`.
    pub(super) fn br(&mut self, depth: u32) -> Result<(), CompileError> {
        let (target, arity) = self.branch_target(depth)?;
        let args = block_args(self.peekn(arity)?);
        self.builder.ins().jump(target, &args);
        self.reachable = false;
        Ok(())
    }

    /// `br_if`: branch or fall through to a new block.
    pub(super) fn br_if(&mut self, depth: u32) -> Result<(), CompileError> {
        let cond = self.pop()?;
        let (target, arity) = self.branch_target(depth)?;
        let args = block_args(self.peekn(arity)?);
        let fall_through = self.builder.create_block();
        self.builder.ins().brif(cond, target, &args, fall_through, &[]);
        self.builder.seal_block(fall_through);
        self.builder.switch_to_block(fall_through);
        Ok(())
    }

    /// `br_on_null`: branch with the operands below the reference when it is null, else
    /// fall through with it.
    pub(super) fn br_on_null(&mut self, depth: u32) -> Result<(), CompileError> {
        let r = self.pop()?;
        let (target, arity) = self.branch_target(depth)?;
        let args = block_args(self.peekn(arity)?);
        let fall_through = self.builder.create_block();
        self.builder.ins().brif(r, fall_through, &[], target, &args);
        self.builder.seal_block(fall_through);
        self.builder.switch_to_block(fall_through);
        self.push(r);
        Ok(())
    }

    /// `br_on_non_null`: branch with the operands and the reference when it is not null,
    /// else fall through without it.
    pub(super) fn br_on_non_null(&mut self, depth: u32) -> Result<(), CompileError> {
        let (target, arity) = self.branch_target(depth)?;
        let args = block_args(self.peekn(arity)?);
        let r = self.pop()?;
        let fall_through = self.builder.create_block();
        self.builder.ins().brif(r, target, &args, fall_through, &[]);
        self.builder.seal_block(fall_through);
        self.builder.switch_to_block(fall_through);
        Ok(())
    }

    /// `br_table`: a jump table whose entries pass the top operands to each target. Tables
    /// longer than [`MAX_BR_TABLE_TARGETS`] are refused before anything is built for them.
    pub(super) fn br_table(&mut self, table: &BrTable<'_>) -> Result<(), CompileError> {
        if table.len() > MAX_BR_TABLE_TARGETS {
            return Err(CompileError::Limit(format!(
                "`br_table` has {} targets, more than the limit of {MAX_BR_TABLE_TARGETS}",
                table.len()
            )));
        }
        let index = self.pop()?;
        let (default, arity) = self.branch_target(table.default())?;
        let args = block_args(self.peekn(arity)?);
        let mut entries = Vec::with_capacity(usize::try_from(table.len()).unwrap_or(0));
        for depth in table.targets() {
            let depth = depth.map_err(kiln_environ::invalid_from_wasmparser)?;
            let (target, _) = self.branch_target(depth)?;
            entries.push(target);
        }
        if entries.is_empty() {
            self.builder.ins().jump(default, &args);
        } else {
            let pool = &mut self.builder.func.dfg.value_lists;
            let default = BlockCall::new(default, args.iter().copied(), pool);
            let entries: Vec<BlockCall> =
                entries.into_iter().map(|target| BlockCall::new(target, args.iter().copied(), pool)).collect();
            let table = self.builder.create_jump_table(JumpTableData::new(default, &entries));
            self.builder.ins().br_table(index, table);
        }
        self.reachable = false;
        Ok(())
    }

    /// `return`.
    pub(super) fn return_(&mut self) -> Result<(), CompileError> {
        let results = self.peekn(self.num_results)?.to_vec();
        self.builder.ins().return_(&results);
        self.reachable = false;
        Ok(())
    }
}
