//! `EngineInfo`: everything about the compiler that produced an artifact and that its code
//! depends on (format and Kiln versions, target, Cranelift settings, the CPU features the code
//! uses, the tunables, the wasm features), as ordered `key=value` lines in the artifact's
//! `.kiln.engine` section. Loading compares it with the loading engine's own, setting by
//! setting, and names the first mismatch with both values.
use crate::artifact::ArtifactError;

/// The version of the artifact format: any change to a section's encoding, or to the layouts
/// and conventions compiled code relies on (`VMOffsets`, the builtin list, the encoding of
/// table elements), bumps it, so that no artifact or cache entry made before loads after.
/// A test in `vmoffsets.rs` fails when the layouts change without it. (4: an artifact holds
/// a module or a whole component — several module descriptions, images named by module —
/// and wasm-to-array trampolines are keyed by their module; 5: a component's exported
/// instances are stored flat, in `ComponentInfo::export_instances`; 6: calls between component
/// instances can be fused adapters, modules of the artifact after the component's own; 7:
/// the `.kiln.addrmap` section; 8: each function's body offset in the module description; 11:
/// the type section's rec groups and sub types, struct and array types among them; 12: the
/// call-site table (`.kiln.callsites`) with stack maps, every trampoline to the host records
/// its exit frame, and slab references are tagged words; 13: the GC heap's base and bound in
/// the store context, `gc_alloc`, and struct and array objects; 14: the bulk array builtins;
/// 15: `exnref` is a value type of its own; 16: compiled code allocates structs in the GC
/// heap's window, with its bump, end and start bitmap in the store context.)
pub const FORMAT_VERSION: u32 = 16;

/// Ordered settings, each `(key, value)`. Keys starting with `cpu.` are CPU features the
/// code may use (`true`) or not (`false`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineInfo {
    /// The settings, in the order they were recorded.
    pub entries: Vec<(String, String)>,
}

/// The Cranelift settings Kiln compiles with, as `(setting, value)` pairs for
/// `cranelift_codegen::settings::builder()`, each beside the reason for it. The code Kiln
/// emits relies on them (tail calls and backtraces need frame pointers, stack overflow is
/// caught by the prologue's limit check), so every ISA that compiles Kiln's IR is built from
/// this one list, and a runtime without a compiler accepts only artifacts that record these
/// values.
pub const CRANELIFT_SETTINGS: &[(&str, &str)] = &[
    // The translator's own tests verify every function; production compiles skip it.
    ("enable_verifier", "false"),
    // Stack overflow is caught by the stack-limit check in every prologue instead.
    ("enable_probestack", "false"),
    // Traps unwind by resuming at the entry trampoline; no unwinder reads frames.
    ("unwind_info", "false"),
    // Frame pointers let a trap's backtrace walk wasm frames, and Cranelift's tail calls
    // need them.
    ("preserve_frame_pointers", "true"),
    // A wasm function may return more values than the target has return registers (the
    // spec sets no limit); the rest come back through a return area the caller provides.
    ("enable_multi_ret_implicit_sret", "true"),
];

/// Every Cranelift setting an ISA compiling with `tunables` is built from:
/// [`CRANELIFT_SETTINGS`], then `opt_level` as `tunables` say (`-O opt-level`).
pub fn cranelift_settings(tunables: &crate::Tunables) -> Vec<(&'static str, &'static str)> {
    let mut settings = CRANELIFT_SETTINGS.to_vec();
    settings.push(("opt_level", tunables.opt_level.cranelift_name()));
    settings
}

impl EngineInfo {
    /// The settings every engine records first: the format, Kiln's version and `target`
    /// (a target triple). The code generator's settings follow, then [`Self::push_tunables`].
    pub fn for_target(target: &str) -> EngineInfo {
        let mut info = EngineInfo::default();
        info.push("format", FORMAT_VERSION);
        info.push("kiln-version", env!("CARGO_PKG_VERSION"));
        info.push("target", target);
        info
    }

    /// Record `tunables` and the wasm features: the settings that come last.
    pub fn push_tunables(&mut self, tunables: &crate::Tunables) {
        for (key, value) in tunables.settings() {
            self.push(format!("tunable.{key}"), value);
        }
        self.push("wasm-features", format!("{:?}", tunables.wasm_features));
    }

    /// Add a setting.
    pub fn push(&mut self, key: impl Into<String>, value: impl ToString) {
        self.entries.push((key.into(), value.to_string()));
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The `.kiln.engine` bytes: one `key=value` line per setting.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::new();
        for (k, v) in &self.entries {
            out.push_str(k);
            out.push('=');
            out.push_str(v);
            out.push('\n');
        }
        out.into_bytes()
    }

    /// Parse `.kiln.engine` bytes.
    ///
    /// # Errors
    /// [`ArtifactError::Malformed`] for bytes that are not `key=value` lines of UTF-8.
    pub fn decode(bytes: &[u8]) -> Result<EngineInfo, ArtifactError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| ArtifactError::Malformed("the engine section is not UTF-8".into()))?;
        let mut info = EngineInfo::default();
        for line in text.lines() {
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| ArtifactError::Malformed(format!("engine setting `{line}` has no `=`")))?;
            info.push(k, v);
        }
        Ok(info)
    }

    /// Whether code described by `self` (an artifact's) can run on the engine described by
    /// `host`: the same setting for every key, except that a CPU feature the code does not
    /// use may be present on the host.
    ///
    /// # Errors
    /// [`ArtifactError::Incompatible`], naming the first setting that differs and both values.
    pub fn check_compatible(&self, host: &EngineInfo) -> Result<(), ArtifactError> {
        if self.get("format") != host.get("format") {
            return Err(ArtifactError::Incompatible(format!(
                "artifact format {} is not this Kiln's format {}",
                self.get("format").unwrap_or("(none)"),
                host.get("format").unwrap_or("(none)")
            )));
        }
        for (key, want) in &host.entries {
            let got = self.get(key);
            if let Some(feature) = key.strip_prefix("cpu.") {
                if got == Some("true") && want != "true" {
                    return Err(lacks(feature));
                }
                continue;
            }
            match got {
                Some(got) if got == want => {}
                Some(got) => {
                    return Err(ArtifactError::Incompatible(format!(
                        "artifact was compiled with {key}={got}, but this engine has {key}={want}"
                    )));
                }
                None => {
                    return Err(ArtifactError::Incompatible(format!(
                        "artifact does not record setting {key} (this engine has {want})"
                    )));
                }
            }
        }
        for (key, got) in &self.entries {
            if let Some(feature) = key.strip_prefix("cpu.").filter(|_| got == "true" && host.get(key).is_none()) {
                return Err(lacks(feature));
            }
        }
        Ok(())
    }
}

/// The error for code that needs CPU feature `feature`, which the host lacks.
fn lacks(feature: &str) -> ArtifactError {
    ArtifactError::Incompatible(format!("artifact needs CPU feature {feature}, which this host lacks"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(pairs: &[(&str, &str)]) -> EngineInfo {
        let mut i = EngineInfo::default();
        for (k, v) in pairs {
            i.push(*k, v);
        }
        i
    }

    #[test]
    fn cpu_features_and_settings_are_checked_by_name() {
        let host =
            info(&[("format", "1"), ("cpu.avx2", "false"), ("cpu.sse41", "true"), ("cranelift.opt_level", "speed")]);
        let needs_avx2 =
            info(&[("format", "1"), ("cpu.avx2", "true"), ("cpu.sse41", "true"), ("cranelift.opt_level", "speed")]);
        assert_eq!(
            needs_avx2.check_compatible(&host).unwrap_err().to_string(),
            "cannot load this artifact: artifact needs CPU feature avx2, which this host lacks"
        );
        // Code that does not use a feature the host has runs fine.
        let plain =
            info(&[("format", "1"), ("cpu.avx2", "false"), ("cpu.sse41", "false"), ("cranelift.opt_level", "speed")]);
        assert!(plain.check_compatible(&host).is_ok());
        let other_opt =
            info(&[("format", "1"), ("cpu.avx2", "false"), ("cpu.sse41", "true"), ("cranelift.opt_level", "none")]);
        assert_eq!(
            other_opt.check_compatible(&host).unwrap_err().to_string(),
            "cannot load this artifact: artifact was compiled with cranelift.opt_level=none, but this engine has cranelift.opt_level=speed"
        );
        let old = info(&[("format", "0")]);
        assert_eq!(
            old.check_compatible(&host).unwrap_err().to_string(),
            "cannot load this artifact: artifact format 0 is not this Kiln's format 1"
        );
        assert_eq!(EngineInfo::decode(&host.encode()).unwrap(), host);
        assert!(EngineInfo::decode(b"no equals sign").is_err());
    }
}
