//! `kiln run` of a component: a `wasi:cli/command` has its `run` export called, with WASI
//! 0.2 on the same grants as a module's preview1 (arguments, `--env`, `--dir`, standard
//! streams); `--invoke 'name(args)'` calls another export with WAVE arguments and prints its
//! results in WAVE; `--preload NAME=FILE` instantiates another component first and satisfies
//! the import `NAME` with its exported functions (a call goes through the host).
use crate::grants::Grants;
use crate::run::RunArgs;
use anyhow::{Context, Result, anyhow};
use kiln::component::{Component, Instance, Linker, ResourceTable};
use kiln::{Engine, Store, StoreLimits};
use kiln_wasi::{I32Exit, WasiCtx};
use std::path::Path;
use std::process::ExitCode;

/// The store's data for a component: its WASI context, the host's resources, its limits.
struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

/// Compiles `file` (read as `bytes`), or loads it if it is an artifact and precompiled code
/// is allowed.
fn load(engine: &Engine, file: &Path, bytes: Vec<u8>, allow_precompiled: bool, grants: &Grants) -> Result<Component> {
    crate::run::load_with(
        file,
        bytes,
        allow_precompiled,
        grants,
        |bytes| Component::new(engine, bytes),
        |bytes| Component::deserialize_trusted(engine, bytes),
        |path| Component::deserialize_trusted_file(engine, path),
    )
}

/// Defines the import `name` as forwarders to the functions `instance` exports: those at
/// its root, and those of its export named `name` when it has one.
fn forward(linker: &mut Linker<Host>, name: &str, component: &Component, instance: Instance) -> Result<()> {
    let mut target = linker.instance(name)?;
    for (export, ty) in component.exports() {
        if !ty.starts_with("func") {
            continue;
        }
        let local = match export.split_once('#') {
            None => export.clone(),
            Some((outer, inner)) if outer == name && !inner.contains('#') => inner.to_string(),
            Some(_) => continue,
        };
        let path = export.clone();
        target.func_new(&local, move |mut store, params, results| {
            let func = instance
                .get_func(&mut store, &path)
                .ok_or_else(|| kiln::Error::Other(format!("preloaded export `{path}` disappeared")))?;
            func.call(&mut store, params, results)
        })?;
    }
    Ok(())
}

/// Runs the component `r.file`, read as `bytes`; the process's exit code.
pub fn run(engine: &Engine, r: &RunArgs<'_>, bytes: Vec<u8>, wasi: WasiCtx, grants: &Grants) -> Result<ExitCode> {
    let component = load(engine, r.file, bytes, r.allow_precompiled, grants)?;
    let mut store = Store::new(engine, Host { wasi, table: ResourceTable::new(), limits: r.wasm.limits() });
    store.limiter(|h| &mut h.limits);
    r.wasm.start(engine, &mut store)?;
    let mut linker = Linker::<Host>::new(engine);
    if r.wasi.cli {
        kiln_wasi::p2::add_to_linker(&mut linker, |h: &mut Host| (&mut h.wasi, &mut h.table))?;
    }
    for p in r.preloads {
        let (name, path) = p.split_once('=').ok_or_else(|| anyhow!("--preload {p}: expected NAME=FILE"))?;
        let pre = crate::run::read_program(Path::new(path))?.bytes;
        let pre = load(engine, Path::new(path), pre, r.allow_precompiled, grants)?;
        let instance = linker.instantiate(&mut store, &pre).with_context(|| format!("failed to instantiate {path}"))?;
        forward(&mut linker, name, &pre, instance)?;
    }
    let instance = linker
        .instantiate(&mut store, &component)
        .with_context(|| format!("failed to instantiate {}", r.file.display()))?;
    let outcome = match r.invoke {
        Some(invoke) => {
            let call =
                if invoke.contains('(') { invoke.to_string() } else { format!("{invoke}({})", r.args.join(", ")) };
            match instance.invoke_wave(&mut store, &call) {
                Ok(results) => {
                    for v in &results {
                        crate::say(format_args!("{}", v.to_wave()))?;
                    }
                    Ok(true)
                }
                Err(e) => Err(e),
            }
        }
        None => kiln_wasi::p2::run(&mut store, &instance).map(|r| r.is_ok()),
    };
    let code = match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(kiln::Error::Host(e)) if e.downcast_ref::<I32Exit>().is_some() => {
            let I32Exit(status) = *e.downcast_ref::<I32Exit>().unwrap_or(&I32Exit(1));
            ExitCode::from(status as u8)
        }
        Err(e) => {
            crate::run::sandbox_hint(&store.data().wasi);
            return Err(e.into());
        }
    };
    if code != ExitCode::SUCCESS {
        crate::run::sandbox_hint(&store.data().wasi);
    }
    Ok(code)
}
