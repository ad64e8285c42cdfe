;; Tail calls: `return_call` to a defined and an imported function, and
;; `return_call_indirect`, each ending its block with Cranelift's tail call (the code after
;; it is unreachable and not translated).
(module
  (type $unop (func (param i64) (result i64)))
  (import "env" "host" (func $host (param i64) (result i64)))
  (table $t 2 funcref)
  (func $count (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 0))
      (else (return_call $count (i64.sub (local.get 0) (i64.const 1))))))
  (func $to_host (param i64) (result i64)
    (return_call $host (local.get 0))
    (drop (i32.const 1)))
  (func $indirect (param i64 i32) (result i64)
    (return_call_indirect $t (type $unop) (local.get 0) (local.get 1)))
)
