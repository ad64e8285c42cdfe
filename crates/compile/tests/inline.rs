//! Golden tests of inlining: each `tests/inline/*.wat` beside the CLIF of its functions after
//! stage 4 (`*.clif`), regenerated with `BLESS=1`. A first-line comment
//! `;; tunables: key=value …` sets the inlining heuristics; inlining itself is always on.
use kiln_compile::{host_isa, module_clif};
use kiln_environ::Tunables;
use std::path::Path;

fn tunables_for(wat: &str) -> Tunables {
    let mut t = Tunables { inlining: true, ..Tunables::default() };
    if let Some(line) = wat.lines().next().and_then(|l| l.strip_prefix(";; tunables:")) {
        for setting in line.split_whitespace() {
            let (key, value) = setting.split_once('=').expect("key=value");
            let n: u32 = value.parse().expect("a number");
            match key {
                "inlining-sum-size-threshold" => t.inlining_sum_size_threshold = n,
                "inlining-small-callee-size" => t.inlining_small_callee_size = n,
                other => panic!("unknown tunable {other}"),
            }
        }
    }
    t
}

#[test]
fn golden_inlining() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inline");
    let bless = std::env::var_os("BLESS").is_some();
    let isa = host_isa().unwrap();
    let mut cases: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    cases.retain(|p| p.extension().is_some_and(|e| e == "wat"));
    cases.sort();
    assert!(!cases.is_empty());
    for wat_path in cases {
        let wat = std::fs::read_to_string(&wat_path).unwrap();
        let wasm = wat::parse_str(&wat).unwrap();
        let clif = module_clif(&isa, &tunables_for(&wat), &wasm).unwrap();
        let expected_path = wat_path.with_extension("clif");
        if bless {
            std::fs::write(&expected_path, &clif).unwrap();
        } else {
            let expected = std::fs::read_to_string(&expected_path)
                .unwrap_or_else(|_| panic!("{} is missing: run with BLESS=1", expected_path.display()));
            assert_eq!(clif, expected, "{} differs (BLESS=1 regenerates it)", wat_path.display());
        }
    }
}

#[test]
fn imported_calls_are_not_inlined_but_local_ones_are() {
    let isa = host_isa().unwrap();
    let tunables = Tunables { inlining: true, ..Tunables::default() };
    let wasm = wat::parse_str(
        r#"(module
            (import "b" "f" (func $imported (result i32)))
            (func $local (result i32) (i32.const 7))
            (func (export "g") (result i32) (i32.add (call $imported) (call $local))))"#,
    )
    .unwrap();
    let clif = module_clif(&isa, &tunables, &wasm).unwrap();
    let g = clif.split("function ").find(|f| f.contains("u0:1(")).expect("function g");
    assert!(g.contains("call_indirect"), "the import is called through its record:\n{g}");
    assert!(!g.contains(" call fn"), "the local callee is inlined:\n{g}");
    assert!(g.contains("iconst.i32 7"), "the local callee's body is in g:\n{g}");
}
