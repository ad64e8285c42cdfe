;; tunables: memory-reservation=0
;; The same kind of accesses with explicit bounds checks and Spectre guards, including an
;; offset no memory can reach (it must trap at run time, not fail to compile).
(module
  (import "env" "mem" (memory $imported 1))
  (memory $own 1)
  (func $loads (param i32) (result i32)
    (i32.load $own (local.get 0))
    (i32.add (i32.load16_s $imported offset=10 (local.get 0)))
    (i32.add (i32.load8_u $own offset=0xffffffff (local.get 0))))
  (func $stores (param i32 i64)
    (i64.store $own offset=1 (local.get 0) (local.get 1))
    (i32.store8 $imported (local.get 0) (i32.const 7)))
)
