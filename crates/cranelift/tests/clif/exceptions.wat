;; throw caught in the same function, across a call, and catch_all_ref.
(module
  (tag $e (param i32))
  (func $thrower (param i32) (throw $e (local.get 0)))
  (func (export "direct") (param i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $e $h)
        (throw $e (local.get 0)))))
  (func (export "across") (param i32) (result i32)
    (block $h (result exnref)
      (try_table (catch_all_ref $h)
        (call $thrower (local.get 0)))
      (return (i32.const 99)))
    (throw_ref)))
