//! Collecting the compile inputs: one job per `FuncKey`, each a closure that yields the
//! function's CLIF (phase one of compilation).
//!
//! - every defined function: `DefinedWasmFunction(module, def_index)`;
//! - an `ArrayToWasmTrampoline` for each *escaping* function only;
//! - one `WasmToArrayTrampoline(module, type)` per distinct function type of the module (a
//!   host function may be imported with it, or reached by `call_indirect` with it).
//!
//! Every key carries the module's `StaticModuleIndex`, so the jobs of a component's modules
//! can be compiled and linked together.
use cranelift_codegen::ir;
use kiln_cranelift::{FuncEnv, trampolines};
use kiln_environ::{CompileError, DefinedFuncIndex, FuncKey, Module, ModuleTranslation, StaticModuleIndex};

/// Phase one of one compile job: produce the CLIF of one function.
pub type CompileInput<'a> = Box<dyn FnOnce(&FuncEnv<'_>) -> Result<ir::Function, CompileError> + Send + 'a>;

/// What stage 2 collects.
pub struct Inputs<'data> {
    pub module: Module,
    pub jobs: Vec<(FuncKey, CompileInput<'data>)>,
}

/// The module description and every compile job, keyed by `FuncKey`.
///
/// When the module uses a feature Kiln does not compile yet, the jobs only validate the
/// function bodies and then report that feature: an invalid module is always called invalid.
pub fn collect(translation: ModuleTranslation<'_>, module_index: StaticModuleIndex) -> Inputs<'_> {
    let ModuleTranslation { module, function_bodies, unsupported } = translation;
    let mut jobs: Vec<(FuncKey, CompileInput<'_>)> = Vec::new();
    if let Some(what) = unsupported {
        for (def, data) in function_bodies {
            let what = what.clone();
            let key = FuncKey::DefinedWasmFunction(module_index, def);
            jobs.push((
                key,
                Box::new(move |_: &FuncEnv<'_>| {
                    let mut validator = data.validator.into_validator(Default::default());
                    validator.validate(&data.body).map_err(kiln_environ::invalid_from_wasmparser)?;
                    Err(CompileError::Unsupported(what))
                }),
            ));
        }
        if jobs.is_empty() {
            let key = FuncKey::DefinedWasmFunction(module_index, DefinedFuncIndex::from_u32(0));
            jobs.push((key, Box::new(move |_: &FuncEnv<'_>| Err(CompileError::Unsupported(what)))));
        }
        return Inputs { module, jobs };
    }
    for (def, data) in function_bodies {
        let key = FuncKey::DefinedWasmFunction(module_index, def);
        jobs.push((
            key,
            Box::new(move |env: &FuncEnv<'_>| {
                let mut validator = data.validator.into_validator(Default::default());
                kiln_cranelift::translate_function(env, def, &data.body, &mut validator)
            }),
        ));
    }
    for def in (0..module.num_defined_funcs()).map(|i| DefinedFuncIndex::from_u32(i as u32)) {
        if !module.functions[module.func_index(def)].escapes {
            continue;
        }
        let key = FuncKey::ArrayToWasmTrampoline(module_index, def);
        let callee = FuncKey::DefinedWasmFunction(module_index, def);
        jobs.push((
            key,
            Box::new(move |env: &FuncEnv<'_>| {
                let ty = env.module.func_type(env.module.func_index(def));
                Ok(trampolines::array_to_wasm(env.isa, key, callee, ty))
            }),
        ));
    }
    for ty in module.host_callable_types() {
        let key = FuncKey::WasmToArrayTrampoline(module_index, ty);
        jobs.push((
            key,
            Box::new(move |env: &FuncEnv<'_>| Ok(trampolines::wasm_to_array(env.isa, key, env.module.signature(ty)))),
        ));
    }
    Inputs { module, jobs }
}
