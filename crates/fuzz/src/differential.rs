//! `kiln-fuzz differential`: each case's module runs in Kiln and in wasmi, and everything the
//! spec fixes is compared.
//!
//! Per module: compile and instantiate in both (Kiln under one of several engine
//! configurations, drawn per case); compare whether each instantiated (a start function that
//! traps, a segment out of bounds) and the exported state; then call every exported
//! function, in export order, [`ROUNDS`] times over, with arguments drawn from the case's
//! stream, and after each call compare the outcome (results, or trap and its kind) and the
//! exported state again: every memory's size and bytes, every global's value, every table's
//! size. A module Kiln refuses as `unsupported:` is skipped. A module that uses exception
//! handling or GC, which wasmi does not run, runs in Kiln alone: its calls are made the same way,
//! and only a crash (which the worker processes catch) or a panic counts.
//!
//! After a trap the module goes on with its next export: a trap leaves an instance usable,
//! with the side effects made before it in place, and both engines must agree on those too,
//! which the state comparison checks. After a stack overflow on either side the module stops
//! (see [`Verdict::Inconclusive`]), and so it does at its first divergence, since everything
//! after one would differ for the same reason.
use crate::args::arg;
use crate::generate;
use crate::kiln_side::KilnSide;
use crate::outcome::{Outcome, Value, Verdict};
use crate::rng::{Rng, Stream};
use crate::side::{NoInstance, Side};
use crate::wasmi_side::{self, WasmiSide};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// How many times each export is called (with fresh arguments each time).
pub const ROUNDS: usize = 2;

/// The native stack the run gets: Kiln's `max_wasm_stack` must fit in its thread's stack.
const THREAD_STACK: usize = 64 << 20;

/// The Kiln configurations a case may run under, as `kiln -O` settings: the default, explicit
/// bounds checks, no copy-on-write images or lazy tables, inlining at its most permissive,
/// and fuel and epoch checks compiled in (with a budget and a deadline no case reaches).
/// Every one allows a deep wasm stack, so that the generator's fuel runs out before Kiln's
/// stack does.
const KILN_CONFIGS: &[(&str, &[(&str, &str)])] = &[
    ("default", &[]),
    ("bounds-checks", &[("memory-reservation", "0"), ("memory-guard-size", "0")]),
    ("eager-init", &[("memory-init-cow", "n"), ("table-lazy-init", "n")]),
    (
        "inline-all",
        &[
            ("inlining", "y"),
            ("inlining-small-callee-size", "4294967295"),
            ("inlining-sum-size-threshold", "4294967295"),
        ],
    ),
    ("guest-control", &[("consume-fuel", "y"), ("epoch-interruption", "y")]),
];

const KILN_STACK: &str = "16m";

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub seed: u64,
    /// The first case's index.
    pub start: u64,
    pub count: u64,
    /// Where divergences are written.
    pub out: PathBuf,
    /// Print every module's calls and outcomes.
    pub verbose: bool,
}

/// One divergence, as written to the out directory.
#[derive(Clone, Debug)]
pub struct Divergence {
    pub index: u64,
    /// One line: what differed.
    pub summary: String,
    /// The `.txt` file that describes it.
    pub report: PathBuf,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    pub modules: u64,
    /// Calls made in both engines.
    pub calls: u64,
    /// Modules Kiln refused as unsupported, by message.
    pub unsupported: BTreeMap<String, u64>,
    /// Modules cut short by a stack overflow on either side.
    pub inconclusive: u64,
    /// Modules that neither engine instantiated.
    pub not_instantiated: u64,
    /// Modules with features the oracle lacks (exceptions, GC), run in Kiln alone.
    pub kiln_only: u64,
    pub divergences: Vec<Divergence>,
}

impl Report {
    /// Modules skipped as unsupported.
    pub fn skipped(&self) -> u64 {
        self.unsupported.values().sum()
    }

    /// The report as lines that [`Report::absorb`] reads back, each starting with `@`: how a
    /// worker process tells its supervisor ([`crate::isolate`]) what it found.
    pub fn machine_lines(&self) -> String {
        let flat = |s: &str| s.replace(|c: char| c.is_control(), "?");
        let mut out = format!(
            "@modules {}\n@calls {}\n@not-instantiated {}\n@inconclusive {}\n@kiln-only {}\n",
            self.modules, self.calls, self.not_instantiated, self.inconclusive, self.kiln_only
        );
        for (why, n) in &self.unsupported {
            let _ = writeln!(out, "@unsupported {n}\t{}", flat(why));
        }
        for d in &self.divergences {
            let _ = writeln!(out, "@divergence {}\t{}\t{}", d.index, d.report.display(), flat(&d.summary));
        }
        out
    }

    /// Add what a worker's [`Report::machine_lines`] in `text` say; other lines are ignored.
    pub fn absorb(&mut self, text: &str) {
        for line in text.lines() {
            let Some((key, rest)) = line.strip_prefix('@').and_then(|l| l.split_once(' ')) else { continue };
            let number = |s: &str| s.parse::<u64>().unwrap_or(0);
            match key {
                "modules" => self.modules += number(rest),
                "calls" => self.calls += number(rest),
                "not-instantiated" => self.not_instantiated += number(rest),
                "inconclusive" => self.inconclusive += number(rest),
                "kiln-only" => self.kiln_only += number(rest),
                "unsupported" => {
                    if let Some((n, why)) = rest.split_once('\t') {
                        *self.unsupported.entry(why.to_string()).or_default() += number(n);
                    }
                }
                "divergence" => {
                    let mut parts = rest.splitn(3, '\t');
                    if let (Some(index), Some(report), Some(summary)) = (parts.next(), parts.next(), parts.next()) {
                        let (index, report) = (number(index), PathBuf::from(report));
                        self.divergences.push(Divergence { index, summary: summary.to_string(), report });
                    }
                }
                _ => {}
            }
        }
    }
}

/// The engines of a run.
struct Engines {
    kiln: Vec<(&'static str, kiln::Engine)>,
    wasmi: wasmi::Engine,
}

impl Engines {
    fn new() -> Result<Engines> {
        let mut kiln = Vec::new();
        for (name, settings) in KILN_CONFIGS {
            let mut config = kiln::Config::new();
            config.set("max-wasm-stack", KILN_STACK)?;
            for (k, v) in *settings {
                config.set(k, v)?;
            }
            kiln.push((*name, kiln::Engine::new(&config)?));
        }
        Ok(Engines { kiln, wasmi: wasmi_side::engine() })
    }
}

/// The module's exports in order: name and kind.
fn exports(wasm: &[u8]) -> Result<Vec<(String, wasmparser::ExternalKind)>> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::ExportSection(reader) = payload? {
            for e in reader {
                let e = e?;
                out.push((e.name.to_string(), e.kind));
            }
        }
    }
    Ok(out)
}

/// The first difference between the exported state of the two sides, if any.
fn state_difference(
    kiln: &mut KilnSide,
    wasmi: &mut WasmiSide,
    exports: &[(String, wasmparser::ExternalKind)],
) -> Option<String> {
    use wasmparser::ExternalKind;
    for (name, kind) in exports {
        match kind {
            ExternalKind::Memory => match (kiln.memory(name), wasmi.memory(name)) {
                (Some(a), Some(b)) if a.len() != b.len() => {
                    return Some(format!("memory `{name}` size: kiln {} bytes, wasmi {} bytes", a.len(), b.len()));
                }
                (Some(a), Some(b)) if a != b => {
                    if let Some(at) = a.iter().zip(b).position(|(x, y)| x != y) {
                        return Some(format!(
                            "memory `{name}` byte 0x{at:x}: kiln 0x{:02x}, wasmi 0x{:02x}",
                            a[at], b[at]
                        ));
                    }
                }
                (Some(_), Some(_)) => {}
                (a, b) => return Some(format!("memory `{name}`: kiln has {}, wasmi {}", a.is_some(), b.is_some())),
            },
            ExternalKind::Global => match (kiln.global(name), wasmi.global(name)) {
                (Some(a), Some(b)) if a.agrees(&b) => {}
                (a, b) => return Some(format!("global `{name}`: kiln {}, wasmi {}", show(a), show(b))),
            },
            ExternalKind::Table => match (kiln.table_size(name), wasmi.table_size(name)) {
                (Some(a), Some(b)) if a == b => {}
                (a, b) => return Some(format!("table `{name}` size: kiln {a:?}, wasmi {b:?}")),
            },
            _ => {}
        }
    }
    None
}

fn show(v: Option<Value>) -> String {
    v.map_or_else(|| "nothing".into(), |v| v.to_string())
}

fn show_args(args: &[Value]) -> String {
    args.iter().map(Value::to_string).collect::<Vec<_>>().join(", ")
}

/// What became of one module.
enum ModuleResult {
    /// Compared to the end (or to a stack overflow): how many calls, and their log.
    Compared {
        calls: u64,
        inconclusive: bool,
        log: String,
    },
    NotInstantiated,
    Unsupported(String),
    /// Run in Kiln alone (the oracle lacks a feature it uses): how many calls, and their log.
    KilnOnly {
        calls: u64,
        log: String,
    },
    /// The first divergence, and the log of what led to it.
    Diverged {
        calls: u64,
        summary: String,
        log: String,
    },
}

/// The names of the exported functions, in export order.
fn exported_funcs(exports: &[(String, wasmparser::ExternalKind)]) -> Vec<&str> {
    exports.iter().filter(|(_, k)| *k == wasmparser::ExternalKind::Func).map(|(n, _)| n.as_str()).collect()
}

/// Whether wasmi, the oracle, runs `wasm`: it validates without exception handling and GC.
fn oracle_runs(wasm: &[u8]) -> bool {
    use wasmparser::WasmFeatures as F;
    let features = generate::features() - F::EXCEPTIONS - F::GC - F::FUNCTION_REFERENCES;
    wasmparser::Validator::new_with_features(features).validate_all(wasm).is_ok()
}

/// Run a module that only Kiln runs: every export [`ROUNDS`] times, as a comparison would.
fn kiln_alone(kiln: Result<KilnSide, NoInstance>, wasm: &[u8], rng: &mut Rng) -> Result<ModuleResult> {
    let Ok(mut kiln) = kiln else { return Ok(ModuleResult::KilnOnly { calls: 0, log: String::new() }) };
    let exports = exports(wasm)?;
    let funcs = exported_funcs(&exports);
    let (mut calls, mut log) = (0, String::new());
    for _ in 0..ROUNDS {
        for name in &funcs {
            let params = kiln.params(name).unwrap_or_default();
            let args: Vec<Value> = params.into_iter().map(|t| arg(rng, t, funcs.len())).collect();
            let outcome = kiln.call(name, &args);
            calls += 1;
            let _ = writeln!(log, "call `{name}`({})\n  kiln:  {outcome}", show_args(&args));
        }
    }
    Ok(ModuleResult::KilnOnly { calls, log })
}

/// Run one module in both engines; Kiln's configuration is `config`'s, or else drawn from the
/// case's stream.
fn compare_module(
    engines: &Engines,
    seed: u64,
    index: u64,
    wasm: &[u8],
    config: Option<&str>,
) -> Result<(ModuleResult, &'static str)> {
    let mut rng = Rng::for_case(seed, index, Stream::Calls);
    let drawn = rng.index(engines.kiln.len());
    let chosen = match config {
        Some(name) => engines.kiln.iter().position(|(n, _)| *n == name).with_context(|| {
            let known: Vec<&str> = KILN_CONFIGS.iter().map(|(n, _)| *n).collect();
            format!("unknown configuration `{name}` (known: {})", known.join(", "))
        })?,
        None => drawn,
    };
    let (config, kiln_engine) = &engines.kiln[chosen];
    let kiln = KilnSide::new(kiln_engine, wasm);
    if let Err(NoInstance::Unsupported(why)) = &kiln {
        return Ok((ModuleResult::Unsupported(why.clone()), config));
    }
    if !oracle_runs(wasm) {
        return Ok((kiln_alone(kiln, wasm, &mut rng)?, config));
    }
    let wasmi = WasmiSide::new(&engines.wasmi, wasm);
    let diverged = |calls, summary: String, log: String| Ok((ModuleResult::Diverged { calls, summary, log }, *config));
    let (mut kiln, mut wasmi) = match (kiln, wasmi) {
        (Ok(k), Ok(w)) => (k, w),
        (Err(NoInstance::Instantiation(a)), Err(NoInstance::Instantiation(b))) => {
            // Both refused to instantiate. Traps must agree in kind; other failures are each
            // engine's own words.
            if let (Outcome::Trapped(_), Outcome::Trapped(_)) = (&a, &b)
                && a.compare(&b) == Verdict::Diverge
            {
                return diverged(0, format!("instantiation: kiln {a}, wasmi {b}"), String::new());
            }
            return Ok((ModuleResult::NotInstantiated, config));
        }
        (Err(NoInstance::Invalid(_)), Err(NoInstance::Invalid(_))) => {
            return Ok((ModuleResult::NotInstantiated, config));
        }
        (a, b) => {
            let describe = |r: Result<(), NoInstance>| match r {
                Ok(()) => "instantiated".to_string(),
                Err(NoInstance::Instantiation(o)) => format!("did not instantiate ({o})"),
                Err(NoInstance::Invalid(m)) => format!("rejected the module ({m})"),
                Err(NoInstance::Unsupported(m)) => format!("does not support it ({m})"),
            };
            let summary = format!("instantiation: kiln {}, wasmi {}", describe(a.map(drop)), describe(b.map(drop)));
            return diverged(0, summary, String::new());
        }
    };
    let exports = exports(wasm)?;
    let mut log = String::new();
    if let Some(d) = state_difference(&mut kiln, &mut wasmi, &exports) {
        return diverged(0, format!("after instantiation: {d}"), log);
    }
    let funcs = exported_funcs(&exports);
    let mut calls = 0;
    for _ in 0..ROUNDS {
        for name in &funcs {
            let (kp, wp) = (kiln.params(name), wasmi.params(name));
            if kp != wp {
                return diverged(calls, format!("export `{name}` parameters: kiln {kp:?}, wasmi {wp:?}"), log);
            }
            let args: Vec<Value> = kp.unwrap_or_default().into_iter().map(|t| arg(&mut rng, t, funcs.len())).collect();
            let (a, b) = (kiln.call(name, &args), wasmi.call(name, &args));
            calls += 1;
            let _ = writeln!(log, "call `{name}`({})\n  kiln:  {a}\n  wasmi: {b}", show_args(&args));
            match a.compare(&b) {
                Verdict::Agree => {}
                Verdict::Inconclusive => {
                    return Ok((ModuleResult::Compared { calls, inconclusive: true, log }, config));
                }
                Verdict::Diverge => {
                    let summary = format!("`{name}`({}): kiln {a}, wasmi {b}", show_args(&args));
                    return diverged(calls, summary, log);
                }
            }
            if let Some(d) = state_difference(&mut kiln, &mut wasmi, &exports) {
                return diverged(calls, format!("after `{name}`({}): {d}", show_args(&args)), log);
            }
        }
    }
    Ok((ModuleResult::Compared { calls, inconclusive: false, log }, config))
}

/// Write a divergence's module (binary and text) and its description into `out`.
pub(crate) fn write_divergence(
    out: &Path,
    seed: u64,
    index: u64,
    wasm: &[u8],
    config: &str,
    summary: &str,
    log: &str,
) -> Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let base = out.join(format!("{seed}-{index}"));
    std::fs::write(base.with_extension("wasm"), wasm)?;
    if let Ok(text) = wasmprinter::print_bytes(wasm) {
        std::fs::write(base.with_extension("wat"), text)?;
    }
    let report = base.with_extension("txt");
    let text = format!(
        "differential divergence: seed {seed}, module {index}\n\
         reproduce: kiln-fuzz differential --seed {seed} --start {index} --count 1\n\
         kiln configuration: {config} (max-wasm-stack={KILN_STACK}); oracle: wasmi 1.1\n\
         what differed: {summary}\n\n\
         calls made, in order (kiln's outcome, then wasmi's):\n{log}"
    );
    std::fs::write(&report, text)?;
    Ok(report)
}

/// Run the cases of `options`, printing one line per divergence as it is found.
///
/// # Errors
/// When the engines cannot be created, a module cannot be generated, or the out directory
/// cannot be written.
pub fn run(options: &Options) -> Result<Report> {
    let options = options.clone();
    // Kiln refuses an entry whose `max_wasm_stack` does not fit the thread's stack, so the
    // run gets a thread of its own with room for it.
    std::thread::Builder::new()
        .name("differential".into())
        .stack_size(THREAD_STACK)
        .spawn(move || run_here(&options))
        .context("cannot start the differential thread")?
        .join()
        .map_err(std::panic::resume_unwind)?
}

fn run_here(options: &Options) -> Result<Report> {
    let engines = Engines::new()?;
    let mut report = Report::default();
    for index in options.start..options.start + options.count {
        let wasm = generate::module(options.seed, index)?;
        report.modules += 1;
        let (result, config) = compare_module(&engines, options.seed, index, &wasm, None)?;
        match result {
            ModuleResult::Compared { calls, inconclusive, log } => {
                if options.verbose {
                    println!("module {index} [{config}]: {calls} calls, {} bytes\n{log}", wasm.len());
                }
                report.calls += calls;
                report.inconclusive += u64::from(inconclusive);
            }
            ModuleResult::NotInstantiated => report.not_instantiated += 1,
            ModuleResult::Unsupported(why) => *report.unsupported.entry(why).or_default() += 1,
            ModuleResult::KilnOnly { calls, log } => {
                if options.verbose {
                    println!("module {index} [{config}]: kiln alone, {calls} calls\n{log}");
                }
                report.kiln_only += 1;
            }
            ModuleResult::Diverged { calls, summary, log } => {
                report.calls += calls;
                let path = write_divergence(&options.out, options.seed, index, &wasm, config, &summary, &log)?;
                println!("divergence: seed {} module {index} [{config}]: {summary} ({})", options.seed, path.display());
                report.divergences.push(Divergence { index, summary, report: path });
            }
        }
    }
    Ok(report)
}

/// Run the module in `file` (binary or text) as case `index` of the run seeded `seed` would
/// run (the same arguments), under Kiln configuration `config` (else the case's own), and
/// print every call; the summary of a divergence, if there is one.
///
/// # Errors
/// When the file cannot be read or parsed, or the configuration is unknown.
pub fn replay(file: &Path, seed: u64, index: u64, config: Option<&str>) -> Result<Option<String>> {
    let wasm = wat::parse_file(file).with_context(|| format!("cannot read {}", file.display()))?;
    let config = config.map(str::to_string);
    std::thread::Builder::new()
        .name("replay".into())
        .stack_size(THREAD_STACK)
        .spawn(move || {
            let engines = Engines::new()?;
            let (result, config) = compare_module(&engines, seed, index, &wasm, config.as_deref())?;
            Ok(match result {
                ModuleResult::Compared { calls, inconclusive, log } => {
                    println!("[{config}] {calls} calls{}\n{log}", if inconclusive { ", cut short" } else { "" });
                    None
                }
                ModuleResult::NotInstantiated => {
                    println!("[{config}] instantiated in neither engine");
                    None
                }
                ModuleResult::Unsupported(why) => {
                    println!("[{config}] kiln: {why}");
                    None
                }
                ModuleResult::KilnOnly { calls, log } => {
                    println!("[{config}] kiln alone (wasmi lacks a feature): {calls} calls\n{log}");
                    None
                }
                ModuleResult::Diverged { summary, log, .. } => {
                    println!("[{config}]\n{log}divergence: {summary}");
                    Some(summary)
                }
            })
        })
        .context("cannot start the replay thread")?
        .join()
        .map_err(std::panic::resume_unwind)?
}
