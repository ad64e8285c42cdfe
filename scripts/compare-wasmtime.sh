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
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${KILN_BENCH_DIR:-../shared/bench}
RUNS=${RUNS:-5}
command -v wasmtime >/dev/null || { echo "wasmtime is not on PATH: cargo install wasmtime-cli --version 48.0.8 --locked" >&2; exit 1; }
if [ -z "${KILN:-}" ]; then
    cargo build --release -q -p kiln-cli
    KILN=$PWD/target/release/kiln
fi
PRELOAD=$PWD/crates/cli/tests/bench.wat
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# best_ms CMD...: the fastest of $RUNS runs, in milliseconds (output discarded).
best_ms() {
    local best=""
    for _ in $(seq "$RUNS"); do
        local s e
        s=$(date +%s%N)
        "$@" >/dev/null 2>&1 || return 1
        e=$(date +%s%N)
        local ms=$(( (e - s) / 1000 ))
        if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    done
    awk -v us="$best" 'BEGIN { printf "%.1f", us / 1000 }'
}

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
