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
    let builder =
        cranelift_native::builder().map_err(|e| CompileError::Unsupported(format!("this host's architecture: {e}")))?;
    let isa = builder.finish(shared_flags(tunables)?).map_err(setting_error)?;
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
    let isa = builder.finish(shared_flags(tunables)?).map_err(setting_error)?;
    Ok(KilnIsa { isa })
}

/// The target-independent Cranelift flags Kiln compiles with.
fn shared_flags(tunables: &Tunables) -> Result<settings::Flags, CompileError> {
    let mut flags = settings::builder();
    for (name, value) in kiln_environ::cranelift_settings(tunables) {
        flags.set(name, value).map_err(setting_error)?;
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
