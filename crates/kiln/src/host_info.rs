//! What a Kiln without its compiler requires of an artifact (`Engine::new` without the
//! `compiler` feature): the same format, Kiln version, target, tunables and wasm features as
//! a compiling engine would record, the Cranelift settings the runtime relies on
//! ([`kiln_environ::cranelift_settings`]), and — in place of the compiler's view of the CPU —
//! the host's CPU features as the standard library detects them. Any other code-generator
//! setting an artifact records does not change how the runtime runs it, and is not
//! compared; a CPU feature this list does not know counts as missing.
#[cfg(not(feature = "compiler"))]
use kiln_environ::{EngineInfo, Tunables};

/// Each CPU feature Cranelift records (its name in `cpu.<name>`), and whether this host has
/// it, as the standard library detects them.
pub fn host_cpu_features() -> Vec<(&'static str, bool)> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::is_x86_feature_detected as has;
        vec![
            ("sse3", has!("sse3")),
            ("ssse3", has!("ssse3")),
            ("cmpxchg16b", has!("cmpxchg16b")),
            ("sse41", has!("sse4.1")),
            ("sse42", has!("sse4.2")),
            ("avx", has!("avx")),
            ("avx2", has!("avx2")),
            ("fma", has!("fma")),
            ("avx_vnni", has!("avxvnni")),
            ("avx512bitalg", has!("avx512bitalg")),
            ("avx512dq", has!("avx512dq")),
            ("avx512vl", has!("avx512vl")),
            ("avx512vbmi", has!("avx512vbmi")),
            ("avx512f", has!("avx512f")),
            ("avx512vnni", has!("avx512vnni")),
            ("popcnt", has!("popcnt")),
            ("bmi1", has!("bmi1")),
            ("bmi2", has!("bmi2")),
            ("lzcnt", has!("lzcnt")),
        ]
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Vec::new()
    }
}

/// The engine info of a runtime-only engine with `tunables`.
#[cfg(not(feature = "compiler"))]
pub(crate) fn runtime_engine_info(tunables: &Tunables) -> EngineInfo {
    let mut info = EngineInfo::for_target(&target_lexicon::HOST.to_string());
    for (name, value) in kiln_environ::cranelift_settings(tunables) {
        info.push(format!("cranelift.{name}"), value);
    }
    for (feature, present) in host_cpu_features() {
        info.push(format!("cpu.{feature}"), present);
    }
    info.push_tunables(tunables);
    info
}
