//! WASI preview1 (`wasi_snapshot_preview1`) for Kiln: every function of the preview1 witx,
//! defined on a `kiln::Linker` by [`add_to_linker`], over a [`WasiCtx`] that grants a program
//! its arguments, environment, standard streams and preopened directories and nothing else.
//! File system access goes through cap-std, so no path reaches outside a preopen.
//! [`p2`] defines WASI 0.2 for components over the same context, with the same grants.
//!
//! ```
//! use kiln::{Engine, Linker, Module, Store};
//! use kiln_wasi::{OutputPipe, OutputStream, WasiCtx};
//!
//! let engine = Engine::default();
//! let module = Module::new(&engine, r#"(module
//!     (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
//!     (memory (export "memory") 1)
//!     (data (i32.const 8) "\10\00\00\00\03\00\00\00hi\n")
//!     (func (export "_start") (drop (call $w (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 0)))))"#)?;
//! let out = OutputPipe::new();
//! let wasi = WasiCtx::builder().arg("hello").stdout(OutputStream::Pipe(out.clone())).build();
//! let mut store = Store::new(&engine, wasi);
//! let mut linker = Linker::new(&engine);
//! kiln_wasi::add_to_linker(&mut linker, |wasi: &mut WasiCtx| wasi)?;
//! let instance = linker.instantiate(&mut store, &module)?;
//! instance.get_typed_func::<(), ()>(&mut store, "_start")?.call(&mut store, ())?;
//! assert_eq!(out.contents(), b"hi\n");
//! # Ok::<(), kiln::Error>(())
//! ```
#![warn(missing_docs, clippy::missing_errors_doc, clippy::missing_panics_doc)]
#![forbid(unsafe_code)]

#[allow(dead_code)] // the whole preview1 ABI table, including values no call here produces
mod abi;
mod args;
mod clock;
mod ctx;
mod errno;
mod fd;
mod fdtable;
mod filestat;
mod guest;
mod linker;
pub mod p2;
mod path;
mod poll;
pub(crate) mod proc;
mod readdir;
mod sandbox;
mod sock;
mod stdio;

pub use ctx::{DirAccess, Refusal, WasiCtx, WasiCtxBuilder};
pub use errno::Errno;
pub use guest::GuestMemory;
pub use linker::{MODULE, add_to_linker};
pub use proc::I32Exit;
pub use stdio::{InputStream, OutputPipe, OutputStream};
