//! Inlining on vs off, side by side in one run, on the programs of `../shared/bench` (folder
//! from `KILN_BENCH_DIR`): compile time (best of 3), code size, and execution time (best of
//! `KILN_BENCH_RUNS`, default 5) of the region each program marks with `bench.start` and
//! `bench.end`, run through the WASI host with its folder preopened as `.`.
//! Run: `cargo bench -p kiln-cli --bench inlining`.
use kiln::{Config, Engine, Linker, Module, Store};
use kiln_wasi::{DirAccess, OutputStream, WasiCtx};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Host {
    wasi: WasiCtx,
    start: Option<Instant>,
    measured: Option<Duration>,
}

fn engine(inlining: bool) -> Engine {
    let mut config = Config::new();
    config.set("inlining", if inlining { "y" } else { "n" }).expect("inlining option");
    Engine::new(&config).expect("engine")
}

fn best<T>(runs: usize, mut f: impl FnMut() -> Option<(Duration, T)>) -> Option<(Duration, T)> {
    let mut best: Option<(Duration, T)> = None;
    for _ in 0..runs {
        let r = f()?;
        if best.as_ref().is_none_or(|b| r.0 < b.0) {
            best = Some(r);
        }
    }
    best
}

/// One run of the program's measured region.
fn execute(engine: &Engine, module: &Module, dir: &Path) -> Option<Duration> {
    let wasi = WasiCtx::builder()
        .preopened_dir(dir, ".", DirAccess::ReadWrite)
        .ok()?
        .stdout(OutputStream::Null)
        .stderr(OutputStream::Null)
        .build();
    let mut store = Store::new(engine, Host { wasi, start: None, measured: None });
    let mut linker = Linker::new(engine);
    kiln_wasi::add_to_linker(&mut linker, |h: &mut Host| &mut h.wasi).ok()?;
    linker
        .func_wrap("bench", "start", |mut c: kiln::Caller<'_, Host>| c.data_mut().start = Some(Instant::now()))
        .ok()?;
    linker
        .func_wrap("bench", "end", |mut c: kiln::Caller<'_, Host>| {
            let h = c.data_mut();
            h.measured = h.start.map(|s| s.elapsed());
        })
        .ok()?;
    let instance = linker.instantiate(&mut store, module).map_err(|e| eprintln!("{}: {e}", dir.display())).ok()?;
    let start = instance.get_typed_func::<(), ()>(&mut store, "_start").ok()?;
    match start.call(&mut store, ()) {
        Ok(()) => {}
        Err(kiln::Error::Host(e)) if e.downcast_ref::<kiln_wasi::I32Exit>() == Some(&kiln_wasi::I32Exit(0)) => {}
        Err(e) => {
            eprintln!("{}: {e}", dir.display());
            return None;
        }
    }
    store.data().measured
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let dir = std::env::var_os("KILN_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench"));
    let runs: usize = std::env::var("KILN_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("no benchmark folder at {} (set KILN_BENCH_DIR)", dir.display());
        std::process::exit(if std::env::var("CI").as_deref() == Ok("true") { 1 } else { 0 });
    };
    let mut programs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(format!("{}.wasm", p.file_name().unwrap_or_default().to_string_lossy())).is_file())
        .collect();
    programs.sort();
    let engines = [engine(false), engine(true)];
    let isa = kiln_compile::host_isa().expect("host ISA");
    println!(
        "{:<20} {:>9} {:>9} {:>6} {:>9} {:>9} {:>6} {:>10} {:>10} {:>6}",
        "program", "cmp off", "cmp on", "ratio", "exec off", "exec on", "ratio", "text off", "text on", "ratio"
    );
    println!("{:<20} {:>9} {:>9} {:>6} {:>9} {:>9} {:>6}", "", "(ms)", "(ms)", "on/off", "(ms)", "(ms)", "on/off");
    let (mut compile_ratios, mut exec_ratios) = (Vec::new(), Vec::new());
    for path in programs {
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let wasm = std::fs::read(path.join(format!("{name}.wasm"))).expect("read");
        let mut row = Vec::new();
        for engine in &engines {
            let compiled = best(3, || {
                let t = Instant::now();
                let m = Module::from_binary(engine, &wasm).map_err(|e| eprintln!("{name}: {e}")).ok()?;
                Some((t.elapsed(), m))
            });
            let Some((compile, module)) = compiled else { break };
            let Some((exec, ())) = best(runs, || Some((execute(engine, &module, &path)?, ()))) else { break };
            row.push((compile, exec));
        }
        let [(c_off, e_off), (c_on, e_on)] = row[..] else {
            println!("{name:<20} (does not run)");
            continue;
        };
        let size = |inlining| {
            let tunables = kiln_environ::Tunables { inlining, ..Default::default() };
            kiln_compile::compile_module(&isa, &tunables, &wasm).map(|m| m.elf.len()).unwrap_or(0)
        };
        let (s_off, s_on) = (size(false), size(true));
        let (cr, er) = (c_on.as_secs_f64() / c_off.as_secs_f64(), e_on.as_secs_f64() / e_off.as_secs_f64());
        compile_ratios.push(cr);
        exec_ratios.push(er);
        println!(
            "{name:<20} {:>9.1} {:>9.1} {cr:>6.2} {:>9.2} {:>9.2} {er:>6.2} {s_off:>10} {s_on:>10} {:>6.2}",
            ms(c_off),
            ms(c_on),
            ms(e_off),
            ms(e_on),
            s_on as f64 / s_off as f64
        );
    }
    let geomean = |v: &[f64]| (v.iter().map(|r| r.ln()).sum::<f64>() / v.len().max(1) as f64).exp();
    println!(
        "geometric mean: compile time on/off {:.2}, execution time on/off {:.2}",
        geomean(&compile_ratios),
        geomean(&exec_ratios)
    );
}
