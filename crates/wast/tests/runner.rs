//! Checks of the `.wast` runner itself on small inline scripts: passing and
//! failing `assert_return`, NaN patterns, rejected modules, traps, and
//! continuing after failures.

use kiln_wast::{Report, run_str};

fn run(text: &str) -> Report {
    run_str("inline.wast", text, &kiln::Config::new()).expect("script parses")
}

const ADD: &str = r#"
(module
  (func (export "add") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.add))
"#;

#[test]
fn passing_assert_return() {
    let script = format!("{ADD}\n(assert_return (invoke \"add\" (i32.const 1) (i32.const 2)) (i32.const 3))\n");
    let report = run(&script);
    assert!(report.failures.is_empty(), "{report}");
    assert_eq!(report.passed, 2);
}

#[test]
fn wrong_assert_return_is_reported_on_its_line() {
    let script = format!(
        "{ADD}\n(assert_return (invoke \"add\" (i32.const 1) (i32.const 2)) (i32.const 3))\n\
         (assert_return (invoke \"add\" (i32.const 2) (i32.const 2)) (i32.const 5))\n"
    );
    // ADD spans lines 1..=6 (leading newline), then a blank line 7.
    let wrong_line = script.lines().position(|l| l.contains("(i32.const 5)")).unwrap() + 1;
    let report = run(&script);
    assert_eq!(report.passed, 2, "{report}");
    assert_eq!(report.failures.len(), 1, "{report}");
    let failure = &report.failures[0];
    assert_eq!(failure.line, wrong_line);
    assert_eq!(failure.kind, "assert_return");
    assert_eq!(failure.file, "inline.wast");
    assert!(failure.to_string().starts_with(&format!("inline.wast:{wrong_line}: assert_return: ")));
}

#[test]
fn nan_patterns() {
    let report = run(r#"
(module
  (func (export "div") (param f32 f32) (result f32)
    local.get 0
    local.get 1
    f32.div)
  (func (export "nan64") (result f64) f64.const nan:0x8000000000001)
  (func (export "one") (result f32) f32.const 1))
(assert_return (invoke "div" (f32.const 0) (f32.const 0)) (f32.const nan:canonical))
(assert_return (invoke "div" (f32.const 0) (f32.const 0)) (f32.const nan:arithmetic))
(assert_return (invoke "nan64") (f64.const nan:arithmetic))
(assert_return (invoke "nan64") (f64.const nan:canonical))
(assert_return (invoke "one") (f32.const nan:arithmetic))
"#);
    assert_eq!(report.passed, 4, "{report}");
    let lines: Vec<usize> = report.failures.iter().map(|f| f.line).collect();
    assert_eq!(lines, vec![12, 13], "{report}");
}

#[test]
fn v128_lanes() {
    let report = run(r#"
(module
  (func (export "v") (result v128) v128.const i32x4 1 2 3 4)
  (func (export "nan") (result v128) v128.const f32x4 nan 1 nan:0x600000 -0))
(assert_return (invoke "v") (v128.const i32x4 1 2 3 4))
(assert_return (invoke "v") (v128.const i64x2 0x0000000200000001 0x0000000400000003))
(assert_return (invoke "nan") (v128.const f32x4 nan:canonical 1 nan:arithmetic -0))
(assert_return (invoke "v") (v128.const i32x4 1 2 3 5))
"#);
    // Lane matching itself is covered without an engine by the unit tests in
    // src/matching.rs; this end-to-end check needs kiln to compile SIMD.
    if let Some(first) = report.failures.first()
        && first.kind == "module"
        && first.message.contains("unsupported")
    {
        eprintln!("note: v128_lanes checked nothing: {first}");
        return;
    }
    assert_eq!(report.passed, 4, "{report}");
    assert_eq!(report.failures.len(), 1, "{report}");
    assert_eq!(report.failures[0].line, 8);
}

#[test]
fn assert_invalid_and_malformed_pass_on_rejected_modules() {
    let report = run(r#"
(assert_invalid
  (module (func (result i32) (i64.const 0)))
  "type mismatch")
(assert_malformed
  (module quote "(func (bogus))")
  "unknown operator")
(assert_malformed
  (module binary "\00asm\02\00\00\00")
  "unknown binary version")
"#);
    assert!(report.failures.is_empty(), "{report}");
    assert_eq!(report.passed, 3);
}

#[test]
fn assert_invalid_fails_on_a_valid_module() {
    let report = run(r#"(assert_invalid (module (func)) "type mismatch")"#);
    assert_eq!(report.passed, 0);
    assert_eq!(report.failures.len(), 1, "{report}");
    assert_eq!(report.failures[0].kind, "assert_invalid");
}

#[test]
fn traps_and_spectest_imports() {
    let report = run(r#"
(module
  (import "spectest" "print_i32" (func $print (param i32)))
  (import "spectest" "global_i32" (global $g i32))
  (import "spectest" "memory" (memory 1))
  (func (export "g") (result i32) (call $print (global.get $g)) (global.get $g))
  (func (export "boom") unreachable)
  (func (export "div") (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0))))
(assert_return (invoke "g") (i32.const 666))
(assert_trap (invoke "boom") "unreachable")
(assert_trap (invoke "div" (i32.const 0)) "integer divide by zero")
(assert_unlinkable (module (import "spectest" "nope" (func))) "unknown import")
(assert_trap (module (func $s unreachable) (start $s)) "unreachable")
"#);
    assert!(report.failures.is_empty(), "{report}");
    assert_eq!(report.passed, 6);
}

#[test]
fn failed_module_does_not_stop_the_script() {
    let report = run(r#"
(module (func (export "f") (result i32) (i64.const 0)))
(assert_return (invoke "f") (i32.const 0))
(module (func (export "f") (result i32) (i32.const 7)))
(assert_return (invoke "f") (i32.const 7))
(assert_exception (invoke "f"))
"#);
    let failed: Vec<(usize, &str)> = report.failures.iter().map(|f| (f.line, f.kind)).collect();
    assert_eq!(failed, vec![(2, "module"), (3, "assert_return"), (6, "assert_exception")], "{report}");
    assert_eq!(report.passed, 2);
    assert!(report.failures[2].message.contains("expected an exception, but it returned"), "{report}");
}

#[test]
fn named_modules_and_register() {
    let report = run(r#"
(module $a (func (export "f") (result i32) (i32.const 1)))
(register "a" $a)
(module $b
  (import "a" "f" (func $f (result i32)))
  (func (export "g") (result i32) (i32.add (call $f) (i32.const 1))))
(assert_return (invoke $a "f") (i32.const 1))
(assert_return (invoke $b "g") (i32.const 2))
(module definition $d (func (export "h") (result i32) (i32.const 3)))
(module instance $i $d)
(assert_return (invoke $i "h") (i32.const 3))
"#);
    assert!(report.failures.is_empty(), "{report}");
    assert_eq!(report.passed, 8);
}

#[test]
fn unparsable_script_is_an_error() {
    assert!(run_str("bad.wast", "(assert_return", &kiln::Config::new()).is_err());
}
