//! The modules the fuzzer feeds both engines: wasm-smith, configured for what Kiln and the
//! oracle both run, driven by bytes of the case's [`Stream::Module`](crate::rng::Stream).
//!
//! The configuration keeps modules small and runs short: a few functions of at most ~120
//! instructions, memories of at most 16 pages (32- or 64-bit, and with a maximum, so that
//! `memory.grow` stays within it), small tables with a maximum, no imports (so both
//! engines instantiate without a host), and `ensure_termination`, which makes every loop head
//! and function entry spend one unit of a module-wide fuel global (and bulk operations their
//! length) and trap with `unreachable` when it is spent. The fuel also bounds recursion, below
//! both engines' stack limits as the fuzzer configures them. NaNs are canonicalized after every
//! float operation (`canonicalize_nans`), since the spec lets engines pick NaN payloads and a
//! payload stored to memory would otherwise show up as a divergence.
//!
//! The features are those of Wasm 2.0 (multi-value, sign extension, saturating float-to-int,
//! bulk memory, reference types, SIMD, mutable globals) plus the Wasm 3.0 ones that Kiln and
//! wasmi both run: tail calls, extended constant expressions, multi-memory and memory64 (64-bit
//! memories and tables); and, in a quarter of the modules each, exception handling and GC
//! (structs, arrays, i31, casts, typed function references), which wasmi does not run (those
//! run in Kiln alone). Off: relaxed SIMD (results the spec leaves to the engine), and the rest
//! of what wasmi does not run (threads, wide arithmetic, custom page sizes).
use crate::rng::{Rng, Stream};
use anyhow::{Context, Result};

/// Fuel of each instance: loop iterations, calls and bulk-operation bytes, over all its calls.
pub const FUEL: u32 = 1000;

/// How many byte strings wasm-smith is given before a case fails.
const MAX_ATTEMPTS: u32 = 64;

/// The largest memory, in pages.
pub const MAX_PAGES: u64 = 16;

/// The wasm-smith configuration of one case, with the knobs that vary drawn from `rng`.
fn config(rng: &mut Rng) -> wasm_smith::Config {
    wasm_smith::Config {
        // Shape.
        min_funcs: rng.range(1, 4) as usize,
        max_funcs: rng.range(4, 12) as usize,
        max_instructions: rng.range(4, 120) as usize,
        min_exports: 1,
        max_exports: 16,
        export_everything: !rng.one_in(4),
        // A third of the modules mostly do not trap (loads out of bounds read zeros, divisions
        // by zero are guarded...), so that calls get further.
        disallow_traps: rng.one_in(3),
        // Functions need a type first: without one, wasm-smith defines none.
        min_types: 1,
        max_types: 16,
        max_globals: 8,
        max_data_segments: 4,
        max_element_segments: 4,
        max_elements: 16,
        max_imports: 0,
        allow_start_export: true,
        generate_custom_sections: false,
        // Memories and tables.
        min_memories: rng.range(0, 1) as u32,
        max_memories: rng.range(1, 2) as usize,
        // A maximum bounds memory.grow and table.grow too.
        memory_max_size_required: true,
        max_memory32_bytes: MAX_PAGES * 65536,
        max_memory64_bytes: u128::from(MAX_PAGES * 65536),
        memory64_enabled: true,
        max_tables: rng.range(0, 3) as usize,
        max_table_elements: 64,
        table_max_size_required: true,
        // Features both engines run.
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        multi_value_enabled: true,
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        simd_enabled: true,
        tail_call_enabled: true,
        extended_const_enabled: true,
        // Features one of them does not.
        relaxed_simd_enabled: false,
        // A quarter of the modules each throw and catch, and allocate GC objects: wasmi runs
        // neither, so Kiln runs them alone (see `differential`).
        gc_enabled: rng.one_in(4),
        exceptions_enabled: rng.one_in(4),
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        wide_arithmetic_enabled: false,
        custom_page_sizes_enabled: false,
        custom_descriptors_enabled: false,
        compact_imports_enabled: false,
        // Determinism.
        canonicalize_nans: true,
        ..wasm_smith::Config::default()
    }
}

/// The features the generated modules use, for validating them.
pub fn features() -> wasmparser::WasmFeatures {
    use wasmparser::WasmFeatures;
    WasmFeatures::WASM2
        | WasmFeatures::TAIL_CALL
        | WasmFeatures::EXTENDED_CONST
        | WasmFeatures::MULTI_MEMORY
        | WasmFeatures::MEMORY64
        | WasmFeatures::EXCEPTIONS
        | WasmFeatures::GC
        | WasmFeatures::FUNCTION_REFERENCES
}

/// The module of case `index` of the run seeded `seed`.
///
/// # Errors
/// When wasm-smith cannot build a module from the case's bytes (it practically always can).
pub fn module(seed: u64, index: u64) -> Result<Vec<u8>> {
    let mut rng = Rng::for_case(seed, index, Stream::Module);
    let config = config(&mut rng);
    // wasm-smith gives up on bytes that cannot meet the minimums (a function needs a type
    // to exist first); the next bytes of the same stream are tried then.
    let mut attempt = 0;
    let mut module = loop {
        let len = rng.range(64, 8192) as usize;
        let bytes = rng.bytes(len);
        match wasm_smith::Module::new(config.clone(), &mut arbitrary::Unstructured::new(&bytes)) {
            Ok(module) => break module,
            Err(_) if attempt < MAX_ATTEMPTS => attempt += 1,
            Err(e) => return Err(e).context(format!("wasm-smith, {MAX_ATTEMPTS} attempts")),
        }
    };
    module.ensure_termination(FUEL).context("wasm-smith's ensure_termination")?;
    Ok(module.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::{Operator, Payload};

    #[test]
    fn modules_are_valid_and_reproducible() {
        for i in 0..50 {
            let wasm = module(11, i).unwrap();
            assert_eq!(wasm, module(11, i).unwrap());
            wasmparser::Validator::new_with_features(features()).validate_all(&wasm).unwrap();
        }
    }

    /// What the configuration promises shows up: functions to call, and the Wasm 3.0 features
    /// besides 2.0's (a 64-bit memory or table counts for memory64).
    #[test]
    fn modules_use_the_features_they_are_configured_with() {
        let (mut with_funcs, mut multi_memory, mut tail_calls, mut extended_const, mut simd, mut wide) =
            (0, 0, 0, 0, 0, 0);
        let mut throwing = 0;
        for i in 0..200 {
            let wasm = module(5, i).unwrap();
            let (mut funcs, mut memories) = (0, 0);
            let (mut tail, mut ext, mut vector, mut is64, mut throws) = (false, false, false, false, false);
            let mut note_const = |ops: wasmparser::OperatorsReader<'_>| {
                for op in ops {
                    ext |= matches!(
                        op.unwrap(),
                        Operator::I32Add
                            | Operator::I64Mul
                            | Operator::I32Sub
                            | Operator::I64Add
                            | Operator::I32Mul
                            | Operator::I64Sub
                    );
                }
            };
            for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
                match payload.unwrap() {
                    Payload::FunctionSection(r) => funcs += r.count(),
                    Payload::MemorySection(r) => {
                        memories += r.count();
                        is64 |= r.into_iter().any(|m| m.unwrap().memory64);
                    }
                    Payload::TableSection(r) => is64 |= r.into_iter().any(|t| t.unwrap().ty.table64),
                    Payload::GlobalSection(r) => {
                        for g in r {
                            note_const(g.unwrap().init_expr.get_operators_reader());
                        }
                    }
                    Payload::CodeSectionEntry(body) => {
                        for op in body.get_operators_reader().unwrap() {
                            let op = op.unwrap();
                            tail |= matches!(op, Operator::ReturnCall { .. } | Operator::ReturnCallIndirect { .. });
                            vector |= matches!(op, Operator::V128Const { .. } | Operator::I32x4Add);
                            throws |= matches!(op, Operator::Throw { .. } | Operator::TryTable { .. });
                        }
                    }
                    _ => {}
                }
            }
            with_funcs += u32::from(funcs > 0);
            multi_memory += u32::from(memories > 1);
            tail_calls += u32::from(tail);
            extended_const += u32::from(ext);
            simd += u32::from(vector);
            wide += u32::from(is64);
            throwing += u32::from(throws);
        }
        assert!(with_funcs > 180, "{with_funcs} of 200 modules define functions");
        for (feature, n) in [
            ("multi-memory", multi_memory),
            ("tail calls", tail_calls),
            ("extended const", extended_const),
            ("SIMD", simd),
            ("memory64", wide),
            ("exceptions", throwing),
        ] {
            assert!(n >= 5, "{n} of 200 modules use {feature}");
        }
    }
}
