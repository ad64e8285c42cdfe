//! Shared by the translator's integration tests: the host ISA, tunables named in a test file's
//! first line, and translating every defined function of a module.
#![allow(dead_code)] // each test binary uses a different part

use cranelift_codegen::ir::Function;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use kiln_cranelift::{FuncEnv, translate_function};
use kiln_environ::{CompileError, Tunables, VMOffsets, translate_module};

/// The host ISA, with Kiln's Cranelift settings.
pub fn host_isa() -> OwnedTargetIsa {
    let mut flags = settings::builder();
    for (name, value) in kiln_environ::cranelift_settings(&Tunables::default()) {
        flags.set(name, value).expect("Kiln's settings are Cranelift settings");
    }
    cranelift_native::builder()
        .expect("the host is supported by Cranelift")
        .finish(settings::Flags::new(flags))
        .expect("the host ISA builds")
}

/// The tunables a test file asks for on its first line, e.g.
/// `;; tunables: memory-reservation=0`. Without that line, the defaults.
pub fn tunables_of(source: &str) -> Tunables {
    let mut tunables = Tunables::default();
    let Some(settings) = source.lines().next().and_then(|l| l.trim().strip_prefix(";; tunables:")) else {
        return tunables;
    };
    for setting in settings.split_whitespace() {
        let (key, value) = setting.split_once('=').unwrap_or((setting, ""));
        let value: u64 = value.parse().unwrap_or_else(|_| panic!("bad tunable value in `{setting}`"));
        match key {
            "memory-reservation" => tunables.memory_reservation = value,
            "memory-guard-size" => tunables.memory_guard_size = value,
            "consume-fuel" => tunables.consume_fuel = value != 0,
            "epoch-interruption" => tunables.epoch_interruption = value != 0,
            other => panic!("unknown tunable `{other}`"),
        }
    }
    tunables
}

/// Translate every defined function of `wasm`, in order.
pub fn translate_all(wasm: &[u8], tunables: &Tunables, isa: &OwnedTargetIsa) -> Result<Vec<Function>, CompileError> {
    let translation = translate_module(wasm)?;
    let offsets = VMOffsets::new(&translation.module);
    let env = FuncEnv {
        module: &translation.module,
        offsets: &offsets,
        tunables,
        isa: &**isa,
        module_index: kiln_environ::StaticModuleIndex::MAIN,
    };
    let mut functions = Vec::new();
    for (def_index, body) in translation.function_bodies {
        let mut validator = body.validator.into_validator(Default::default());
        functions.push(translate_function(&env, def_index, &body.body, &mut validator)?);
    }
    Ok(functions)
}
