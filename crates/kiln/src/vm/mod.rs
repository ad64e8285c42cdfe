//! The runtime's unsafe core: code memory, the `VMContext` and the structures compiled code
//! reads, linear memories, tables, stores, instantiation, the host/wasm boundary, builtins and
//! trap handling. Every `unsafe` block of Kiln lives under this module, each with a
//! `// SAFETY:` line. It never depends on the compiler.
#![allow(unsafe_code)]

pub mod artifact;
#[cfg(test)]
mod artifact_tests;
pub mod builtins;
pub mod code_memory;
pub mod instance;
pub mod memory;
pub mod memory_image;
pub mod mmap;
pub mod store;
pub mod table;
pub mod traps;
pub mod vmcontext;
