;; Lists fd 3 (a preopened directory) through `fd_readdir` with a buffer of a given size,
;; continuing from the last whole entry's cookie until a call leaves the buffer short, and
;; counts the entries: `count(buf_len) -> entries` (-1 for an errno, -2 when an entry cannot
;; fit the buffer). Used by tests/readdir.rs and benches/readdir.rs.
(module
  (import "wasi_snapshot_preview1" "fd_readdir" (func $readdir (param i32 i32 i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "count") (param $len i32) (result i32)
    (local $cookie i64) (local $used i32) (local $at i32) (local $end i32) (local $size i32)
    (local $n i32) (local $before i32)
    (loop $call
      (if (call $readdir (i32.const 3) (i32.const 1024) (local.get $len) (local.get $cookie) (i32.const 8))
        (then (return (i32.const -1))))
      (local.set $used (i32.load (i32.const 8)))
      (local.set $at (i32.const 1024))
      (local.set $end (i32.add (i32.const 1024) (local.get $used)))
      (local.set $before (local.get $n))
      (block $done
        (loop $entry
          ;; A dirent is a 24-byte header (next cookie, inode, name length, type), then the name.
          (br_if $done (i32.gt_u (i32.add (local.get $at) (i32.const 24)) (local.get $end)))
          (local.set $size (i32.add (i32.const 24) (i32.load offset=16 (local.get $at))))
          (br_if $done (i32.gt_u (i32.add (local.get $at) (local.get $size)) (local.get $end)))
          (local.set $cookie (i64.load (local.get $at)))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (local.set $at (i32.add (local.get $at) (local.get $size)))
          (br $entry)))
      (if (i32.and (i32.eq (local.get $used) (local.get $len)) (i32.eq (local.get $n) (local.get $before)))
        (then (return (i32.const -2))))
      (br_if $call (i32.eq (local.get $used) (local.get $len))))
    (local.get $n)))
