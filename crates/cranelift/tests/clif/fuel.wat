;; tunables: consume-fuel=1
;; Fuel: the entry check, costs added where control leaves straight-line code, the count
;; written back before calls and returns and read after calls, a loop with params (whose
;; header checks again), if/else, br_table, and memory.fill's per-byte charge.
(module
  (memory 1)
  (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "loop") (param $n i32) (result i32)
    (i32.const 0) (local.get $n)
    (loop $l (param i32 i32) (result i32)
      (call $leaf)
      (local.tee $n)
      (br_if $l (i32.lt_u (local.get $n) (i32.const 10)))
      (drop)))
  (func (export "branches") (param i32) (result i32)
    (if (result i32) (local.get 0)
      (then (i32.const 1))
      (else
        (block $a (block $b (br_table $a $b (local.get 0))))
        (i32.const 2))))
  (func (export "fill") (param i32)
    (memory.fill (i32.const 0) (i32.const 0) (local.get 0))))
