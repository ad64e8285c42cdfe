//! `WasmBacktrace`: the wasm frames that were on the stack when wasm trapped, innermost
//! first, each at its module offset (as wasmtime prints it: `0x2c - module!function`) and
//! named by its module and function (from the name section when it has one).
use std::fmt;

/// One wasm frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    /// The module's name from its name section.
    pub module_name: Option<String>,
    /// The function's index in its module's function index space.
    pub func_index: u32,
    /// The function's name from the name section.
    pub func_name: Option<String>,
    /// The module offset of the operator the frame was at (the trapping one, or the call),
    /// when the code records it.
    pub module_offset: Option<usize>,
    /// The same offset from the start of the function's body.
    pub func_offset: Option<usize>,
}

impl FrameInfo {
    /// The module offset of the operator the frame was at, when the code records it.
    pub fn module_offset(&self) -> Option<usize> {
        self.module_offset
    }

    /// The offset of that operator from the start of the function's body.
    pub fn func_offset(&self) -> Option<usize> {
        self.func_offset
    }
}

impl fmt::Display for FrameInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let module = self.module_name.as_deref().unwrap_or("<unknown>");
        if let Some(offset) = self.module_offset {
            write!(f, "{offset:#x} - ")?;
        }
        match &self.func_name {
            Some(name) => write!(f, "{module}!{name}"),
            None => write!(f, "{module}!<wasm function {}>", self.func_index),
        }
    }
}

/// The wasm frames of a trap, innermost first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WasmBacktrace {
    /// The frames, innermost first.
    pub frames: Vec<FrameInfo>,
    /// More frames were on the stack than were recorded.
    pub truncated: bool,
}

impl fmt::Display for WasmBacktrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "wasm backtrace:")?;
        for (i, frame) in self.frames.iter().enumerate() {
            writeln!(f, "  {i:>3}: {frame}")?;
        }
        if self.truncated {
            writeln!(f, "       … (deeper frames not recorded)")?;
        }
        Ok(())
    }
}
