//! `kiln run`: compile a module and run it. A WASI command has `_start` called with the
//! program's arguments (argv[0] is the file as given, or `--argv0`), the directories of `--dir`, the
//! variables of `--env`, the modules of `--preload`, and the host's standard streams; its
//! exit status is the one it passes to `proc_exit`. `--invoke NAME` calls another export with
//! arguments parsed as wasm values and prints its results. A component runs as a
//! `wasi:cli/command` instead (`component.rs`).
use crate::grants::Grants;
use crate::wasm_options::WasmOptions;
use anyhow::{Context, Result, anyhow, bail};
use kiln::{Config, Engine, Linker, Module, Store, StoreLimits, Val, ValType};
use kiln_wasi::{DirAccess, I32Exit, Refusal, WasiCtx};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The `-S` keys, with their values and doc.
const WASI_KEYS: &[(&str, &str)] = &[
    ("cli", "y|n (default y): give the program WASI's command-line interfaces (preview1, or WASI 0.2 for a component)"),
    ("inherit-env", "y|n (default n): pass the program every environment variable of the host"),
];

/// What `-S` asked for.
pub struct WasiOptions {
    /// Whether the program gets WASI at all (`-S cli=n`: only what `--preload` gives).
    pub cli: bool,
    inherit_env: bool,
}

impl Default for WasiOptions {
    fn default() -> Self {
        WasiOptions { cli: true, inherit_env: false }
    }
}

impl WasiOptions {
    /// Parse every `-S` option.
    pub fn parse(flags: &[String]) -> Result<WasiOptions> {
        let mut w = WasiOptions::default();
        for (key, value) in crate::items(flags) {
            let yes = kiln::parse_bool(key, value).map_err(|e| anyhow!("-S {key}={value}: {e}"));
            match key {
                "inherit-env" => w.inherit_env = yes?,
                "cli" => w.cli = yes?,
                _ => bail!("-S {key}: unknown option; the known ones are:\n{}", crate::key_help(WASI_KEYS)),
            }
        }
        Ok(w)
    }

    /// The `-S` keys.
    pub fn help() -> String {
        format!("-S: WASI\n{}", crate::key_help(WASI_KEYS))
    }
}

/// What `kiln run` was asked to do.
pub struct RunArgs<'a> {
    /// The engine's settings, the cache not yet among them.
    pub config: Config,
    /// The WASI options (`-S`).
    pub wasi: WasiOptions,
    /// The controls on the guest (`-W`).
    pub wasm: WasmOptions,
    /// The compilation cache's directory, if it is on.
    pub cache: Option<PathBuf>,
    pub invoke: Option<&'a str>,
    pub file: &'a Path,
    /// The program's argv[0], if not the file as given.
    pub argv0: Option<&'a str>,
    pub args: &'a [String],
    pub dirs: &'a [String],
    pub envs: &'a [String],
    pub preloads: &'a [String],
    pub allow_precompiled: bool,
}

/// The store's data: the program's WASI context and its resource limits.
struct Host {
    wasi: WasiCtx,
    limits: StoreLimits,
}

/// `HOST[::GUEST[::ro]]`.
fn parse_dir(spec: &str) -> Result<(PathBuf, String, DirAccess)> {
    let mut parts = spec.split("::");
    let host =
        parts.next().filter(|h| !h.is_empty()).ok_or_else(|| anyhow!("--dir {spec}: the host directory is empty"))?;
    let guest = parts.next().unwrap_or(host);
    let access = match parts.next() {
        None => DirAccess::ReadWrite,
        Some("ro") => DirAccess::ReadOnly,
        Some(other) => bail!("--dir {spec}: unknown access `{other}` (only `ro` is known)"),
    };
    if parts.next().is_some() {
        bail!("--dir {spec}: expected HOST[::GUEST[::ro]]");
    }
    Ok((PathBuf::from(host), guest.to_string(), access))
}

fn wasi_ctx(r: &RunArgs<'_>, dirs: &[(PathBuf, String, DirAccess)]) -> Result<WasiCtx> {
    let mut b = WasiCtx::builder();
    b.inherit_stdio();
    if r.invoke.is_none() {
        b.arg(r.argv0.map_or_else(|| r.file.display().to_string(), str::to_string)).args(r.args.iter().cloned());
    }
    if r.wasi.inherit_env {
        for (k, v) in std::env::vars() {
            b.env(k, v);
        }
    }
    for e in r.envs {
        match e.split_once('=') {
            Some((k, v)) => {
                b.env(k, v);
            }
            None => {
                if let Ok(v) = std::env::var(e) {
                    b.env(e.as_str(), v);
                }
            }
        }
    }
    for (spec, (host, guest, access)) in r.dirs.iter().zip(dirs) {
        b.preopened_dir(host, guest.clone(), *access).with_context(|| format!("--dir {spec}"))?;
    }
    Ok(b.build())
}

/// Whether the cache in `dir` may be used with these grants (not if the guest could write
/// it: it lies in a granted directory, or holds one), and whether the guest could read its
/// key. Such a key is discarded at once, so that no entry forged with it loads (the cache
/// starts over), and again after the run. Each decision is told on stderr once.
fn cache_for(dir: &Path, grants: &Grants) -> (bool, bool) {
    let key = kiln::cache_key_file(dir);
    let key_exposed = grants.holding(&key).inspect(|grant| {
        crate::complain(format_args!(
            "note: the compilation cache's key {} lies in {}, which the guest is granted; the key is discarded, and the cache starts over\n",
            key.display(),
            grant.display()
        ));
        if let Err(e) = kiln::discard_cache_key(dir) {
            crate::complain(format_args!("warning: cannot discard {}: {e}\n", key.display()));
        }
    });
    if let Some(grant) = grants.holding(dir).or_else(|| grants.inside(dir)) {
        crate::complain(format_args!(
            "note: the compilation cache is off for this run: {} and {}, which the guest is granted, overlap\n",
            dir.display(),
            grant.display()
        ));
        return (false, key_exposed.is_some());
    }
    (true, key_exposed.is_some())
}

/// Explain a failed instantiation: which flag would provide a missing import.
fn import_hint(module: &Module, linker: &Linker<Host>, store: &mut Store<Host>) -> Option<String> {
    for import in module.imports() {
        if linker.get(&mut *store, import.module(), import.name()).is_some() {
            continue;
        }
        return Some(if import.module() == kiln_wasi::MODULE {
            format!(
                "`{}` is not a function of WASI preview1, which is all Kiln provides under that name",
                import.name()
            )
        } else {
            format!(
                "`--preload {}=FILE.wasm` would provide module `{}` from a module that exports `{}`",
                import.module(),
                import.module(),
                import.name()
            )
        });
    }
    None
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

fn show(v: &Val, store: &impl kiln::AsContext) -> String {
    match v {
        Val::I32(v) => v.to_string(),
        Val::I64(v) => v.to_string(),
        Val::F32(b) => f32::from_bits(*b).to_string(),
        Val::F64(b) => f64::from_bits(*b).to_string(),
        Val::V128(v) => format!("{v:#034x}"),
        Val::FuncRef(None) | Val::ExternRef(None) | Val::AnyRef(None) | Val::ExnRef(None) => "null".into(),
        Val::FuncRef(Some(_)) => "<funcref>".into(),
        Val::ExnRef(Some(_)) => "<exnref>".into(),
        Val::ExternRef(Some(_)) => "<externref>".into(),
        Val::AnyRef(Some(r)) => match r.as_i31(store) {
            Ok(Some(i)) => format!("<i31 {}>", i.get_i32()),
            _ => "<anyref>".into(),
        },
    }
}

/// A program file as read once: its bytes (text already turned into the binary format when
/// it parses; otherwise left as they are, for the compiler to report), and whether they
/// hold a component (binary, text or artifact) rather than a module.
pub(crate) struct Program {
    pub bytes: Vec<u8>,
    pub is_component: bool,
}

/// Reads `file` once, for everything `kiln run` does with it.
pub(crate) fn read_program(file: &Path) -> Result<Program> {
    let mut bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let is_component = if bytes.starts_with(b"\x7fELF") {
        // An artifact that does not parse is left for the loader to report.
        let kind = kiln_environ::artifact::Artifact::parse(&bytes).map(|a| a.kind);
        kind.is_ok_and(|k| k == kiln_environ::artifact::ArtifactKind::Component)
    } else {
        bytes = binary(file, bytes)?;
        kiln_environ::component::is_component(&bytes)
    };
    Ok(Program { bytes, is_component })
}

/// The binary of a program read from `file`: `bytes` themselves, or the module or component
/// they are the text of (a syntax error names the file, line and column).
pub(crate) fn binary(file: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    match wat::parse_bytes(&bytes) {
        Ok(binary) => Ok(binary.into_owned()),
        Err(mut e) => {
            e.set_path(file);
            bail!("failed to parse {}: {e}", file.display())
        }
    }
}

/// Compile `file` (read as `bytes`), or load it if it is an artifact and precompiled ones are
/// allowed. An artifact the guest could change is read into memory rather than mapped: a
/// mapped file that shrinks under a running program would take its pages with it.
fn load(engine: &Engine, file: &Path, bytes: Vec<u8>, allow_precompiled: bool, grants: &Grants) -> Result<Module> {
    load_with(
        file,
        bytes,
        allow_precompiled,
        grants,
        // An unnamed module is named after its file in backtraces.
        |bytes| Module::new_with_name(engine, bytes, file.file_stem().map(|s| s.to_string_lossy()).as_deref()),
        |bytes| Module::deserialize_trusted(engine, bytes),
        |path| Module::deserialize_trusted_file(engine, path),
    )
}

/// What `load` does, for modules and components alike: `compile` the wasm, or, for an
/// artifact, refuse it unless `allow_precompiled`, then load it from the bytes (`from_bytes`,
/// when the guest could reach the file) or the file (`from_file`).
pub(crate) fn load_with<T>(
    file: &Path,
    bytes: Vec<u8>,
    allow_precompiled: bool,
    grants: &Grants,
    compile: impl FnOnce(&[u8]) -> kiln::Result<T>,
    from_bytes: impl FnOnce(Vec<u8>) -> kiln::Result<T>,
    from_file: impl FnOnce(&Path) -> kiln::Result<T>,
) -> Result<T> {
    if !bytes.starts_with(b"\x7fELF") {
        return compile(&bytes).with_context(|| format!("failed to compile {}", file.display()));
    }
    if !allow_precompiled {
        bail!(
            "{} is a precompiled artifact; its machine code runs as it is, so it runs only with --allow-precompiled (for trusted files)",
            file.display()
        );
    }
    // The user vouched for the file with --allow-precompiled; corruption and mismatched
    // settings are still refused.
    let loaded = match grants.reach(file) {
        Some(why) => {
            log::debug!("reading {} into memory: {why}", file.display());
            from_bytes(bytes)
        }
        None => from_file(file),
    };
    loaded.with_context(|| format!("failed to load {}", file.display()))
}

/// Run the module; the process's exit code.
pub fn run(mut r: RunArgs<'_>) -> Result<ExitCode> {
    let dirs = r.dirs.iter().map(|d| parse_dir(d)).collect::<Result<Vec<_>>>()?;
    let grants = Grants::new(dirs.iter().map(|(host, ..)| host.as_path()));
    let (use_cache, key_exposed) = r.cache.as_deref().map_or((false, false), |dir| cache_for(dir, &grants));
    r.config.cache_dir(r.cache.clone().filter(|_| use_cache));
    let result = Engine::new(&r.config).map_err(Into::into).and_then(|engine| run_with(&engine, &r, &dirs, &grants));
    if let (true, Some(dir)) = (key_exposed, &r.cache) {
        // A key made while the guest ran (by another Kiln) may have been read too.
        let _ = kiln::discard_cache_key(dir);
    }
    result
}

fn run_with(
    engine: &Engine,
    r: &RunArgs<'_>,
    dirs: &[(PathBuf, String, DirAccess)],
    grants: &Grants,
) -> Result<ExitCode> {
    let program = read_program(r.file)?;
    if program.is_component {
        return crate::component::run(engine, r, program.bytes, wasi_ctx(r, dirs)?, grants);
    }
    let module = load(engine, r.file, program.bytes, r.allow_precompiled, grants)?;
    let mut store = Store::new(engine, Host { wasi: wasi_ctx(r, dirs)?, limits: r.wasm.limits() });
    store.limiter(|h| &mut h.limits);
    r.wasm.start(engine, &mut store)?;
    let mut linker = Linker::new(engine);
    if r.wasi.cli {
        kiln_wasi::add_to_linker(&mut linker, |h: &mut Host| &mut h.wasi)?;
    }
    for p in r.preloads {
        let (name, path) = p.split_once('=').ok_or_else(|| anyhow!("--preload {p}: expected NAME=FILE"))?;
        let m = load(engine, Path::new(path), read_program(Path::new(path))?.bytes, r.allow_precompiled, grants)?;
        let instance = linker.instantiate(&mut store, &m).with_context(|| format!("failed to instantiate {path}"))?;
        linker.instance(&mut store, name, instance)?;
    }
    let instance = match linker.instantiate(&mut store, &module) {
        Ok(i) => i,
        // A trap in the start function is the program trapping: exit 134 with its backtrace.
        Err(e @ kiln::Error::Trap(..)) => return Err(e.into()),
        Err(e) => {
            let hint = import_hint(&module, &linker, &mut store).map(|h| format!("\nhint: {h}")).unwrap_or_default();
            bail!("failed to instantiate {}: {e}{hint}", r.file.display());
        }
    };
    let name = r.invoke.unwrap_or("_start");
    // A WASI reactor initializes itself before any other export is called.
    if r.invoke.is_some_and(|n| n != "_initialize")
        && let Some(init) = instance.get_func(&mut store, "_initialize")
    {
        init.call(&mut store, &[], &mut [])?;
    }
    let func = instance
        .get_func(&mut store, name)
        .ok_or_else(|| anyhow!("{} has no exported function `{name}`", r.file.display()))?;
    let ty = func.ty(&store);
    let params = if r.invoke.is_some() {
        if r.args.len() != ty.params().len() {
            bail!("`{name}` takes {} arguments ({ty}), {} given", ty.params().len(), r.args.len());
        }
        r.args.iter().zip(ty.params()).map(|(a, t)| parse_arg(a, *t)).collect::<Result<Vec<_>>>()?
    } else if !ty.params().is_empty() || !ty.results().is_empty() {
        bail!("`_start` must take and return nothing, but its type is {ty}; use --invoke to call it with values");
    } else {
        Vec::new()
    };
    let mut results: Vec<Val> = ty.results().iter().map(|_| Val::I32(0)).collect();
    let outcome = func.call(&mut store, &params, &mut results);
    let code = match outcome {
        Ok(()) => {
            for v in &results {
                crate::say(format_args!("{}", show(v, &store)))?;
            }
            ExitCode::SUCCESS
        }
        Err(kiln::Error::Host(e)) if e.downcast_ref::<I32Exit>().is_some() => {
            let I32Exit(status) = *e.downcast_ref::<I32Exit>().unwrap_or(&I32Exit(1));
            ExitCode::from(status as u8)
        }
        Err(e) => {
            sandbox_hint(&store.data().wasi);
            return Err(e.into());
        }
    };
    if code != ExitCode::SUCCESS {
        sandbox_hint(&store.data().wasi);
    }
    Ok(code)
}

/// After a failure, say which path the sandbox refused and how to grant it.
pub(crate) fn sandbox_hint(wasi: &WasiCtx) {
    match wasi.refusal() {
        Some(Refusal::Outside(p)) => crate::complain(format_args!(
            "hint: the program was refused `{p}`, which lies outside its preopened directories; `--dir HOST[::GUEST]` grants a directory\n"
        )),
        Some(Refusal::NotGranted(p)) => crate::complain(format_args!(
            "hint: the program was refused a change to `{p}`, under a read-only directory (`--dir HOST::GUEST::ro`)\n"
        )),
        None => {}
    }
}
