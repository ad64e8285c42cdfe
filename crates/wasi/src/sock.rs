//! `sock_*`: a context holds no sockets (preview1 cannot create them, and Kiln grants none), so
//! these answer `badf` for a closed fd and `notsock` for any other.
use crate::{Errno, GuestMemory, WasiCtx};

fn no_socket(ctx: &WasiCtx, fd: u32) -> Result<(), Errno> {
    ctx.fds.get(fd)?;
    Err(Errno::NotSock)
}

pub fn sock_accept(ctx: &mut WasiCtx, _: &mut GuestMemory<'_>, fd: u32, _flags: u32, _out: u32) -> Result<(), Errno> {
    no_socket(ctx, fd)
}

#[allow(clippy::too_many_arguments)]
pub fn sock_recv(
    ctx: &mut WasiCtx,
    _: &mut GuestMemory<'_>,
    fd: u32,
    _iovs: u32,
    _n: u32,
    _flags: u32,
    _len: u32,
    _oflags: u32,
) -> Result<(), Errno> {
    no_socket(ctx, fd)
}

pub fn sock_send(
    ctx: &mut WasiCtx,
    _: &mut GuestMemory<'_>,
    fd: u32,
    _iovs: u32,
    _n: u32,
    _flags: u32,
    _len: u32,
) -> Result<(), Errno> {
    no_socket(ctx, fd)
}

pub fn sock_shutdown(ctx: &mut WasiCtx, _: &mut GuestMemory<'_>, fd: u32, _how: u32) -> Result<(), Errno> {
    no_socket(ctx, fd)
}
