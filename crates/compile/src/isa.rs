//! The target ISA Kiln compiles for: the host's, with Kiln's Cranelift settings. The settings
//! are part of what an artifact depends on.
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use kiln_environ::{CRANELIFT_SETTINGS, CompileError, EngineInfo, Tunables};

/// The ISA plus the settings it was built from.
pub struct KilnIsa {
    pub isa: OwnedTargetIsa,
}

fn setting_error(e: impl std::fmt::Display) -> CompileError {
    CompileError::Internal(format!("bad Cranelift setting: {e}"))
}

/// The host's ISA with Kiln's settings.
pub fn host_isa() -> Result<KilnIsa, CompileError> {
    let mut flags = settings::builder();
    for &(name, value) in CRANELIFT_SETTINGS {
        flags.set(name, value).map_err(setting_error)?;
    }
    let builder =
        cranelift_native::builder().map_err(|e| CompileError::Unsupported(format!("this host's architecture: {e}")))?;
    let isa = builder.finish(settings::Flags::new(flags)).map_err(setting_error)?;
    Ok(KilnIsa { isa })
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
