//! Kiln's compile orchestration: WebAssembly bytes in, one linked ELF artifact out.
//!
//! The stages, one call each in [`compile_module`]:
//! 1. translate the module ([`kiln_environ::translate_module`]): parse and validate all but the
//!    function bodies;
//! 2. collect the compile inputs ([`inputs`]): one job per `FuncKey` — every defined function,
//!    an array-to-wasm trampoline per escaping function, a wasm-to-array trampoline per distinct
//!    signature;
//! 3. compile in parallel ([`compile`]): phase one yields CLIF, `finish` turns it into machine
//!    code (with inlining off, both phases run in one parallel pass);
//! 4. inline ([`inline`], when on): over the call graph ([`call_graph`]), its strongly
//!    connected components ([`scc`]) and their layers ([`stratify`]), bottom-up;
//! 5. compile the builtin trampolines that relocations name ([`builtins`]);
//! 6. pre-link ([`pre_link`]): sort every output by `FuncKey`;
//! 7. link ([`link`]): one `.text` with every call resolved, written as an ELF with its trap
//!    table and function table.
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

use kiln_environ::{CompileError, Module, Tunables};

pub use isa::{KilnIsa, engine_info, host_isa};

/// A compiled module: its description and its linked ELF artifact.
pub struct CompiledModule {
    pub module: Module,
    pub elf: Vec<u8>,
}

/// The CLIF of `wasm`'s defined functions as `finish` would compile it (after inlining when
/// `tunables` turn it on), in key order: for golden tests and debugging.
pub fn module_clif(isa: &KilnIsa, tunables: &Tunables, wasm: &[u8]) -> Result<String, CompileError> {
    let translation = kiln_environ::translate_module(wasm)?;
    let inputs::Inputs { module, jobs } = inputs::collect(translation, kiln_environ::StaticModuleIndex::MAIN);
    let mut clif = compile::clif_functions(isa, tunables, &module, jobs)?;
    clif.sort_by_key(|(key, _)| *key);
    Ok(clif
        .iter()
        .filter(|(key, _)| matches!(key, kiln_environ::FuncKey::DefinedWasmFunction(..)))
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

/// Compile `wasm` for `isa` with `tunables`.
pub fn compile_module(isa: &KilnIsa, tunables: &Tunables, wasm: &[u8]) -> Result<CompiledModule, CompileError> {
    let translation = stage("translate", || kiln_environ::translate_module(wasm))?;
    let inputs::Inputs { module, jobs } =
        stage("collect inputs", || inputs::collect(translation, kiln_environ::StaticModuleIndex::MAIN));
    log::debug!("{} compile jobs for {} defined functions", jobs.len(), module.num_defined_funcs());
    let mut outputs = stage("compile", || compile::compile_all(isa, tunables, &module, jobs))?;
    outputs.extend(stage("builtin trampolines", || builtins::compile_builtins(isa, &outputs))?);
    let functions = stage("pre-link", || pre_link::sort(outputs));
    let images = stage("memory images", || {
        if tunables.memory_init_cow { kiln_environ::memory_images(&module) } else { Default::default() }
    });
    let elf = stage("link", || link::link(isa, &engine_info(isa, tunables), &module, &functions, &images))?;
    log::debug!("artifact: {} bytes", elf.len());
    Ok(CompiledModule { module, elf })
}
