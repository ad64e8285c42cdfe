//! `clock_res_get` and `clock_time_get`: the realtime, monotonic and CPU-time clocks, in
//! nanoseconds. [`now`] and [`resolution`] are also WASI 0.2's clocks.
use crate::abi::clockid;
use crate::{Errno, GuestMemory, WasiCtx};
use rustix::time::{ClockId, Timespec};

fn host_clock(id: u32) -> Result<ClockId, Errno> {
    Ok(match id {
        clockid::REALTIME => ClockId::Realtime,
        clockid::MONOTONIC => ClockId::Monotonic,
        clockid::PROCESS_CPUTIME => ClockId::ProcessCPUTime,
        clockid::THREAD_CPUTIME => ClockId::ThreadCPUTime,
        _ => return Err(Errno::Inval),
    })
}

fn nanos(t: Timespec) -> u64 {
    (t.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(t.tv_nsec as u64)
}

/// The time of clock `id` now, in nanoseconds.
pub(crate) fn now(id: u32) -> Result<u64, Errno> {
    Ok(nanos(rustix::time::clock_gettime(host_clock(id)?)))
}

/// The resolution of clock `id`, in nanoseconds (at least 1).
pub(crate) fn resolution(id: u32) -> Result<u64, Errno> {
    Ok(nanos(rustix::time::clock_getres(host_clock(id)?)).max(1))
}

pub fn clock_res_get(_: &mut WasiCtx, mem: &mut GuestMemory<'_>, id: u32, out: u32) -> Result<(), Errno> {
    mem.write_u64(out, resolution(id)?)
}

pub fn clock_time_get(
    _: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    id: u32,
    _precision: u64,
    out: u32,
) -> Result<(), Errno> {
    mem.write_u64(out, now(id)?)
}
