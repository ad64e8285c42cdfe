//! `add_to_linker`: defines every `wasi_snapshot_preview1` function on a `Linker`. Each host
//! function borrows the caller's exported `memory` and the store's `WasiCtx`, runs the call,
//! and returns its errno (0 for success); `proc_exit` unwinds with an `I32Exit` instead (or,
//! for a status outside `0..126`, an error).
use crate::{Errno, GuestMemory, WasiCtx};
use kiln::{Caller, Extern, Linker};

/// The import module name of WASI preview1.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// Run one WASI call with the caller's memory and context.
fn run<T>(
    caller: &mut Caller<'_, T>,
    get: &impl Fn(&mut T) -> &mut WasiCtx,
    f: impl FnOnce(&mut WasiCtx, &mut GuestMemory<'_>) -> Result<(), Errno>,
) -> kiln::Result<i32> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Err(kiln::Error::Other("a WASI program must export its memory as `memory`".into()));
    };
    if memory.ty(&*caller).is_64() {
        return Err(kiln::Error::Other(
            "unsupported: a 64-bit memory (memory64) in a WASI program: WASI preview1 passes 32-bit pointers".into(),
        ));
    }
    let (bytes, data) = memory.data_and_store_mut(caller);
    let result = f(get(data), &mut GuestMemory::new(bytes));
    if let Err(e) = result {
        log::debug!("wasi call failed: {e}");
    }
    Ok(result.err().map_or(0, |e| e as i32))
}

macro_rules! define {
    ($linker:ident, $get:ident; $($module:ident :: $name:ident ($($arg:ident : $ty:ty),*);)*) => {$(
        $linker.func_wrap(MODULE, stringify!($name), move |mut caller: Caller<'_, T>, $($arg: $ty),*| -> kiln::Result<i32> {
            run(&mut caller, &$get, |ctx, mem| crate::$module::$name(ctx, mem, $($arg as _),*))
        })?;
    )*};
}

/// Define every function of `wasi_snapshot_preview1` on `linker`; `get` finds the program's
/// [`WasiCtx`] in the store's data.
///
/// # Errors
/// As for [`Linker::func_wrap`](kiln::Linker::func_wrap), which cannot fail today.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut WasiCtx + Send + Sync + Copy + 'static,
) -> kiln::Result<()> {
    define! { linker, get;
        args::args_get(argv: i32, buf: i32);
        args::args_sizes_get(argc: i32, size: i32);
        args::environ_get(environ: i32, buf: i32);
        args::environ_sizes_get(count: i32, size: i32);
        clock::clock_res_get(id: i32, out: i32);
        clock::clock_time_get(id: i32, precision: i64, out: i32);
        fd::fd_advise(fd: i32, offset: i64, len: i64, advice: i32);
        fd::fd_allocate(fd: i32, offset: i64, len: i64);
        fd::fd_close(fd: i32);
        fd::fd_datasync(fd: i32);
        fd::fd_fdstat_get(fd: i32, out: i32);
        fd::fd_fdstat_set_flags(fd: i32, flags: i32);
        fd::fd_fdstat_set_rights(fd: i32, base: i64, inheriting: i64);
        fd::fd_filestat_get(fd: i32, out: i32);
        fd::fd_filestat_set_size(fd: i32, size: i64);
        fd::fd_filestat_set_times(fd: i32, atim: i64, mtim: i64, flags: i32);
        fd::fd_pread(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nread: i32);
        fd::fd_prestat_get(fd: i32, out: i32);
        fd::fd_prestat_dir_name(fd: i32, path: i32, len: i32);
        fd::fd_pwrite(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nwritten: i32);
        fd::fd_read(fd: i32, iovs: i32, iovs_len: i32, nread: i32);
        readdir::fd_readdir(fd: i32, buf: i32, buf_len: i32, cookie: i64, bufused: i32);
        fd::fd_renumber(fd: i32, to: i32);
        fd::fd_seek(fd: i32, offset: i64, whence: i32, newoffset: i32);
        fd::fd_sync(fd: i32);
        fd::fd_tell(fd: i32, offset: i32);
        fd::fd_write(fd: i32, iovs: i32, iovs_len: i32, nwritten: i32);
        path::path_create_directory(fd: i32, path: i32, len: i32);
        path::path_filestat_get(fd: i32, flags: i32, path: i32, len: i32, out: i32);
        path::path_filestat_set_times(fd: i32, flags: i32, path: i32, len: i32, atim: i64, mtim: i64, fst: i32);
        path::path_link(old_fd: i32, old_flags: i32, old_path: i32, old_len: i32, new_fd: i32, new_path: i32, new_len: i32);
        path::path_open(fd: i32, dirflags: i32, path: i32, len: i32, oflags: i32, base: i64, inheriting: i64, fdflags: i32, fd_out: i32);
        path::path_readlink(fd: i32, path: i32, len: i32, buf: i32, buf_len: i32, bufused: i32);
        path::path_remove_directory(fd: i32, path: i32, len: i32);
        path::path_rename(fd: i32, old_path: i32, old_len: i32, new_fd: i32, new_path: i32, new_len: i32);
        path::path_symlink(old_path: i32, old_len: i32, fd: i32, new_path: i32, new_len: i32);
        path::path_unlink_file(fd: i32, path: i32, len: i32);
        poll::poll_oneoff(subs: i32, events: i32, nsubs: i32, nevents: i32);
        proc::proc_raise(sig: i32);
        proc::sched_yield();
        proc::random_get(buf: i32, len: i32);
        sock::sock_accept(fd: i32, flags: i32, out: i32);
        sock::sock_recv(fd: i32, iovs: i32, iovs_len: i32, flags: i32, len: i32, oflags: i32);
        sock::sock_send(fd: i32, iovs: i32, iovs_len: i32, flags: i32, len: i32);
        sock::sock_shutdown(fd: i32, how: i32);
    }
    linker.func_wrap(MODULE, "proc_exit", |code: i32| -> kiln::Result<()> { Err(crate::proc::exit(code)) })?;
    Ok(())
}
