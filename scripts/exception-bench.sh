#!/usr/bin/env bash
# Throw-and-catch round trips, Kiln against wasmtime 48, on benches/exceptions/throw-catch.wat:
# `near` (the throw one frame below the catch) and `deep` (100 frames below). Each tool runs
# each export with N=0 and N=$ITERS (default 1000000) round trips, best of $RUNS; the
# difference over N is the time per round trip. Prints ns per round trip and Kiln's ratio
# (lower is better). Not part of CI: speed lives in benchmarks, not tests.
#
# Needs wasmtime 48 on PATH:   cargo install wasmtime-cli --version 48.0.8 --locked
# Builds Kiln in release mode first, unless KILN names a kiln binary to measure instead.
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
ITERS=${ITERS:-1000000}
WAT=$PWD/benches/exceptions/throw-catch.wat
"$KILN" compile -C cache=n -o "$TMP/k.cwasm" "$WAT"
wasmtime compile -C cache=n -W exceptions=y -o "$TMP/w.cwasm" "$WAT"
printf '%-6s %12s %12s %7s\n' export "kiln ns" "wasmtime ns" ratio
for name in near deep; do
    k0=$(best_ms "$KILN" run --allow-precompiled --invoke "$name" "$TMP/k.cwasm" 0)
    k1=$(best_ms "$KILN" run --allow-precompiled --invoke "$name" "$TMP/k.cwasm" "$ITERS")
    w0=$(best_ms wasmtime run -W exceptions=y --allow-precompiled --invoke "$name" "$TMP/w.cwasm" 0)
    w1=$(best_ms wasmtime run -W exceptions=y --allow-precompiled --invoke "$name" "$TMP/w.cwasm" "$ITERS")
    awk -v n="$name" -v k0="$k0" -v k1="$k1" -v w0="$w0" -v w1="$w1" -v it="$ITERS" 'BEGIN {
        k = (k1 - k0) * 1e6 / it; w = (w1 - w0) * 1e6 / it
        printf "%-6s %12.1f %12.1f %7.2f\n", n, k, w, k / w
    }'
done
