//! Golden tests of the function translator: each `tests/clif/*.wat` is translated function by
//! function and the CLIF text of all its functions must equal the `.clif` file beside it.
//! `BLESS=1 cargo test -p kiln-cranelift --test translate` rewrites the `.clif` files instead;
//! review the difference by eye, it is the specification of the translator's output.
//!
//! Every translated function must also pass Cranelift's verifier and compile to machine code
//! for the host.
mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::{Context, verify_function};

fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clif");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wat"))
        .collect();
    files.sort();
    files
}

/// The CLIF of every function of one case, checked by the verifier and compiled.
fn translate_case(path: &Path) -> Result<String, String> {
    let source = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let wasm = wat::parse_str(&source).map_err(|e| e.to_string())?;
    let isa = common::host_isa();
    let tunables = common::tunables_of(&source);
    let functions = common::translate_all(&wasm, &tunables, &isa).map_err(|e| e.to_string())?;
    let mut text = String::new();
    for func in functions {
        verify_function(&func, &*isa).map_err(|e| format!("verifier errors in\n{}\n{e}", func.display()))?;
        write!(text, "{}", func.display()).map_err(|e| e.to_string())?;
        let name = func.name.to_string();
        let mut context = Context::for_function(func);
        context.compile(&*isa, &mut ControlPlane::default()).map_err(|e| format!("compiling {name}: {:?}", e.inner))?;
    }
    Ok(text)
}

#[test]
fn golden_clif() {
    let bless = std::env::var_os("BLESS").is_some_and(|v| v == "1");
    let cases = case_files();
    assert!(cases.len() >= 8, "the golden cases are missing");
    let mut failures = Vec::new();
    for wat in cases {
        let clif_path = wat.with_extension("clif");
        let name = wat.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let actual = match translate_case(&wat) {
            Ok(text) => text,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        if bless {
            std::fs::write(&clif_path, &actual).expect("writing the blessed CLIF");
            continue;
        }
        match std::fs::read_to_string(&clif_path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!("{name}: CLIF differs\n{}", first_difference(&expected, &actual))),
            Err(_) => failures.push(format!("{name}: no {} (run with BLESS=1)", clif_path.display())),
        }
    }
    assert!(failures.is_empty(), "{} golden case(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// The first differing line, with its line number.
fn first_difference(expected: &str, actual: &str) -> String {
    let mut expected_lines = expected.lines();
    let mut actual_lines = actual.lines();
    for line in 1.. {
        match (expected_lines.next(), actual_lines.next()) {
            (None, None) => break,
            (e, a) if e == a => {}
            (e, a) => {
                return format!(
                    "line {line}:\n  expected: {}\n  actual:   {}",
                    e.unwrap_or("<end of file>"),
                    a.unwrap_or("<end of file>")
                );
            }
        }
    }
    "only trailing whitespace differs".into()
}
