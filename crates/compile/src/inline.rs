//! Stage 4: inlining. Over the call graph of the module's wasm functions (trampolines keep
//! their own frames), strongly connected components are stratified into layers; layers are
//! processed bottom-up, the functions of one layer in parallel. While a layer is processed
//! its bodies are taken out of the shared list, so a callee of the same SCC (mutual or self
//! recursion) is missing and never inlined. Cranelift does the mechanics
//! (`cranelift_codegen::inline`); Kiln decides, by the tunables:
//! - intra-module calls follow `inlining_intra_module` (Kiln has no GC heap yet, so
//!   `WhenUsingGc` inlines nothing);
//! - a callee of at most `inlining_small_callee_size` IR values is always inlined;
//! - otherwise a call is refused when caller + callee exceed `inlining_sum_size_threshold`;
//! - each inline grows the caller's size by the callee's.
//!
//! Calls to imported functions are indirect calls through the import record, so they are
//! never candidates.
use crate::call_graph::{CallGraph, FuncId};
use crate::scc;
use crate::stratify::stratify;
use cranelift_codegen::inline::{Inline, InlineCommand};
use cranelift_codegen::ir::{self, ExternalName, Opcode};
use cranelift_entity::EntityRef;
use kiln_environ::{CompileError, FuncKey, IntraModuleInlining, StaticModuleIndex, Tunables};
use rayon::prelude::*;
use std::borrow::Cow;

/// The size of a function, in IR values.
fn size(func: &ir::Function) -> u32 {
    u32::try_from(func.dfg.num_values()).unwrap_or(u32::MAX)
}

/// The defined wasm function a direct call targets, if any.
fn callee_key(caller: &ir::Function, callee: ir::FuncRef) -> Option<FuncKey> {
    let ExternalName::User(name) = caller.dfg.ext_funcs[callee].name else { return None };
    let name = &caller.params.user_named_funcs()[name];
    FuncKey::from_raw(name.namespace, name.index)
}

/// The defined function index of a call target in this module's list of bodies.
fn body_index(key: FuncKey, module_index: StaticModuleIndex) -> Option<usize> {
    match key {
        FuncKey::DefinedWasmFunction(m, def) if m == module_index => Some(def.index()),
        _ => None,
    }
}

struct Inliner<'a> {
    tunables: &'a Tunables,
    module_index: StaticModuleIndex,
    bodies: &'a [Option<ir::Function>],
    caller_size: u32,
}

impl Inline for Inliner<'_> {
    fn inline(
        &mut self,
        caller: &ir::Function,
        _inst: ir::Inst,
        opcode: Opcode,
        callee: ir::FuncRef,
        _args: &[ir::Value],
    ) -> InlineCommand<'_> {
        if opcode != Opcode::Call || self.tunables.inlining_intra_module != IntraModuleInlining::Yes {
            return InlineCommand::KeepCall;
        }
        let Some(body) = callee_key(caller, callee)
            .and_then(|k| body_index(k, self.module_index))
            .and_then(|i| self.bodies.get(i))
            .and_then(|b| b.as_ref())
        else {
            // Not a wasm function of this module, or one of the same SCC.
            return InlineCommand::KeepCall;
        };
        let callee_size = size(body);
        let small = callee_size <= self.tunables.inlining_small_callee_size;
        if !small && self.caller_size.saturating_add(callee_size) > self.tunables.inlining_sum_size_threshold {
            log::trace!(
                "keep call {} -> {}: caller {} + callee {callee_size} IR values exceed {}",
                caller.name,
                body.name,
                self.caller_size,
                self.tunables.inlining_sum_size_threshold
            );
            return InlineCommand::KeepCall;
        }
        log::trace!(
            "inline {} -> {}: callee {callee_size} IR values{}",
            caller.name,
            body.name,
            if small { " (small)" } else { "" }
        );
        self.caller_size = self.caller_size.saturating_add(callee_size);
        InlineCommand::Inline { callee: Cow::Borrowed(body), visit_callee: false }
    }
}

/// Inline calls among `bodies` (the module's defined functions, by defined index).
pub fn inline_module(
    tunables: &Tunables,
    module_index: StaticModuleIndex,
    bodies: &mut [Option<ir::Function>],
) -> Result<(), CompileError> {
    let mut edges = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let Some(func) = body else { continue };
        for block in func.layout.blocks() {
            for inst in func.layout.block_insts(block) {
                if let ir::InstructionData::Call { func_ref, .. } = func.dfg.insts[inst]
                    && let Some(j) = callee_key(func, func_ref).and_then(|k| body_index(k, module_index))
                    && j < bodies.len()
                {
                    edges.push((FuncId::new(i), FuncId::new(j)));
                }
            }
        }
    }
    let num_edges = edges.len();
    let graph = CallGraph::new(bodies.len(), edges);
    let sccs = scc::compute(&graph);
    let layers = stratify(&graph, &sccs);
    log::debug!("inlining over {} functions: {} call edges, {} layers", bodies.len(), num_edges, layers.len());
    for layer in layers {
        // Take the layer's bodies out: its own SCC's members are then absent as callees.
        let mut taken: Vec<(usize, ir::Function)> =
            layer.iter().filter_map(|f| bodies[f.index()].take().map(|b| (f.index(), b))).collect();
        let shared: &[Option<ir::Function>] = bodies;
        let results: Vec<Result<(), CompileError>> = taken
            .par_iter_mut()
            .map(|(_, func)| {
                let mut ctx = cranelift_codegen::Context::for_function(std::mem::replace(func, ir::Function::new()));
                let inliner = Inliner { tunables, module_index, bodies: shared, caller_size: size(&ctx.func) };
                let result = ctx
                    .inline(inliner)
                    .map(|_| ())
                    .map_err(|e| CompileError::Internal(format!("inlining failed: {e:?}")));
                *func = ctx.func;
                result
            })
            .collect();
        for (i, func) in taken {
            bodies[i] = Some(func);
        }
        results.into_iter().collect::<Result<(), _>>()?;
    }
    Ok(())
}
