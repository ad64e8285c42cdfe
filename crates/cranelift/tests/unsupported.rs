//! The translator's error paths: operators Kiln does not compile yet are reported as
//! `Unsupported` with their feature, invalid bodies as `Invalid` even when they also use an
//! unsupported feature, and hostile bodies (very deep nesting) neither panic nor overflow the
//! stack.
mod common;

use kiln_environ::{CompileError, Tunables};

fn translate(wat: &str) -> Result<Vec<cranelift_codegen::ir::Function>, CompileError> {
    let wasm = wat::parse_str(wat).expect("test module parses");
    common::translate_all(&wasm, &Tunables::default(), &common::host_isa())
}

fn unsupported(wat: &str) -> String {
    match translate(wat) {
        Err(CompileError::Unsupported(what)) => what,
        other => panic!("expected an unsupported feature, got {other:?}"),
    }
}

#[test]
fn unsupported_operators_name_their_feature() {
    let what = unsupported(
        r#"(module (memory 1 1 shared) (func (param i32) (result i32)
            (i32.atomic.rmw.add (local.get 0) (i32.const 1))))"#,
    );
    assert_eq!(what, "threads: i32.atomic.rmw.add");
    let error = CompileError::Unsupported(what).to_string();
    assert_eq!(error, "unsupported: threads: i32.atomic.rmw.add");
}

#[test]
fn v128_values_are_translated_wherever_they_appear() {
    for wat in [
        "(module (func (param v128)))",
        "(module (func (result v128) unreachable))",
        "(module (func (local v128)))",
        "(module (global v128 (v128.const i64x2 0 0)) (func (drop (global.get 0))))",
        "(module (global (mut v128) (v128.const i64x2 0 0)) (func (global.set 0 (v128.const i64x2 1 2))))",
        "(module (func (block (result v128) unreachable) drop))",
        "(module (func $f (param v128)) (func (call $f (v128.const i64x2 0 0))))",
        "(module (func (param i32) (result v128) (select (v128.const i32x4 0 0 0 0) (i32x4.splat (i32.const 1)) (local.get 0))))",
    ] {
        let result = translate(wat);
        assert!(result.is_ok(), "{wat}: {result:?}");
    }
}

#[test]
fn invalid_wins_over_unsupported() {
    // An atomic load first, then an `i32.add` with one operand.
    let result = translate(
        r#"(module (memory 1) (func (result i32)
            (drop (i32.atomic.load (i32.const 0)))
            (i32.add (i32.const 1))))"#,
    );
    match result {
        Err(CompileError::Invalid { message, offset }) => {
            assert!(message.contains("type mismatch"), "{message}");
            assert!(offset > 0);
        }
        other => panic!("expected an invalid module, got {other:?}"),
    }
    // A GC operator, then a body that ends with the wrong result type.
    let result = translate(
        r#"(module (func (result i32)
            (drop (ref.i31 (i32.const 0)))
            (i64.const 0)))"#,
    );
    assert!(matches!(result, Err(CompileError::Invalid { .. })), "{result:?}");
}

#[test]
fn other_features_are_named() {
    let cases = [
        ("(module (memory 1) (func (drop (i32.atomic.load (i32.const 0)))))", "threads: i32.atomic.load"),
        (
            "(module (memory 1) (func (drop (i64.atomic.rmw.add (i32.const 0) (i64.const 1)))))",
            "threads: i64.atomic.rmw.add",
        ),
    ];
    for (wat, expected) in cases {
        assert_eq!(unsupported(wat), expected, "for {wat}");
    }
}

#[test]
fn unsupported_operators_in_unreachable_code_are_never_translated() {
    let functions = translate(
        r#"(module (memory 1) (func
            (unreachable)
            (drop (i32.atomic.load (i32.const 0)))
            (block (drop (i64.atomic.load (i32.const 0))))))"#,
    )
    .expect("dead code is not translated");
    assert_eq!(functions.len(), 1);
}

#[test]
fn invalid_bodies_are_invalid() {
    for wat in [
        "(module (func (result i32) (i64.const 0)))",
        "(module (func (br 1)))",
        "(module (func (local.get 0)))",
        "(module (func (call 7)))",
        "(module (func (drop (i32.load (i32.const 0)))))",
    ] {
        let result = translate(wat);
        assert!(matches!(result, Err(CompileError::Invalid { .. })), "{wat}: {result:?}");
    }
}

#[test]
fn deep_nesting_does_not_recurse() {
    const DEPTH: usize = 100_000;
    // Live nesting: blocks, loops and ifs, with a branch out from the innermost.
    let mut body = String::new();
    for i in 0..DEPTH {
        body.push_str(match i % 3 {
            0 => "block\n",
            1 => "loop\n",
            _ => "i32.const 1\nif\n",
        });
    }
    body.push_str(&format!("br {}\n", DEPTH / 2));
    body.push_str(&"end\n".repeat(DEPTH));
    let functions = translate(&format!("(module (func\n{body}))")).expect("deep nesting translates");
    assert_eq!(functions.len(), 1);

    // Dead nesting.
    let body = format!("unreachable\n{}{}", "block\n".repeat(DEPTH), "end\n".repeat(DEPTH));
    translate(&format!("(module (func\n{body}))")).expect("deep dead nesting translates");
}
