//! A smoke test of the translator over the official spec test suite: every top-level
//! `(module …)` of every top-level `.wast` file (found with a small scanner, as this crate has
//! no `.wast` parser) is translated function by function. A supported module's functions must
//! translate, pass Cranelift's verifier and compile for the host; a function may also be
//! reported unsupported, but never invalid (top-level modules are valid) or internal.
//!
//! The suite is found through `KILN_SPEC_TESTSUITE`, by default `../shared/spec-testsuite`
//! beside the workspace. When it is missing the test says how to get it, and fails under
//! `CI=true`.
mod common;

use std::path::PathBuf;

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::{Context, verify_function};
use kiln_environ::{CompileError, Tunables, translate_module};

fn suite_dir() -> PathBuf {
    match std::env::var_os("KILN_SPEC_TESTSUITE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec-testsuite"),
    }
}

/// The text of each top-level `(module …)` form of a `.wast` script.
fn top_level_modules(script: &str) -> Vec<&str> {
    let bytes = script.as_bytes();
    let mut modules = Vec::new();
    let mut depth = 0usize;
    let mut start = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b';' if bytes.get(i + 1) == Some(&b';') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' if bytes.get(i + 1) == Some(&b';') => {
                // Block comments nest.
                let mut nesting = 0usize;
                while i < bytes.len() {
                    if bytes[i] == b'(' && bytes.get(i + 1) == Some(&b';') {
                        nesting += 1;
                        i += 2;
                    } else if bytes[i] == b';' && bytes.get(i + 1) == Some(&b')') {
                        nesting -= 1;
                        i += 2;
                        if nesting == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'(' => {
                if depth == 0 && script[i + 1..].starts_with("module") {
                    start = Some(i);
                }
                depth += 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && let Some(s) = start.take()
                {
                    modules.push(&script[s..=i]);
                }
            }
            _ => {}
        }
        i += 1;
    }
    modules
}

#[test]
fn spec_suite_modules_translate_and_verify() {
    let dir = suite_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        let message = format!(
            "the spec test suite is not at {} (set KILN_SPEC_TESTSUITE, or clone \
             https://github.com/WebAssembly/testsuite there; see its SOURCE.md)",
            dir.display()
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        eprintln!("skipping: {message}");
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .collect();
    files.sort();

    let isa = common::host_isa();
    let tunables = [Tunables::default(), Tunables { memory_reservation: 0, ..Tunables::default() }];
    let (mut modules, mut functions, mut unsupported) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for file in &files {
        let script = std::fs::read_to_string(file).expect("reading a .wast file");
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for (m, text) in top_level_modules(&script).into_iter().enumerate() {
            // `module quote`, `module definition` and the like are not plain modules.
            let Ok(wasm) = wat::parse_str(text) else { continue };
            let Ok(translation) = translate_module(&wasm) else {
                continue;
            };
            if translation.unsupported.is_some() {
                continue;
            }
            modules += 1;
            // The explicit-bounds-check mode only for files about memory, to keep this quick.
            let modes =
                if name.contains("memory") || name.contains("address") { &tunables[..] } else { &tunables[..1] };
            for tunables in modes {
                let result = common::translate_all(&wasm, tunables, &isa);
                match result {
                    Ok(funcs) => {
                        for func in funcs {
                            functions += 1;
                            if let Err(e) = verify_function(&func, &*isa) {
                                failures.push(format!("{name} module {m}: verifier: {e}\n{}", func.display()));
                                continue;
                            }
                            let mut context = Context::for_function(func);
                            if let Err(e) = context.compile(&*isa, &mut ControlPlane::default()) {
                                failures.push(format!("{name} module {m}: compile: {:?}", e.inner));
                            }
                        }
                    }
                    Err(CompileError::Unsupported(what)) => {
                        unsupported += 1;
                        if std::env::var_os("KILN_SHOW_UNSUPPORTED").is_some() {
                            eprintln!("{name} module {m}: unsupported: {what}");
                        }
                    }
                    Err(e) => failures.push(format!("{name} module {m}: {e}")),
                }
            }
        }
    }
    eprintln!("{modules} modules, {functions} functions compiled, {unsupported} unsupported");
    assert!(modules > 500, "too few modules found in {}", dir.display());
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_scanner_finds_top_level_modules() {
    let script = r#"
        ;; (module $commented)
        (module $a (func (export "f") (result i32) (i32.const 1)))
        (; (module $block_comment (; nested ;) ) ;)
        (assert_return (invoke "f") (i32.const 1))
        (assert_invalid (module (func (result i32))) "type mismatch")
        (module $b (data "(module )\"("))
    "#;
    let modules = top_level_modules(script);
    assert_eq!(modules.len(), 2);
    assert!(modules[0].starts_with("(module $a"));
    assert!(modules[1].starts_with("(module $b") && modules[1].ends_with("\"(\"))"));
}
