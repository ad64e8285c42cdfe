//! The one table of Kiln's engine settings: every [`Tunables`] field by its `key=value`
//! name (the wasm features one key each, in [`FEATURE_SETTINGS`]), with the option group it belongs to (wasmtime's `-O` optimize or `-W` wasm), the
//! values it takes, its doc line, and how it is read and written. `Config::set`, the CLI's
//! option groups and their `help`, the artifact's engine info and the tests all read it, so
//! that no setting's name is spelled twice.
use crate::{IntraModuleInlining, OptLevel, Tunables};

/// The option group a setting belongs to, as wasmtime groups its flags.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Group {
    /// `-O`: optimization and memory layout.
    Optimize,
    /// `-W`: what wasm may do.
    Wasm,
}

/// One engine setting.
pub struct Setting {
    /// Its `key` in `key=value`.
    pub key: &'static str,
    /// Its group.
    pub group: Group,
    /// The values it takes, for help text.
    pub values: &'static str,
    /// One line of documentation.
    pub doc: &'static str,
    /// Its value in `tunables`, as `key=value` would set it.
    pub get: fn(&Tunables) -> String,
    /// Sets it from a value, or says why the value does not parse.
    pub set: fn(&mut Tunables, &str) -> Result<(), String>,
}

/// Parse a byte count: digits (`_` allowed), optionally followed by a unit `k`, `m` or `g`
/// (binary: `kib`, `mib`, `gib` too).
///
/// # Errors
/// What is wrong, for text that is not such a count or overflows.
pub fn parse_bytes(value: &str) -> Result<u64, String> {
    let v = value.trim();
    let (digits, scale) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit() && *c != '_') {
        Some((i, _)) => (&v[..i], &v[i..]),
        None => (v, ""),
    };
    let n: u64 = digits.replace('_', "").parse().map_err(|_| format!("expected a byte count, got `{value}`"))?;
    let shift = match scale.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => return Err(format!("unknown unit in `{value}` (known: k, m, g)")),
    };
    n.checked_mul(1 << shift).ok_or_else(|| format!("`{value}` is too large"))
}

/// Parse a yes/no value: `y`, `yes`, `true`, `1` or `n`, `no`, `false`, `0`.
///
/// # Errors
/// What is wrong, for anything else.
pub fn parse_bool(value: &str) -> Result<bool, String> {
    match value {
        "y" | "yes" | "true" | "1" => Ok(true),
        "n" | "no" | "false" | "0" => Ok(false),
        _ => Err(format!("expected y or n, got `{value}`")),
    }
}

fn parse_u32(value: &str) -> Result<u32, String> {
    value.parse().map_err(|_| format!("expected a number, got `{value}`"))
}

fn yn(b: bool) -> String {
    if b { "y" } else { "n" }.to_string()
}

macro_rules! settings {
    ($($key:literal, $group:ident, $values:literal, $doc:literal,
       |$t:ident| $get:expr, |$u:ident, $v:ident| $set:expr;)*) => {
        /// Every engine setting, in the order the engine info records them.
        pub const SETTINGS: &[Setting] = &[$(Setting {
            key: $key,
            group: Group::$group,
            values: $values,
            doc: $doc,
            get: |$t| $get,
            set: |$u, $v| {
                $set;
                Ok(())
            },
        }),*];
    };
}

settings! {
    "memory-reservation", Optimize, "BYTES", "address space reserved per linear memory (4 GiB or more: no bounds checks)",
        |t| t.memory_reservation.to_string(), |t, v| t.memory_reservation = parse_bytes(v)?;
    "memory-guard-size", Optimize, "BYTES", "unmapped bytes after each memory that catch out-of-bounds accesses",
        |t| t.memory_guard_size.to_string(), |t, v| t.memory_guard_size = parse_bytes(v)?;
    "max-wasm-stack", Wasm, "BYTES", "the most native stack wasm may use (also -O)",
        |t| t.max_wasm_stack.to_string(),
        |t, v| t.max_wasm_stack = usize::try_from(parse_bytes(v)?).map_err(|_| format!("`{v}` is too large"))?;
    "gc-heap-max", Wasm, "BYTES", "the most bytes a store's GC heap may grow to (at most 4 GiB)",
        |t| t.gc_heap_max.to_string(),
        |t, v| t.gc_heap_max = parse_bytes(v)?.min(1 << 32);
    "memory-init-cow", Optimize, "y|n", "initialize memories from copy-on-write images",
        |t| yn(t.memory_init_cow), |t, v| t.memory_init_cow = parse_bool(v)?;
    "table-lazy-init", Optimize, "y|n", "fill function tables on first use",
        |t| yn(t.table_lazy_init), |t, v| t.table_lazy_init = parse_bool(v)?;
    "inlining", Optimize, "y|n", "inline calls across functions",
        |t| yn(t.inlining), |t, v| t.inlining = parse_bool(v)?;
    "inlining-intra-module", Optimize, "y|n|gc", "inline calls within one module (gc: only in functions using the GC heap)",
        |t| match t.inlining_intra_module {
            IntraModuleInlining::Yes => "y".to_string(),
            IntraModuleInlining::No => "n".to_string(),
            IntraModuleInlining::WhenUsingGc => "gc".to_string(),
        },
        |t, v| t.inlining_intra_module = match v {
            "gc" => IntraModuleInlining::WhenUsingGc,
            other if parse_bool(other)? => IntraModuleInlining::Yes,
            _ => IntraModuleInlining::No,
        };
    "inlining-small-callee-size", Optimize, "N", "callees this small are always inlined",
        |t| t.inlining_small_callee_size.to_string(), |t, v| t.inlining_small_callee_size = parse_u32(v)?;
    "inlining-sum-size-threshold", Optimize, "N", "inline while caller and callee together stay below this size",
        |t| t.inlining_sum_size_threshold.to_string(), |t, v| t.inlining_sum_size_threshold = parse_u32(v)?;
    "consume-fuel", Wasm, "y|n", "compile code that counts fuel",
        |t| yn(t.consume_fuel), |t, v| t.consume_fuel = parse_bool(v)?;
    "epoch-interruption", Wasm, "y|n", "compile code that checks epochs",
        |t| yn(t.epoch_interruption), |t, v| t.epoch_interruption = parse_bool(v)?;
    "opt-level", Optimize, "0|1|2|s", "Cranelift's optimization level: 0 none, 1 and 2 speed, s speed and size",
        |t| t.opt_level.as_str().to_string(), |t, v| t.opt_level = OptLevel::parse(v)?;
}

/// A `-W` key that turns a wasm feature on or off, and the features it covers (off takes
/// away every one, on gives the first; relaxed SIMD goes with SIMD).
macro_rules! feature_settings {
    ($($key:literal => $first:ident $(| $more:ident)*, $doc:literal;)*) => {
        /// The wasm features a `-W` key turns on or off.
        pub const FEATURE_SETTINGS: &[Setting] = &[$(Setting {
            key: $key,
            group: Group::Wasm,
            values: "y|n",
            doc: $doc,
            get: |t| yn(t.wasm_features.contains(wasmparser::WasmFeatures::$first)),
            set: |t, v| {
                let on = parse_bool(v)?;
                t.wasm_features.set(wasmparser::WasmFeatures::$first, on);
                $(if !on { t.wasm_features.remove(wasmparser::WasmFeatures::$more); })*
                Ok(())
            },
        }),*];
    };
}

feature_settings! {
    "simd" => SIMD | RELAXED_SIMD, "128-bit SIMD (off turns relaxed SIMD off too)";
    "relaxed-simd" => RELAXED_SIMD, "relaxed SIMD";
    "tail-call" => TAIL_CALL, "return_call and return_call_indirect";
    "multi-memory" => MULTI_MEMORY, "more than one memory per module";
    "multi-value" => MULTI_VALUE, "functions and blocks with several results";
    "bulk-memory" => BULK_MEMORY, "memory.copy, memory.fill and the segment operators";
    "reference-types" => REFERENCE_TYPES, "funcref and externref values, several tables";
    "extended-const" => EXTENDED_CONST, "arithmetic in constant expressions";
    "function-references" => FUNCTION_REFERENCES, "typed function references";
    "gc" => GC, "garbage-collected structs and arrays";
    "exceptions" => EXCEPTIONS, "exception handling";
    "legacy-exceptions" => LEGACY_EXCEPTIONS, "the legacy exception-handling instructions (try, catch, rethrow, delegate)";
    "memory64" => MEMORY64, "64-bit memories and tables";
    "threads" => THREADS, "shared memories and atomics";
}

/// Every setting: [`SETTINGS`], then [`FEATURE_SETTINGS`].
pub fn all() -> impl Iterator<Item = &'static Setting> {
    SETTINGS.iter().chain(FEATURE_SETTINGS)
}

/// The setting named `key`.
pub fn setting(key: &str) -> Option<&'static Setting> {
    all().find(|s| s.key == key)
}

/// The help text of a group's settings: one line per setting with its values, its default
/// and its doc.
pub fn help(group: Group) -> String {
    let defaults = Tunables::default();
    let mut out = String::new();
    for s in all().filter(|s| s.group == group) {
        let default = (s.get)(&defaults);
        out.push_str(&format!("  {}={} (default {default}): {}\n", s.key, s.values, s.doc));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_reads_back_what_it_sets() {
        for s in all() {
            let mut t = Tunables::default();
            let default = (s.get)(&t);
            (s.set)(&mut t, &default).unwrap_or_else(|e| panic!("{}: {e}", s.key));
            assert_eq!((s.get)(&t), default, "{}", s.key);
            assert_eq!(t, Tunables::default(), "{} set to its default changes nothing", s.key);
        }
        let keys: std::collections::HashSet<_> = all().map(|s| s.key).collect();
        assert_eq!(keys.len(), all().count(), "no key twice");
        let mut t = Tunables::default();
        (setting("simd").unwrap().set)(&mut t, "n").unwrap();
        assert!(!t.wasm_features.contains(wasmparser::WasmFeatures::RELAXED_SIMD), "relaxed SIMD goes with SIMD");
    }

    #[test]
    fn values_parse_or_say_why_not() {
        assert_eq!(parse_bytes("64k"), Ok(65536));
        assert_eq!(parse_bytes("9q"), Err("unknown unit in `9q` (known: k, m, g)".to_string()));
        assert!(parse_bytes("99999999999g").is_err());
        assert_eq!(parse_bool("no"), Ok(false));
        assert!(parse_bool("maybe").is_err());
        let mut t = Tunables::default();
        (setting("opt-level").unwrap().set)(&mut t, "s").unwrap();
        assert_eq!(t.opt_level, OptLevel::SpeedAndSize);
        assert!((setting("opt-level").unwrap().set)(&mut t, "3").is_err());
        assert!(help(Group::Optimize).contains("  opt-level=0|1|2|s (default 2): "));
    }
}
