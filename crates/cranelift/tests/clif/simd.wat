;; SIMD: every v128 is an I8X16, bitcast (little-endian lane order) to the lane type an
;; operator needs and back; loads and stores use the scalar bounds checks with their real
;; access sizes; pmin/pmax, dot and trunc_sat_f64x2_*_zero take the shapes the backends
;; recognise.
(module
  (memory 1)
  (global $g (mut v128) (v128.const i32x4 1 2 3 4))

  ;; Constants, locals, globals, select and block parameters stay I8X16.
  (func $plumbing (param $c i32) (param $v v128) (result v128)
    (local $l v128)
    (local.set $l (v128.const i32x4 0x01020304 5 6 7))
    (global.set $g (local.get $v))
    (local.get $v)
    (block (param v128) (result v128)
      (select (local.get $l) (global.get $g) (local.get $c))
      (i32x4.add)))

  ;; Memory: full, widening, splatting, zero-filling, lane loads and stores.
  (func $memory (param $a i32) (param $v v128) (result v128)
    (v128.store offset=16 (local.get $a) (v128.load (local.get $a)))
    (v128.store8_lane 15 (local.get $a) (local.get $v))
    (v128.store64_lane offset=8 1 (local.get $a) (local.get $v))
    (i16x8.add (v128.load8x8_s (local.get $a)) (v128.load16x4_u offset=4 (local.get $a)))
    (v128.load32_splat (local.get $a))
    (v128.load64_zero (local.get $a))
    (v128.load16_lane 3 (local.get $a) (local.get $v))
    (drop) (drop) (drop))

  ;; Lanes.
  (func $lanes (param $v v128) (param $w v128) (param $x i32) (result i32)
    (i8x16.shuffle 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31 (local.get $v) (local.get $w))
    (i8x16.swizzle (local.get $w))
    (i16x8.replace_lane 7 (local.get $x))
    (i8x16.extract_lane_s 3)
    (i32x4.extract_lane 2 (i32x4.splat (local.get $x)))
    (i32.add)
    (f64x2.extract_lane 1 (f64x2.splat (f64.const 1.5)))
    (i32.trunc_f64_s)
    (i32.add))

  ;; Comparisons, bitwise operators and tests.
  (func $tests (param $v v128) (param $w v128) (result i32)
    (v128.bitselect (i16x8.lt_u (local.get $v) (local.get $w))
                    (f64x2.ne (local.get $v) (local.get $w))
                    (v128.andnot (local.get $v) (local.get $w)))
    (i32x4.all_true)
    (i8x16.bitmask (v128.not (local.get $v)))
    (i32.add)
    (v128.any_true (i64x2.ge_s (local.get $v) (local.get $w)))
    (i32.add))

  ;; Integer arithmetic.
  (func $integers (param $v v128) (param $w v128) (param $n i32) (result v128)
    (i8x16.add_sat_u (local.get $v) (local.get $w))
    (i16x8.q15mulr_sat_s (local.get $w))
    (i32x4.dot_i16x8_s (local.get $v))
    (i64x2.extmul_high_i32x4_s (local.get $w))
    (i32x4.extadd_pairwise_i16x8_u)
    (i8x16.narrow_i16x8_u (local.get $v))
    (i64x2.extend_low_i32x4_u)
    (i64x2.shr_s (local.get $n))
    (i8x16.popcnt)
    (i8x16.avgr_u (local.get $w)))

  ;; Float arithmetic: IEEE min with wasm's NaN rules, pseudo-min, rounding.
  (func $floats (param $v v128) (param $w v128) (result v128)
    (f32x4.min (local.get $v) (local.get $w))
    (f32x4.pmin (local.get $w))
    (f64x2.pmax (local.get $v) (local.get $w))
    (f64x2.nearest)
    (f32x4.demote_f64x2_zero)
    (f32x4.add))

  ;; Conversions.
  (func $conversions (param $v v128) (result v128)
    (i32x4.trunc_sat_f64x2_s_zero (local.get $v))
    (i32x4.trunc_sat_f64x2_u_zero (local.get $v))
    (i32x4.add)
    (f64x2.convert_low_i32x4_u)
    (f32x4.convert_i32x4_u (i32x4.trunc_sat_f32x4_s (local.get $v)))
    (f64x2.promote_low_f32x4)
    (f64x2.add))
)
