//! The host's side of GC: types made from Rust are the same canonical types as equal ones a
//! module declares, structs and arrays made and read from Rust check their types, bounds and
//! mutability, and what the host roots lives exactly as long as its root.
use kiln::{
    AnyRef, ArrayRef, ArrayRefPre, ArrayType, AsContextMut, Engine, Error, FieldType, Instance, Module, Mutability,
    OwnedRooted, RootScope, Rooted, StorageType, Store, StructRef, StructRefPre, StructType, Val, ValType,
};

/// `(struct (field (mut i8)) (field i64) (field (mut anyref)))`.
fn pair_type(engine: &Engine) -> StructType {
    StructType::new(
        engine,
        [
            FieldType::new(Mutability::Var, StorageType::I8),
            FieldType::new(Mutability::Const, StorageType::ValType(ValType::I64)),
            FieldType::new(Mutability::Var, StorageType::ValType(ValType::AnyRef)),
        ],
    )
    .unwrap()
}

const MODULE: &str = r#"(module
  (type $pair (struct (field (mut i8)) (field i64) (field (mut anyref))))
  (type $bytes (array (mut i8)))
  (func (export "sum") (param $p (ref $pair)) (result i64)
    (i64.add (i64.extend_i32_s (struct.get_s $pair 0 (local.get $p))) (struct.get $pair 1 (local.get $p))))
  (func (export "is_pair") (param anyref) (result i32) (ref.test (ref $pair) (local.get 0)))
  (func (export "make") (param $v i64) (result anyref)
    (struct.new $pair (i32.const 200) (local.get $v) (ref.i31 (i32.const 9))))
  (func (export "bytes") (param $n i32) (result anyref) (array.new $bytes (i32.const 7) (local.get $n)))
  (func (export "churn") (param $n i32)
    (loop $l
      (drop (array.new_default $bytes (i32.const 1000)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))"#;

fn setup() -> (Store<()>, Instance) {
    setup_with(Engine::default())
}

fn setup_with(engine: Engine) -> (Store<()>, Instance) {
    let module = Module::new(&engine, MODULE).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    (store, instance)
}

#[test]
fn a_struct_made_by_the_host_is_of_the_modules_equal_type() {
    let (mut store, instance) = setup();
    let pair = pair_type(store.engine());
    let pre = StructRefPre::new(&mut store, pair);
    let s = StructRef::new(&mut store, &pre, &[Val::I32(-3), Val::I64(10), Val::AnyRef(None)]).unwrap();
    let sum = instance.get_func(&mut store, "sum").unwrap();
    let mut out = [Val::I32(0)];
    sum.call(&mut store, &[s.into()], &mut out).unwrap();
    assert_eq!(out[0].i64(), Some(7), "wasm reads the host's fields, the i8 sign-extended");
    let is_pair = instance.get_typed_func::<Option<Rooted<AnyRef>>, i32>(&mut store, "is_pair").unwrap();
    assert_eq!(is_pair.call(&mut store, Some(s.to_anyref())).unwrap(), 1);

    // The host reads what it wrote, a packed field zero-extended.
    assert_eq!(s.field(&mut store, 0).unwrap().i32(), Some(0xfd));
    assert_eq!(s.field(&mut store, 1).unwrap().i64(), Some(10));
    assert!(matches!(s.field(&mut store, 2).unwrap(), Val::AnyRef(None)));
    assert_eq!(s.fields(&mut store).unwrap().len(), 3);
    assert_eq!(s.ty(&mut store).unwrap(), *pre.ty(), "one canonical type");

    // Writes are checked against the field's type and mutability.
    let i31 = AnyRef::from_i31(&mut store, kiln::I31::wrapping_u32(5));
    s.set_field(&mut store, 2, i31.into()).unwrap();
    let got = s.field(&mut store, 2).unwrap().anyref().flatten().unwrap();
    assert_eq!(got.as_i31(&store).unwrap().map(|i| i.get_u32()), Some(5));
    s.set_field(&mut store, 0, Val::I32(0x1ff)).unwrap();
    assert_eq!(s.field(&mut store, 0).unwrap().i32(), Some(0xff), "wrapped to 8 bits");
    assert!(s.set_field(&mut store, 1, Val::I64(1)).unwrap_err().to_string().contains("immutable"));
    assert!(s.set_field(&mut store, 0, Val::I64(1)).is_err(), "an i64 in an i8 field");
    assert!(s.set_field(&mut store, 3, Val::I32(1)).is_err(), "no field 3");
    assert!(s.field(&mut store, 3).is_err());
    assert!(StructRef::new(&mut store, &pre, &[Val::I32(1)]).is_err(), "too few values");
    assert!(StructRef::new(&mut store, &pre, &[Val::I32(1), Val::I32(2), Val::AnyRef(None)]).is_err());
}

#[test]
fn a_struct_made_by_wasm_reads_from_the_host() {
    let (mut store, instance) = setup();
    let make = instance.get_typed_func::<i64, Option<Rooted<AnyRef>>>(&mut store, "make").unwrap();
    let r = make.call(&mut store, 11).unwrap().unwrap();
    assert!(r.is_eqref(&store).unwrap() && r.is_struct(&store).unwrap() && !r.is_array(&store).unwrap());
    assert!(r.as_array(&store).unwrap().is_none() && r.as_i31(&store).unwrap().is_none());
    let s = r.unwrap_struct(&store).unwrap();
    let fields: Vec<Val> = s.fields(&mut store).unwrap().collect();
    assert_eq!(fields[0].i32(), Some(200));
    assert_eq!(fields[1].i64(), Some(11));
    let Val::AnyRef(Some(nine)) = &fields[2] else { panic!("{:?}", fields[2]) };
    assert_eq!(nine.unwrap_i31(&store).unwrap().get_i32(), 9);
    let ty = s.ty(&mut store).unwrap();
    assert_eq!(ty, pair_type(store.engine()));
    let kinds: Vec<StorageType> = ty.fields().map(|f| *f.element_type()).collect();
    assert_eq!(kinds, [StorageType::I8, StorageType::ValType(ValType::I64), StorageType::ValType(ValType::AnyRef)]);
    assert_eq!(ty.field(1).unwrap().mutability(), Mutability::Const);
}

#[test]
fn arrays_from_the_host_and_from_wasm() {
    let (mut store, instance) = setup();
    let bytes = ArrayType::new(store.engine(), FieldType::new(Mutability::Var, StorageType::I8));
    let pre = ArrayRefPre::new(&mut store, bytes.clone());
    let a = ArrayRef::new(&mut store, &pre, &Val::I32(3), 4).unwrap();
    assert_eq!(a.len(&mut store).unwrap(), 4);
    a.set(&mut store, 2, Val::I32(0x180)).unwrap();
    let elems: Vec<Option<i32>> = a.elems(&mut store).unwrap().map(|v| v.i32()).collect();
    assert_eq!(elems, [Some(3), Some(3), Some(0x80), Some(3)]);
    assert!(a.get(&mut store, 4).unwrap_err().to_string().contains("out of bounds"));
    assert!(a.set(&mut store, 4, Val::I32(0)).is_err());
    assert!(a.set(&mut store, 0, Val::F32(0)).is_err());
    assert_eq!(a.ty(&mut store).unwrap(), bytes);

    let fixed = ArrayRef::new_fixed(&mut store, &pre, &[Val::I32(1), Val::I32(2)]).unwrap();
    assert_eq!(fixed.get(&mut store, 1).unwrap().i32(), Some(2));
    let is_pair = instance.get_typed_func::<Option<Rooted<AnyRef>>, i32>(&mut store, "is_pair").unwrap();
    assert_eq!(is_pair.call(&mut store, Some(fixed.to_anyref())).unwrap(), 0);

    let from_wasm = instance.get_typed_func::<i32, Option<Rooted<AnyRef>>>(&mut store, "bytes").unwrap();
    let w = from_wasm.call(&mut store, 3).unwrap().unwrap().unwrap_array(&store).unwrap();
    assert_eq!(w.len(&mut store).unwrap(), 3);
    assert_eq!(w.get(&mut store, 0).unwrap().i32(), Some(7));
    assert!(!w.is_empty(&mut store).unwrap());

    let constant =
        ArrayType::new(store.engine(), FieldType::new(Mutability::Const, StorageType::ValType(ValType::F64)));
    let pre = ArrayRefPre::new(&mut store, constant);
    let c = ArrayRef::new(&mut store, &pre, &Val::from(1.5f64), 2).unwrap();
    assert_eq!(c.get(&mut store, 1).unwrap().f64(), Some(1.5));
    assert!(c.set(&mut store, 0, Val::from(2.0f64)).unwrap_err().to_string().contains("immutable"));
}

#[test]
fn what_the_host_roots_survives_allocation_and_the_rest_is_collected() {
    // 200k host structs of 32 bytes do not fit in 1 MiB: those whose scopes ended go.
    let mut config = kiln::Config::new();
    config.gc_heap_max(1 << 20);
    let (mut store, instance) = setup_with(Engine::new(&config).unwrap());
    let churn = instance.get_typed_func::<i32, ()>(&mut store, "churn").unwrap();
    let pair = pair_type(store.engine());
    let pre = StructRefPre::new(&mut store, pair);
    let owned: Vec<OwnedRooted<StructRef>> = (0..100)
        .map(|i| {
            let mut scope = RootScope::new(&mut store);
            let s = StructRef::new(&mut scope, &pre, &[Val::I32(i), Val::I64(i.into()), Val::AnyRef(None)]).unwrap();
            s.to_owned_rooted(&mut scope).unwrap()
        })
        .collect();
    // Many host allocations whose roots end with their scopes: the heap reuses their room.
    for i in 0..200_000 {
        let mut scope = RootScope::new(&mut store);
        StructRef::new(&mut scope, &pre, &[Val::I32(i), Val::I64(0), Val::AnyRef(None)]).unwrap();
    }
    churn.call(&mut store, 10_000).unwrap();
    store.as_context_mut().gc();
    for (i, s) in owned.iter().enumerate() {
        assert_eq!(s.field(&mut store, 1).unwrap().i64(), Some(i as i64), "struct {i} survived");
    }
    let scoped = owned[0].to_rooted(&mut store).unwrap();
    assert!(Rooted::ref_eq(&store, &scoped, &owned[0]).unwrap());
    assert!(!Rooted::ref_eq(&store, &scoped, &owned[1]).unwrap());
    drop(owned);
    store.gc();
    assert_eq!(scoped.field(&mut store, 1).unwrap().i64(), Some(0), "the scoped root still holds it");
}

#[test]
fn references_of_another_store_or_type_are_refused() {
    let (mut store, instance) = setup();
    let pair = pair_type(store.engine());
    let pre = StructRefPre::new(&mut store, pair);
    let mut other = Store::new(store.engine(), ());
    assert!(StructRef::new(&mut other, &pre, &[Val::I32(0), Val::I64(0), Val::AnyRef(None)]).is_err());
    let s = StructRef::new(&mut store, &pre, &[Val::I32(0), Val::I64(0), Val::AnyRef(None)]).unwrap();
    assert!(s.field(&mut other, 0).is_err(), "another store's root");

    // A struct of another type where wasm wants `(ref $pair)`.
    let single = StructType::new(store.engine(), [FieldType::new(Mutability::Var, StorageType::I16)]).unwrap();
    let pre = StructRefPre::new(&mut store, single);
    let wrong = StructRef::new(&mut store, &pre, &[Val::I32(1)]).unwrap();
    let sum = instance.get_func(&mut store, "sum").unwrap();
    let err = sum.call(&mut store, &[Val::AnyRef(Some(wrong.to_anyref()))], &mut [Val::I64(0)]).unwrap_err();
    assert!(matches!(err, Error::Other(_)), "{err}");
    let err = sum.call(&mut store, &[Val::AnyRef(None)], &mut [Val::I64(0)]).unwrap_err();
    assert!(err.to_string().contains("null"), "{err}");
}

#[test]
fn host_allocations_and_collections_between_inline_ones_keep_both() {
    // Wasm builds a list inline; between two of its nodes a host function allocates a struct
    // of the same type (through the runtime, taking the window back and lending a new one)
    // and collects every 100 calls; the list holds both kinds of nodes.
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
          (type $node (struct (field $next (ref null $node)) (field $v i64)))
          (import "host" "node" (func $host (param anyref i64) (result anyref)))
          (func (export "build") (param $n i32) (result i64)
            (local $list (ref null $node)) (local $sum i64)
            (loop $again
              (local.set $list (struct.new $node (local.get $list) (i64.const 1)))
              (local.set $list (ref.cast (ref null $node) (call $host (local.get $list) (i64.const 1000))))
              (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
            (block $end
              (loop $walk
                (br_if $end (ref.is_null (local.get $list)))
                (local.set $sum (i64.add (local.get $sum) (struct.get $node $v (local.get $list))))
                (local.set $list (struct.get $node $next (local.get $list)))
                (br $walk)))
            (local.get $sum)))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, 0u32);
    let ty = StructType::new(
        &engine,
        [
            FieldType::new(Mutability::Const, StorageType::ValType(ValType::AnyRef)),
            FieldType::new(Mutability::Const, StorageType::ValType(ValType::I64)),
        ],
    )
    .unwrap();
    // The host's type is `(struct (field anyref) (field i64))`, not the module's `$node`: it
    // makes the module's nodes through wasm's own type, read back from one it was given.
    let node = kiln::Func::new(
        &mut store,
        kiln::FuncType::new([ValType::AnyRef, ValType::I64], [ValType::AnyRef]),
        move |mut caller, params, results| {
            let next = params[0].anyref().flatten().unwrap();
            let module_type = next.unwrap_struct(&caller)?.ty(&mut caller)?;
            assert_ne!(module_type, ty, "a field of a concrete type is not anyref's");
            let pre = StructRefPre::new(&mut caller, module_type);
            let made = StructRef::new(&mut caller, &pre, &[Val::AnyRef(Some(next)), params[1].clone()])?;
            *caller.data_mut() += 1;
            if *caller.data() % 100 == 0 {
                caller.gc();
            }
            results[0] = made.into();
            Ok(())
        },
    );
    let instance = Instance::new(&mut store, &module, &[node.into()]).unwrap();
    let build = instance.get_typed_func::<i32, i64>(&mut store, "build").unwrap();
    assert_eq!(build.call(&mut store, 5000).unwrap(), 5000 * 1001);
}
