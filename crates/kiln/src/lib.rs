//! Kiln's embedding API, shaped like wasmtime's: compile a [`Module`] with an [`Engine`],
//! instantiate it in a [`Store`] (directly or through a [`Linker`]), and call its exports as
//! [`Func`]s or [`TypedFunc`]s. Host functions are Rust closures; traps come back as
//! [`Error::Trap`] with the spec's messages, and leave the store usable.
//!
//! All unsafe code lives in the private `vm` module.
#![deny(unsafe_code)]

mod backtrace;
mod cache;
mod config;
mod engine;
mod error;
mod externals;
mod func;
#[cfg(not(feature = "compiler"))]
mod host_info;
mod instance;
mod linker;
mod module;
mod store;
mod typed_func;
mod types;
mod values;
mod vm;

pub use backtrace::{FrameInfo, WasmBacktrace};
pub use cache::{cache_key, clean_cache, default_cache_dir};
pub use config::Config;
pub use engine::Engine;
pub use error::{Error, Result};
pub use externals::{Extern, Global, Memory, Table};
pub use func::{Caller, Func};
pub use instance::Instance;
pub use kiln_environ::Trap;
pub use linker::Linker;
pub use module::{ExportType, ImportType, Module};
pub use store::{AsContext, AsContextMut, Store, StoreContext, StoreContextMut};
pub use typed_func::{IntoFunc, TypedFunc, WasmParams, WasmResults, WasmRet, WasmTy};
pub use types::{ExternType, FuncType, GlobalType, MemoryType, Mutability, TableType, ValType};
pub use values::{ExternRef, Val};
