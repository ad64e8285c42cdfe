//! The `kiln` command: `kiln run` compiles and runs a module (calling an exported function
//! with `--invoke`), `kiln wast` runs WebAssembly spec-test scripts. Options come before the
//! file, as with wasmtime; `-O key=value` sets engine options.
use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use kiln::{Config, Engine, Linker, Module, Store, Val, ValType};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "kiln", version, about = "Kiln: a WebAssembly compiler and runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Options {
    /// Engine option `key=value` (memory-reservation, memory-guard-size, max-wasm-stack).
    #[arg(short = 'O', value_name = "KEY=VALUE")]
    options: Vec<String>,
}

impl Options {
    fn config(&self) -> Result<Config> {
        let mut config = Config::new();
        for o in &self.options {
            let (k, v) = o.split_once('=').ok_or_else(|| anyhow!("-O {o}: expected KEY=VALUE"))?;
            config.set(k, v)?;
        }
        Ok(config)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Compile and run a WebAssembly module (.wasm or .wat).
    Run {
        #[command(flatten)]
        options: Options,
        /// The exported function to call (default: `_start`).
        #[arg(long, value_name = "NAME")]
        invoke: Option<String>,
        /// The module.
        file: PathBuf,
        /// Arguments for the invoked function.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run WebAssembly spec-test scripts (.wast).
    Wast {
        #[command(flatten)]
        options: Options,
        /// The scripts.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn parse_arg(text: &str, ty: ValType) -> Result<Val> {
    let bad = || anyhow!("argument `{text}` is not a valid {ty}");
    Ok(match ty {
        ValType::I32 => Val::I32(match text.parse::<i32>() {
            Ok(v) => v,
            Err(_) => text.parse::<u32>().map_err(|_| bad())? as i32,
        }),
        ValType::I64 => Val::I64(match text.parse::<i64>() {
            Ok(v) => v,
            Err(_) => text.parse::<u64>().map_err(|_| bad())? as i64,
        }),
        ValType::F32 => Val::from(text.parse::<f32>().map_err(|_| bad())?),
        ValType::F64 => Val::from(text.parse::<f64>().map_err(|_| bad())?),
        other => bail!("cannot pass a {other} argument from the command line"),
    })
}

fn show(v: &Val) -> String {
    match v {
        Val::I32(v) => v.to_string(),
        Val::I64(v) => v.to_string(),
        Val::F32(b) => f32::from_bits(*b).to_string(),
        Val::F64(b) => f64::from_bits(*b).to_string(),
        Val::V128(v) => format!("{v:#034x}"),
        Val::FuncRef(None) | Val::ExternRef(None) => "null".into(),
        Val::FuncRef(Some(_)) => "<funcref>".into(),
        Val::ExternRef(Some(_)) => "<externref>".into(),
    }
}

fn run(options: &Options, invoke: Option<&str>, file: &PathBuf, args: &[String]) -> Result<ExitCode> {
    let engine = Engine::new(&options.config()?)?;
    let module = Module::from_file(&engine, file).with_context(|| format!("failed to compile {}", file.display()))?;
    let mut store = Store::new(&engine, ());
    let linker = Linker::new(&engine);
    let instance = linker.instantiate(&mut store, &module)?;
    let name = invoke.unwrap_or("_start");
    let func = instance
        .get_func(&mut store, name)
        .ok_or_else(|| anyhow!("{} has no exported function `{name}`", file.display()))?;
    let ty = func.ty(&store);
    if args.len() != ty.params().len() {
        bail!("`{name}` takes {} arguments ({ty}), {} given", ty.params().len(), args.len());
    }
    let params = args.iter().zip(ty.params()).map(|(a, t)| parse_arg(a, *t)).collect::<Result<Vec<_>>>()?;
    let mut results: Vec<Val> = ty.results().iter().map(|_| Val::I32(0)).collect();
    func.call(&mut store, &params, &mut results)?;
    for r in &results {
        println!("{}", show(r));
    }
    Ok(ExitCode::SUCCESS)
}

fn wast(options: &Options, files: &[PathBuf]) -> Result<ExitCode> {
    let config = options.config()?;
    let (mut passed, mut failed) = (0, 0);
    for file in files {
        let report = kiln_wast::run_file(file, &config)?;
        for f in &report.failures {
            println!("{f}");
        }
        passed += report.passed;
        failed += report.failures.len();
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run { options, invoke, file, args } => run(options, invoke.as_deref(), file, args),
        Command::Wast { options, files } => wast(options, files),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            // A trap exits like an abort, as with wasmtime.
            if matches!(e.downcast_ref::<kiln::Error>(), Some(kiln::Error::Trap(_))) {
                ExitCode::from(134)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
