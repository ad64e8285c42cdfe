//! The `kiln-fuzz` command: `differential` compares Kiln with wasmi on generated modules,
//! `mutate` runs the `kiln` command on damaged modules and artifacts. Both are reproducible
//! from `--seed`, and case `i` alone is `--start i --count 1`.
#![forbid(unsafe_code)]

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use kiln_fuzz::{differential, mutate};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "kiln-fuzz", about = "Deterministic fuzzing of Kiln, from a seed")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run generated modules in Kiln and in wasmi and compare results, traps and state.
    Differential {
        /// The run's seed: the same seed and range give the same modules and calls.
        #[arg(long)]
        seed: u64,
        /// How many modules.
        #[arg(long)]
        count: u64,
        /// The first module's index.
        #[arg(long, default_value_t = 0)]
        start: u64,
        /// Where divergences are written (`<seed>-<i>.wasm`, `.wat`, `.txt`).
        #[arg(long, default_value = "fuzz-out")]
        out: PathBuf,
        /// Print every module's calls and their outcomes.
        #[arg(long)]
        verbose: bool,
        /// Run the modules in worker processes of this many modules each, so that a module
        /// that crashes the process is found and the run goes on; 0 runs them all in this
        /// process.
        #[arg(long, default_value_t = 500)]
        isolate: u64,
        /// Be a worker: run in this process and report in the supervisor's format.
        #[arg(long, hide = true)]
        worker: bool,
    },
    /// Run the `kiln` command on mutated modules and artifacts and look for crashes.
    Mutate {
        /// The run's seed: the same seed and range give the same inputs.
        #[arg(long)]
        seed: u64,
        /// How many inputs.
        #[arg(long)]
        count: u64,
        /// The first input's index.
        #[arg(long, default_value_t = 0)]
        start: u64,
        /// The `kiln` binary (default: $KILN_BIN, else `kiln` beside this executable).
        #[arg(long)]
        kiln: Option<PathBuf>,
        /// Seconds one run may take before it is killed and counted as a hang.
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        /// Where crashes are written (`mutate-<seed>-<i>.wasm|cwasm` and `.txt`).
        #[arg(long, default_value = "fuzz-out")]
        out: PathBuf,
        /// Print every input's ending.
        #[arg(long)]
        verbose: bool,
    },
    /// Write the module of one case: as text to stdout, or as binary to `-o FILE`.
    Generate {
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        index: u64,
        /// Write the binary module here instead of printing its text.
        #[arg(short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Run one module file (.wasm or .wat; a divergence's repro, or a reduced one) in both
    /// engines as differential case `--index` of `--seed` would, and print every call.
    Replay {
        /// The module.
        file: PathBuf,
        /// The seed whose argument stream the calls take.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The case whose argument stream the calls take.
        #[arg(long, default_value_t = 0)]
        index: u64,
        /// Kiln's configuration (default, bounds-checks, eager-init, inline-all, guest-control); else the
        /// case's own.
        #[arg(long)]
        config: Option<String>,
    },
}

fn differential(options: &differential::Options, isolate: u64, worker: bool) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let report = if worker || isolate == 0 {
        differential::run(options)?
    } else {
        let exe = std::env::current_exe().context("cannot find this executable, to start workers")?;
        kiln_fuzz::isolate::run(options, isolate, &exe)?
    };
    let elapsed = started.elapsed();
    if worker {
        print!("{}", report.machine_lines());
        return Ok(if report.divergences.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    for (why, n) in &report.unsupported {
        println!("skipped {n}: {why}");
    }
    println!(
        "skipped: {} modules unsupported by kiln; {} instantiated in neither engine; {} cut short by a stack overflow; {} run in kiln alone (exceptions, GC); {:.1} modules/s",
        report.skipped(),
        report.not_instantiated,
        report.inconclusive,
        report.kiln_only,
        report.modules as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    println!(
        "differential: {} modules, {} calls, {} divergences",
        report.modules,
        report.calls,
        report.divergences.len()
    );
    Ok(if report.divergences.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn mutate(options: &mutate::Options) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let report = mutate::run(options)?;
    let elapsed = started.elapsed();
    for ((kind, ending), n) in &report.endings {
        println!("{}: {ending}: {n}", kind.name());
    }
    println!("{:.1} inputs/s", report.inputs as f64 / elapsed.as_secs_f64().max(1e-9));
    println!("mutate: {} inputs, {} crashes", report.inputs, report.crashes.len());
    Ok(if report.crashes.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn generate(seed: u64, index: u64, output: Option<&std::path::Path>) -> Result<ExitCode> {
    let wasm = kiln_fuzz::generate::module(seed, index)?;
    match output {
        Some(path) => std::fs::write(path, &wasm).with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{}", wasmprinter::print_bytes(&wasm)?),
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Differential { seed, count, start, out, verbose, isolate, worker } => {
            differential(&differential::Options { seed, start, count, out, verbose }, isolate, worker)
        }
        Command::Mutate { seed, count, start, kiln, timeout, out, verbose } => mutate::find_kiln(kiln.as_deref())
            .and_then(|kiln| {
                let timeout = std::time::Duration::try_from_secs_f64(timeout).context("--timeout")?;
                mutate(&mutate::Options { seed, start, count, kiln, timeout, out, verbose })
            }),
        Command::Generate { seed, index, output } => generate(seed, index, output.as_deref()),
        Command::Replay { file, seed, index, config } => differential::replay(&file, seed, index, config.as_deref())
            .map(|d| if d.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS }),
    };
    result.unwrap_or_else(|e| {
        eprintln!("Error: {e:#}");
        ExitCode::from(2)
    })
}
