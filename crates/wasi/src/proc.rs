//! `proc_exit`, `proc_raise`, `sched_yield` and `random_get`: the process-level calls.
//! `proc_exit` unwinds the guest with an [`I32Exit`] error, which embedders turn into the
//! process's exit status (WASI 0.2's `exit` unwinds with the same error), and
//! [`fill_random`] is the one random source of both ABIs.
use crate::{Errno, GuestMemory, WasiCtx};
use std::fmt;

/// The error `proc_exit` unwinds the guest with: the program asked to exit with this status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct I32Exit(pub i32);

impl fmt::Display for I32Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exited with status {}", self.0)
    }
}

impl std::error::Error for I32Exit {}

/// What `proc_exit(status)` unwinds with: an [`I32Exit`] for a status in `0..126`, which a
/// process can exit with unambiguously; any other status is an error (as in wasmtime), so
/// that no guest exits 0 by passing 256 or looks like a trap (134) or a signal.
pub fn exit(status: i32) -> kiln::Error {
    if (0..126).contains(&status) {
        kiln::Error::Host(Box::new(I32Exit(status)))
    } else {
        kiln::Error::Other(format!("exit with invalid exit status outside of [0..126): {status}"))
    }
}

/// Signals cannot be raised in a WASI program.
pub fn proc_raise(_: &mut WasiCtx, _: &mut GuestMemory<'_>, _sig: u32) -> Result<(), Errno> {
    Err(Errno::NotSup)
}

pub fn sched_yield(_: &mut WasiCtx, _: &mut GuestMemory<'_>) -> Result<(), Errno> {
    std::thread::yield_now();
    Ok(())
}

/// Fill `out` from the host's cryptographic random source.
pub(crate) fn fill_random(mut out: &mut [u8]) -> Result<(), Errno> {
    while !out.is_empty() {
        match rustix::rand::getrandom(&mut *out, rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => out = &mut out[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Fill `len` bytes at `buf` from the host's cryptographic random source.
pub fn random_get(_: &mut WasiCtx, mem: &mut GuestMemory<'_>, buf: u32, len: u32) -> Result<(), Errno> {
    fill_random(mem.slice_mut(buf, len)?)
}
