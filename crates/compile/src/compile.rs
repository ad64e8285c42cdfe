//! Stage 3: run every compile job in parallel (rayon): phase one yields CLIF, `finish` turns
//! it into machine code. With inlining off both phases run in one parallel pass; with it on,
//! all CLIF is made first, stage 4 (`inline`) runs over it, and then every function is
//! finished in parallel. A panic inside a job is caught and reported as an internal error, so
//! no input can take the host down. When several jobs fail, invalid input wins over an
//! unsupported feature, and the first failing key wins among equals, so the error does not
//! depend on thread scheduling.
use crate::compiled_function::{CompiledFunction, finish};
use crate::inputs::CompileInput;
use crate::isa::KilnIsa;
use cranelift_codegen::ir;
use cranelift_entity::EntityRef;
use kiln_cranelift::FuncEnv;
use kiln_environ::{CompileError, FuncKey, Module, StaticModuleIndex, Tunables, VMOffsets};
use rayon::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Compile every job; outputs come back in job order.
pub fn compile_all(
    isa: &KilnIsa,
    tunables: &Tunables,
    module: &Module,
    jobs: Vec<(FuncKey, CompileInput<'_>)>,
) -> Result<Vec<CompiledFunction>, CompileError> {
    if tunables.inlining {
        let clif = clif_functions(isa, tunables, module, jobs)?;
        return first_error(
            clif.into_par_iter().map(|(key, func)| guarded(key, || finish(&*isa.isa, key, func))).collect(),
        );
    }
    let offsets = checked_offsets(module)?;
    let env = FuncEnv { module, offsets: &offsets, tunables, isa: &*isa.isa, module_index: StaticModuleIndex::MAIN };
    first_error(jobs.into_par_iter().map(|(key, job)| guarded(key, || finish(env.isa, key, job(&env)?))).collect())
}

/// The module's `VMContext` layout, if it fits the 32-bit offsets compiled code uses.
fn checked_offsets(module: &Module) -> Result<VMOffsets, CompileError> {
    let offsets = VMOffsets::new(module);
    if !offsets.fits() {
        return Err(CompileError::Limit("the module's VMContext exceeds 4 GiB".into()));
    }
    Ok(offsets)
}

/// Phase one of every job, then stage 4 when inlining is on: the CLIF that `finish` compiles.
pub fn clif_functions(
    isa: &KilnIsa,
    tunables: &Tunables,
    module: &Module,
    jobs: Vec<(FuncKey, CompileInput<'_>)>,
) -> Result<Vec<(FuncKey, ir::Function)>, CompileError> {
    let offsets = checked_offsets(module)?;
    let env = FuncEnv { module, offsets: &offsets, tunables, isa: &*isa.isa, module_index: StaticModuleIndex::MAIN };
    let start = std::time::Instant::now();
    let clif = first_error(jobs.into_par_iter().map(|(key, job)| guarded(key, || Ok((key, job(&env)?)))).collect())?;
    log::debug!("translate to CLIF: {:.2?}", start.elapsed());
    if !tunables.inlining {
        return Ok(clif);
    }
    let start = std::time::Instant::now();
    let inlined = inline(tunables, module, clif);
    log::debug!("inline: {:.2?}", start.elapsed());
    inlined
}

/// Run `f`, turning a panic into an internal error.
fn guarded<T>(key: FuncKey, f: impl FnOnce() -> Result<T, CompileError>) -> Result<T, CompileError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        Err(CompileError::Internal(format!("panic while compiling {key:?}: {}", panic_message(&panic))))
    })
}

/// Stage 4 over the CLIF of every job: the module's wasm functions are inlined into each
/// other; trampolines are left as they are.
fn inline(
    tunables: &Tunables,
    module: &Module,
    clif: Vec<(FuncKey, ir::Function)>,
) -> Result<Vec<(FuncKey, ir::Function)>, CompileError> {
    let mut bodies: Vec<Option<ir::Function>> = (0..module.num_defined_funcs()).map(|_| None).collect();
    let mut others = Vec::new();
    for (key, func) in clif {
        match key {
            FuncKey::DefinedWasmFunction(StaticModuleIndex::MAIN, def) => bodies[def.index()] = Some(func),
            _ => others.push((key, func)),
        }
    }
    let key = FuncKey::DefinedWasmFunction(StaticModuleIndex::MAIN, kiln_environ::DefinedFuncIndex::new(0));
    guarded(key, || crate::inline::inline_module(tunables, StaticModuleIndex::MAIN, &mut bodies))?;
    let mut out: Vec<(FuncKey, ir::Function)> = bodies
        .into_iter()
        .enumerate()
        .filter_map(|(i, f)| {
            Some((FuncKey::DefinedWasmFunction(StaticModuleIndex::MAIN, kiln_environ::DefinedFuncIndex::new(i)), f?))
        })
        .collect();
    out.extend(others);
    Ok(out)
}

/// All the outputs, or the error that wins (see the module docs).
fn first_error<T>(results: Vec<Result<T, CompileError>>) -> Result<Vec<T>, CompileError> {
    let mut outputs = Vec::with_capacity(results.len());
    let mut first_error: Option<CompileError> = None;
    for r in results {
        match r {
            Ok(f) => outputs.push(f),
            Err(e) => {
                let replace = match (&first_error, &e) {
                    (None, _) => true,
                    (Some(CompileError::Invalid { .. }), _) => false,
                    (Some(_), CompileError::Invalid { .. }) => true,
                    _ => false,
                };
                if replace {
                    first_error = Some(e);
                }
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(outputs),
    }
}

/// The message of a caught panic.
pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}
