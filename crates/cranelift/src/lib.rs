//! Kiln's Cranelift back end for one function at a time: WebAssembly function bodies to
//! Cranelift IR (`func_translator`), the trampolines between the host's array ABI, wasm's
//! ABI and the runtime builtins (`trampolines`), and the shared ABI facts both use (`abi`).
//! The Cranelift settings this code relies on are `kiln_environ::CRANELIFT_SETTINGS`.
//! It spawns no threads and has no unsafe code; the orchestration lives in `kiln-compile`.
#![forbid(unsafe_code)]

pub mod abi;
pub mod func_translator;
pub mod trampolines;

pub use abi::FuncEnv;
pub use func_translator::translate_function;
