//! `kiln-fuzz mutate`: damaged inputs for the `kiln` command, each run in a child process
//! with a deadline, looking for crashes — death by a signal, a Rust panic (exit code 101),
//! or a hang. Exits 0 (ran), 1 (refused, or a failing program), 2 (usage) and 134 (a wasm
//! trap) are the command doing its job.
//!
//! Case `i` starts from differential case `i`'s module and is one of:
//!
//! - a module, mutated anywhere (structure-aware mutations included), run with `kiln run`;
//! - its artifact (from `kiln compile`, which is `Engine::precompile_module`: the command
//!   under test makes it, so that its settings are the command's own even when the fuzzer
//!   was built from other sources), mutated anywhere and left with its stale
//!   checksum, run with `kiln run --allow-precompiled`: the checksum and the ELF reader in
//!   front of it must refuse it cleanly;
//! - its artifact with its engine-info section mutated in place and the checksum recomputed
//!   ([`crate::seal`]): the settings must decode and compare, or be refused;
//! - its artifact with its module description mutated in place and resealed. The
//!   description must decode and check or be refused, but a description that decodes and
//!   disagrees with the machine code beside it (a table's size, a function's type) can make
//!   that code misbehave, as any artifact can — `--allow-precompiled` runs trusted files
//!   only — and one that changes an initial value is another program (the fuel global's
//!   1000 made -996 runs four billion iterations per loop): for these only a panic counts
//!   as a crash, not a signal or a hang.
//!
//! When the original module exports a function of numeric parameters, the run calls it
//! (`--invoke`) with arguments drawn from the case's stream, so that mutated code runs too.
//! The generator's fuel makes every module end, and the mutations that keep a module valid
//! leave its fuel accounting alone, but other changes can still make one that never ends: a
//! module that times out is run in wasmi as well, and counts as a hang only if wasmi ends
//! it within [`HANG_FUEL`].
use crate::child::{self, Ending};
use crate::generate;
use crate::mutation::{self, Shape};
use crate::outcome::Value;
use crate::rng::{Rng, Stream};
use crate::seal;
use crate::wasmi_side::{self, HANG_FUEL};
use anyhow::{Context, Result, bail};
use kiln_environ::artifact::{ENGINE_SECTION, MODULE_SECTION};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub seed: u64,
    /// The first case's index.
    pub start: u64,
    pub count: u64,
    /// The `kiln` binary.
    pub kiln: PathBuf,
    /// How long one run may take before it is killed and counted as a hang.
    pub timeout: Duration,
    /// Where crashes are written.
    pub out: PathBuf,
    /// Print every input's ending.
    pub verbose: bool,
}

/// What kind of input a case is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Wasm,
    Artifact,
    ResealedEngine,
    ResealedModule,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Wasm => "module",
            Kind::Artifact => "artifact",
            Kind::ResealedEngine => "resealed engine info",
            Kind::ResealedModule => "resealed description",
        }
    }

    fn extension(self) -> &'static str {
        if self == Kind::Wasm { "wasm" } else { "cwasm" }
    }

    /// Whether `ending` is a crash for an input of this kind.
    fn is_crash(self, ending: &Ending) -> bool {
        match self {
            Kind::ResealedModule => matches!(ending, Ending::Exited(status) if status.code() == Some(101)),
            _ => ending.is_crash(),
        }
    }
}

/// One crash, as written to the out directory.
#[derive(Clone, Debug)]
pub struct Crash {
    pub index: u64,
    pub summary: String,
    pub report: PathBuf,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    pub inputs: u64,
    /// How many inputs of each kind ended each way.
    pub endings: BTreeMap<(Kind, String), u64>,
    pub crashes: Vec<Crash>,
}

impl Report {
    /// How many inputs of `kind` ended with one of `labels`.
    pub fn count(&self, kind: Kind, labels: &[&str]) -> u64 {
        self.endings.iter().filter(|((k, l), _)| *k == kind && labels.contains(&l.as_str())).map(|(_, n)| n).sum()
    }
}

/// The `kiln` binary: `explicit` if given, else `$KILN_BIN`, else `kiln` beside this
/// executable (cargo puts both in the same target directory).
///
/// # Errors
/// When none of them exists.
pub fn find_kiln(explicit: Option<&Path>) -> Result<PathBuf> {
    let candidate = match explicit {
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os("KILN_BIN") {
            Some(p) => PathBuf::from(p),
            None => std::env::current_exe()
                .context("cannot find this executable")?
                .parent()
                .context("this executable has no directory")?
                .join("kiln"),
        },
    };
    if !candidate.is_file() {
        bail!(
            "no kiln binary at {} (build it with `cargo build -p kiln-cli`, or name it with --kiln or KILN_BIN)",
            candidate.display()
        );
    }
    Ok(candidate)
}

/// The exported functions of `wasm` (a module without imports) whose parameters are all
/// numbers, which `kiln run --invoke` can pass: name and parameter types.
fn invocable(wasm: &[u8]) -> Vec<(String, Vec<wasmparser::ValType>)> {
    use wasmparser::{ExternalKind, Payload, ValType};
    let (mut types, mut funcs, mut exports) = (Vec::new(), Vec::new(), Vec::new());
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else { return Vec::new() };
        match payload {
            Payload::TypeSection(r) => {
                for t in r.into_iter_err_on_gc_types() {
                    let Ok(t) = t else { return Vec::new() };
                    types.push(t.params().to_vec());
                }
            }
            Payload::FunctionSection(r) => funcs.extend(r.into_iter().flatten()),
            Payload::ExportSection(r) => exports
                .extend(r.into_iter().flatten().filter(|e| e.kind == ExternalKind::Func).map(|e| (e.name, e.index))),
            _ => {}
        }
    }
    exports
        .into_iter()
        .filter(|(name, _)| !name.contains('\0'))
        .filter_map(|(name, f)| {
            let params = types.get(*funcs.get(f as usize)? as usize)?.clone();
            let numeric = params.iter().all(|t| matches!(t, ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64));
            numeric.then(|| (name.to_string(), params))
        })
        .collect()
}

/// An argument of type `ty` for `--invoke`.
fn invoke_arg(rng: &mut Rng, ty: wasmparser::ValType) -> Value {
    use wasmparser::ValType;
    let int = *rng.pick(&[0i64, 1, -1, 7, 255, 65536, i32::MIN as i64, i32::MAX as i64, i64::MIN, i64::MAX]);
    match ty {
        ValType::I32 => Value::I32(int as i32),
        ValType::F32 => Value::F32(rng.pick(&[0.0f32, -0.0, 1.5, -1.0, f32::MAX, f32::INFINITY, f32::NAN]).to_bits()),
        ValType::F64 => {
            Value::F64(rng.pick(&[0.0f64, -0.0, 1.5, -1.0, f64::MAX, f64::NEG_INFINITY, f64::NAN]).to_bits())
        }
        _ => Value::I64(int),
    }
}

/// `v` as `kiln run --invoke` reads it.
fn cli_text(v: &Value) -> String {
    match *v {
        Value::I32(v) => v.to_string(),
        Value::I64(v) => v.to_string(),
        Value::F32(b) => f32::from_bits(b).to_string(),
        Value::F64(b) => f64::from_bits(b).to_string(),
        // `invocable` offers numbers only.
        other => other.to_string(),
    }
}

/// One case's input: its kind, bytes, what was done to them, and the `--invoke` call.
struct Input {
    kind: Kind,
    bytes: Vec<u8>,
    mutations: Vec<String>,
    invoke: Option<(String, Vec<Value>)>,
}

/// What compiling a case's original module with the `kiln` under test gave.
enum Compiled {
    Artifact(Vec<u8>),
    /// It refused (a module it does not support, say): the case is mutated as a module.
    Refused,
    /// It crashed, on a module that is valid: a finding of its own.
    Crashed(Box<(Command, child::Run)>),
}

/// The artifact of `wasm`, made by the `kiln` under test in `dir`.
fn compile(options: &Options, dir: &Path, wasm: &[u8]) -> Result<Compiled> {
    let (source, artifact) = (dir.join("original.wasm"), dir.join("original.cwasm"));
    std::fs::write(&source, wasm).with_context(|| format!("cannot write {}", source.display()))?;
    let _ = std::fs::remove_file(&artifact);
    let command = || {
        let mut c = Command::new(&options.kiln);
        c.env("RUST_BACKTRACE", "1").args(["compile", "-C", "cache=n", "-o"]).arg(&artifact).arg(&source);
        c
    };
    let run = child::run(command(), options.timeout, 0)?;
    if run.ending.is_crash() {
        return Ok(Compiled::Crashed(Box::new((command(), run))));
    }
    let succeeded = matches!(run.ending, Ending::Exited(s) if s.success());
    Ok(match std::fs::read(&artifact) {
        Ok(bytes) if succeeded => Compiled::Artifact(bytes),
        _ => Compiled::Refused,
    })
}

/// A case: the input to run, or the crash of compiling its original module.
enum Case {
    Input(Input),
    CompileCrash(Box<(Input, Command, child::Run)>),
}

/// Case `index`.
fn case(options: &Options, dir: &Path, index: u64) -> Result<Case> {
    let wasm = generate::module(options.seed, index)?;
    let mut rng = Rng::for_case(options.seed, index, Stream::Mutations);
    let candidates = invocable(&wasm);
    let invoke = (!candidates.is_empty()).then(|| {
        let (name, params) = rng.pick(&candidates).clone();
        let args = params.into_iter().map(|t| invoke_arg(&mut rng, t)).collect();
        (name, args)
    });
    let kind = match rng.below(20) {
        0..=11 => Kind::Wasm,
        12..=14 => Kind::Artifact,
        15..=16 => Kind::ResealedEngine,
        _ => Kind::ResealedModule,
    };
    let artifact = match kind {
        Kind::Wasm => None,
        _ => match compile(options, dir, &wasm)? {
            Compiled::Artifact(bytes) => Some(bytes),
            Compiled::Refused => None,
            Compiled::Crashed(crashed) => {
                let (command, run) = *crashed;
                let mutations = vec!["none: compiling the original module crashed".into()];
                let input = Input { kind: Kind::Wasm, bytes: wasm, mutations, invoke: None };
                return Ok(Case::CompileCrash(Box::new((input, command, run))));
            }
        },
    };
    let Some(mut bytes) = artifact else {
        // A module Kiln does not compile is mutated as a module instead.
        let mut bytes = wasm;
        let mutations = mutation::mutate(&mut rng, &mut bytes, Shape::Wasm);
        return Ok(Case::Input(Input { kind: Kind::Wasm, bytes, mutations, invoke }));
    };
    let mutations = match kind {
        Kind::ResealedEngine | Kind::ResealedModule => {
            let section = if kind == Kind::ResealedEngine { ENGINE_SECTION } else { MODULE_SECTION };
            let range = seal::section_range(&bytes, section).with_context(|| format!("the artifact's {section}"))?;
            let mut done = mutation::mutate_in_place(&mut rng, &mut bytes, range);
            if !seal::reseal(&mut bytes) {
                done.push("(could not reseal)".into());
            }
            done
        }
        _ => mutation::mutate(&mut rng, &mut bytes, Shape::Bytes),
    };
    Ok(Case::Input(Input { kind, bytes, mutations, invoke }))
}

/// The command that runs `file`.
fn command(kiln: &Path, input: &Input, file: &Path) -> Command {
    let mut c = Command::new(kiln);
    c.env("RUST_BACKTRACE", "1").args(["run", "-C", "cache=n"]);
    if input.kind != Kind::Wasm {
        c.arg("--allow-precompiled");
    }
    if let Some((name, _)) = &input.invoke {
        c.arg(format!("--invoke={name}"));
    }
    c.arg(file);
    if let Some((_, args)) = &input.invoke {
        c.args(args.iter().map(cli_text));
    }
    c
}

/// Write a crash's input and its description into the out directory. `cmd` ran on a file in
/// the temporary directory `tmp`, which the description names by the saved copy instead.
fn write_crash(
    options: &Options,
    tmp: &Path,
    index: u64,
    input: &Input,
    cmd: &Command,
    run: &child::Run,
) -> Result<PathBuf> {
    std::fs::create_dir_all(&options.out).with_context(|| format!("cannot create {}", options.out.display()))?;
    let base = options.out.join(format!("mutate-{}-{index}", options.seed));
    let file = base.with_extension(input.kind.extension());
    std::fs::write(&file, &input.bytes)?;
    let report = base.with_extension("txt");
    let tmp = tmp.to_string_lossy();
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| {
            let a = a.to_string_lossy();
            let ran_on = a.starts_with(&*tmp) && a.ends_with(input.kind.extension());
            if ran_on { file.display().to_string() } else { a.into_owned() }
        })
        .collect();
    let text = format!(
        "mutate crash: seed {}, input {index} ({})\n\
         reproduce: kiln-fuzz mutate --seed {} --start {index} --count 1\n\
         input: {}\n\
         command: {} {}\n\
         ending: {} after {:.2?}\n\
         mutations of differential case {index}'s {}:\n  {}\n\n\
         standard error:\n{}",
        options.seed,
        input.kind.name(),
        options.seed,
        file.display(),
        cmd.get_program().to_string_lossy(),
        args.join(" "),
        run.ending.label(),
        run.elapsed,
        if input.kind == Kind::Wasm { "module" } else { "artifact" },
        input.mutations.join("\n  "),
        run.stderr
    );
    std::fs::write(&report, text)?;
    Ok(report)
}

/// Run the cases of `options`, printing one line per crash as it is found.
///
/// # Errors
/// When a module cannot be generated, a child cannot be started, or a file cannot be
/// written.
pub fn run(options: &Options) -> Result<Report> {
    let tmp = std::env::temp_dir().join(format!("kiln-fuzz-{}-{}", std::process::id(), options.seed));
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut report = Report::default();
    let result = (|| -> Result<()> {
        for index in options.start..options.start + options.count {
            let (input, cmd, run) = match case(options, &tmp, index)? {
                Case::Input(input) => {
                    let file = tmp.join(format!("input.{}", input.kind.extension()));
                    std::fs::write(&file, &input.bytes).with_context(|| format!("cannot write {}", file.display()))?;
                    let run = child::run(command(&options.kiln, &input, &file), options.timeout, 0)?;
                    let cmd = command(&options.kiln, &input, &file);
                    (input, cmd, run)
                }
                Case::CompileCrash(crashed) => *crashed,
            };
            report.inputs += 1;
            if options.verbose {
                let first = run.stderr.lines().next().unwrap_or("");
                let (kind, mutations) = (input.kind.name(), input.mutations.join("; "));
                println!("input {index} ({kind}: {mutations}): {} in {:.2?}: {first}", run.ending.label(), run.elapsed);
            }
            // A module that runs for as long in wasmi just runs for long: no hang of Kiln's.
            let endless = matches!(run.ending, Ending::TimedOut)
                && input.kind == Kind::Wasm
                && wasmi_side::outlasts(
                    &input.bytes,
                    input.invoke.as_ref().map(|(n, a)| (n.as_str(), &a[..])),
                    HANG_FUEL,
                );
            let label = if endless { "timeout, and as long in wasmi".into() } else { run.ending.label() };
            *report.endings.entry((input.kind, label)).or_default() += 1;
            if input.kind.is_crash(&run.ending) && !endless {
                let path = write_crash(options, &tmp, index, &input, &cmd, &run)?;
                let summary = format!("{} ({}): {}", input.kind.name(), input.mutations.join("; "), run.ending.label());
                println!("crash: seed {} input {index}: {summary} ({})", options.seed, path.display());
                report.crashes.push(Crash { index, summary, report: path });
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result.map(|()| report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `kiln` that dies by a signal: every input is a crash, written out with its command.
    #[test]
    fn crashes_are_counted_and_written() {
        let dir = std::env::temp_dir().join(format!("kiln-fuzz-crash-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("kiln");
        std::fs::write(&fake, "#!/bin/sh\nkill -SEGV $$\n").unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let out = dir.join("out");
        let options = Options {
            seed: 1,
            start: 0,
            count: 3,
            kiln: fake,
            timeout: Duration::from_secs(10),
            out: out.clone(),
            verbose: false,
        };
        let report = run(&options).unwrap();
        assert_eq!((report.inputs, report.crashes.len()), (3, 3));
        for crash in &report.crashes {
            let text = std::fs::read_to_string(&crash.report).unwrap();
            assert!(text.contains("ending: signal 11"), "{text}");
            assert!(text.contains(&out.display().to_string()), "the command names the saved input: {text}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn exports_with_numeric_parameters_are_invocable() {
        let wasm = wat::parse_str(
            r#"(module (func (export "a") (param i32 f64)) (func (export "b") (param externref))
                       (func (export "c")) (memory (export "m") 1))"#,
        )
        .unwrap();
        let names: Vec<String> = invocable(&wasm).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "c"]);
    }
}
