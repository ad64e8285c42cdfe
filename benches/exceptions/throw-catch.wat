;; Throw-and-catch round trips for scripts/exception-bench.sh: `near` throws from a callee and
;; catches in its caller, `deep` throws from 100 frames down; each repeats $n times and
;; returns the sum of the payloads.
(module
  (tag $e (param i32))
  (func $thrower (param i32) (throw $e (local.get 0)))
  (func $down (param i32) (param i32)
    (if (i32.eqz (local.get 0)) (then (throw $e (local.get 1))))
    (call $down (i32.sub (local.get 0) (i32.const 1)) (local.get 1)))
  (func (export "near") (param $n i32) (result i32)
    (local $sum i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $sum (i32.add (local.get $sum)
          (block $h (result i32)
            (try_table (catch $e $h) (call $thrower (local.get $n)))
            (i32.const 0))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $sum))
  (func (export "deep") (param $n i32) (result i32)
    (local $sum i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $sum (i32.add (local.get $sum)
          (block $h (result i32)
            (try_table (catch $e $h) (call $down (i32.const 100) (local.get $n)))
            (i32.const 0))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $sum)))
