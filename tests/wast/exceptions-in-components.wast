;; A wasm exception does not cross a component instance's boundary: one the callee did not
;; catch is a trap, whether the call is a fused adapter between two sibling instances (the
;; caller's `catch_all` never sees it) or comes from the host.
(component
  (component $thrower
    (core module $m
      (tag $e)
      (func (export "boom") (throw $e)))
    (core instance $i (instantiate $m))
    (func (export "boom") (canon lift (core func $i "boom"))))
  (component $catcher
    (import "boom" (func $boom))
    (core func $boom (canon lower (func $boom)))
    (core module $m
      (import "host" "boom" (func $boom))
      (func (export "run") (result i32)
        (block $h
          (try_table (catch_all $h) (call $boom))
          (return (i32.const 0)))
        (i32.const 1)))
    (core instance $i (instantiate $m (with "host" (instance (export "boom" (func $boom))))))
    (func (export "run") (result u32) (canon lift (core func $i "run"))))
  (instance $t (instantiate $thrower))
  (instance $c (instantiate $catcher (with "boom" (func $t "boom"))))
  (export "run" (func $c "run")))
(assert_trap (invoke "run") "uncaught wasm exception left its component instance")

;; The same export called from the host.
(component
  (core module $m
    (tag $e)
    (func (export "boom") (throw $e)))
  (core instance $i (instantiate $m))
  (func (export "boom") (canon lift (core func $i "boom"))))
(assert_trap (invoke "boom") "uncaught wasm exception left its component instance")
;; The trap leaves the instance poisoned, as any trap does.
(assert_trap (invoke "boom") "cannot enter component instance")
