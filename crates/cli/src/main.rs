//! The `kiln` command: `kiln run` (or `kiln FILE`) runs a module or component (a WASI
//! command, or an export with `--invoke`), `kiln compile` writes a module's or a component's
//! artifact, `kiln objdump` shows one, `kiln cache` manages the compilation cache, and `kiln
//! wast` runs WebAssembly spec-test scripts. Options come before the file, as with wasmtime,
//! in wasmtime's groups, each with `help`: `-O` optimization and memory layout (the engine
//! settings of `kiln_environ::settings`), `-W` what wasm may do (fuel, timeout, resource
//! limits), `-C` the cache, `-S` WASI, `-D` debugging.
#![forbid(unsafe_code)]

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use kiln::{Config, Engine};
use kiln_environ::settings;

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

/// The option groups, spelled as wasmtime spells them; each takes `help`, and several
/// `key=value`s may share one flag, comma-separated.
#[derive(clap::Args)]
struct Options {
    /// Optimization and memory layout `key=value` (`-O help` lists them).
    #[arg(short = 'O', long = "optimize", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// Codegen and tool `key=value` (`-C help` lists them).
    #[arg(short = 'C', long = "codegen", value_name = "KEY=VALUE")]
    tool: Vec<String>,
    /// What wasm may do: guest controls and limits (`-W help` lists them).
    #[arg(short = 'W', long = "wasm", value_name = "KEY=VALUE")]
    wasm: Vec<String>,
    /// Debugging `key=value` (`-D help` lists them).
    #[arg(short = 'D', long = "debug", value_name = "KEY=VALUE")]
    debug: Vec<String>,
    /// Options from a TOML file in wasmtime's format: tables `[optimize]`, `[codegen]`,
    /// `[debug]`, `[wasm]`, `[wasi]` of the groups' keys; flags on the command line win.
    #[arg(long = "config", value_name = "FILE")]
    config_file: Option<PathBuf>,
}

/// The settings of wasmtime's cache configuration that Kiln's cache has no use for (it keeps
/// no compressed copies and cleans up only on `kiln cache clean`): accepted, and said to
/// have no effect.
const UNUSED_CACHE_SETTINGS: &[&str] = &[
    "worker-event-queue-size",
    "baseline-compression-level",
    "optimized-compression-level",
    "optimized-compression-usage-counter-threshold",
    "cleanup-interval",
    "optimizing-compression-task-timeout",
    "allowed-clock-drift-for-files-from-future",
    "file-count-soft-limit",
    "files-total-size-soft-limit",
    "file-count-limit-percent-if-deleting",
    "files-total-size-limit-percent-if-deleting",
];

/// A cache configuration file in wasmtime's format: whether the cache is on and its
/// directory, from the `[cache]` table's `enabled` and `directory` (an absolute path).
fn read_cache_config(path: &std::path::Path) -> Result<(bool, Option<PathBuf>)> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).with_context(|| format!("-C cache-config: cannot read {shown}"))?;
    let table: toml::Table = toml::from_str(&text).with_context(|| format!("-C cache-config {shown}: not TOML"))?;
    let Some(toml::Value::Table(cache)) = table.get("cache") else {
        bail!("-C cache-config {shown}: the settings go in a [cache] table");
    };
    let (mut enabled, mut directory, mut unused) = (true, None, Vec::new());
    for (key, value) in cache {
        match (key.as_str(), value) {
            ("enabled", toml::Value::Boolean(b)) => enabled = *b,
            ("directory", toml::Value::String(d)) if std::path::Path::new(d).is_absolute() => {
                directory = Some(PathBuf::from(d));
            }
            ("directory", _) => bail!("-C cache-config {shown}: `directory` must be an absolute path"),
            (key, _) if UNUSED_CACHE_SETTINGS.contains(&key) => unused.push(format!("`{key}`")),
            (key, _) => bail!("-C cache-config {shown}: unknown setting `{key}` (known: enabled, directory)"),
        }
    }
    if !unused.is_empty() {
        complain(format_args!("warning: -C cache-config {shown}: {}: no effect in Kiln's cache\n", unused.join(", ")));
    }
    Ok((enabled, directory))
}

/// The `--config` file's entries, as `key=value` per table.
#[derive(Default)]
struct ConfigFile {
    optimize: Vec<String>,
    codegen: Vec<String>,
    debug: Vec<String>,
    wasm: Vec<String>,
    wasi: Vec<String>,
}

impl ConfigFile {
    fn read(path: &std::path::Path) -> Result<ConfigFile> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let table: toml::Table =
            toml::from_str(&text).with_context(|| format!("--config {}: not TOML", path.display()))?;
        let mut file = ConfigFile::default();
        for (name, entries) in &table {
            let group = match name.as_str() {
                "optimize" => &mut file.optimize,
                "codegen" => &mut file.codegen,
                "debug" => &mut file.debug,
                "wasm" => &mut file.wasm,
                "wasi" => &mut file.wasi,
                _ => bail!(
                    "--config {}: unknown table [{name}] (known: optimize, codegen, debug, wasm, wasi)",
                    path.display()
                ),
            };
            let toml::Value::Table(entries) = entries else {
                bail!("--config {}: `{name}` must be a table, [{name}]", path.display());
            };
            for (key, value) in entries {
                let value = match value {
                    toml::Value::Boolean(b) => if *b { "y" } else { "n" }.to_string(),
                    toml::Value::Integer(n) => n.to_string(),
                    toml::Value::Float(x) => x.to_string(),
                    toml::Value::String(s) => s.clone(),
                    _ => bail!("--config {}: [{name}] {key} must be a boolean, number or string", path.display()),
                };
                group.push(format!("{key}={value}"));
            }
        }
        Ok(file)
    }
}

/// What [`Options::parse`] makes of the groups.
struct Parsed {
    config: Config,
    wasm: WasmOptions,
    cache: Option<PathBuf>,
}

/// The `-C` keys, with their values and doc.
const CODEGEN_KEYS: &[(&str, &str)] = &[
    ("cache", "y|n (default y): the compilation cache"),
    ("cache-config", "FILE: the cache's settings, in wasmtime's TOML format ([cache] directory = \"/abs/path\")"),
    ("parallel-compilation", "y|n (default y): compile functions on several threads (the artifact is the same)"),
    ("cranelift-NAME", "VALUE: a Cranelift setting, e.g. cranelift-has-avx2=false (`kiln settings` lists them)"),
];

/// The `-D` keys, with their values and doc.
const DEBUG_KEYS: &[(&str, &str)] = &[
    ("debug-info", "y|n: DWARF for the compiled code (unsupported)"),
    ("address-map", "y: a map from native code to wasm offsets, for backtraces (always recorded)"),
    ("logging", "y|n: log output (use RUST_LOG, e.g. RUST_LOG=kiln_compile=debug)"),
];

/// Every `key=value` of a group's flags, the comma-separated ones split.
pub(crate) fn items(flags: &[String]) -> impl Iterator<Item = (&str, &str)> {
    flags.iter().flat_map(|f| f.split(',')).map(|item| item.split_once('=').unwrap_or((item, "y")))
}

/// One line per key of a table of `(key, doc)`.
pub(crate) fn key_help(keys: &[(&str, &str)]) -> String {
    keys.iter().map(|(k, doc)| format!("  {k}={doc}\n")).collect()
}

impl Options {
    /// Reads `--config`, putting its entries before each group's flags (so that the flags,
    /// read later, win); returns its `[wasi]` entries.
    fn read_config_file(&mut self) -> Result<Vec<String>> {
        let Some(path) = &self.config_file else { return Ok(Vec::new()) };
        let file = ConfigFile::read(path)?;
        self.options.splice(0..0, file.optimize);
        self.tool.splice(0..0, file.codegen);
        self.debug.splice(0..0, file.debug);
        self.wasm.splice(0..0, file.wasm);
        Ok(file.wasi)
    }

    /// The help a group was asked for (`-O help`, …), if any.
    fn help(&self) -> Option<String> {
        let asked = |flags: &[String]| items(flags).any(|(k, _)| k == "help");
        if asked(&self.options) {
            return Some(format!("-O: optimization and memory layout\n{}", settings::help(settings::Group::Optimize)));
        }
        if asked(&self.wasm) {
            return Some(wasm_options::help());
        }
        if asked(&self.tool) {
            return Some(format!("-C: codegen and tools\n{}", key_help(CODEGEN_KEYS)));
        }
        if asked(&self.debug) {
            return Some(format!("-D: debugging\n{}", key_help(DEBUG_KEYS)));
        }
        None
    }

    fn config(&self) -> Result<Config> {
        Ok(self.parse()?.config)
    }

    /// Every group parsed once: the engine's settings (the cache's directory among them),
    /// the guest controls of `-W`, and that directory for `run`'s grant checks.
    fn parse(&self) -> Result<Parsed> {
        let mut config = Config::new();
        let wasm = WasmOptions::parse(&self.wasm)?;
        wasm.configure(&mut config)?;
        for (k, v) in items(&self.options) {
            config.set(k, v).map_err(|e| match e {
                kiln::Error::Setting { message, .. } => anyhow!("-O {k}={v}: {message} (-O help describes them)"),
                other => other.into(),
            })?;
        }
        for (k, v) in items(&self.debug) {
            match k {
                "debug-info" if kiln::parse_bool(k, v)? => {
                    return Err(kiln::Error::Unsupported(format!("-D {k} (not implemented yet)")).into());
                }
                "address-map" if !kiln::parse_bool(k, v)? => {
                    return Err(kiln::Error::Unsupported(format!("-D {k}=n (the map is always recorded)")).into());
                }
                "debug-info" | "address-map" => {}
                "logging" => {}
                _ => bail!("-D {k}: unknown option; the known ones are:\n{}", key_help(DEBUG_KEYS)),
            }
        }
        for (k, v) in items(&self.tool) {
            match k {
                "cache" | "cache-config" => {}
                "parallel-compilation" => {
                    config.parallel_compilation(kiln::parse_bool(k, v)?);
                }
                _ => match k.strip_prefix("cranelift-") {
                    Some(name) => {
                        config.cranelift_flag_set(&name.replace('-', "_"), v);
                    }
                    None => bail!("-C {k}: unknown option; the known ones are:\n{}", key_help(CODEGEN_KEYS)),
                },
            }
        }
        let cache = self.cache_dir()?;
        config.cache_dir(cache.clone());
        Ok(Parsed { config, wasm, cache })
    }

    /// The compilation cache's directory (a `-C cache-config` file's, or the default),
    /// unless `-C cache=n` (or the file's `enabled = false`) turned it off.
    fn cache_dir(&self) -> Result<Option<PathBuf>> {
        let (mut cache, mut dir) = (true, None);
        for (k, v) in items(&self.tool) {
            match k {
                "cache" => cache = kiln::parse_bool(k, v)?,
                "cache-config" => {
                    let (enabled, directory) = read_cache_config(std::path::Path::new(v))?;
                    cache &= enabled;
                    dir = directory.or(dir);
                }
                _ => {}
            }
        }
        Ok(if cache { dir.or_else(kiln::default_cache_dir) } else { None })
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
        /// WASI `key=value` (`-S help` lists them).
        #[arg(short = 'S', long = "wasi", value_name = "KEY=VALUE")]
        wasi: Vec<String>,
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
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "FILE [ARGS]")]
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
        /// Compile for this target's baseline CPU instead of this host's (for x86-64 Linux,
        /// x86-64-v2), so the artifact runs on any such machine.
        #[arg(long, value_name = "TRIPLE")]
        target: Option<String>,
        /// The module or component (.wasm or .wat).
        file: Option<PathBuf>,
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
    /// Print the Cranelift settings Kiln compiles with and the CPU features its code would
    /// use, beside those this host has.
    Settings {
        /// For this target's baseline CPU instead of this host's.
        #[arg(long, value_name = "TRIPLE")]
        target: Option<String>,
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

fn compile(options: &Options, output: Option<&PathBuf>, target: Option<&str>, file: &PathBuf) -> Result<ExitCode> {
    let mut config = options.config()?;
    if let Some(triple) = target {
        config.target(triple);
    }
    let engine = Engine::new(&config)?;
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

/// `kiln settings`: the engine's settings that code depends on, then each CPU feature with
/// whether Kiln's code may use it and whether this host has it.
fn settings(target: Option<&str>) -> Result<ExitCode> {
    let mut config = Config::new();
    if let Some(triple) = target {
        config.target(triple);
    }
    let engine = Engine::new(&config)?;
    let entries = engine.artifact_settings();
    let value = |key: &str| entries.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str());
    let base = if target.is_some() { "baseline CPU" } else { "this host's CPU" };
    say(format_args!("target: {} ({base})", value("target")))?;
    say(format_args!("Cranelift settings:"))?;
    for (k, v) in &entries {
        if let Some(name) = k.strip_prefix("cranelift.") {
            say(format_args!("  {name} = {v}"))?;
        }
    }
    let host = kiln::host_cpu_features();
    say(format_args!("CPU features: {:<20} {:>5} {:>5}", "", "code", "host"))?;
    for (k, v) in &entries {
        if let Some(name) = k.strip_prefix("cpu.") {
            let has = host.iter().find(|(f, _)| *f == name).map_or("?", |(_, h)| if *h { "yes" } else { "no" });
            let uses = if v == "true" { "yes" } else { "no" };
            say(format_args!("  {name:<32} {uses:>5} {has:>5}"))?;
        }
    }
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
    let mut cli = Cli::parse_from(implicit_run(std::env::args_os().collect()));
    let read = match &mut cli.command {
        Command::Run { options, wasi, .. } => options.read_config_file().map(|w| {
            wasi.splice(0..0, w);
        }),
        Command::Compile { options, .. } | Command::Wast { options, .. } => options.read_config_file().map(drop),
        _ => Ok(()),
    };
    if let Err(e) = read {
        complain(format_args!("Error: {e:#}\n"));
        return ExitCode::FAILURE;
    }
    let help = match &cli.command {
        Command::Run { options, wasi, .. } => {
            options.help().or_else(|| items(wasi).any(|(k, _)| k == "help").then(run::WasiOptions::help))
        }
        Command::Compile { options, .. } | Command::Wast { options, .. } => options.help(),
        _ => None,
    };
    if let Some(help) = help {
        return match say(format_args!("{}", help.trim_end())) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
    let result = match &cli.command {
        Command::Run { options, invoke, dirs, envs, wasi, preloads, profile, allow_precompiled, argv0, program } => {
            let Some((file, args)) = program.split_first() else {
                complain(format_args!("error: a FILE to run is required (kiln run --help)\n"));
                return ExitCode::from(2);
            };
            let file = PathBuf::from(file);
            options.parse().and_then(|Parsed { mut config, wasm, cache }| {
                match profile.as_deref() {
                    None => {}
                    Some("perfmap") => {
                        config.profile_perfmap(true);
                    }
                    Some(other) => return Err(anyhow!("--profile {other}: unknown profiler (known: perfmap)")),
                }
                run::run(run::RunArgs {
                    config,
                    wasi: run::WasiOptions::parse(wasi)?,
                    wasm,
                    cache,
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
        Command::Compile { options, output, target, file: Some(file) } => {
            compile(options, output.as_ref(), target.as_deref(), file)
        }
        Command::Settings { target } => settings(target.as_deref()),
        Command::Compile { file: None, .. } => {
            complain(format_args!("error: a FILE to compile is required (kiln compile --help)\n"));
            return ExitCode::from(2);
        }
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
