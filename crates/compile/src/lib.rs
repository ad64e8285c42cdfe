//! Kiln's compile orchestration: WebAssembly bytes in, one linked ELF artifact out — for a
//! core module ([`compile_module`]) or a whole component ([`compile_component`]), whose
//! static core modules are compiled together into one artifact.
//!
//! The stages, one call each:
//! 1. translate the module ([`kiln_environ::translate_module`]): parse and validate all but the
//!    function bodies; for a component, translate and flatten it
//!    ([`kiln_environ::component::translate_component`]) and then each of its static core
//!    modules;
//! 2. collect the compile inputs ([`inputs`]): one job per `FuncKey` — every defined function,
//!    an array-to-wasm trampoline per escaping function, a wasm-to-array trampoline per distinct
//!    signature — each module's keys carrying its `StaticModuleIndex` (a lone module is
//!    module 0);
//! 3. compile in parallel ([`compile`]): every job of every module in one pass; phase one
//!    yields CLIF, `finish` turns it into machine code (with inlining off, both phases run in
//!    one parallel pass);
//! 4. inline ([`inline`], when on): within each module, over the call graph ([`call_graph`]),
//!    its strongly connected components ([`scc`]) and their layers ([`stratify`]), bottom-up;
//! 5. compile the builtin trampolines that relocations name ([`builtins`]);
//! 6. pre-link ([`pre_link`]): sort every output by `FuncKey`;
//! 7. link ([`link`]): one `.text` with every call resolved, written as an ELF with its trap
//!    table and function table, the module descriptions (and the component's) and the
//!    modules' memory images.
//!
//! This is the only crate that spawns threads (rayon).
#![forbid(unsafe_code)]

pub mod builtins;
pub mod call_graph;
pub mod compile;
pub mod compiled_function;
pub mod inline;
pub mod inputs;
pub mod isa;
pub mod link;
pub mod pre_link;
pub mod scc;
pub mod stratify;

use cranelift_entity::{EntityRef, PrimaryMap};
use kiln_environ::artifact::ArtifactModule;
use kiln_environ::component::ComponentInfo;
use kiln_environ::{CompileError, FuncKey, Module, ModuleTranslation, StaticModuleIndex, Tunables};
use rayon::prelude::*;

pub use isa::{KilnIsa, engine_info, host_isa, host_isa_for, target_isa};

/// A compiled module: its description and its linked ELF artifact.
pub struct CompiledModule {
    pub module: Module,
    pub elf: Vec<u8>,
}

/// A compiled component: its flattened description, the descriptions of its static core
/// modules, and the one linked ELF artifact that holds all of their code.
pub struct CompiledComponent {
    pub info: ComponentInfo,
    pub modules: PrimaryMap<StaticModuleIndex, Module>,
    pub elf: Vec<u8>,
}

/// The CLIF of `wasm`'s defined functions as `finish` would compile it (after inlining when
/// `tunables` turn it on), in key order: for golden tests and debugging.
pub fn module_clif(isa: &KilnIsa, tunables: &Tunables, wasm: &[u8]) -> Result<String, CompileError> {
    let translation = kiln_environ::translate_module_with(wasm, tunables.wasm_features)?;
    let (modules, jobs) = collect_inputs(vec![translation]);
    let mut clif = compile::clif_functions(isa, tunables, &modules, jobs)?;
    clif.sort_by_key(|(key, _)| *key);
    Ok(clif
        .iter()
        .filter(|(key, _)| matches!(key, FuncKey::DefinedWasmFunction(..)))
        .map(|(_, f)| f.display().to_string())
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Run one stage, logging how long it took at `debug` level (`RUST_LOG=kiln_compile=debug`).
fn stage<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let start = std::time::Instant::now();
    let out = f();
    log::debug!("{name}: {:.2?}", start.elapsed());
    out
}

/// Runs `f` (a compile) with every parallel stage on one thread: the same artifact, for
/// embedders that must not start threads (`Config::parallel_compilation(false)`).
///
/// # Errors
/// [`CompileError::Internal`] when the one-thread pool cannot be made.
pub fn on_one_thread<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, CompileError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| CompileError::Internal(format!("a compile thread: {e}")))?;
    Ok(pool.install(f))
}

/// Compile `wasm`, a core module, for `isa` with `tunables`.
pub fn compile_module(isa: &KilnIsa, tunables: &Tunables, wasm: &[u8]) -> Result<CompiledModule, CompileError> {
    let translation = stage("translate", || kiln_environ::translate_module_with(wasm, tunables.wasm_features))?;
    let (modules, elf) = compile_and_link(isa, tunables, vec![translation], None)?;
    let module = modules.into_iter().next().map(|(_, m)| m).ok_or_else(|| internal("the module went missing"))?;
    Ok(CompiledModule { module, elf })
}

/// Compile `wasm`, a component, for `isa` with `tunables`: every static core module it
/// defines, into one artifact.
pub fn compile_component(isa: &KilnIsa, tunables: &Tunables, wasm: &[u8]) -> Result<CompiledComponent, CompileError> {
    let component = stage("translate component", || {
        kiln_environ::component::translate_component_with(wasm, tunables.wasm_features)
    })?;
    let num_modules = component.modules.len() + component.adapters.len();
    if num_modules > FuncKey::MAX_MODULES {
        return Err(CompileError::Limit(format!("a component of {num_modules} core modules and adapters")));
    }
    let translations = stage("translate modules", || {
        // The component's own modules, then its fused adapters: Kiln's own code, which may
        // use multi-memory whatever features the guest is allowed.
        let mut sources = Vec::with_capacity(num_modules);
        for range in &component.modules {
            let bytes = wasm.get(range.clone()).ok_or_else(|| internal("a core module lies outside the component"))?;
            sources.push((bytes, tunables.wasm_features));
        }
        sources.extend(component.adapters.iter().map(|a| (a.as_slice(), kiln_environ::wasm_features())));
        let results: Vec<_> =
            sources.par_iter().map(|(bytes, features)| kiln_environ::translate_module_with(bytes, *features)).collect();
        results.into_iter().collect::<Result<Vec<_>, _>>()
    })?;
    log::debug!("{} calls between component instances compiled as fused adapters", component.adapters.len());
    let (modules, elf) = compile_and_link(isa, tunables, translations, Some(&component.info))?;
    Ok(CompiledComponent { info: component.info, modules, elf })
}

fn internal(what: &str) -> CompileError {
    CompileError::Internal(what.into())
}

/// Stage 2 for every module, module `i` of `translations` being `StaticModuleIndex` `i`: the
/// descriptions and all the jobs, in module order.
fn collect_inputs(
    translations: Vec<ModuleTranslation<'_>>,
) -> (PrimaryMap<StaticModuleIndex, Module>, Vec<(FuncKey, inputs::CompileInput<'_>)>) {
    let mut modules = PrimaryMap::new();
    let mut jobs = Vec::new();
    for (i, translation) in translations.into_iter().enumerate() {
        let inputs = inputs::collect(translation, StaticModuleIndex::new(i));
        modules.push(inputs.module);
        jobs.extend(inputs.jobs);
    }
    (modules, jobs)
}

/// Stages 2 to 7 for the translated modules (of `component`, if they make one up): their
/// descriptions and the artifact.
fn compile_and_link(
    isa: &KilnIsa,
    tunables: &Tunables,
    translations: Vec<ModuleTranslation<'_>>,
    component: Option<&ComponentInfo>,
) -> Result<(PrimaryMap<StaticModuleIndex, Module>, Vec<u8>), CompileError> {
    let (modules, jobs) = stage("collect inputs", || collect_inputs(translations));
    log::debug!(
        "{} compile jobs for {} defined functions in {} modules",
        jobs.len(),
        modules.values().map(Module::num_defined_funcs).sum::<usize>(),
        modules.len()
    );
    let mut outputs = stage("compile", || compile::compile_all(isa, tunables, &modules, jobs))?;
    outputs.extend(stage("builtin trampolines", || builtins::compile_builtins(isa, &outputs))?);
    let functions = stage("pre-link", || pre_link::sort(outputs));
    let images: Vec<_> = stage("memory images", || {
        modules
            .values()
            .map(|m| if tunables.memory_init_cow { kiln_environ::memory_images(m) } else { Default::default() })
            .collect()
    });
    let parts: Vec<ArtifactModule<'_>> =
        modules.values().zip(&images).map(|(module, images)| ArtifactModule { module, images }).collect();
    let elf = stage("link", || link::link(isa, &engine_info(isa, tunables), &parts, component, &functions))?;
    log::debug!("artifact: {} bytes", elf.len());
    Ok((modules, elf))
}
