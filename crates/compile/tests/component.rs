//! A component compiles into one artifact: every static core module's functions in one text
//! section, named by their module's index, the component's description beside the modules',
//! and the same bytes whatever the number of threads.
use kiln_compile::{compile_component, compile_module, host_isa};
use kiln_environ::Tunables;
use kiln_environ::artifact::{Artifact, ArtifactKind};
use object::{Object, ObjectSection, ObjectSymbol};

/// A component of three core modules (one nested in an inner component) with `n` functions
/// each that call each other, so that parallel compilation and inlining have work to do.
fn component_with_modules(n: usize) -> Vec<u8> {
    let functions = |prefix: &str| {
        let mut text = String::new();
        for i in 0..n {
            let callee = if i == 0 { String::new() } else { format!("(drop (call ${prefix}{} (local.get 0)))", i / 2) };
            text.push_str(&format!(
                "(func ${prefix}{i} (export \"{prefix}{i}\") (param i32) (result i32) {callee} \
                 (i32.add (i32.load (local.get 0)) (i32.const {i})))\n"
            ));
        }
        text
    };
    let a = functions("a");
    let b = functions("b");
    let c = functions("c");
    let text = format!(
        r#"(component
          (core module $A (memory (export "mem") 1) {a})
          (core module $B (import "a" "a0" (func $imp (param i32) (result i32)))
            (memory 1) (func (export "call-a") (param i32) (result i32) (call $imp (local.get 0))) {b})
          (component $Inner
            (core module $C (memory 1) {c})
            (core instance $c (instantiate $C))
            (func (export "c0") (param "x" u32) (result u32) (canon lift (core func $c "c0"))))
          (core instance $a (instantiate $A))
          (core instance $b (instantiate $B (with "a" (instance $a))))
          (instance $inner (instantiate $Inner))
          (func (export "a0") (param "x" u32) (result u32) (canon lift (core func $a "a0")))
          (func (export "call-a") (param "x" u32) (result u32) (canon lift (core func $b "call-a")))
          (export "c0" (func $inner "c0"))
        )"#
    );
    wat::parse_str(&text).unwrap()
}

#[test]
fn every_module_of_a_component_is_in_one_artifact() {
    let isa = host_isa().unwrap();
    let compiled = compile_component(&isa, &Tunables::default(), &component_with_modules(3)).unwrap();
    assert_eq!(compiled.modules.len(), 3);
    let file = object::File::parse(&*compiled.elf).unwrap();
    let names: Vec<String> = file.symbols().map(|s| s.name().unwrap().to_string()).collect();
    for name in [
        "wasm[0]::function[0]::a0",
        "wasm[1]::function[0]",
        "wasm[1]::function[3]::b2",
        "wasm[2]::function[2]::c2",
        "wasm[0]::array_to_wasm_trampoline[0]",
        "wasm[2]::array_to_wasm_trampoline[0]",
        "wasm[0]::wasm_to_array_trampoline[0]",
        "wasm[1]::wasm_to_array_trampoline[0]",
    ] {
        assert!(names.iter().any(|n| n == name), "no {name} in {names:?}");
    }
    assert_eq!(file.sections().filter(|s| s.name() == Ok(".text")).count(), 1, "one text section");
    for section in file.sections() {
        assert_eq!(section.relocations().count(), 0, "section {:?} has relocations", section.name());
    }
    let artifact = Artifact::parse(&compiled.elf).unwrap();
    assert_eq!(artifact.kind, ArtifactKind::Component);
    let (info, modules) = artifact.component().unwrap();
    assert_eq!(modules.len(), 3);
    assert_eq!(info.exports.len(), compiled.info.exports.len());
    assert!(artifact.module().is_err(), "a component's artifact is not a module's");
}

#[test]
fn a_component_artifact_does_not_depend_on_the_thread_count() {
    let isa = host_isa().unwrap();
    let wasm = component_with_modules(120);
    for inlining in [false, true] {
        let tunables = Tunables { inlining, ..Tunables::default() };
        let compile = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| compile_component(&isa, &tunables, &wasm).unwrap().elf)
        };
        let one = compile(1);
        assert_eq!(one, compile(4), "inlining={inlining}");
        assert_eq!(one, compile(2), "inlining={inlining}");
    }
}

#[test]
fn modules_and_components_are_not_mistaken_for_each_other() {
    let isa = host_isa().unwrap();
    let tunables = Tunables::default();
    let module = wat::parse_str("(module (func (export \"f\")))").unwrap();
    let component = component_with_modules(1);
    assert!(compile_component(&isa, &tunables, &module).is_err());
    assert!(compile_module(&isa, &tunables, &component).is_err());
    let compiled = compile_module(&isa, &tunables, &module).unwrap();
    let artifact = Artifact::parse(&compiled.elf).unwrap();
    assert_eq!(artifact.kind, ArtifactKind::Module);
    assert!(artifact.module().is_ok());
    assert!(artifact.component().is_err());
}
