//! The `kiln` command: `kiln run` (or `kiln FILE`) runs a module or component (a WASI
//! command, or an export with `--invoke`), `kiln compile` writes a module's or a component's artifact, `kiln objdump`
//! shows one, `kiln cache` manages the compilation cache, and `kiln wast` runs WebAssembly
//! spec-test scripts. Options
//! come before the file, as with wasmtime; `-O key=value` sets engine options, `-W key=value`
//! the controls on a guest (fuel, timeout, resource limits), and `-C cache=y|n` the cache.
#![forbid(unsafe_code)]

use anyhow::{Context, Result, anyhow};
use clap::{Parser, Subcommand};
use kiln::{Config, Engine};

mod component;
mod grants;
mod objdump;
mod run;
mod wasm_options;
use std::path::PathBuf;
use std::process::ExitCode;
use wasm_options::WasmOptions;

#[derive(Parser)]
#[command(name = "kiln", version, about = "Kiln: a WebAssembly compiler and runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Options {
    /// Engine option `key=value` (memory-reservation, memory-guard-size, max-wasm-stack,
    /// memory-init-cow, table-lazy-init, inlining, inlining-intra-module,
    /// inlining-small-callee-size, inlining-sum-size-threshold).
    #[arg(short = 'O', value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// Tool option `key=value`: `cache=y|n` (the compilation cache, on by default).
    #[arg(short = 'C', value_name = "KEY=VALUE")]
    tool: Vec<String>,
    /// Guest control `key=value` (fuel, timeout, consume-fuel, epoch-interruption,
    /// max-wasm-stack, max-memory-size, max-table-elements, max-instances, max-tables,
    /// max-memories, trap-on-grow-failure); several may share one -W, comma-separated.
    #[arg(short = 'W', value_name = "KEY=VALUE")]
    wasm: Vec<String>,
}

impl Options {
    fn config(&self) -> Result<Config> {
        let mut config = Config::new();
        WasmOptions::parse(&self.wasm)?.configure(&mut config)?;
        for o in &self.options {
            let (k, v) = o.split_once('=').ok_or_else(|| anyhow!("-O {o}: expected KEY=VALUE"))?;
            config.set(k, v).map_err(|e| match e {
                kiln::Error::Setting { message, .. } => anyhow!("-O {o}: {message}"),
                other => other.into(),
            })?;
        }
        config.cache_dir(self.cache_dir()?);
        Ok(config)
    }

    /// The compilation cache's directory, unless `-C cache=n` turned it off.
    fn cache_dir(&self) -> Result<Option<PathBuf>> {
        let mut cache = true;
        for o in &self.tool {
            cache = match o.as_str() {
                "cache=y" | "cache=yes" | "cache=true" => true,
                "cache=n" | "cache=no" | "cache=false" => false,
                _ => return Err(anyhow!("-C {o}: unknown option (known: cache=y|n)")),
            };
        }
        Ok(if cache { kiln::default_cache_dir() } else { None })
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
        /// `perfmap`: describe the compiled code in /tmp/perf-<pid>.map, so that `perf
        /// record`/`perf report` name wasm functions.
        #[arg(long, value_name = "perfmap")]
        profile: Option<String>,
        /// Run FILE even if it is a precompiled artifact (from `kiln compile`): its machine
        /// code runs as it is, so only trusted artifacts may be run.
        #[arg(long)]
        allow_precompiled: bool,
        /// The program's argv[0] (default: FILE as given).
        #[arg(long, value_name = "NAME")]
        argv0: Option<String>,
        /// The module or component (.wasm, .wat, or with --allow-precompiled a .cwasm), then
        /// the program's arguments (or the values for --invoke): everything after FILE is
        /// the program's, flags included.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "FILE [ARGS]")]
        program: Vec<String>,
    },
    /// Compile a module or a component to an artifact that `kiln run --allow-precompiled`
    /// loads.
    Compile {
        #[command(flatten)]
        options: Options,
        /// The output file (default: FILE with extension .cwasm).
        #[arg(short = 'o', value_name = "OUT")]
        output: Option<PathBuf>,
        /// The module or component (.wasm or .wat).
        file: PathBuf,
    },
    /// Show an artifact's functions (of every core module, for a component's), their code
    /// ranges and trap sites.
    Objdump {
        /// Also disassemble each function's machine code.
        #[arg(long)]
        disassemble: bool,
        /// The artifact (.cwasm).
        file: PathBuf,
    },
    /// Manage the compilation cache.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
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

#[derive(Subcommand)]
enum CacheAction {
    /// Print the cache's directory.
    Dir,
    /// Remove every cached artifact.
    Clean,
}

fn cache(action: &CacheAction) -> Result<ExitCode> {
    let dir = kiln::default_cache_dir().ok_or_else(|| anyhow!("no cache directory: set KILN_CACHE_DIR or HOME"))?;
    match action {
        CacheAction::Dir => say(format_args!("{}", dir.display()))?,
        CacheAction::Clean => {
            let removed = kiln::clean_cache(&dir).with_context(|| format!("cleaning {}", dir.display()))?;
            say(format_args!("removed {removed} cached artifacts from {}", dir.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn compile(options: &Options, output: Option<&PathBuf>, file: &PathBuf) -> Result<ExitCode> {
    let engine = Engine::new(&options.config()?)?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let wasm = run::binary(file, bytes)?;
    let artifact = if kiln_environ::component::is_component(&wasm) {
        engine.precompile_component(&wasm)
    } else {
        engine.precompile_module(&wasm)
    };
    let artifact = artifact.with_context(|| format!("failed to compile {}", file.display()))?;
    let out = output.cloned().unwrap_or_else(|| file.with_extension("cwasm"));
    std::fs::write(&out, artifact).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(ExitCode::SUCCESS)
}

fn wast(options: &Options, files: &[PathBuf]) -> Result<ExitCode> {
    let config = options.config()?;
    let (mut passed, mut failed) = (0, 0);
    for file in files {
        let report = kiln_wast::run_file(file, &config)?;
        for f in &report.failures {
            say(format_args!("{f}"))?;
        }
        passed += report.passed;
        failed += report.failures.len();
    }
    say(format_args!("{passed} passed, {failed} failed"))?;
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `kiln FILE ARGS…` is `kiln run FILE ARGS…`, as with wasmtime: a first argument that is
/// neither a subcommand nor a help or version flag starts a `run`.
fn implicit_run(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let Some(first) = args.get(1).and_then(|a| a.to_str()) else { return args };
    let command = Cli::command();
    let known = command.get_subcommands().any(|c| c.get_name() == first || c.get_all_aliases().any(|a| a == first));
    if !known && !matches!(first, "help" | "-h" | "--help" | "-V" | "--version") {
        args.insert(1, "run".into());
    }
    args
}

/// Print a line to stdout; a stdout that is closed or full is an error, not a panic.
pub(crate) fn say(line: std::fmt::Arguments<'_>) -> Result<()> {
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "{line}").context("cannot write to stdout")
}

/// Print to stderr, ignoring failure: there is nowhere left to report it.
pub(crate) fn complain(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_fmt(text);
}

/// Give every closed standard descriptor (0, 1, 2) `/dev/null`, before anything else opens
/// a file: otherwise the first file Kiln opens would get that number, and messages meant for
/// stderr (or a guest's output) would land in it.
fn fill_closed_std_fds() {
    use std::os::fd::{AsRawFd, IntoRawFd};
    for _ in 0..3 {
        let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") else { return };
        if null.as_raw_fd() > 2 {
            return;
        }
        // The descriptor now stands in for a standard stream for the rest of the process.
        let _ = null.into_raw_fd();
    }
}

fn main() -> ExitCode {
    fill_closed_std_fds();
    // `RUST_LOG=kiln_compile=debug` shows each compile stage's time, `=trace` each inlining
    // decision; warnings (an unusable cache entry, say) show by default.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse_from(implicit_run(std::env::args_os().collect()));
    let result = match &cli.command {
        Command::Run { options, invoke, dirs, envs, preloads, profile, allow_precompiled, argv0, program } => {
            let (file, args) = match program.split_first() {
                Some((file, args)) => (PathBuf::from(file), args),
                None => (PathBuf::new(), &[][..]),
            };
            let cache = options.cache_dir();
            let config = options.config().and_then(|mut c| {
                match profile.as_deref() {
                    None => {}
                    Some("perfmap") => {
                        c.profile_perfmap(true);
                    }
                    Some(other) => return Err(anyhow!("--profile {other}: unknown profiler (known: perfmap)")),
                }
                Ok(c)
            });
            config.and_then(|config| {
                run::run(run::RunArgs {
                    config,
                    wasm: WasmOptions::parse(&options.wasm)?,
                    cache: cache?,
                    invoke: invoke.as_deref(),
                    file: &file,
                    argv0: argv0.as_deref(),
                    args,
                    dirs,
                    envs,
                    preloads,
                    allow_precompiled: *allow_precompiled,
                })
            })
        }
        Command::Compile { options, output, file } => compile(options, output.as_ref(), file),
        Command::Objdump { disassemble, file } => objdump::objdump(file, *disassemble),
        Command::Cache { action } => cache(action),
        Command::Wast { options, files } => wast(options, files),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            complain(format_args!("Error: {e:#}\n"));
            if let Some(bt) = e.downcast_ref::<kiln::Error>().and_then(kiln::Error::backtrace) {
                complain(format_args!("{bt}"));
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
