;; tunables: inlining-sum-size-threshold=50 inlining-small-callee-size=10
;; `small` is inlined into `caller`; the mutually recursive `even`/`odd` pair is left alone;
;; `big` (over the small-callee size) is not inlined into `big_caller`, which is over the
;; sum threshold with it.
(module
  (func $small (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $caller (export "caller") (param i32) (result i32) (call $small (local.get 0)))
  (func $even (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 1))
      (else (call $odd (i32.sub (local.get 0) (i32.const 1))))))
  (func $odd (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (call $even (i32.sub (local.get 0) (i32.const 1))))))
  (func $big (param i32) (result i32)
    (local.get 0) (i32.const 3) (i32.mul) (i32.const 5) (i32.add) (i32.const 7) (i32.xor)
    (i32.const 11) (i32.mul) (i32.const 13) (i32.add) (i32.const 17) (i32.xor)
    (i32.const 19) (i32.mul) (i32.const 23) (i32.add) (i32.const 29) (i32.xor))
  (func $big_caller (export "big_caller") (param i32) (result i32)
    (local.get 0) (i32.const 2) (i32.mul) (i32.const 4) (i32.add) (i32.const 6) (i32.xor)
    (i32.const 8) (i32.mul) (i32.const 10) (i32.add) (i32.const 12) (i32.xor)
    (i32.const 14) (i32.mul) (i32.const 16) (i32.add) (i32.const 18) (i32.xor)
    (i32.const 20) (i32.mul) (i32.const 22) (i32.add) (i32.const 24) (i32.xor)
    (i32.const 26) (i32.mul) (i32.const 28) (i32.add) (i32.const 30) (i32.xor)
    (call $big)))
