//! The runtime's unsafe core: code memory, the `VMContext` and the structures compiled code
//! reads, linear memories, tables, stores, instantiation, the host/wasm boundary, builtins and
//! trap handling. Every `unsafe` block of Kiln lives under this module, each with a
//! `// SAFETY:` line. It never depends on the compiler.
#![allow(unsafe_code)]

pub mod artifact;
#[cfg(all(test, feature = "compiler"))]
mod artifact_tests;
pub mod builtins;
pub mod code_memory;
pub mod collector;
pub mod entry;
pub mod epoch;
pub mod exception;
pub mod extern_refs;
pub mod fuel;
pub mod gc_arrays;
pub mod gc_heap;
pub mod host_func;
pub mod ids;
pub mod instance;
pub mod limits;
pub mod memory;
pub mod memory_image;
pub mod mmap;
pub mod stack_limit;
pub mod stack_roots;
pub mod store;
pub mod store_box;
pub mod table;
pub mod traps;
pub mod val_raw;
pub mod vm_ptr;
pub mod vmcontext;
