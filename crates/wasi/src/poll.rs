//! `poll_oneoff`: wait until one of a set of subscriptions (a clock deadline, or an fd ready
//! to read or write) fires. Files and in-memory streams are always ready; inherited standard
//! streams are polled on the host; clocks become the poll's timeout. [`wait_host`], the wait
//! on the host's standard streams, is shared with WASI 0.2's `poll`.
use crate::abi::{
    EVENT_FD_READWRITE_HANGUP, EVENT_SIZE, SUBCLOCK_ABSTIME, SUBSCRIPTION_SIZE, clockid, eventtype, rights,
};
use crate::fdtable::Kind;
use crate::stdio::{InputStream, OutputStream};
use crate::{Errno, GuestMemory, WasiCtx};
use rustix::event::{PollFd, PollFlags};
use std::io::Seek;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

/// An event to report.
struct Event {
    userdata: u64,
    error: Option<Errno>,
    ty: u8,
    nbytes: u64,
    hangup: bool,
}

impl Event {
    fn encode(&self) -> [u8; EVENT_SIZE as usize] {
        let mut b = [0u8; EVENT_SIZE as usize];
        b[0..8].copy_from_slice(&self.userdata.to_le_bytes());
        b[8..10].copy_from_slice(&self.error.map_or(0, |e| e as u16).to_le_bytes());
        b[10] = self.ty;
        if self.ty != eventtype::CLOCK {
            b[16..24].copy_from_slice(&self.nbytes.to_le_bytes());
            let flags = if self.hangup { EVENT_FD_READWRITE_HANGUP } else { 0 };
            b[24..26].copy_from_slice(&flags.to_le_bytes());
        }
        b
    }
}

/// Which of the host process's standard streams a wait is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostStream {
    Stdin,
    Stdout,
    Stderr,
}

/// Wait until one of `waits` (a host stream, and whether to read it rather than write it)
/// is ready, or `timeout` passes (`None`: no limit). For each wait: `None` if it is not
/// ready, else whether the stream hung up.
pub(crate) fn wait_host(waits: &[(HostStream, bool)], timeout: Option<Duration>) -> Result<Vec<Option<bool>>, Errno> {
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let fd_of = |s: HostStream| -> BorrowedFd<'_> {
        match s {
            HostStream::Stdin => stdin.as_fd(),
            HostStream::Stdout => stdout.as_fd(),
            HostStream::Stderr => stderr.as_fd(),
        }
    };
    let mut pollfds: Vec<PollFd<'_>> = waits
        .iter()
        .map(|&(s, read)| PollFd::from_borrowed_fd(fd_of(s), if read { PollFlags::IN } else { PollFlags::OUT }))
        .collect();
    let ts = timeout.map(|t| rustix::time::Timespec { tv_sec: t.as_secs() as i64, tv_nsec: t.subsec_nanos() as _ });
    loop {
        match rustix::event::poll(&mut pollfds, ts.as_ref()) {
            Err(rustix::io::Errno::INTR) => continue,
            r => {
                r?;
                break;
            }
        }
    }
    Ok(pollfds
        .iter()
        .map(|p| {
            let got = p.revents();
            got.intersects(PollFlags::IN | PollFlags::OUT | PollFlags::HUP | PollFlags::ERR)
                .then(|| got.contains(PollFlags::HUP))
        })
        .collect())
}

fn readiness(ctx: &WasiCtx, fd: u32, ty: u8) -> Result<Result<u64, HostStream>, Errno> {
    let d = ctx.fds.get(fd)?;
    d.need(rights::POLL_FD_READWRITE)?;
    let want_read = ty == eventtype::FD_READ;
    match &d.kind {
        Kind::File(f) if want_read => {
            let size = f.metadata()?.len();
            let pos = (&*f).stream_position()?;
            Ok(Ok(size.saturating_sub(pos)))
        }
        Kind::File(_) => Ok(Ok(0)),
        Kind::Dir(_) => Err(Errno::Badf),
        Kind::Input(InputStream::Inherit) if want_read => Ok(Err(HostStream::Stdin)),
        Kind::Input(InputStream::Bytes(c)) if want_read => {
            Ok(Ok((c.get_ref().len() as u64).saturating_sub(c.position())))
        }
        Kind::Input(InputStream::Empty) if want_read => Ok(Ok(0)),
        Kind::Output(OutputStream::Stdout) if !want_read => Ok(Err(HostStream::Stdout)),
        Kind::Output(OutputStream::Stderr) if !want_read => Ok(Err(HostStream::Stderr)),
        Kind::Output(_) if !want_read => Ok(Ok(0)),
        _ => Err(Errno::Badf),
    }
}

pub fn poll_oneoff(
    ctx: &mut WasiCtx,
    mem: &mut GuestMemory<'_>,
    subs: u32,
    out: u32,
    nsubs: u32,
    nevents: u32,
) -> Result<(), Errno> {
    if nsubs == 0 {
        return Err(Errno::Inval);
    }
    // Both arrays lie in memory (so no offset below can overflow) before anything is read.
    mem.slice(subs, nsubs.checked_mul(SUBSCRIPTION_SIZE).ok_or(Errno::Fault)?)?;
    mem.slice(out, nsubs.checked_mul(EVENT_SIZE).ok_or(Errno::Fault)?)?;
    let start = Instant::now();
    let mut ready = Vec::new();
    let mut clocks: Vec<(u64, Duration)> = Vec::new();
    let mut waits: Vec<(u64, u8, HostStream)> = Vec::new();
    for i in 0..nsubs {
        // A subscription: userdata u64, tag u8 at 8, then the clock or fd fields from 16.
        let s = subs + i * SUBSCRIPTION_SIZE;
        let userdata = mem.read_u64(s)?;
        let ty = mem.read_u8(s + 8)?;
        let event = |error, nbytes| Event { userdata, error, ty, nbytes, hangup: false };
        match ty {
            eventtype::CLOCK => {
                let id = mem.read_u32(s + 16)?;
                let timeout = mem.read_u64(s + 24)?;
                let flags = mem.read_u16(s + 40)?;
                let delay = if flags & SUBCLOCK_ABSTIME != 0 {
                    match crate::clock::now(id) {
                        Ok(now) => Ok(timeout.saturating_sub(now)),
                        Err(e) => Err(e),
                    }
                } else if matches!(
                    id,
                    clockid::REALTIME | clockid::MONOTONIC | clockid::PROCESS_CPUTIME | clockid::THREAD_CPUTIME
                ) {
                    Ok(timeout)
                } else {
                    Err(Errno::Inval)
                };
                match delay {
                    Ok(ns) => clocks.push((userdata, Duration::from_nanos(ns))),
                    Err(e) => ready.push(event(Some(e), 0)),
                }
            }
            eventtype::FD_READ | eventtype::FD_WRITE => {
                let fd = mem.read_u32(s + 16)?;
                match readiness(ctx, fd, ty) {
                    Ok(Ok(nbytes)) => ready.push(event(None, nbytes)),
                    Ok(Err(stream)) => waits.push((userdata, ty, stream)),
                    Err(e) => ready.push(event(Some(e), 0)),
                }
            }
            _ => return Err(Errno::Inval),
        }
    }
    let timeout = clocks.iter().map(|c| c.1).min();
    if ready.is_empty() && !waits.is_empty() {
        let streams: Vec<(HostStream, bool)> = waits.iter().map(|&(_, ty, s)| (s, ty == eventtype::FD_READ)).collect();
        for (got, &(userdata, ty, _)) in wait_host(&streams, timeout)?.into_iter().zip(&waits) {
            if let Some(hangup) = got {
                ready.push(Event { userdata, error: None, ty, nbytes: 0, hangup });
            }
        }
    } else if ready.is_empty()
        && let Some(t) = timeout
    {
        std::thread::sleep(t);
    }
    let elapsed = start.elapsed();
    for &(userdata, deadline) in &clocks {
        if deadline <= elapsed || (ready.is_empty() && Some(deadline) == timeout) {
            ready.push(Event { userdata, error: None, ty: eventtype::CLOCK, nbytes: 0, hangup: false });
        }
    }
    for (i, e) in ready.iter().enumerate() {
        mem.write(out + i as u32 * EVENT_SIZE, &e.encode())?;
    }
    mem.write_u32(nevents, ready.len() as u32)
}
