//! Run an export of a precompiled artifact: `run_artifact FILE.cwasm EXPORT [I64…]` calls
//! `EXPORT` with 64-bit integer arguments and prints its results, one per line. It builds
//! with or without Kiln's `compiler` feature; without it (`cargo run -p kiln
//! --no-default-features --example run_artifact`), Kiln links no Cranelift, loads only
//! artifacts (e.g. from `kiln compile`), and refuses anything else with `unsupported: …`.
use kiln::{Engine, Instance, Module, Store, Val};
use std::process::ExitCode;

fn run(args: &[String]) -> Result<Vec<Val>, String> {
    let [file, export, params @ ..] = args else {
        return Err("usage: run_artifact FILE.cwasm EXPORT [I64…]".into());
    };
    let engine = Engine::default();
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let module = if bytes.starts_with(b"\x7fELF") {
        Module::deserialize_trusted_file(&engine, file)
    } else {
        Module::new(&engine, &bytes)
    }
    .map_err(|e| e.to_string())?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).map_err(|e| e.to_string())?;
    let func = instance.get_func(&mut store, export).ok_or_else(|| format!("no export named `{export}`"))?;
    let params: Vec<Val> = params
        .iter()
        .map(|p| p.parse::<i64>().map(Val::I64).map_err(|_| format!("`{p}` is not an i64")))
        .collect::<Result<_, _>>()?;
    let mut results = vec![Val::I64(0); func.ty(&store).results().len()];
    func.call(&mut store, &params, &mut results).map_err(|e| e.to_string())?;
    Ok(results)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(results) => {
            for r in results {
                match r {
                    Val::I32(v) => println!("{v}"),
                    Val::I64(v) => println!("{v}"),
                    other => println!("{other:?}"),
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
