//! Kiln's embedding API, shaped like wasmtime's.
//!
//! An [`Engine`] compiles; a [`Module`] is compiled code, ready to be instantiated any number
//! of times; a [`Store`] owns instances and the host's own data; a [`Linker`] resolves a
//! module's imports by name, to host functions (Rust closures) or to other instances'
//! exports; exports are called as dynamically typed [`Func`]s or statically typed
//! [`TypedFunc`]s. A trap comes back as [`Error::Trap`] with the spec's message and a wasm
//! backtrace, and leaves the store usable.
//!
//! ```
//! use kiln::{Caller, Engine, Linker, Module, Store, Trap};
//!
//! # fn main() -> kiln::Result<()> {
//! let engine = Engine::default();
//! let module = Module::new(
//!     &engine,
//!     r#"(module
//!          (import "host" "tick" (func $tick (param i32)))
//!          (func (export "count_down") (param $n i32) (result i32)
//!            (loop $again
//!              (call $tick (local.get $n))
//!              (local.set $n (i32.sub (local.get $n) (i32.const 1)))
//!              (br_if $again (local.get $n)))
//!            (i32.const 42))
//!          (func (export "fail") unreachable))"#,
//! )?;
//!
//! // The store's data is the host's state; host functions reach it through their `Caller`.
//! let mut linker = Linker::<Vec<i32>>::new(&engine);
//! linker.func_wrap("host", "tick", |mut caller: Caller<'_, Vec<i32>>, n: i32| caller.data_mut().push(n))?;
//! let mut store = Store::new(&engine, Vec::new());
//! let instance = linker.instantiate(&mut store, &module)?;
//!
//! let count_down = instance.get_typed_func::<i32, i32>(&mut store, "count_down")?;
//! assert_eq!(count_down.call(&mut store, 3)?, 42);
//! assert_eq!(store.data(), &[3, 2, 1]);
//!
//! let fail = instance.get_typed_func::<(), ()>(&mut store, "fail")?;
//! let err = fail.call(&mut store, ()).unwrap_err();
//! assert_eq!(err.as_trap(), Some(&Trap::UnreachableCodeReached));
//! assert_eq!(count_down.call(&mut store, 1)?, 42, "a trap leaves the store usable");
//! # Ok(())
//! # }
//! ```
//!
//! Modules can be compiled ahead of time ([`Engine::precompile_module`],
//! [`Module::serialize`]) and loaded back ([`Module::deserialize`]); built without its default
//! `compiler` feature, this crate has no compiler at all and only loads such artifacts.
//!
//! All unsafe code lives in the private `vm` module.
#![warn(missing_docs, clippy::missing_errors_doc, clippy::missing_panics_doc)]
#![deny(unsafe_code)]

mod any_ref;
mod array_ref;
mod backtrace;
mod cache;
pub mod component;
mod config;
mod engine;
mod error;
mod exn_ref;
mod extern_ref;
mod externals;
mod func;
mod gc_fields;
mod gc_root;
mod gc_types;
mod host_info;
pub use host_info::host_cpu_features;
mod instance;
mod limits;
mod linker;
mod module;
mod store;
mod struct_ref;
mod type_registry;
mod typed_func;
mod types;
mod values;
mod vm;

pub use any_ref::{AnyRef, EqRef, I31};
pub use array_ref::{ArrayRef, ArrayRefPre};
pub use backtrace::{FrameInfo, WasmBacktrace};
pub use cache::{cache_key, cache_key_file, clean_cache, default_cache_dir, discard_cache_key};
pub use config::{Config, parse_bool, parse_bytes};
pub use engine::{Engine, Precompiled};
pub use error::{Error, Result};
pub use exn_ref::ExnRef;
pub use extern_ref::ExternRef;
pub use externals::{Extern, Global, Memory, Table, Tag};
pub use func::{Caller, Func};
pub use gc_root::{GcRef, OwnedRooted, RootScope, Rooted, RootedGcRef};
pub use gc_types::{ArrayType, FieldType, StorageType, StructType};
pub use instance::Instance;
pub use kiln_environ::OptLevel;
pub use kiln_environ::Trap;
pub use limits::{
    DEFAULT_INSTANCE_LIMIT, DEFAULT_MEMORY_LIMIT, DEFAULT_TABLE_LIMIT, ResourceLimiter, StoreLimits, StoreLimitsBuilder,
};
pub use linker::{InstancePre, Linker};
pub use module::{ExportType, ImportType, Module};
pub use store::{AsContext, AsContextMut, Store, StoreContext, StoreContextMut, UpdateDeadline};
pub use struct_ref::{StructRef, StructRefPre};
pub use typed_func::{IntoFunc, TypedFunc, WasmParams, WasmResults, WasmRet, WasmTy};
pub use types::{ExternType, FuncType, GlobalType, MemoryType, Mutability, TableType, TagType, ValType};
pub use values::Val;
