;; memory.size and memory.grow on a defined and an imported memory.
(module
  (import "env" "mem" (memory $imported 1))
  (memory $own 1 10)
  (func $size (result i32 i32)
    (memory.size $own)
    (memory.size $imported))
  (func $grow (param i32) (result i32)
    (memory.grow $own (local.get 0))
    (drop (memory.grow $imported (i32.const 1))))
)
