;; Tables whose maximum is their minimum never grow: their bound is a constant and the
;; address of their elements is loaded read-only (so it can be hoisted), for a defined and an
;; imported table alike. A growable table reloads both on every access.
(module
  (type $unop (func (param i32) (result i32)))
  (import "env" "fixed" (table $imported 2 2 funcref))
  (table $fixed 4 4 funcref)
  (table $growable 4 funcref)
  (func $fixed (param i32) (result i32)
    (call_indirect $fixed (type $unop) (local.get 0) (local.get 0)))
  (func $imported (param i32) (result i32)
    (call_indirect $imported (type $unop) (local.get 0) (local.get 0)))
  (func $growable (param i32) (result i32)
    (call_indirect $growable (type $unop) (local.get 0) (local.get 0)))
  (func $sizes (result i32)
    (i32.add (table.size $fixed) (table.size $growable)))
)
