;; A 64-bit memory is always checked: the carry of index + offset + size joins the
;; out-of-bounds test that nulls the address (no trapping branch to run past).
(module
  (memory i64 1)
  (func (param i64) (result i32) (i32.load offset=8 (local.get 0))))
