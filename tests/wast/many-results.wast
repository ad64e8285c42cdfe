;; Functions with more results than the target has return registers (the probe's
;; finding: 9 or more failed to compile). Results come back through a return area; direct,
;; indirect, tail and host-boundary calls all pass them.
(module
  (func $r9 (export "r9") (result i32 i32 i32 i32 i32 i32 i32 i32 i32) (i32.const 0) (i32.const 1) (i32.const 2) (i32.const 3) (i32.const 4) (i32.const 5) (i32.const 6) (i32.const 7) (i32.const 8))
  (func $r16 (export "r16") (result i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (i32.const 0) (i32.const 1) (i32.const 2) (i32.const 3) (i32.const 4) (i32.const 5) (i32.const 6) (i32.const 7) (i32.const 8) (i32.const 9) (i32.const 10) (i32.const 11) (i32.const 12) (i32.const 13) (i32.const 14) (i32.const 15))
  (func $r100 (export "r100") (result i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (i32.const 0) (i32.const 1) (i32.const 2) (i32.const 3) (i32.const 4) (i32.const 5) (i32.const 6) (i32.const 7) (i32.const 8) (i32.const 9) (i32.const 10) (i32.const 11) (i32.const 12) (i32.const 13) (i32.const 14) (i32.const 15) (i32.const 16) (i32.const 17) (i32.const 18) (i32.const 19) (i32.const 20) (i32.const 21) (i32.const 22) (i32.const 23) (i32.const 24) (i32.const 25) (i32.const 26) (i32.const 27) (i32.const 28) (i32.const 29) (i32.const 30) (i32.const 31) (i32.const 32) (i32.const 33) (i32.const 34) (i32.const 35) (i32.const 36) (i32.const 37) (i32.const 38) (i32.const 39) (i32.const 40) (i32.const 41) (i32.const 42) (i32.const 43) (i32.const 44) (i32.const 45) (i32.const 46) (i32.const 47) (i32.const 48) (i32.const 49) (i32.const 50) (i32.const 51) (i32.const 52) (i32.const 53) (i32.const 54) (i32.const 55) (i32.const 56) (i32.const 57) (i32.const 58) (i32.const 59) (i32.const 60) (i32.const 61) (i32.const 62) (i32.const 63) (i32.const 64) (i32.const 65) (i32.const 66) (i32.const 67) (i32.const 68) (i32.const 69) (i32.const 70) (i32.const 71) (i32.const 72) (i32.const 73) (i32.const 74) (i32.const 75) (i32.const 76) (i32.const 77) (i32.const 78) (i32.const 79) (i32.const 80) (i32.const 81) (i32.const 82) (i32.const 83) (i32.const 84) (i32.const 85) (i32.const 86) (i32.const 87) (i32.const 88) (i32.const 89) (i32.const 90) (i32.const 91) (i32.const 92) (i32.const 93) (i32.const 94) (i32.const 95) (i32.const 96) (i32.const 97) (i32.const 98) (i32.const 99))
  (type $t16 (func (result i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
  (table funcref (elem $r16))
  (func (export "sum16") (result i32) (call $r16) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add))
  (func (export "sum16_indirect") (result i32) (call_indirect (type $t16) (i32.const 0)) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add))
  (func $tail16 (export "tail16") (result i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (return_call $r16))
  (func (export "sum_tail16") (result i32) (call $tail16) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add) (i32.add))
  (func (export "swap12") (param i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32)
    (result i32 f64 f32 i64 i32 f64 f32 i64 i32 f64 f32 i64)
    (local.get 11) (local.get 10) (local.get 9) (local.get 8) (local.get 7) (local.get 6) (local.get 5) (local.get 4) (local.get 3) (local.get 2) (local.get 1) (local.get 0))
)

(assert_return (invoke "r9") (i32.const 0) (i32.const 1) (i32.const 2) (i32.const 3) (i32.const 4) (i32.const 5) (i32.const 6) (i32.const 7) (i32.const 8))
(assert_return (invoke "r16") (i32.const 0) (i32.const 1) (i32.const 2) (i32.const 3) (i32.const 4) (i32.const 5) (i32.const 6) (i32.const 7) (i32.const 8) (i32.const 9) (i32.const 10) (i32.const 11) (i32.const 12) (i32.const 13) (i32.const 14) (i32.const 15))
(assert_return (invoke "r100") (i32.const 0) (i32.const 1) (i32.const 2) (i32.const 3) (i32.const 4) (i32.const 5) (i32.const 6) (i32.const 7) (i32.const 8) (i32.const 9) (i32.const 10) (i32.const 11) (i32.const 12) (i32.const 13) (i32.const 14) (i32.const 15) (i32.const 16) (i32.const 17) (i32.const 18) (i32.const 19) (i32.const 20) (i32.const 21) (i32.const 22) (i32.const 23) (i32.const 24) (i32.const 25) (i32.const 26) (i32.const 27) (i32.const 28) (i32.const 29) (i32.const 30) (i32.const 31) (i32.const 32) (i32.const 33) (i32.const 34) (i32.const 35) (i32.const 36) (i32.const 37) (i32.const 38) (i32.const 39) (i32.const 40) (i32.const 41) (i32.const 42) (i32.const 43) (i32.const 44) (i32.const 45) (i32.const 46) (i32.const 47) (i32.const 48) (i32.const 49) (i32.const 50) (i32.const 51) (i32.const 52) (i32.const 53) (i32.const 54) (i32.const 55) (i32.const 56) (i32.const 57) (i32.const 58) (i32.const 59) (i32.const 60) (i32.const 61) (i32.const 62) (i32.const 63) (i32.const 64) (i32.const 65) (i32.const 66) (i32.const 67) (i32.const 68) (i32.const 69) (i32.const 70) (i32.const 71) (i32.const 72) (i32.const 73) (i32.const 74) (i32.const 75) (i32.const 76) (i32.const 77) (i32.const 78) (i32.const 79) (i32.const 80) (i32.const 81) (i32.const 82) (i32.const 83) (i32.const 84) (i32.const 85) (i32.const 86) (i32.const 87) (i32.const 88) (i32.const 89) (i32.const 90) (i32.const 91) (i32.const 92) (i32.const 93) (i32.const 94) (i32.const 95) (i32.const 96) (i32.const 97) (i32.const 98) (i32.const 99))
(assert_return (invoke "sum16") (i32.const 120))
(assert_return (invoke "sum16_indirect") (i32.const 120))
(assert_return (invoke "tail16") (i32.const 0) (i32.const 1) (i32.const 2) (i32.const 3) (i32.const 4) (i32.const 5) (i32.const 6) (i32.const 7) (i32.const 8) (i32.const 9) (i32.const 10) (i32.const 11) (i32.const 12) (i32.const 13) (i32.const 14) (i32.const 15))
(assert_return (invoke "sum_tail16") (i32.const 120))
(assert_return (invoke "swap12" (i64.const 1) (f32.const 2.5) (f64.const 3.5) (i32.const 4) (i64.const 5) (f32.const 6.5) (f64.const 7.5) (i32.const 8) (i64.const 9) (f32.const 10.5) (f64.const 11.5) (i32.const 12)) (i32.const 12) (f64.const 11.5) (f32.const 10.5) (i64.const 9) (i32.const 8) (f64.const 7.5) (f32.const 6.5) (i64.const 5) (i32.const 4) (f64.const 3.5) (f32.const 2.5) (i64.const 1))

;; Through an import: the callee is another instance's export.
(register "many")
(module
  (import "many" "r16" (func $r16 (result i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
  (func (export "first_of_16") (result i32)
    (call $r16)
    (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop))
)
(assert_return (invoke "first_of_16") (i32.const 0))
