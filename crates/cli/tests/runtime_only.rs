//! The runtime-only build: `kiln` without its default `compiler` feature links no Cranelift,
//! runs precompiled artifacts, and refuses to compile with a clear error. The test builds the
//! `run_artifact` example that way (in a target directory of its own, so that it never
//! replaces the default build's files), checks the dependency tree, and runs an artifact
//! compiled here, with the compiler, through it.
use std::path::{Path, PathBuf};
use std::process::Command;

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
    cmd
}

/// The target directory this test runs from (`<target>/debug/deps/<test>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    exe.ancestors().nth(3).expect("a test lives in <target>/<profile>/deps").to_path_buf()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_runtime_alone_runs_artifacts_and_refuses_to_compile() {
    let tree = cargo()
        .args(["tree", "-p", "kiln", "--no-default-features", "-e", "normal", "--prefix", "none"])
        .output()
        .expect("cargo tree runs");
    assert!(tree.status.success(), "{}", text(&tree.stderr));
    let tree = text(&tree.stdout);
    for crate_name in ["cranelift-codegen", "kiln-compile", "kiln-cranelift", "wat "] {
        assert!(!tree.contains(crate_name), "the runtime-only tree has {crate_name}:\n{tree}");
    }

    let dir = target_dir().join("runtime-only");
    let build = cargo()
        .args(["build", "-q", "-p", "kiln", "--no-default-features", "--example", "run_artifact", "--target-dir"])
        .arg(&dir)
        .output()
        .expect("cargo build runs");
    assert!(build.status.success(), "building the runtime alone failed:\n{}", text(&build.stderr));
    let runner = dir.join("debug/examples/run_artifact");

    let wat = r#"(module
        (memory 1) (data (i32.const 0) "\2b")
        (table 2 funcref) (elem (i32.const 0) $sq $load)
        (type $t (func (param i64) (result i64)))
        (func $sq (type $t) (i64.mul (local.get 0) (local.get 0)))
        (func $load (type $t) (i64.add (local.get 0) (i64.load8_u (i32.const 0))))
        (func (export "apply") (param i64 i64) (result i64)
          (call_indirect (type $t) (local.get 1) (i32.wrap_i64 (local.get 0))))
        (func (export "boom") unreachable))"#;
    let engine = kiln::Engine::default();
    let artifact = engine.precompile_module(wat.as_bytes()).expect("the fixture compiles");
    let tmp = std::env::temp_dir().join(format!("kiln-runtime-only-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let cwasm = tmp.join("apply.cwasm");
    std::fs::write(&cwasm, artifact).unwrap();
    let wasm = tmp.join("apply.wat");
    std::fs::write(&wasm, wat).unwrap();

    let run = |args: &[&str]| Command::new(&runner).args(args).output().expect("the runner starts");
    let c = cwasm.to_str().unwrap();
    let o = run(&[c, "apply", "0", "7"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "49\n");
    let o = run(&[c, "apply", "1", "7"]);
    assert_eq!(text(&o.stdout), "50\n");
    let o = run(&[c, "boom"]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("wasm trap: unreachable"), "{}", text(&o.stderr));
    let o = run(&[wasm.to_str().unwrap(), "apply", "0", "7"]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr)
            .contains("unsupported: compiling WebAssembly: this Kiln was built without its `compiler` feature"),
        "{}",
        text(&o.stderr)
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}
