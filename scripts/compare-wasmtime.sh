#!/usr/bin/env bash
# Kiln vs wasmtime on the Sightglass programs of ../shared/bench (or $KILN_BENCH_DIR), side by
# side: compile time (`kiln compile` vs `wasmtime compile`) and run time of the precompiled
# artifact (`run --allow-precompiled`, whole process, the program's folder preopened as `.`
# and the no-op `bench` module preloaded), best of $RUNS (default 5), with kiln/wasmtime
# ratios and their geometric means (below 1: Kiln is faster).
#
# Needs wasmtime 48 on PATH:   cargo install wasmtime-cli --version 48.0.8 --locked
# Builds Kiln in release mode first, unless KILN names a kiln binary to measure instead (to
# compare two builds of Kiln, run it once with each).
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"

printf '%-20s %10s %10s %7s %10s %10s %7s\n' program "kiln cmp" "wt cmp" ratio "kiln run" "wt run" ratio
printf '%-20s %10s %10s %7s %10s %10s %7s\n' "" "(ms)" "(ms)" "k/wt" "(ms)" "(ms)" "k/wt"
log_c=0; log_r=0; n=0
for dir in "$BENCH"/*/; do
    name=$(basename "$dir")
    wasm="$dir/$name.wasm"
    [ -f "$wasm" ] || continue
    if ! kc=$(best_ms "$KILN" compile -C cache=n -o "$TMP/k.cwasm" "$wasm"); then
        printf '%-20s (kiln cannot compile it)\n' "$name"; continue
    fi
    wc=$(best_ms wasmtime compile -C cache=n -o "$TMP/w.cwasm" "$wasm")
    kr=$(cd "$dir" && best_ms "$KILN" run -C cache=n --allow-precompiled --preload "bench=$PRELOAD" --dir .::. "$TMP/k.cwasm")
    wr=$(cd "$dir" && best_ms wasmtime run -C cache=n --allow-precompiled --preload "bench=$PRELOAD" --dir .::. "$TMP/w.cwasm")
    cr=$(awk -v a="$kc" -v b="$wc" 'BEGIN { printf "%.2f", a / b }')
    rr=$(awk -v a="$kr" -v b="$wr" 'BEGIN { printf "%.2f", a / b }')
    printf '%-20s %10s %10s %7s %10s %10s %7s\n' "$name" "$kc" "$wc" "$cr" "$kr" "$wr" "$rr"
    log_c=$(awk -v l="$log_c" -v r="$cr" 'BEGIN { print l + log(r) }')
    log_r=$(awk -v l="$log_r" -v r="$rr" 'BEGIN { print l + log(r) }')
    n=$((n + 1))
done
awk -v c="$log_c" -v r="$log_r" -v n="$n" 'BEGIN { printf "geometric mean over %d programs: compile kiln/wasmtime %.2f, run kiln/wasmtime %.2f\n", n, exp(c / n), exp(r / n) }'
