#!/usr/bin/env bash
# GC: the splay program of ../shared/bench (or $KILN_BENCH_DIR) and the allocation loops of
# benches/gc/alloc.wat (`structs`: lists of structs built and walked; `arrays`: arrays made,
# filled and summed), Kiln against wasmtime 48 side by side. Each runs precompiled, whole
# process, best of $RUNS (default 5); the loops with N=$ITERS (default 1000000) iterations.
# Prints milliseconds and Kiln's ratio (lower is better). Not part of CI: speed lives in
# benchmarks, not tests.
#
# Needs wasmtime 48 on PATH:   cargo install wasmtime-cli --version 48.0.8 --locked
# Builds Kiln in release mode first, unless KILN names a kiln binary to measure instead.
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
ITERS=${ITERS:-1000000}
WAT=$PWD/benches/gc/alloc.wat
"$KILN" compile -C cache=n -o "$TMP/k.cwasm" "$WAT"
wasmtime compile -C cache=n -W gc=y,function-references=y -o "$TMP/w.cwasm" "$WAT"
printf '%-10s %12s %12s %7s\n' benchmark "kiln ms" "wasmtime ms" ratio
row() {
    awk -v n="$1" -v k="$2" -v w="$3" 'BEGIN { printf "%-10s %12.1f %12.1f %7.2f\n", n, k, w, k / w }'
}
for name in structs arrays; do
    k=$(best_ms "$KILN" run --allow-precompiled --invoke "$name" "$TMP/k.cwasm" "$ITERS")
    w=$(best_ms wasmtime run -W gc=y,function-references=y --allow-precompiled --invoke "$name" "$TMP/w.cwasm" "$ITERS")
    row "$name" "$k" "$w"
done
dir=$BENCH/splay
"$KILN" compile -C cache=n -o "$TMP/ks.cwasm" "$dir/splay.wasm"
wasmtime compile -C cache=n -W gc=y,function-references=y -o "$TMP/ws.cwasm" "$dir/splay.wasm"
k=$(cd "$dir" && best_ms "$KILN" run --allow-precompiled --preload "bench=$PRELOAD" --dir .::. "$TMP/ks.cwasm")
w=$(cd "$dir" && best_ms wasmtime run -W gc=y,function-references=y --allow-precompiled --preload "bench=$PRELOAD" --dir .::. "$TMP/ws.cwasm")
row splay "$k" "$w"
