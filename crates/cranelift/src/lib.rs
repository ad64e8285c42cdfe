//! Kiln's Cranelift back end for one function at a time: WebAssembly function bodies to
//! Cranelift IR (`func_translator`), the trampolines between the host's array ABI, wasm's
//! ABI and the runtime builtins (`trampolines`), the shared ABI facts both use (`abi`), and the
//! Cranelift settings they rely on (`settings`).
//! It spawns no threads and has no unsafe code; the orchestration lives in `kiln-compile`.
#![forbid(unsafe_code)]

pub mod abi;
pub mod func_translator;
pub mod settings;
pub mod trampolines;

pub use abi::FuncEnv;
pub use func_translator::translate_function;
