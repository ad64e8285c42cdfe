//! The Cranelift settings Kiln compiles with, beside the reason for each. The code this crate
//! emits relies on them (tail calls and backtraces need frame pointers, stack overflow is
//! caught by the prologue's limit check), so every ISA that compiles Kiln's IR, in
//! `kiln-compile` and in this crate's tests alike, is built from this one list.

/// `(setting, value)` pairs for `cranelift_codegen::settings::builder()`.
pub const SETTINGS: &[(&str, &str)] = &[
    ("opt_level", "speed"),
    // The translator's own tests verify every function; production compiles skip it.
    ("enable_verifier", "false"),
    // Stack overflow is caught by the stack-limit check in every prologue instead.
    ("enable_probestack", "false"),
    // Traps unwind by resuming at the entry trampoline; no unwinder reads frames.
    ("unwind_info", "false"),
    // Frame pointers let a trap's backtrace walk wasm frames, and Cranelift's tail calls
    // need them.
    ("preserve_frame_pointers", "true"),
];
