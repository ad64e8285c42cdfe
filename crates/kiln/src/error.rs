//! `Error`: the library's error type, by who is at fault — the module (invalid), Kiln's
//! coverage (unsupported), a limit, linking, a trap, a host function, or the caller.
use crate::WasmBacktrace;
use kiln_environ::{CompileError, Trap};
use std::fmt;

/// A `Result` with Kiln's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong.
#[derive(Debug)]
pub enum Error {
    /// The module is malformed or invalid.
    Invalid(String),
    /// A valid module uses a feature Kiln does not compile yet (`unsupported: <feature>`).
    Unsupported(String),
    /// An implementation limit was exceeded.
    Limit(String),
    /// Imports could not be resolved (`unknown import`, `incompatible import type`).
    Link(String),
    /// Wasm code trapped; with the wasm frames on the stack when it did, if they were seen.
    Trap(Trap, Option<Box<WasmBacktrace>>),
    /// A component broke a rule of the canonical ABI (a bad handle, invalid UTF-8, a
    /// pointer out of bounds, leaving an instance that may not be left...): a trap that is
    /// not one of core wasm's, with wasmtime's message.
    ComponentTrap(String),
    /// A wasm exception that no wasm frame of the call caught.
    Exception(crate::ExnRef),
    /// A host function returned an error.
    Host(Box<dyn std::error::Error + Send + Sync>),
    /// A precompiled artifact cannot be loaded: not an artifact, corrupted, or made by an
    /// engine with other settings.
    Artifact(String),
    /// A `key=value` setting that is unknown or whose value does not parse.
    Setting {
        /// The setting's key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A host root of a GC reference was used after its scope ended (a `Rooted` past its
    /// `RootScope` or host call) or after its owners dropped.
    Unrooted,
    /// Anything else: misuse of the API, or an internal failure.
    Other(String),
}

/// The error of [`Error::msg`]: a message.
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

/// A host function's `anyhow` error, with its context chain, becomes a host error.
impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Error {
        Error::Host(e.into())
    }
}

impl Error {
    /// A host error with this message, for host functions that fail.
    pub fn msg(message: impl fmt::Display) -> Error {
        Error::Host(Box::new(Message(message.to_string())))
    }

    /// The trap, if this error is one.
    pub fn as_trap(&self) -> Option<&Trap> {
        match self {
            Error::Trap(t, _) => Some(t),
            _ => None,
        }
    }

    /// The wasm backtrace of a trap or of an uncaught exception, if one was recorded.
    pub fn backtrace(&self) -> Option<&WasmBacktrace> {
        match self {
            Error::Trap(_, bt) => bt.as_deref(),
            Error::Exception(e) => e.backtrace(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(m) | Error::Limit(m) | Error::Link(m) | Error::Artifact(m) | Error::Other(m) => {
                f.write_str(m)
            }
            Error::Unsupported(m) => write!(f, "unsupported: {m}"),
            Error::Unrooted => f.write_str("a GC reference was used after it was unrooted (its root scope ended)"),
            Error::Trap(t, _) => write!(f, "wasm trap: {t}"),
            Error::ComponentTrap(m) => write!(f, "wasm trap: {m}"),
            Error::Host(e) => write!(f, "host error: {e}"),
            Error::Exception(_) => f.write_str("uncaught wasm exception"),
            Error::Setting { key, message } => write!(f, "setting `{key}`: {message}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Trap> for Error {
    fn from(t: Trap) -> Error {
        Error::Trap(t, None)
    }
}

impl From<CompileError> for Error {
    fn from(e: CompileError) -> Error {
        match e {
            CompileError::Invalid { .. } => Error::Invalid(e.to_string()),
            CompileError::Unsupported(what) => Error::Unsupported(what),
            CompileError::Limit(_) => Error::Limit(e.to_string()),
            CompileError::Internal(_) => Error::Other(e.to_string()),
        }
    }
}
