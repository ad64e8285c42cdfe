//! `wasi:random`: `random`, `insecure` and `insecure-seed`, all from the host's
//! cryptographic random source (the one preview1's `random_get` reads). A request for more
//! than [`MAX_RANDOM_BYTES`] at once is refused (an implementation limit, which traps): the
//! list must be returned whole, and every byte of it crosses the canonical ABI as a value of
//! its own (40 bytes on the host), so 1 MiB already costs the host 40 MiB for the call.
//! Programs ask for far less (a seed is 16 bytes; the test suite's "big" buffer is 1 KiB).
use super::{Interface, WasiView};
use crate::proc::fill_random;
use kiln::component::Linker;

/// The most bytes one `get-random-bytes` call returns.
pub(crate) const MAX_RANDOM_BYTES: u64 = 1 << 20;

fn fill(buf: &mut [u8]) -> kiln::Result<()> {
    fill_random(buf).map_err(|e| kiln::Error::Host(Box::new(e)))
}

fn bytes(len: u64) -> kiln::Result<Vec<u8>> {
    if len > MAX_RANDOM_BYTES {
        return Err(kiln::Error::Limit(format!(
            "wasi:random: {len} random bytes asked for at once; at most {MAX_RANDOM_BYTES} are given"
        )));
    }
    let mut buf = vec![0; len as usize];
    fill(&mut buf)?;
    Ok(buf)
}

fn random_u64() -> kiln::Result<u64> {
    let mut b = [0; 8];
    fill(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

pub(super) fn add_to_linker<T: 'static>(linker: &mut Linker<T>, view: WasiView<T>) -> kiln::Result<()> {
    let mut random = Interface::new(linker, view, "wasi:random/random")?;
    random.func("get-random-bytes", |_, (len,): (u64,)| Ok((bytes(len)?,)))?;
    random.func("get-random-u64", |_, ()| Ok((random_u64()?,)))?;

    let mut insecure = Interface::new(linker, view, "wasi:random/insecure")?;
    insecure.func("get-insecure-random-bytes", |_, (len,): (u64,)| Ok((bytes(len)?,)))?;
    insecure.func("get-insecure-random-u64", |_, ()| Ok((random_u64()?,)))?;

    let mut seed = Interface::new(linker, view, "wasi:random/insecure-seed")?;
    seed.func("insecure-seed", |_, ()| Ok(((random_u64()?, random_u64()?),)))
}
