//! `wasi:clocks`: the monotonic clock (nanoseconds, with pollables for an instant or a
//! duration from now) and the wall clock (`datetime`), read from the host's clocks as
//! preview1's `clock_time_get` reads them.
use super::io::Pollable;
use super::{Interface, WasiView};
use crate::abi::clockid;
use crate::clock;
use kiln::component::Linker;

kiln::component_record! {
    /// `wasi:clocks/wall-clock.datetime`: seconds and nanoseconds since the Unix epoch.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) struct Datetime { pub seconds: u64, pub nanoseconds: u32 }
}

impl Datetime {
    pub fn from_nanos(ns: u64) -> Datetime {
        Datetime { seconds: ns / 1_000_000_000, nanoseconds: (ns % 1_000_000_000) as u32 }
    }
}

/// The monotonic clock now, in nanoseconds. (The clock always exists: 0 is never seen.)
pub(crate) fn monotonic_now() -> u64 {
    clock::now(clockid::MONOTONIC).unwrap_or_default()
}

pub(super) fn add_to_linker<T: 'static>(linker: &mut Linker<T>, view: WasiView<T>) -> kiln::Result<()> {
    let mut mono = Interface::new(linker, view, "wasi:clocks/monotonic-clock")?;
    mono.resource::<Pollable>("pollable")?;
    mono.func("now", |_, ()| Ok((monotonic_now(),)))?;
    mono.func("resolution", |_, ()| Ok((clock::resolution(clockid::MONOTONIC).unwrap_or(1),)))?;
    mono.func("subscribe-instant", |h, (when,): (u64,)| Ok((h.table.push(Pollable::Deadline(when))?,)))?;
    mono.func("subscribe-duration", |h, (d,): (u64,)| {
        Ok((h.table.push(Pollable::Deadline(monotonic_now().saturating_add(d)))?,))
    })?;

    let mut wall = Interface::new(linker, view, "wasi:clocks/wall-clock")?;
    wall.func("now", |_, ()| Ok((Datetime::from_nanos(clock::now(clockid::REALTIME).unwrap_or_default()),)))?;
    wall.func("resolution", |_, ()| Ok((Datetime::from_nanos(clock::resolution(clockid::REALTIME).unwrap_or(1)),)))
}
