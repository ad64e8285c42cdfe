//! Compile time with inlining on vs off, side by side, on the benchmark programs of
//! `../shared/bench` (folder from `KILN_BENCH_DIR`). Prints one line per program with both
//! times (best of 3) and their ratio. Run: `cargo bench -p kiln-compile --bench inlining`.
//! Execution time with inlining on vs off needs the programs to run, which needs WASI.
use kiln_compile::{compile_module, host_isa};
use kiln_environ::Tunables;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn best_of_3(f: impl Fn() -> usize) -> (Duration, usize) {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            let size = f();
            (start.elapsed(), size)
        })
        .min()
        .expect("three runs")
}

fn main() {
    let dir = std::env::var_os("KILN_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench"));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("no benchmark folder at {} (set KILN_BENCH_DIR)", dir.display());
        std::process::exit(if std::env::var("CI").as_deref() == Ok("true") { 1 } else { 0 });
    };
    let mut programs: Vec<PathBuf> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            Some(e.path().join(format!("{name}.wasm")))
        })
        .filter(|p| p.exists())
        .collect();
    programs.sort();
    let isa = host_isa().expect("host ISA");
    println!("{:<24} {:>12} {:>12} {:>8} {:>10} {:>10}", "program", "off (ms)", "on (ms)", "on/off", "text off", "text on");
    let (mut total_off, mut total_on) = (Duration::ZERO, Duration::ZERO);
    for path in programs {
        let wasm = std::fs::read(&path).expect("read");
        let (isa, wasm, path) = (&isa, &wasm, &path);
        let compile = |inlining: bool| {
            let tunables = Tunables { inlining, ..Tunables::default() };
            move || match compile_module(isa, &tunables, wasm) {
                Ok(m) => m.elf.len(),
                Err(e) => {
                    eprintln!("{}: {e}", path.display());
                    0
                }
            }
        };
        let (off, size_off) = best_of_3(compile(false));
        let (on, size_on) = best_of_3(compile(true));
        total_off += off;
        total_on += on;
        let name = path.file_stem().unwrap_or_default().to_string_lossy();
        println!(
            "{name:<24} {:>12.1} {:>12.1} {:>8.2} {size_off:>10} {size_on:>10}",
            off.as_secs_f64() * 1e3,
            on.as_secs_f64() * 1e3,
            on.as_secs_f64() / off.as_secs_f64()
        );
    }
    println!("{:<24} {:>12.1} {:>12.1} {:>8.2}", "total", total_off.as_secs_f64() * 1e3, total_on.as_secs_f64() * 1e3, total_on.as_secs_f64() / total_off.as_secs_f64());
}
