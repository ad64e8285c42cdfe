;; tunables: epoch-interruption=1
;; Epoch checks at function entry (deadline read from the store context) and at a loop
;; header (the cached deadline first, the store's on failure), each calling new_epoch.
(module
  (func (export "spin") (param $n i32)
    (loop $l
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))))
