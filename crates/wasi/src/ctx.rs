//! `WasiCtx`, a program's view of the world (arguments, environment, standard streams and
//! preopened directories), and `WasiCtxBuilder`, which grants it piece by piece. A context
//! starts with nothing: no arguments, no environment, no files, empty standard streams, no
//! network. Preview1 (`add_to_linker`) and WASI 0.2 (`p2::add_to_linker`) run over the same
//! context: 0.2's standard streams are preview1's fds 0, 1 and 2, and its preopened
//! directories preview1's, with the same access.
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
    /// Whether the embedder asked to allow network access (see
    /// [`WasiCtxBuilder::allow_network`]).
    pub(crate) network: bool,
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

    /// The standard input (preview1's fd 0), unless a preview1 program closed or replaced it.
    pub(crate) fn stdin(&mut self) -> Option<&mut InputStream> {
        match self.fds.get_mut(0) {
            Ok(Descriptor { kind: Kind::Input(s), .. }) => Some(s),
            _ => None,
        }
    }

    /// The standard output (`fd` 1) or error (`fd` 2), as for [`WasiCtx::stdin`].
    pub(crate) fn output(&mut self, fd: u32) -> Option<&mut OutputStream> {
        match self.fds.get_mut(fd) {
            Ok(Descriptor { kind: Kind::Output(s), .. }) => Some(s),
            _ => None,
        }
    }

    /// The preopened directories in order: guest path, directory, and access.
    pub(crate) fn preopens(&self) -> impl Iterator<Item = (&str, &cap_std::fs::Dir, DirAccess)> {
        self.fds.preopens().filter_map(|(name, d)| {
            let access = if d.inheriting & rights::MUTATING == rights::MUTATING {
                DirAccess::ReadWrite
            } else {
                DirAccess::ReadOnly
            };
            Some((name, d.dir().ok()?, access))
        })
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
    network: bool,
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
            network: false,
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

    /// Ask for network access (off by default). Nothing grants it yet: with or without it,
    /// WASI 0.2's sockets create no socket and resolve no name (`access-denied` without it,
    /// `not-supported` with it), and preview1 has no sockets to begin with. It is the hook a
    /// future `-S` grant will turn on.
    pub fn allow_network(&mut self, allow: bool) -> &mut Self {
        self.network = allow;
        self
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
        WasiCtx {
            args: std::mem::take(&mut self.args),
            env: std::mem::take(&mut self.env),
            fds,
            refused: None,
            network: self.network,
        }
    }
}
