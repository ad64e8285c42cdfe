;; Allocation-heavy loops for the GC benchmark (scripts/gc-bench.sh): each export takes N and
;; returns a checksum of every field it read back.
(module
  (type $point (struct (field $x (mut i64)) (field $y (mut i64))))
  (type $cell (struct (field $head (ref $point)) (field $tail (ref null $cell))))
  (type $vec (array (mut i64)))

  ;; N lists of 8 points, each built then walked: 16 allocations and 24 field reads per list.
  (func (export "structs") (param $n i32) (result i64)
    (local $list (ref null $cell)) (local $i i32) (local $sum i64)
    (loop $lists
      (local.set $list (ref.null $cell))
      (local.set $i (i32.const 8))
      (loop $build
        (local.set $list
          (struct.new $cell
            (struct.new $point (i64.extend_i32_u (local.get $i)) (i64.extend_i32_u (local.get $n)))
            (local.get $list)))
        (br_if $build (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
      (block $end
        (loop $walk
          (br_if $end (ref.is_null (local.get $list)))
          (local.set $sum (i64.add (local.get $sum)
            (i64.add (struct.get $point $x (struct.get $cell $head (ref.as_non_null (local.get $list))))
                     (struct.get $point $y (struct.get $cell $head (ref.as_non_null (local.get $list)))))))
          (local.set $list (struct.get $cell $tail (ref.as_non_null (local.get $list))))
          (br $walk)))
      (br_if $lists (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $sum))

  ;; N arrays of 16 i64s, filled and summed.
  (func (export "arrays") (param $n i32) (result i64)
    (local $a (ref null $vec)) (local $i i32) (local $sum i64)
    (loop $arrays
      (local.set $a (array.new $vec (i64.extend_i32_u (local.get $n)) (i32.const 16)))
      (local.set $i (i32.const 16))
      (loop $read
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (local.set $sum (i64.add (local.get $sum) (array.get $vec (local.get $a) (local.get $i))))
        (br_if $read (local.get $i)))
      (br_if $arrays (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $sum)))
