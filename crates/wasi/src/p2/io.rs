//! `wasi:io`: errors, input and output streams, pollables and `poll`.
//!
//! A stream is one of the context's standard streams (read and written through the
//! [`WasiCtx`], so a program's output goes where preview1's would) or a file at an offset
//! (`read-via-stream`, `write-via-stream`, `append-via-stream`), sharing the descriptor's
//! open file. Writes complete before they return, so flushing has nothing left to do and an
//! output stream is always ready. One call moves at most [`MAX_CHUNK`] (64 KiB): every byte
//! crosses the canonical ABI as a value of its own today (40 bytes on the host), so a call
//! costs the host at most 2.5 MiB whatever length the guest asks for; `check-write` permits
//! the same amount. (Reads may be short, so programs loop; wasmtime's are 4 KiB to 2 MiB.)
//!
//! A pollable is ready at once (files, in-memory streams, output), at a monotonic-clock
//! deadline, or when one of the host process's inherited standard streams is (waited on
//! with the same host wait as preview1's `poll_oneoff`).
use super::{Host, Interface, WasiView};
use crate::poll::{HostStream, wait_host};
use crate::{Errno, WasiCtx};
use cap_std::fs::{File, FileExt};
use kiln::component::{Linker, Resource, ResourceTable};
use std::io::IoSlice;
use std::sync::Arc;
use std::time::Duration;

/// The most bytes one stream call reads, writes, skips or splices.
pub(crate) const MAX_CHUNK: usize = 64 * 1024;

/// `wasi:io/error.error`: what went wrong, with the errno it came from, if any (which
/// `filesystem-error-code` reports back).
pub(crate) struct IoError {
    pub errno: Option<Errno>,
    pub message: String,
}

impl From<std::io::Error> for IoError {
    fn from(e: std::io::Error) -> IoError {
        let message = e.to_string();
        IoError { errno: Some(Errno::from(e)), message }
    }
}

impl From<Errno> for IoError {
    fn from(e: Errno) -> IoError {
        IoError { errno: Some(e), message: e.to_string() }
    }
}

/// `wasi:io/poll.pollable`: when it is ready.
pub(crate) enum Pollable {
    /// Now.
    Ready,
    /// When the monotonic clock reaches this many nanoseconds.
    Deadline(u64),
    /// When the host's standard stream is ready to read (`true`) or to write.
    Host(HostStream, bool),
}

/// `wasi:io/streams.input-stream`.
pub(crate) enum InputStream {
    /// The context's standard input.
    Stdin,
    /// A file, from `pos`.
    File { file: Arc<File>, pos: u64 },
}

/// `wasi:io/streams.output-stream`.
pub(crate) enum OutputStream {
    /// The context's standard output (preview1's fd 1) or error (2).
    Stdio(u32),
    /// A file, from `pos`.
    File { file: Arc<File>, pos: u64 },
    /// A file, each write at its end.
    Append(Arc<File>),
}

kiln::component_variant! {
    /// `wasi:io/streams.stream-error`.
    pub(crate) enum StreamError { LastOperationFailed(Resource<IoError>), Closed }
}

/// Why a stream operation failed, before the error is put in the table.
pub(crate) enum Failure {
    Closed,
    Failed(IoError),
}

impl<E: Into<IoError>> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure::Failed(e.into())
    }
}

/// The result a stream function returns: a failure becomes a `stream-error`, its error
/// resource in the table.
fn finish<T>(table: &mut ResourceTable, r: Result<T, Failure>) -> kiln::Result<Result<T, StreamError>> {
    Ok(match r {
        Ok(v) => Ok(v),
        Err(Failure::Closed) => Err(StreamError::Closed),
        Err(Failure::Failed(e)) => Err(StreamError::LastOperationFailed(table.push(e)?)),
    })
}

/// An error for a call that broke a stream's rules (more than `check-write` permits).
fn misuse(what: &str) -> Failure {
    Failure::Failed(IoError { errno: Some(Errno::Inval), message: what.to_string() })
}

impl InputStream {
    /// Read at most `len` bytes (capped at [`MAX_CHUNK`]); without `blocking`, only what is
    /// available now (possibly nothing). End of input is `Closed`.
    fn read(&mut self, ctx: &mut WasiCtx, len: u64, blocking: bool) -> Result<Vec<u8>, Failure> {
        let len = len.min(MAX_CHUNK as u64) as usize;
        match self {
            InputStream::Stdin => {
                let stdin = ctx.stdin().ok_or(Failure::Closed)?;
                if len == 0 {
                    return Ok(Vec::new());
                }
                if !blocking && matches!(stdin, crate::InputStream::Inherit) && !host_ready(HostStream::Stdin, true)? {
                    return Ok(Vec::new());
                }
                let mut buf = vec![0; len];
                let n = stdin.read(&mut buf)?;
                if n == 0 {
                    return Err(Failure::Closed);
                }
                buf.truncate(n);
                Ok(buf)
            }
            InputStream::File { file, pos } => {
                if len == 0 {
                    return Ok(Vec::new());
                }
                let mut buf = vec![0; len];
                let n = file.read_at(&mut buf, *pos)?;
                if n == 0 {
                    return Err(Failure::Closed);
                }
                *pos += n as u64;
                buf.truncate(n);
                Ok(buf)
            }
        }
    }

    fn pollable(&self, ctx: &mut WasiCtx) -> Pollable {
        match (self, ctx.stdin()) {
            (InputStream::Stdin, Some(crate::InputStream::Inherit)) => Pollable::Host(HostStream::Stdin, true),
            _ => Pollable::Ready,
        }
    }
}

impl OutputStream {
    fn write(&mut self, ctx: &mut WasiCtx, bytes: &[u8]) -> Result<(), Failure> {
        match self {
            OutputStream::Stdio(fd) => {
                let out = ctx.output(*fd).ok_or(Failure::Closed)?;
                out.write(&[IoSlice::new(bytes)])?;
            }
            OutputStream::File { file, pos } => {
                file.write_all_at(bytes, *pos)?;
                *pos += bytes.len() as u64;
            }
            OutputStream::Append(file) => {
                let mut rest = bytes;
                while !rest.is_empty() {
                    let flags = rustix::io::ReadWriteFlags::APPEND;
                    match rustix::io::pwritev2(&**file, &[IoSlice::new(rest)], 0, flags) {
                        Ok(0) => return Err(Errno::Io.into()),
                        Ok(n) => rest = &rest[n..],
                        Err(rustix::io::Errno::INTR) => {}
                        Err(e) => return Err(Errno::from(e).into()),
                    }
                }
            }
        }
        Ok(())
    }

    /// How much the next write may hold.
    fn check_write(&self, ctx: &mut WasiCtx) -> Result<u64, Failure> {
        if let OutputStream::Stdio(fd) = self {
            ctx.output(*fd).ok_or(Failure::Closed)?;
        }
        Ok(MAX_CHUNK as u64)
    }

    fn pollable(&self, ctx: &mut WasiCtx) -> Pollable {
        match self {
            OutputStream::Stdio(fd) => match ctx.output(*fd) {
                Some(crate::OutputStream::Stdout) => Pollable::Host(HostStream::Stdout, false),
                Some(crate::OutputStream::Stderr) => Pollable::Host(HostStream::Stderr, false),
                _ => Pollable::Ready,
            },
            _ => Pollable::Ready,
        }
    }
}

/// Whether the host's stream `s` is ready to read (or write) now.
fn host_ready(s: HostStream, read: bool) -> Result<bool, Errno> {
    Ok(wait_host(&[(s, read)], Some(Duration::ZERO))?.first().is_some_and(Option::is_some))
}

/// Whether `p` is ready now.
fn is_ready(p: &Pollable) -> kiln::Result<bool> {
    Ok(match *p {
        Pollable::Ready => true,
        Pollable::Deadline(t) => super::clocks::monotonic_now() >= t,
        Pollable::Host(s, read) => host_ready(s, read).map_err(host_error)?,
    })
}

fn host_error(e: Errno) -> kiln::Error {
    kiln::Error::Host(Box::new(e))
}

/// `poll`: the indices of the pollables in `list` that are ready, waiting until at least
/// one is: the earliest deadline is the wait's timeout, and inherited standard streams are
/// waited on by the host.
pub(crate) fn poll(table: &ResourceTable, list: &[Resource<Pollable>]) -> kiln::Result<Vec<u32>> {
    if list.is_empty() {
        return Err(kiln::Error::Other("wasi:io/poll.poll: an empty list of pollables never becomes ready".into()));
    }
    let mut deadline: Option<u64> = None;
    let mut host: Vec<(u32, HostStream, bool)> = Vec::new();
    let mut ready = Vec::new();
    let mut pollables = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        let i = u32::try_from(i).map_err(|_| kiln::Error::Limit("more than 2^32 pollables".into()))?;
        let p = table.get(r)?;
        match *p {
            Pollable::Ready => ready.push(i),
            Pollable::Deadline(t) => deadline = Some(deadline.map_or(t, |d| d.min(t))),
            Pollable::Host(s, read) => host.push((i, s, read)),
        }
        pollables.push((i, p));
    }
    loop {
        let now = super::clocks::monotonic_now();
        for &(i, p) in &pollables {
            if let Pollable::Deadline(t) = *p
                && t <= now
            {
                ready.push(i);
            }
        }
        if !ready.is_empty() {
            break;
        }
        let timeout = deadline.map(|d| Duration::from_nanos(d.saturating_sub(now)));
        if host.is_empty() {
            // Only deadlines, none passed: sleep until the earliest.
            std::thread::sleep(timeout.unwrap_or_default());
            continue;
        }
        let streams: Vec<(HostStream, bool)> = host.iter().map(|&(_, s, read)| (s, read)).collect();
        for (got, &(i, _, _)) in wait_host(&streams, timeout).map_err(host_error)?.iter().zip(&host) {
            if got.is_some() {
                ready.push(i);
            }
        }
    }
    ready.sort_unstable();
    ready.dedup();
    Ok(ready)
}

pub(super) fn add_to_linker<T: 'static>(linker: &mut Linker<T>, view: WasiView<T>) -> kiln::Result<()> {
    let mut error = Interface::new(linker, view, "wasi:io/error")?;
    error.resource::<IoError>("error")?;
    error.func("[method]error.to-debug-string", |h, (e,): (Resource<IoError>,)| {
        Ok((h.table.get(&e)?.message.clone(),))
    })?;

    let mut poll_ = Interface::new(linker, view, "wasi:io/poll")?;
    poll_.resource::<Pollable>("pollable")?;
    poll_.func("[method]pollable.ready", |h, (p,): (Resource<Pollable>,)| Ok((is_ready(h.table.get(&p)?)?,)))?;
    poll_.func("[method]pollable.block", |h, (p,): (Resource<Pollable>,)| poll(h.table, &[p]).map(drop))?;
    poll_.func("poll", |h, (list,): (Vec<Resource<Pollable>>,)| Ok((poll(h.table, &list)?,)))?;

    let mut streams = Interface::new(linker, view, "wasi:io/streams")?;
    streams.resource::<IoError>("error")?;
    streams.resource::<Pollable>("pollable")?;
    streams.resource::<InputStream>("input-stream")?;
    streams.resource::<OutputStream>("output-stream")?;
    streams.func("[method]input-stream.read", |h, (s, len): (Resource<InputStream>, u64)| read(h, s, len, false))?;
    streams.func("[method]input-stream.blocking-read", |h, (s, len): (Resource<InputStream>, u64)| {
        read(h, s, len, true)
    })?;
    streams.func("[method]input-stream.skip", |h, (s, len): (Resource<InputStream>, u64)| skip(h, s, len, false))?;
    streams.func("[method]input-stream.blocking-skip", |h, (s, len): (Resource<InputStream>, u64)| {
        skip(h, s, len, true)
    })?;
    streams.func("[method]input-stream.subscribe", |h, (s,): (Resource<InputStream>,)| {
        let p = h.table.get(&s)?.pollable(h.ctx);
        Ok((h.table.push(p)?,))
    })?;
    streams.func("[method]output-stream.check-write", |h, (s,): (Resource<OutputStream>,)| {
        let r = h.table.get(&s)?.check_write(h.ctx);
        Ok((finish(h.table, r)?,))
    })?;
    streams
        .func("[method]output-stream.write", |h, (s, bytes): (Resource<OutputStream>, Vec<u8>)| write(h, s, &bytes))?;
    streams.func(
        "[method]output-stream.blocking-write-and-flush",
        |h, (s, bytes): (Resource<OutputStream>, Vec<u8>)| write(h, s, &bytes),
    )?;
    streams.func("[method]output-stream.flush", |h, (s,): (Resource<OutputStream>,)| flush(h, s))?;
    streams.func("[method]output-stream.blocking-flush", |h, (s,): (Resource<OutputStream>,)| flush(h, s))?;
    streams.func("[method]output-stream.subscribe", |h, (s,): (Resource<OutputStream>,)| {
        let p = h.table.get(&s)?.pollable(h.ctx);
        Ok((h.table.push(p)?,))
    })?;
    streams.func("[method]output-stream.write-zeroes", |h, (s, len): (Resource<OutputStream>, u64)| {
        write_zeroes(h, s, len)
    })?;
    streams.func(
        "[method]output-stream.blocking-write-zeroes-and-flush",
        |h, (s, len): (Resource<OutputStream>, u64)| write_zeroes(h, s, len),
    )?;
    streams.func(
        "[method]output-stream.splice",
        |h, (s, src, len): (Resource<OutputStream>, Resource<InputStream>, u64)| splice(h, s, src, len, false),
    )?;
    streams.func(
        "[method]output-stream.blocking-splice",
        |h, (s, src, len): (Resource<OutputStream>, Resource<InputStream>, u64)| splice(h, s, src, len, true),
    )
}

type StreamResult<T> = kiln::Result<(Result<T, StreamError>,)>;

fn read(h: &mut Host<'_>, s: Resource<InputStream>, len: u64, blocking: bool) -> StreamResult<Vec<u8>> {
    let r = h.table.get_mut(&s)?.read(h.ctx, len, blocking);
    Ok((finish(h.table, r)?,))
}

fn skip(h: &mut Host<'_>, s: Resource<InputStream>, len: u64, blocking: bool) -> StreamResult<u64> {
    let r = h.table.get_mut(&s)?.read(h.ctx, len, blocking).map(|b| b.len() as u64);
    Ok((finish(h.table, r)?,))
}

fn write(h: &mut Host<'_>, s: Resource<OutputStream>, bytes: &[u8]) -> StreamResult<()> {
    let r = h.table.get_mut(&s)?.write(h.ctx, bytes);
    Ok((finish(h.table, r)?,))
}

fn flush(h: &mut Host<'_>, s: Resource<OutputStream>) -> StreamResult<()> {
    let r = h.table.get(&s)?.check_write(h.ctx).map(drop);
    Ok((finish(h.table, r)?,))
}

fn write_zeroes(h: &mut Host<'_>, s: Resource<OutputStream>, len: u64) -> StreamResult<()> {
    let stream = h.table.get_mut(&s)?;
    let r = if len > MAX_CHUNK as u64 {
        Err(misuse("write-zeroes: more bytes than check-write permits"))
    } else {
        stream.write(h.ctx, &vec![0; len as usize])
    };
    Ok((finish(h.table, r)?,))
}

fn splice(
    h: &mut Host<'_>,
    s: Resource<OutputStream>,
    src: Resource<InputStream>,
    len: u64,
    blocking: bool,
) -> StreamResult<u64> {
    // Both handles are checked before anything is read.
    h.table.get(&s)?;
    let r = match h.table.get_mut(&src)?.read(h.ctx, len, blocking) {
        Ok(bytes) => h.table.get_mut(&s)?.write(h.ctx, &bytes).map(|()| bytes.len() as u64),
        Err(e) => Err(e),
    };
    Ok((finish(h.table, r)?,))
}
