//! Exception tags as entities: defined, exported, imported and created by the host. A tag is
//! an identity, matched by its exact function type at link time; an imported tag is the
//! exporter's own, and two tags of one type are still two tags.
use kiln::{Engine, Extern, ExternType, FuncType, Instance, Linker, Module, Store, Tag, TagType, ValType};

const EXPORTER: &str = r#"(module
  (tag (export "plain"))
  (tag $pair (param i32 f64))
  (export "pair" (tag $pair))
  (export "pair-again" (tag $pair)))"#;

const IMPORTER: &str = r#"(module
  (import "m" "pair" (tag $t (param i32 f64)))
  (export "reexported" (tag $t)))"#;

#[test]
fn tags_are_exported_imported_and_keep_their_identity() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let exporter = Instance::new(&mut store, &Module::new(&engine, EXPORTER).unwrap(), &[]).unwrap();
    let pair = exporter.get_export(&mut store, "pair").and_then(Extern::into_tag).unwrap();
    let again = exporter.get_export(&mut store, "pair-again").and_then(Extern::into_tag).unwrap();
    let plain = exporter.get_export(&mut store, "plain").and_then(Extern::into_tag).unwrap();
    assert_eq!(pair.ty(&store).ty().params(), [ValType::I32, ValType::F64]);
    assert!(plain.ty(&store).ty().params().is_empty());
    assert!(Tag::eq(&pair, &again, &store), "one tag exported twice");
    assert!(!Tag::eq(&pair, &plain, &store));

    let importer = Module::new(&engine, IMPORTER).unwrap();
    let import = importer.imports().next().unwrap();
    assert_eq!(import.ty().to_string(), "(tag (param i32 f64))");
    let instance = Instance::new(&mut store, &importer, &[pair.into()]).unwrap();
    let reexported = instance.get_export(&mut store, "reexported").and_then(Extern::into_tag).unwrap();
    assert!(Tag::eq(&pair, &reexported, &store), "an imported tag is the exporter's");

    // The wrong type, or the wrong kind, does not link.
    let err = Instance::new(&mut store, &importer, &[plain.into()]).err().unwrap();
    assert!(err.to_string().contains("incompatible import type for `m::pair`: tag types differ"), "{err}");
    let mut linker = Linker::new(&engine);
    linker.func_wrap("m", "pair", || {}).unwrap();
    let err = linker.instantiate(&mut store, &importer).err().unwrap();
    assert!(err.to_string().contains("incompatible import type"), "{err}");
}

#[test]
fn host_tags_link_by_type_and_are_each_their_own() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let ty = TagType::new(FuncType::new([ValType::I32, ValType::F64], []));
    let first = Tag::new(&mut store, &ty).unwrap();
    let second = Tag::new(&mut store, &ty).unwrap();
    assert!(!Tag::eq(&first, &second, &store), "two tags of one type are two tags");
    assert_eq!(first.ty(&store), ty);
    assert!(matches!(Extern::from(first).ty(&store), ExternType::Tag(t) if t == ty));

    let importer = Module::new(&engine, IMPORTER).unwrap();
    let mut linker = Linker::new(&engine);
    linker.define(&store, "m", "pair", second).unwrap();
    let instance = linker.instantiate(&mut store, &importer).unwrap();
    let reexported = instance.get_export(&mut store, "reexported").and_then(Extern::into_tag).unwrap();
    assert!(Tag::eq(&second, &reexported, &store));

    let wrong = Tag::new(&mut store, &TagType::new(FuncType::new([ValType::I64], []))).unwrap();
    let err = Instance::new(&mut store, &importer, &[wrong.into()]).err().unwrap();
    assert!(err.to_string().contains("tag types differ"), "{err}");
    let err = Tag::new(&mut store, &TagType::new(FuncType::new([], [ValType::I32]))).err().unwrap();
    assert_eq!(err.to_string(), "a tag's function type must have no results");
}
