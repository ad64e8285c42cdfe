;; A WASI 0.2 command for tests/p2.rs: it imports the interfaces it uses with their WIT types
;; (some at @0.2.0, to be matched to the host's @0.2.12) and exports one probe per operation,
;; plus `wasi:cli/run@0.2.3#run`, which writes to stdout and then returns or exits as
;; `set-mode` chose. Memory: results at 0 (imports' return areas) and 1024 (the probes'),
;; pollable handles at 256, directory entry names at 2048, data at 4096, allocations from 8192.
(component
  (import "wasi:io/error@0.2.12" (instance $io-error
    (export "error" (type (sub resource)))))
  (alias export $io-error "error" (type $error))

  (import "wasi:io/poll@0.2.12" (instance $io-poll
    (export "pollable" (type $p (sub resource)))
    (export "poll" (func (param "in" (list (borrow $p))) (result (list u32))))))
  (alias export $io-poll "pollable" (type $pollable))
  (alias export $io-poll "poll" (func $poll))

  (import "wasi:io/streams@0.2.12" (instance $io-streams
    (alias outer 1 $error (type $e))
    (export "error" (type $err (eq $e)))
    (export "input-stream" (type $in (sub resource)))
    (export "output-stream" (type $out (sub resource)))
    (type $se (variant (case "last-operation-failed" (own $err)) (case "closed")))
    (export "stream-error" (type $stream-error (eq $se)))
    (export "[method]input-stream.blocking-read"
      (func (param "self" (borrow $in)) (param "len" u64) (result (result (list u8) (error $stream-error)))))
    (export "[method]output-stream.blocking-write-and-flush"
      (func (param "self" (borrow $out)) (param "contents" (list u8)) (result (result (error $stream-error)))))))
  (alias export $io-streams "input-stream" (type $input-stream))
  (alias export $io-streams "output-stream" (type $output-stream))
  (alias export $io-streams "[method]input-stream.blocking-read" (func $blocking-read))
  (alias export $io-streams "[method]output-stream.blocking-write-and-flush" (func $blocking-write))

  (import "wasi:cli/environment@0.2.0" (instance $environment
    (export "get-arguments" (func (result (list string))))
    (export "get-environment" (func (result (list (tuple string string)))))))
  (alias export $environment "get-arguments" (func $get-arguments))
  (alias export $environment "get-environment" (func $get-environment))

  (import "wasi:cli/exit@0.2.12" (instance $exit
    (export "exit" (func (param "status" (result))))
    (export "exit-with-code" (func (param "status-code" u8)))))
  (alias export $exit "exit" (func $exit))
  (alias export $exit "exit-with-code" (func $exit-with-code))

  (import "wasi:cli/stdin@0.2.12" (instance $stdin
    (alias outer 1 $input-stream (type $i))
    (export "input-stream" (type $in (eq $i)))
    (export "get-stdin" (func (result (own $in))))))
  (alias export $stdin "get-stdin" (func $get-stdin))

  (import "wasi:cli/stdout@0.2.0" (instance $stdout
    (alias outer 1 $output-stream (type $o))
    (export "output-stream" (type $out (eq $o)))
    (export "get-stdout" (func (result (own $out))))))
  (alias export $stdout "get-stdout" (func $get-stdout))

  (import "wasi:clocks/monotonic-clock@0.2.12" (instance $monotonic
    (alias outer 1 $pollable (type $p))
    (export "pollable" (type $pollable (eq $p)))
    (export "now" (func (result u64)))
    (export "subscribe-duration" (func (param "when" u64) (result (own $pollable))))))
  (alias export $monotonic "now" (func $now))
  (alias export $monotonic "subscribe-duration" (func $subscribe-duration))

  (import "wasi:clocks/wall-clock@0.2.12" (instance $wall-clock
    (type $dt (record (field "seconds" u64) (field "nanoseconds" u32)))
    (export "datetime" (type (eq $dt)))))
  (alias export $wall-clock "datetime" (type $datetime))

  (import "wasi:random/random@0.2.12" (instance $random
    (export "get-random-bytes" (func (param "len" u64) (result (list u8))))))
  (alias export $random "get-random-bytes" (func $get-random-bytes))

  (import "wasi:filesystem/types@0.2.12" (instance $fs
    (alias outer 1 $input-stream (type $i))
    (export "input-stream" (type $in (eq $i)))
    (alias outer 1 $output-stream (type $o))
    (export "output-stream" (type $out (eq $o)))
    (alias outer 1 $datetime (type $d))
    (export "datetime" (type $dt (eq $d)))
    (type $ec (enum "access" "would-block" "already" "bad-descriptor" "busy" "deadlock" "quota" "exist"
      "file-too-large" "illegal-byte-sequence" "in-progress" "interrupted" "invalid" "io" "is-directory"
      "loop" "too-many-links" "message-size" "name-too-long" "no-device" "no-entry" "no-lock"
      "insufficient-memory" "insufficient-space" "not-directory" "not-empty" "not-recoverable" "unsupported"
      "no-tty" "no-such-device" "overflow" "not-permitted" "pipe" "read-only" "invalid-seek"
      "text-file-busy" "cross-device"))
    (export "error-code" (type $error-code (eq $ec)))
    (export "descriptor" (type $desc (sub resource)))
    (export "directory-entry-stream" (type $entries (sub resource)))
    (type $dtype (enum "unknown" "block-device" "character-device" "directory" "fifo" "symbolic-link"
      "regular-file" "socket"))
    (export "descriptor-type" (type $descriptor-type (eq $dtype)))
    (type $pf (flags "symlink-follow"))
    (export "path-flags" (type $path-flags (eq $pf)))
    (type $of (flags "create" "directory" "exclusive" "truncate"))
    (export "open-flags" (type $open-flags (eq $of)))
    (type $df (flags "read" "write" "file-integrity-sync" "data-integrity-sync" "requested-write-sync"
      "mutate-directory"))
    (export "descriptor-flags" (type $descriptor-flags (eq $df)))
    (type $st (record (field "type" $descriptor-type) (field "link-count" u64) (field "size" u64)
      (field "data-access-timestamp" (option $dt)) (field "data-modification-timestamp" (option $dt))
      (field "status-change-timestamp" (option $dt))))
    (export "descriptor-stat" (type $stat (eq $st)))
    (type $de (record (field "type" $descriptor-type) (field "name" string)))
    (export "directory-entry" (type $entry (eq $de)))
    (export "[method]descriptor.open-at"
      (func (param "self" (borrow $desc)) (param "path-flags" $path-flags) (param "path" string)
        (param "open-flags" $open-flags) (param "flags" $descriptor-flags)
        (result (result (own $desc) (error $error-code)))))
    (export "[method]descriptor.read-via-stream"
      (func (param "self" (borrow $desc)) (param "offset" u64) (result (result (own $in) (error $error-code)))))
    (export "[method]descriptor.write-via-stream"
      (func (param "self" (borrow $desc)) (param "offset" u64) (result (result (own $out) (error $error-code)))))
    (export "[method]descriptor.stat"
      (func (param "self" (borrow $desc)) (result (result $stat (error $error-code)))))
    (export "[method]descriptor.stat-at"
      (func (param "self" (borrow $desc)) (param "path-flags" $path-flags) (param "path" string)
        (result (result $stat (error $error-code)))))
    (export "[method]descriptor.create-directory-at"
      (func (param "self" (borrow $desc)) (param "path" string) (result (result (error $error-code)))))
    (export "[method]descriptor.read-directory"
      (func (param "self" (borrow $desc)) (result (result (own $entries) (error $error-code)))))
    (export "[method]directory-entry-stream.read-directory-entry"
      (func (param "self" (borrow $entries)) (result (result (option $entry) (error $error-code)))))))
  (alias export $fs "descriptor" (type $descriptor))
  (alias export $fs "error-code" (type $error-code))
  (alias export $fs "[method]descriptor.open-at" (func $open-at))
  (alias export $fs "[method]descriptor.read-via-stream" (func $read-via-stream))
  (alias export $fs "[method]descriptor.write-via-stream" (func $write-via-stream))
  (alias export $fs "[method]descriptor.stat" (func $stat))
  (alias export $fs "[method]descriptor.stat-at" (func $stat-at))
  (alias export $fs "[method]descriptor.create-directory-at" (func $create-directory-at))
  (alias export $fs "[method]descriptor.read-directory" (func $read-directory))
  (alias export $fs "[method]directory-entry-stream.read-directory-entry" (func $read-directory-entry))

  (import "wasi:filesystem/preopens@0.2.12" (instance $preopens
    (alias outer 1 $descriptor (type $d))
    (export "descriptor" (type $desc (eq $d)))
    (export "get-directories" (func (result (list (tuple (own $desc) string)))))))
  (alias export $preopens "get-directories" (func $get-directories))

  (import "wasi:sockets/network@0.2.12" (instance $network
    (export "network" (type (sub resource)))
    (type $ec (enum "unknown" "access-denied" "not-supported" "invalid-argument" "out-of-memory" "timeout"
      "concurrency-conflict" "not-in-progress" "would-block" "invalid-state" "new-socket-limit"
      "address-not-bindable" "address-in-use" "remote-unreachable" "connection-refused" "connection-reset"
      "connection-aborted" "datagram-too-large" "name-unresolvable" "temporary-resolver-failure"
      "permanent-resolver-failure"))
    (export "error-code" (type (eq $ec)))
    (type $af (enum "ipv4" "ipv6"))
    (export "ip-address-family" (type (eq $af)))))
  (alias export $network "network" (type $network-type))
  (alias export $network "error-code" (type $socket-error-code))
  (alias export $network "ip-address-family" (type $ip-address-family))
  (import "wasi:sockets/tcp@0.2.12" (instance $tcp
    (export "tcp-socket" (type (sub resource)))))
  (alias export $tcp "tcp-socket" (type $tcp-socket))
  (import "wasi:sockets/tcp-create-socket@0.2.12" (instance $tcp-create
    (alias outer 1 $network-type (type $n))
    (export "network" (type (eq $n)))
    (alias outer 1 $socket-error-code (type $e))
    (export "error-code" (type $error-code (eq $e)))
    (alias outer 1 $ip-address-family (type $f))
    (export "ip-address-family" (type $family (eq $f)))
    (alias outer 1 $tcp-socket (type $s))
    (export "tcp-socket" (type $socket (eq $s)))
    (export "create-tcp-socket"
      (func (param "address-family" $family) (result (result (own $socket) (error $error-code)))))))
  (alias export $tcp-create "create-tcp-socket" (func $create-tcp-socket))

  ;; Memory and a bump allocator, shared by every lowering and lifting.
  (core module $Mem
    (memory (export "mem") 4)
    (global $next (mut i32) (i32.const 8192))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get 2))))
      (global.set $next (i32.add (local.get $p) (local.get 3)))
      (local.get $p)))
  (core instance $mem (instantiate $Mem))

  (core func $poll' (canon lower (func $poll) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $blocking-read' (canon lower (func $blocking-read) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $blocking-write' (canon lower (func $blocking-write) (memory (core memory $mem "mem"))))
  (core func $get-arguments' (canon lower (func $get-arguments) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $get-environment' (canon lower (func $get-environment) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $exit' (canon lower (func $exit)))
  (core func $exit-with-code' (canon lower (func $exit-with-code)))
  (core func $get-stdin' (canon lower (func $get-stdin)))
  (core func $get-stdout' (canon lower (func $get-stdout)))
  (core func $now' (canon lower (func $now)))
  (core func $subscribe-duration' (canon lower (func $subscribe-duration)))
  (core func $get-random-bytes' (canon lower (func $get-random-bytes) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $open-at' (canon lower (func $open-at) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $read-via-stream' (canon lower (func $read-via-stream) (memory (core memory $mem "mem"))))
  (core func $write-via-stream' (canon lower (func $write-via-stream) (memory (core memory $mem "mem"))))
  (core func $stat' (canon lower (func $stat) (memory (core memory $mem "mem"))))
  (core func $stat-at' (canon lower (func $stat-at) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $create-directory-at' (canon lower (func $create-directory-at) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $read-directory' (canon lower (func $read-directory) (memory (core memory $mem "mem"))))
  (core func $read-directory-entry' (canon lower (func $read-directory-entry) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (core func $create-tcp-socket' (canon lower (func $create-tcp-socket) (memory (core memory $mem "mem"))))
  (core func $get-directories' (canon lower (func $get-directories) (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))

  (core module $M
    (import "" "mem" (memory 4))
    (import "" "poll" (func $poll (param i32 i32 i32)))
    (import "" "blocking-read" (func $blocking-read (param i32 i64 i32)))
    (import "" "blocking-write" (func $blocking-write (param i32 i32 i32 i32)))
    (import "" "get-arguments" (func $get-arguments (param i32)))
    (import "" "get-environment" (func $get-environment (param i32)))
    (import "" "exit" (func $exit (param i32)))
    (import "" "exit-with-code" (func $exit-with-code (param i32)))
    (import "" "get-stdin" (func $get-stdin (result i32)))
    (import "" "get-stdout" (func $get-stdout (result i32)))
    (import "" "now" (func $now (result i64)))
    (import "" "subscribe-duration" (func $subscribe-duration (param i64) (result i32)))
    (import "" "get-random-bytes" (func $get-random-bytes (param i64 i32)))
    (import "" "open-at" (func $open-at (param i32 i32 i32 i32 i32 i32 i32)))
    (import "" "read-via-stream" (func $read-via-stream (param i32 i64 i32)))
    (import "" "write-via-stream" (func $write-via-stream (param i32 i64 i32)))
    (import "" "stat" (func $stat (param i32 i32)))
    (import "" "stat-at" (func $stat-at (param i32 i32 i32 i32 i32)))
    (import "" "create-directory-at" (func $create-directory-at (param i32 i32 i32 i32)))
    (import "" "read-directory" (func $read-directory (param i32 i32)))
    (import "" "read-directory-entry" (func $read-directory-entry (param i32 i32)))
    (import "" "get-directories" (func $get-directories (param i32)))
    (import "" "create-tcp-socket" (func $create-tcp-socket (param i32 i32)))
    (data (i32.const 4096) "hello from run\n")
    (global $mode (mut i32) (i32.const 0))
    (global $stdin (mut i32) (i32.const -1))

    ;; The first preopened directory's descriptor.
    (func $preopen (result i32)
      (call $get-directories (i32.const 0))
      (if (i32.eqz (i32.load (i32.const 4))) (then (unreachable)))
      (i32.load (i32.load (i32.const 0))))

    ;; open-at under the preopen; the result at 0, its discriminant returned.
    (func $open (param $p i32) (param $l i32) (param $pflags i32) (param $oflags i32) (param $dflags i32) (result i32)
      (call $open-at (call $preopen) (local.get $pflags) (local.get $p) (local.get $l)
        (local.get $oflags) (local.get $dflags) (i32.const 0))
      (i32.load8_u (i32.const 0)))

    ;; result<list<u8>, error-code> (or result<u32, error-code>) at 1024: err(code).
    (func $fail (param $code i32) (result i32)
      (i32.store (i32.const 1024) (i32.const 1))
      (i32.store8 (i32.const 1028) (local.get $code))
      (i32.const 1024))

    ;; read-file(path, len, follow) -> result<list<u8>, error-code>: open-at (following a
    ;; final symlink if asked), read-via-stream(0), one blocking-read(len).
    (func (export "read-file") (param $p i32) (param $l i32) (param $len i64) (param $follow i32) (result i32)
      (if (call $open (local.get $p) (local.get $l) (local.get $follow) (i32.const 0) (i32.const 1))
        (then (return (call $fail (i32.load8_u (i32.const 4))))))
      (call $read-via-stream (i32.load (i32.const 4)) (i64.const 0) (i32.const 0))
      (if (i32.load8_u (i32.const 0)) (then (return (call $fail (i32.load8_u (i32.const 4))))))
      (call $blocking-read (i32.load (i32.const 4)) (local.get $len) (i32.const 0))
      (if (i32.load8_u (i32.const 0)) (then (unreachable)))
      (i32.store (i32.const 1024) (i32.const 0))
      (i32.store (i32.const 1028) (i32.load (i32.const 4)))
      (i32.store (i32.const 1032) (i32.load (i32.const 8)))
      (i32.const 1024))

    ;; write-file(path, bytes) -> result<_, error-code>: open-at(follow, create, write),
    ;; write-via-stream(0), blocking-write-and-flush.
    (func (export "write-file") (param $p i32) (param $l i32) (param $b i32) (param $bl i32) (result i32)
      (if (call $open (local.get $p) (local.get $l) (i32.const 1) (i32.const 1) (i32.const 2))
        (then (i32.store8 (i32.const 1025) (i32.load8_u (i32.const 4)))
              (i32.store8 (i32.const 1024) (i32.const 1))
              (return (i32.const 1024))))
      (call $write-via-stream (i32.load (i32.const 4)) (i64.const 0) (i32.const 0))
      (if (i32.load8_u (i32.const 0)) (then (unreachable)))
      (call $blocking-write (i32.load (i32.const 4)) (local.get $b) (local.get $bl) (i32.const 0))
      (if (i32.load8_u (i32.const 0)) (then (unreachable)))
      (i32.store8 (i32.const 1024) (i32.const 0))
      (i32.const 1024))

    ;; mkdir(path) -> result<_, error-code>, which create-directory-at left at 0.
    (func (export "mkdir") (param $p i32) (param $l i32) (result i32)
      (call $create-directory-at (call $preopen) (local.get $p) (local.get $l) (i32.const 0))
      (i32.const 0))

    ;; stat(path) -> result<tuple<u8, u64>, error-code>: stat-at's type and size.
    (func (export "stat") (param $p i32) (param $l i32) (result i32)
      (call $stat-at (call $preopen) (i32.const 1) (local.get $p) (local.get $l) (i32.const 0))
      (i32.store8 (i32.const 1024) (i32.load8_u (i32.const 0)))
      (i32.store8 (i32.const 1032) (i32.load8_u (i32.const 8)))
      (i64.store (i32.const 1040) (i64.load (i32.const 24)))
      (i32.const 1024))

    ;; preopen-type() -> u8: the type `stat` gives the preopen.
    (func (export "preopen-type") (result i32)
      (call $stat (call $preopen) (i32.const 0))
      (if (i32.load8_u (i32.const 0)) (then (unreachable)))
      (i32.load8_u (i32.const 8)))

    ;; list-dir() -> list<string>: every entry's name, from read-directory.
    (func (export "list-dir") (result i32)
      (local $s i32) (local $n i32)
      (call $read-directory (call $preopen) (i32.const 0))
      (if (i32.load8_u (i32.const 0)) (then (unreachable)))
      (local.set $s (i32.load (i32.const 4)))
      (block $done
        (loop $next
          (call $read-directory-entry (local.get $s) (i32.const 0))
          (if (i32.load8_u (i32.const 0)) (then (unreachable)))
          (br_if $done (i32.eqz (i32.load8_u (i32.const 4))))
          (i32.store (i32.add (i32.const 2048) (i32.shl (local.get $n) (i32.const 3))) (i32.load (i32.const 12)))
          (i32.store (i32.add (i32.const 2052) (i32.shl (local.get $n) (i32.const 3))) (i32.load (i32.const 16)))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (br $next)))
      (i32.store (i32.const 1024) (i32.const 2048))
      (i32.store (i32.const 1028) (local.get $n))
      (i32.const 1024))

    (func (export "args") (result i32) (call $get-arguments (i32.const 0)) (i32.const 0))
    (func (export "env") (result i32) (call $get-environment (i32.const 0)) (i32.const 0))
    (func (export "random") (param $len i64) (result i32) (call $get-random-bytes (local.get $len) (i32.const 0)) (i32.const 0))
    (func (export "now") (result i64) (call $now))

    ;; write-stdout(bytes) -> u32: blocking-write-and-flush's discriminant.
    (func (export "write-stdout") (param $b i32) (param $bl i32) (result i32)
      (call $blocking-write (call $get-stdout) (local.get $b) (local.get $bl) (i32.const 0))
      (i32.load8_u (i32.const 0)))

    ;; read-stdin(len) -> result<list<u8>>: one blocking-read of stdin (one stream for all
    ;; calls); err when the stream is closed.
    (func (export "read-stdin") (param $len i64) (result i32)
      (if (i32.lt_s (global.get $stdin) (i32.const 0)) (then (global.set $stdin (call $get-stdin))))
      (call $blocking-read (global.get $stdin) (local.get $len) (i32.const 0))
      (i32.const 0))

    ;; A write through a handle the program was never given.
    (func (export "bad-handle") (result i32)
      (call $blocking-write (i32.const 77) (i32.const 4096) (i32.const 1) (i32.const 0))
      (i32.load8_u (i32.const 0)))

    ;; sleep(a, b) -> list<u32>: poll a pollable for `a` ns (and one for `b` ns unless b is
    ;; 0); the ready indices.
    (func (export "sleep") (param $a i64) (param $b i64) (result i32)
      (local $n i32)
      (i32.store (i32.const 256) (call $subscribe-duration (local.get $a)))
      (local.set $n (i32.const 1))
      (if (i64.ne (local.get $b) (i64.const 0))
        (then (i32.store (i32.const 260) (call $subscribe-duration (local.get $b)))
              (local.set $n (i32.const 2))))
      (call $poll (i32.const 256) (local.get $n) (i32.const 0))
      (i32.const 0))

    ;; tcp-socket() -> result<_, error-code>: create-tcp-socket(ipv4)'s outcome (a socket,
    ;; were one made, is forgotten).
    (func (export "tcp-socket") (result i32)
      (call $create-tcp-socket (i32.const 0) (i32.const 0))
      (i32.store8 (i32.const 1024) (i32.load8_u (i32.const 0)))
      (i32.store8 (i32.const 1025) (i32.load8_u (i32.const 4)))
      (i32.const 1024))

    (func (export "set-mode") (param i32) (global.set $mode (local.get 0)))

    ;; run: write a line, then by mode: 0 return ok, 1 return err, 2 exit(ok), 3 exit(err),
    ;; 4 exit-with-code(42).
    (func (export "run") (result i32)
      (drop (call $write-stdout-data))
      (if (i32.eq (global.get $mode) (i32.const 2)) (then (call $exit (i32.const 0))))
      (if (i32.eq (global.get $mode) (i32.const 3)) (then (call $exit (i32.const 1))))
      (if (i32.eq (global.get $mode) (i32.const 4)) (then (call $exit-with-code (i32.const 42))))
      (i32.eq (global.get $mode) (i32.const 1)))
    (func $write-stdout-data (result i32)
      (call $blocking-write (call $get-stdout) (i32.const 4096) (i32.const 15) (i32.const 0))
      (i32.load8_u (i32.const 0))))

  (core instance $m (instantiate $M (with "" (instance
    (export "mem" (memory $mem "mem"))
    (export "poll" (func $poll'))
    (export "blocking-read" (func $blocking-read'))
    (export "blocking-write" (func $blocking-write'))
    (export "get-arguments" (func $get-arguments'))
    (export "get-environment" (func $get-environment'))
    (export "exit" (func $exit'))
    (export "exit-with-code" (func $exit-with-code'))
    (export "get-stdin" (func $get-stdin'))
    (export "get-stdout" (func $get-stdout'))
    (export "now" (func $now'))
    (export "subscribe-duration" (func $subscribe-duration'))
    (export "get-random-bytes" (func $get-random-bytes'))
    (export "open-at" (func $open-at'))
    (export "read-via-stream" (func $read-via-stream'))
    (export "write-via-stream" (func $write-via-stream'))
    (export "stat" (func $stat'))
    (export "stat-at" (func $stat-at'))
    (export "create-directory-at" (func $create-directory-at'))
    (export "read-directory" (func $read-directory'))
    (export "read-directory-entry" (func $read-directory-entry'))
    (export "get-directories" (func $get-directories'))
    (export "create-tcp-socket" (func $create-tcp-socket'))))))

  (func (export "read-file") (param "path" string) (param "len" u64) (param "follow" bool) (result (result (list u8) (error $error-code)))
    (canon lift (core func $m "read-file") (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (func (export "write-file") (param "path" string) (param "contents" (list u8)) (result (result (error $error-code)))
    (canon lift (core func $m "write-file") (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (func (export "mkdir") (param "path" string) (result (result (error $error-code)))
    (canon lift (core func $m "mkdir") (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (func (export "stat") (param "path" string) (result (result (tuple u8 u64) (error $error-code)))
    (canon lift (core func $m "stat") (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (func (export "preopen-type") (result u8) (canon lift (core func $m "preopen-type")))
  (func (export "list-dir") (result (list string)) (canon lift (core func $m "list-dir") (memory (core memory $mem "mem"))))
  (func (export "args") (result (list string)) (canon lift (core func $m "args") (memory (core memory $mem "mem"))))
  (func (export "env") (result (list (tuple string string))) (canon lift (core func $m "env") (memory (core memory $mem "mem"))))
  (func (export "random") (param "len" u64) (result (list u8)) (canon lift (core func $m "random") (memory (core memory $mem "mem"))))
  (func (export "now") (result u64) (canon lift (core func $m "now")))
  (func (export "write-stdout") (param "contents" (list u8)) (result u32)
    (canon lift (core func $m "write-stdout") (memory (core memory $mem "mem")) (realloc (core func $mem "realloc"))))
  (func (export "read-stdin") (param "len" u64) (result (result (list u8)))
    (canon lift (core func $m "read-stdin") (memory (core memory $mem "mem"))))
  (func (export "bad-handle") (result u32) (canon lift (core func $m "bad-handle")))
  (func (export "sleep") (param "a" u64) (param "b" u64) (result (list u32)) (canon lift (core func $m "sleep") (memory (core memory $mem "mem"))))
  (func (export "tcp-socket") (result (result (error $socket-error-code)))
    (canon lift (core func $m "tcp-socket") (memory (core memory $mem "mem"))))
  (func (export "set-mode") (param "mode" u32) (canon lift (core func $m "set-mode")))
  (func $run (result (result)) (canon lift (core func $m "run")))
  (instance $run (export "run" (func $run)))
  (export "wasi:cli/run@0.2.3" (instance $run))
)
