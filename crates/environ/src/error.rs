//! Compile-time errors, sorted by who is at fault: the input (invalid), Kiln's feature coverage
//! (unsupported), a limit, or Kiln itself (internal).
use std::fmt;

/// Why a module could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileError {
    /// The bytes are not a valid WebAssembly module.
    Invalid {
        /// What is wrong.
        message: String,
        /// Where in the bytes.
        offset: usize,
    },
    /// The module is valid but uses a feature Kiln does not compile yet.
    Unsupported(String),
    /// The module exceeds one of Kiln's implementation limits.
    Limit(String),
    /// A bug in Kiln: this should not happen for any input.
    Internal(String),
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::Invalid { message, offset } => {
                write!(f, "failed to parse WebAssembly module: {message} (at offset {offset:#x})")
            }
            CompileError::Unsupported(what) => write!(f, "unsupported: {what}"),
            CompileError::Limit(what) => write!(f, "implementation limit exceeded: {what}"),
            CompileError::Internal(what) => write!(f, "internal compiler error: {what}"),
        }
    }
}

impl std::error::Error for CompileError {}

/// Turn a wasmparser error into an [`CompileError::Invalid`].
pub fn invalid_from_wasmparser(e: wasmparser::BinaryReaderError) -> CompileError {
    CompileError::Invalid { message: e.message().to_string(), offset: e.offset() as usize }
}
