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

/// Turn a wasmparser error into a [`CompileError`]: [`CompileError::Unsupported`] naming the
/// `-W` key for a feature the engine turned off, [`CompileError::Invalid`] otherwise.
pub fn invalid_from_wasmparser(e: wasmparser::BinaryReaderError) -> CompileError {
    if let Some(key) = e.missing_wasm_feature().and_then(feature_key) {
        return CompileError::Unsupported(format!("{key} (enable with -W {key}=y): {}", e.message()));
    }
    CompileError::Invalid { message: e.message().to_string(), offset: e.offset() as usize }
}

/// The `-W` key that turns on one of the `missing` features, if one does: a feature the
/// engine's settings turned off.
fn feature_key(missing: wasmparser::WasmFeatures) -> Option<&'static str> {
    let only_missing = crate::Tunables { wasm_features: missing, ..crate::Tunables::default() };
    crate::settings::FEATURE_SETTINGS.iter().find(|s| (s.get)(&only_missing) == "y").map(|s| s.key)
}
