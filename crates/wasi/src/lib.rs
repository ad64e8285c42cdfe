//! WASI preview1 (`wasi_snapshot_preview1`) for Kiln: every function of the preview1 witx,
//! defined on a `kiln::Linker` by [`add_to_linker`], over a [`WasiCtx`] that grants a program
//! its arguments, environment, standard streams and preopened directories and nothing else.
//! File system access goes through cap-std, so no path reaches outside a preopen.
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
mod path;
mod poll;
mod proc;
mod sock;
mod stdio;

pub use ctx::{DirAccess, Refusal, WasiCtx, WasiCtxBuilder};
pub use errno::Errno;
pub use guest::GuestMemory;
pub use linker::{MODULE, add_to_linker};
pub use proc::I32Exit;
pub use stdio::{InputStream, OutputPipe, OutputStream};
