//! The target ISA Kiln compiles for: the host's, with Kiln's Cranelift settings. The settings
//! are part of what an artifact depends on.
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use kiln_environ::{CompileError, EngineInfo, Tunables};

/// The ISA plus the settings it was built from.
pub struct KilnIsa {
    pub isa: OwnedTargetIsa,
}

fn setting_error(e: impl std::fmt::Display) -> CompileError {
    CompileError::Internal(format!("bad Cranelift setting: {e}"))
}

/// The host's ISA with Kiln's settings.
pub fn host_isa() -> Result<KilnIsa, CompileError> {
    host_isa_for(&Tunables::default())
}

/// The host's ISA with the settings Kiln needs and the optimization level of `tunables`.
///
/// # Errors
/// As for [`host_isa`].
pub fn host_isa_for(tunables: &Tunables) -> Result<KilnIsa, CompileError> {
    let mut builder =
        cranelift_native::builder().map_err(|e| CompileError::Unsupported(format!("this host's architecture: {e}")))?;
    let flags = flags(tunables, &mut builder)?;
    let isa = builder.finish(flags).map_err(setting_error)?;
    Ok(KilnIsa { isa })
}

/// The ISA of `triple`'s baseline CPU rather than the host's: for x86-64, x86-64-v2 (SSE4.2,
/// POPCNT, CMPXCHG16B; Wasm SIMD needs SSE4.1), so the code runs on any such machine and its
/// artifact records no AVX or AVX-512 needs. Kiln's runtime is x86-64 Linux, so that is the
/// one target family it compiles for.
///
/// # Errors
/// [`CompileError::Unsupported`] for a triple that does not parse or another target.
pub fn target_isa(triple: &str, tunables: &Tunables) -> Result<KilnIsa, CompileError> {
    use target_lexicon::{Architecture, OperatingSystem, Triple};
    let unsupported = |why: String| CompileError::Unsupported(format!("target `{triple}`: {why}"));
    let parsed: Triple = triple.parse().map_err(|e| unsupported(format!("{e}")))?;
    if parsed.architecture != Architecture::X86_64 || parsed.operating_system != OperatingSystem::Linux {
        return Err(unsupported("Kiln compiles for x86_64 Linux (e.g. x86_64-unknown-linux-gnu)".into()));
    }
    let mut builder = cranelift_codegen::isa::lookup(parsed).map_err(|e| unsupported(e.to_string()))?;
    builder.enable("x86-64-v2").map_err(setting_error)?;
    let flags = flags(tunables, &mut builder)?;
    let isa = builder.finish(flags).map_err(setting_error)?;
    Ok(KilnIsa { isa })
}

/// The Cranelift flags Kiln compiles with, then the user's `cranelift_flags` of `tunables`:
/// each a shared flag, or else one of the ISA's (set on `isa`). Kiln's own settings cannot
/// be changed: its code relies on them.
fn flags(tunables: &Tunables, isa: &mut cranelift_codegen::isa::Builder) -> Result<settings::Flags, CompileError> {
    let mut flags = settings::builder();
    let required = kiln_environ::cranelift_settings(tunables);
    for &(name, value) in &required {
        flags.set(name, value).map_err(setting_error)?;
    }
    for (name, value) in &tunables.cranelift_flags {
        let refuse = |why: String| CompileError::Unsupported(format!("Cranelift setting {name}={value}: {why}"));
        if let Some((_, kiln)) = required.iter().find(|(n, _)| n == name) {
            return Err(refuse(format!("Kiln's code needs {name}={kiln}")));
        }
        match flags.set(name, value) {
            Ok(()) => {}
            Err(settings::SetError::BadName(_)) => isa.set(name, value).map_err(|e| refuse(e.to_string()))?,
            Err(e) => return Err(refuse(e.to_string())),
        }
    }
    Ok(settings::Flags::new(flags))
}

/// What an artifact compiled by `isa` with `tunables` depends on; see [`EngineInfo`].
pub fn engine_info(isa: &KilnIsa, tunables: &Tunables) -> EngineInfo {
    let mut info = EngineInfo::for_target(&isa.isa.triple().to_string());
    for v in isa.isa.flags().iter() {
        info.push(format!("cranelift.{}", v.name), v.value_string());
    }
    for v in isa.isa.isa_flags() {
        match v.name.strip_prefix("has_") {
            Some(feature) => info.push(format!("cpu.{feature}"), v.value_string()),
            None => info.push(format!("cranelift.{}", v.name), v.value_string()),
        }
    }
    info.push_tunables(tunables);
    info
}
