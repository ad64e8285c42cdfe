//! Stage 5: the builtin trampolines. Wasm code calls runtime builtins through
//! `WasmToBuiltinTrampoline(builtin)`; after compiling, every output's relocations are scanned
//! and exactly the trampolines named there are compiled, each once.
use crate::compiled_function::{CompiledFunction, finish};
use crate::isa::KilnIsa;
use kiln_environ::{CompileError, FuncKey};
use std::collections::BTreeSet;

/// Compile the builtin trampolines that `outputs` call.
pub fn compile_builtins(isa: &KilnIsa, outputs: &[CompiledFunction]) -> Result<Vec<CompiledFunction>, CompileError> {
    let needed: BTreeSet<_> = outputs
        .iter()
        .flat_map(|f| &f.relocations)
        .filter_map(|r| match r.target {
            FuncKey::WasmToBuiltinTrampoline(b) => Some(b),
            _ => None,
        })
        .collect();
    needed
        .into_iter()
        .map(|b| {
            let func = kiln_cranelift::trampolines::wasm_to_builtin(&*isa.isa, b);
            finish(&*isa.isa, FuncKey::WasmToBuiltinTrampoline(b), func)
        })
        .collect()
}
