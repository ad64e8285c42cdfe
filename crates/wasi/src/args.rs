//! `args_*` and `environ_*`: the program's arguments and environment, laid out as C expects
//! (an array of pointers into one buffer of NUL-terminated strings).
use crate::{Errno, GuestMemory, WasiCtx};

fn sizes(strings: &[Vec<u8>], mem: &mut GuestMemory<'_>, count_ptr: u32, size_ptr: u32) -> Result<(), Errno> {
    let size: usize = strings.iter().map(|s| s.len() + 1).sum();
    mem.write_u32(count_ptr, u32::try_from(strings.len()).map_err(|_| Errno::Overflow)?)?;
    mem.write_u32(size_ptr, u32::try_from(size).map_err(|_| Errno::Overflow)?)
}

fn get(strings: &[Vec<u8>], mem: &mut GuestMemory<'_>, ptrs: u32, buf: u32) -> Result<(), Errno> {
    let mut at = buf;
    for (i, s) in strings.iter().enumerate() {
        mem.write_u32(ptrs.checked_add(4 * i as u32).ok_or(Errno::Fault)?, at)?;
        mem.write(at, s)?;
        at = at.checked_add(s.len() as u32).ok_or(Errno::Fault)?;
        mem.write_u8(at, 0)?;
        at = at.checked_add(1).ok_or(Errno::Fault)?;
    }
    Ok(())
}

fn args(ctx: &WasiCtx) -> Vec<Vec<u8>> {
    ctx.args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn environ(ctx: &WasiCtx) -> Vec<Vec<u8>> {
    ctx.env.iter().map(|(k, v)| format!("{k}={v}").into_bytes()).collect()
}

pub fn args_sizes_get(ctx: &mut WasiCtx, mem: &mut GuestMemory<'_>, argc: u32, size: u32) -> Result<(), Errno> {
    sizes(&args(ctx), mem, argc, size)
}

pub fn args_get(ctx: &mut WasiCtx, mem: &mut GuestMemory<'_>, argv: u32, buf: u32) -> Result<(), Errno> {
    get(&args(ctx), mem, argv, buf)
}

pub fn environ_sizes_get(ctx: &mut WasiCtx, mem: &mut GuestMemory<'_>, count: u32, size: u32) -> Result<(), Errno> {
    sizes(&environ(ctx), mem, count, size)
}

pub fn environ_get(ctx: &mut WasiCtx, mem: &mut GuestMemory<'_>, environ_ptr: u32, buf: u32) -> Result<(), Errno> {
    get(&environ(ctx), mem, environ_ptr, buf)
}
