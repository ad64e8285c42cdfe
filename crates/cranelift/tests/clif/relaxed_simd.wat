;; Relaxed SIMD takes one deterministic result: a strict counterpart's where there is one
;; (laneselect is bitselect), unfused multiply-add, and exact signed dot products.
(module
  (func $laneselect (param v128 v128 v128) (result v128)
    (i32x4.relaxed_laneselect (local.get 0) (local.get 1) (local.get 2)))
  (func $nmadd (param v128 v128 v128) (result v128)
    (f32x4.relaxed_nmadd (local.get 0) (local.get 1) (local.get 2)))
  (func $dot_add (param v128 v128 v128) (result v128)
    (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get 0) (local.get 1) (local.get 2)))
)
