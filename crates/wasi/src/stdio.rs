//! The standard streams a WASI program sees as fds 0, 1 and 2: inherited from the host
//! process, empty/discarded, or in-memory (for embedders that capture a program's output).
use std::io::{self, IsTerminal, Read, Write};
use std::sync::{Arc, Mutex};

/// What a program reads as its standard input.
pub enum InputStream {
    /// The host process's standard input.
    Inherit,
    /// Nothing: reads return end of file.
    Empty,
    /// These bytes, then end of file.
    Bytes(io::Cursor<Vec<u8>>),
}

impl InputStream {
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            InputStream::Inherit => io::stdin().lock().read(buf),
            InputStream::Empty => Ok(0),
            InputStream::Bytes(c) => c.read(buf),
        }
    }

    pub(crate) fn is_terminal(&self) -> bool {
        matches!(self, InputStream::Inherit) && io::stdin().is_terminal()
    }
}

/// A shared in-memory buffer that a program's output goes into.
#[derive(Clone, Default)]
pub struct OutputPipe(Arc<Mutex<Vec<u8>>>);

impl OutputPipe {
    /// An empty pipe.
    pub fn new() -> OutputPipe {
        OutputPipe::default()
    }

    /// Everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.0.lock().map(|b| b.clone()).unwrap_or_default()
    }
}

/// Where a program's standard output or error goes.
pub enum OutputStream {
    /// The host process's standard output.
    Stdout,
    /// The host process's standard error.
    Stderr,
    /// Discarded.
    Null,
    /// Kept in memory.
    Pipe(OutputPipe),
}

impl OutputStream {
    pub(crate) fn write(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        fn all(w: &mut impl Write, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
            let mut n = 0;
            for b in bufs {
                w.write_all(b)?;
                n += b.len();
            }
            w.flush()?;
            Ok(n)
        }
        match self {
            OutputStream::Stdout => all(&mut io::stdout().lock(), bufs),
            OutputStream::Stderr => all(&mut io::stderr().lock(), bufs),
            OutputStream::Null => Ok(bufs.iter().map(|b| b.len()).sum()),
            OutputStream::Pipe(p) => {
                let mut v = p.0.lock().map_err(|_| io::Error::other("output pipe poisoned"))?;
                all(&mut *v, bufs)
            }
        }
    }

    pub(crate) fn is_terminal(&self) -> bool {
        match self {
            OutputStream::Stdout => io::stdout().is_terminal(),
            OutputStream::Stderr => io::stderr().is_terminal(),
            _ => false,
        }
    }
}
