//! Stage 3: run every compile job — of every module of the compilation, a component's as
//! much as a lone module's — in one parallel pass (rayon): phase one yields CLIF, `finish`
//! turns it into machine code; each job translates against its own module, which its key
//! names. With inlining off both phases run in one parallel pass; with it on, all CLIF is
//! made first, stage 4 (`inline`) runs over each module's, and then every function is
//! finished in parallel. A panic inside a job is caught and reported as an internal error, so
//! no input can take the host down. When several jobs fail, invalid input wins over an
//! unsupported feature, and the first failing key wins among equals, so the error does not
//! depend on thread scheduling.
use crate::compiled_function::{CompiledFunction, finish};
use crate::inputs::CompileInput;
use crate::isa::KilnIsa;
use cranelift_codegen::ir;
use cranelift_entity::{EntityRef, PrimaryMap};
use kiln_environ::{CompileError, DefinedFuncIndex, FuncKey, Module, StaticModuleIndex, Tunables, VMOffsets};
use rayon::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The modules of one compilation, by the static index their jobs' keys carry.
pub type Modules = PrimaryMap<StaticModuleIndex, Module>;

/// What every job of one compilation translates against: each module with its `VMContext`
/// layout.
struct Envs<'a> {
    isa: &'a KilnIsa,
    tunables: &'a Tunables,
    modules: &'a Modules,
    offsets: PrimaryMap<StaticModuleIndex, VMOffsets>,
}

impl<'a> Envs<'a> {
    fn new(isa: &'a KilnIsa, tunables: &'a Tunables, modules: &'a Modules) -> Result<Envs<'a>, CompileError> {
        let offsets = modules.values().map(checked_offsets).collect::<Result<_, _>>()?;
        Ok(Envs { isa, tunables, modules, offsets })
    }

    /// The environment of the module `key` belongs to.
    fn of(&self, key: FuncKey) -> Result<kiln_cranelift::FuncEnv<'_>, CompileError> {
        let module_index = key
            .module()
            .filter(|m| self.modules.is_valid(*m))
            .ok_or_else(|| CompileError::Internal(format!("compile job {key:?} belongs to no module")))?;
        Ok(kiln_cranelift::FuncEnv {
            module: &self.modules[module_index],
            offsets: &self.offsets[module_index],
            tunables: self.tunables,
            isa: &*self.isa.isa,
            module_index,
        })
    }
}

/// Compile every job of every module in one parallel pass; outputs come back in job order.
pub fn compile_all(
    isa: &KilnIsa,
    tunables: &Tunables,
    modules: &Modules,
    jobs: Vec<(FuncKey, CompileInput<'_>)>,
) -> Result<Vec<CompiledFunction>, CompileError> {
    if tunables.inlining {
        let clif = clif_functions(isa, tunables, modules, jobs)?;
        return first_error(
            clif.into_par_iter().map(|(key, func)| guarded(key, || finish(&*isa.isa, key, func))).collect(),
        );
    }
    let envs = Envs::new(isa, tunables, modules)?;
    first_error(
        jobs.into_par_iter().map(|(key, job)| guarded(key, || finish(&*isa.isa, key, job(&envs.of(key)?)?))).collect(),
    )
}

/// The module's `VMContext` layout, if it fits the 32-bit offsets compiled code uses.
fn checked_offsets(module: &Module) -> Result<VMOffsets, CompileError> {
    let offsets = VMOffsets::new(module);
    if !offsets.fits() {
        return Err(CompileError::Limit("the module's VMContext exceeds 4 GiB".into()));
    }
    Ok(offsets)
}

/// Phase one of every job (of every module, in one parallel pass), then stage 4 when
/// inlining is on: the CLIF that `finish` compiles.
pub fn clif_functions(
    isa: &KilnIsa,
    tunables: &Tunables,
    modules: &Modules,
    jobs: Vec<(FuncKey, CompileInput<'_>)>,
) -> Result<Vec<(FuncKey, ir::Function)>, CompileError> {
    let envs = Envs::new(isa, tunables, modules)?;
    let start = std::time::Instant::now();
    let clif =
        first_error(jobs.into_par_iter().map(|(key, job)| guarded(key, || Ok((key, job(&envs.of(key)?)?)))).collect())?;
    log::debug!("translate to CLIF: {:.2?}", start.elapsed());
    if !tunables.inlining {
        return Ok(clif);
    }
    let start = std::time::Instant::now();
    let inlined = inline(tunables, modules, clif);
    log::debug!("inline: {:.2?}", start.elapsed());
    inlined
}

/// Run `f`, turning a panic into an internal error.
fn guarded<T>(key: FuncKey, f: impl FnOnce() -> Result<T, CompileError>) -> Result<T, CompileError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        Err(CompileError::Internal(format!("panic while compiling {key:?}: {}", panic_message(&panic))))
    })
}

/// Stage 4 over the CLIF of every job: each module's wasm functions are inlined into each
/// other (the modules in parallel, never across modules); trampolines are left as they are.
fn inline(
    tunables: &Tunables,
    modules: &Modules,
    clif: Vec<(FuncKey, ir::Function)>,
) -> Result<Vec<(FuncKey, ir::Function)>, CompileError> {
    let mut bodies: PrimaryMap<StaticModuleIndex, Vec<Option<ir::Function>>> =
        modules.values().map(|m| (0..m.num_defined_funcs()).map(|_| None).collect()).collect();
    let mut others = Vec::new();
    for (key, func) in clif {
        match key {
            FuncKey::DefinedWasmFunction(m, def) if bodies.get(m).is_some_and(|b| def.index() < b.len()) => {
                bodies[m][def.index()] = Some(func)
            }
            _ => others.push((key, func)),
        }
    }
    let results: Vec<Result<(), CompileError>> = bodies
        .iter_mut()
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(m, bodies)| {
            let key = FuncKey::DefinedWasmFunction(m, DefinedFuncIndex::new(0));
            guarded(key, || crate::inline::inline_module(tunables, m, bodies))
        })
        .collect();
    first_error(results)?;
    let mut out: Vec<(FuncKey, ir::Function)> = bodies
        .into_iter()
        .flat_map(|(m, bodies)| {
            bodies
                .into_iter()
                .enumerate()
                .filter_map(move |(i, f)| Some((FuncKey::DefinedWasmFunction(m, DefinedFuncIndex::new(i)), f?)))
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
