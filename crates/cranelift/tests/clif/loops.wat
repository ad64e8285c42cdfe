;; Loops: a counting loop on locals, a loop with params and results, branching to the
;; function's own label.
(module
  (func $factorial (param i64) (result i64)
    (local $acc i64)
    (local.set $acc (i64.const 1))
    (block $done
      (loop $again
        (br_if $done (i64.le_u (local.get 0) (i64.const 1)))
        (local.set $acc (i64.mul (local.get $acc) (local.get 0)))
        (local.set 0 (i64.sub (local.get 0) (i64.const 1)))
        (br $again)))
    (local.get $acc))
  (func $loop_params (param i32) (result i32)
    (i32.const 0)
    (local.get 0)
    (loop $l (param i32 i32) (result i32)
      ;; (sum, n) -> sum + n, n - 1, until n == 0
      (local.set 0)
      (i32.add (local.get 0))
      (local.get 0)
      (i32.sub (i32.const 1))
      (local.tee 0)
      (local.get 0)
      (br_if $l)
      (drop))
    (i32.add (local.get 0)))
  (func $branch_to_function_label (param i32) (result i32)
    (br_if 0 (i32.const 1) (local.get 0))
    (drop)
    (i32.const 2))
)
