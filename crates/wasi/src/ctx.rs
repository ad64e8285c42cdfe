//! `WasiCtx`, a program's view of the world (arguments, environment, standard streams and
//! preopened directories), and `WasiCtxBuilder`, which grants it piece by piece. A context
//! starts with nothing: no arguments, no environment, no files, empty standard streams.
use crate::abi::rights;
use crate::fdtable::{Descriptor, FdTable, Kind};
use crate::stdio::{InputStream, OutputStream};
use cap_std::ambient_authority;
use std::io;
use std::path::Path;

/// How much a preopened directory allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirAccess {
    /// Read and write.
    ReadWrite,
    /// Read only: opening for writing, creating, renaming, linking and removing are refused
    /// with `notcapable`.
    ReadOnly,
}

/// Why the sandbox refused a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The path leads outside every preopened directory.
    Outside(String),
    /// The directory it is under does not grant the change (a read-only preopen).
    NotGranted(String),
}

/// A WASI program's state, kept in the store's data.
pub struct WasiCtx {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) fds: FdTable,
    /// The last path the sandbox refused.
    pub(crate) refused: Option<Refusal>,
}

impl WasiCtx {
    /// A builder for a context.
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::new()
    }

    /// The last path the sandbox refused the program, if any: a tool can tell its user how
    /// to grant it.
    pub fn refusal(&self) -> Option<&Refusal> {
        self.refused.as_ref()
    }

    /// Whether any directory was preopened.
    pub fn has_preopens(&self) -> bool {
        self.fds.has_preopens()
    }
}

/// Builds a [`WasiCtx`].
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: InputStream,
    stdout: OutputStream,
    stderr: OutputStream,
    preopens: Vec<(cap_std::fs::Dir, String, DirAccess)>,
}

impl Default for WasiCtxBuilder {
    fn default() -> Self {
        WasiCtxBuilder::new()
    }
}

impl WasiCtxBuilder {
    /// A builder that grants nothing: no args, env, preopens, and empty standard streams.
    pub fn new() -> WasiCtxBuilder {
        WasiCtxBuilder {
            args: Vec::new(),
            env: Vec::new(),
            stdin: InputStream::Empty,
            stdout: OutputStream::Null,
            stderr: OutputStream::Null,
            preopens: Vec::new(),
        }
    }

    /// Append an argument (the first is the program's name, `argv[0]`).
    pub fn arg(&mut self, arg: impl Into<String>) -> &mut Self {
        self.args.push(arg.into());
        self
    }

    /// Append arguments.
    pub fn args<S: Into<String>>(&mut self, args: impl IntoIterator<Item = S>) -> &mut Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Set an environment variable (a later value for the same name replaces the earlier).
    pub fn env(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let name = name.into();
        self.env.retain(|(n, _)| *n != name);
        self.env.push((name, value.into()));
        self
    }

    /// Standard input, output and error are the host process's.
    pub fn inherit_stdio(&mut self) -> &mut Self {
        self.stdin = InputStream::Inherit;
        self.stdout = OutputStream::Stdout;
        self.stderr = OutputStream::Stderr;
        self
    }

    /// The program's standard input.
    pub fn stdin(&mut self, s: InputStream) -> &mut Self {
        self.stdin = s;
        self
    }

    /// The program's standard output.
    pub fn stdout(&mut self, s: OutputStream) -> &mut Self {
        self.stdout = s;
        self
    }

    /// The program's standard error.
    pub fn stderr(&mut self, s: OutputStream) -> &mut Self {
        self.stderr = s;
        self
    }

    /// Grant the host directory `host` to the program under the path `guest`. Descriptors
    /// opened through it never reach outside it.
    ///
    /// # Errors
    /// When `host` cannot be opened as a directory.
    pub fn preopened_dir(
        &mut self,
        host: impl AsRef<Path>,
        guest: impl Into<String>,
        access: DirAccess,
    ) -> io::Result<&mut Self> {
        let host = host.as_ref();
        let dir = cap_std::fs::Dir::open_ambient_dir(host, ambient_authority())
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open directory {}: {e}", host.display())))?;
        self.preopens.push((dir, guest.into(), access));
        Ok(self)
    }

    /// The context.
    pub fn build(&mut self) -> WasiCtx {
        let mut fds = FdTable::default();
        let stdio = |kind| Descriptor { kind, base: rights::STDIO, inheriting: 0, preopen: None, listing: None };
        fds.insert_at(0, stdio(Kind::Input(std::mem::replace(&mut self.stdin, InputStream::Empty))));
        fds.insert_at(1, stdio(Kind::Output(std::mem::replace(&mut self.stdout, OutputStream::Null))));
        fds.insert_at(2, stdio(Kind::Output(std::mem::replace(&mut self.stderr, OutputStream::Null))));
        for (i, (dir, guest, access)) in std::mem::take(&mut self.preopens).into_iter().enumerate() {
            let mask = match access {
                DirAccess::ReadWrite => rights::ALL,
                DirAccess::ReadOnly => rights::ALL & !rights::MUTATING,
            };
            let d = Descriptor {
                kind: Kind::Dir(dir),
                base: rights::DIRECTORY & mask,
                inheriting: mask,
                preopen: Some(guest),
                listing: None,
            };
            fds.insert_at(3 + i as u32, d);
        }
        WasiCtx { args: std::mem::take(&mut self.args), env: std::mem::take(&mut self.env), fds, refused: None }
    }
}
