//! The `kiln` command: `kiln run` compiles and runs a module (calling an exported function
//! with `--invoke`), `kiln wast` runs WebAssembly spec-test scripts. Options come before the
//! file, as with wasmtime; `-O key=value` sets engine options.
use anyhow::{Result, anyhow};
use clap::{Parser, Subcommand};
use kiln::{Config, Engine};

mod run;
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
        /// Call this exported function with ARGS as wasm values instead of running `_start`.
        #[arg(long, value_name = "NAME")]
        invoke: Option<String>,
        /// Grant the host directory HOST to the program as GUEST (default: HOST); `::ro`
        /// makes it read-only.
        #[arg(long = "dir", value_name = "HOST[::GUEST[::ro]]")]
        dirs: Vec<String>,
        /// Set an environment variable for the program; a bare NAME passes the host's value.
        #[arg(long = "env", value_name = "NAME[=VALUE]")]
        envs: Vec<String>,
        /// Instantiate FILE first and provide its exports as module NAME.
        #[arg(long = "preload", value_name = "NAME=FILE")]
        preloads: Vec<String>,
        /// The module (.wasm or .wat).
        file: PathBuf,
        /// The program's arguments (after argv[0], the file), or the values for --invoke.
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
        Command::Run { options, invoke, dirs, envs, preloads, file, args } => options.config().and_then(|c| Ok(Engine::new(&c)?)).and_then(|engine| {
            run::run(&run::RunArgs { engine, invoke: invoke.as_deref(), file, args, dirs, envs, preloads })
        }),
        Command::Wast { options, files } => wast(options, files),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            if let Some(bt) = e.downcast_ref::<kiln::Error>().and_then(kiln::Error::backtrace) {
                eprint!("{bt}");
            }
            // A trap exits like an abort, as with wasmtime.
            if matches!(e.downcast_ref::<kiln::Error>(), Some(kiln::Error::Trap(..))) {
                ExitCode::from(134)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
