//! Stage 3: run every compile job in parallel (rayon): phase one yields CLIF, `finish` turns
//! it into machine code. A panic inside a job is caught and reported as an internal error, so
//! no input can take the host down. When several jobs fail, invalid input wins over an
//! unsupported feature, and the first failing key wins among equals, so the error does not
//! depend on thread scheduling.
use crate::compiled_function::{CompiledFunction, finish};
use crate::inputs::CompileInput;
use crate::isa::KilnIsa;
use kiln_cranelift::FuncEnv;
use kiln_environ::{CompileError, FuncKey, Module, Tunables, VMOffsets};
use rayon::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Compile every job; outputs come back in job order.
pub fn compile_all(
    isa: &KilnIsa,
    tunables: &Tunables,
    module: &Module,
    jobs: Vec<(FuncKey, CompileInput<'_>)>,
) -> Result<Vec<CompiledFunction>, CompileError> {
    let offsets = VMOffsets::new(module);
    if !offsets.fits() {
        return Err(CompileError::Limit("the module's VMContext exceeds 4 GiB".into()));
    }
    let env = FuncEnv { module, offsets: &offsets, tunables, isa: &*isa.isa, module_index: 0 };
    let results: Vec<Result<CompiledFunction, CompileError>> = jobs
        .into_par_iter()
        .map(|(key, job)| {
            catch_unwind(AssertUnwindSafe(|| finish(env.isa, key, job(&env)?)))
                .unwrap_or_else(|panic| Err(CompileError::Internal(format!("panic while compiling {key:?}: {}", panic_message(&panic)))))
        })
        .collect();
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
