//! The artifact's promises: symbols named from the name section, no relocation records left,
//! a trap table and function table, and the same bytes whatever the number of threads.
use kiln_compile::{compile_module, host_isa};
use kiln_environ::Tunables;
use object::{Object, ObjectSection, ObjectSymbol};

fn module_with_many_functions(n: usize) -> Vec<u8> {
    let mut text = String::from("(module (memory 1) (table 4 funcref) (elem (i32.const 0) $f0)\n");
    for i in 0..n {
        let callee = if i == 0 { String::new() } else { format!("(drop (call $f{} (local.get 0)))", i - 1) };
        text.push_str(&format!(
            "(func $f{i} (export \"f{i}\") (param i32) (result i32) {callee} (i32.add (i32.load (local.get 0)) (i32.const {i})))\n"
        ));
    }
    text.push_str(
        "(func $\"odd name\\t\\u{e9}\" (call_indirect (param i32) (result i32) (i32.const 0) (i32.const 0)) drop))",
    );
    wat::parse_str(&text).unwrap()
}

#[test]
fn symbols_relocations_and_tables() {
    let isa = host_isa().unwrap();
    let wasm = module_with_many_functions(3);
    let compiled = compile_module(&isa, &Tunables::default(), &wasm).unwrap();
    let file = object::File::parse(&*compiled.elf).unwrap();
    let names: Vec<String> = file.symbols().map(|s| s.name().unwrap().to_string()).collect();
    assert!(names.contains(&"wasm[0]::function[0]::f0".to_string()), "{names:?}");
    assert!(names.contains(&"wasm[0]::function[3]::odd?name?".to_string()), "{names:?}");
    assert!(names.contains(&"wasm[0]::array_to_wasm_trampoline[1]".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("array_to_wasm_trampoline[3]")), "function 3 does not escape");
    for section in file.sections() {
        assert_eq!(section.relocations().count(), 0, "section {:?} has relocations", section.name());
    }
    for name in [".text", ".kiln.traps", ".kiln.funcs"] {
        assert!(file.section_by_name(name).is_some(), "missing {name}");
    }
}

#[test]
fn artifact_bytes_do_not_depend_on_the_thread_count() {
    let isa = host_isa().unwrap();
    let wasm = module_with_many_functions(300);
    for inlining in [false, true] {
        let tunables = Tunables { inlining, ..Tunables::default() };
        let compile = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| compile_module(&isa, &tunables, &wasm).unwrap().elf)
        };
        let one = compile(1);
        assert_eq!(one, compile(4), "inlining={inlining}");
        assert_eq!(one, compile(2), "inlining={inlining}");
    }
}
