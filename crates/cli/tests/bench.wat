;; The `bench` import module of the Sightglass programs: the guest calls `start` before its
;; measured region and `end` after it; for a correctness run both do nothing.
(module
  (func (export "start"))
  (func (export "end")))
