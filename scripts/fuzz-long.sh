#!/usr/bin/env bash
# A long fuzzing run: `kiln-fuzz differential` (Kiln against the wasmi interpreter) and then
# `kiln-fuzz mutate` (the `kiln` command on damaged modules and artifacts), both built in
# release mode, with each one's time, rate and counts. Findings go to $OUT (default
# fuzz-out/), each with a .txt that says how to reproduce it; the script exits non-zero if
# either fuzzer found anything.
#
# Settings (environment):
#   SEED              the run's seed (default: the date, YYYYMMDD)
#   DIFF_COUNT        differential modules (default 100000)
#   MUTATE_COUNT      mutate inputs (default 100000)
#   START             first case index of both (default 0)
#   TIMEOUT           seconds one `kiln` run may take before it counts as a hang (default 10)
#   OUT               where findings are written (default fuzz-out)
#   CARGO_TARGET_DIR  as for cargo (default target/)
set -uo pipefail
cd "$(dirname "$0")/.."
SEED=${SEED:-$(date +%Y%m%d)}
DIFF_COUNT=${DIFF_COUNT:-100000}
MUTATE_COUNT=${MUTATE_COUNT:-100000}
START=${START:-0}
TIMEOUT=${TIMEOUT:-10}
OUT=${OUT:-fuzz-out}
TARGET=${CARGO_TARGET_DIR:-target}

cargo build --release -q -p kiln-fuzz -p kiln-cli || exit 2
FUZZ=$TARGET/release/kiln-fuzz
KILN=$TARGET/release/kiln
echo "seed $SEED; findings in $OUT/"

# timed NAME CMD...: run CMD, keep its last lines, and say how long it took.
status=0
timed() {
    local name=$1 start end
    shift
    start=$(date +%s)
    "$@" | tee "$OUT/$name-$SEED.log" \
        | grep --line-buffered -E '^(divergence|crash|skipped|differential|mutate|module|artifact|resealed)[ :]|inputs/s'
    local rc=${PIPESTATUS[0]}
    end=$(date +%s)
    echo "$name: $((end - start)) s, exit $rc (full output in $OUT/$name-$SEED.log)"
    [ "$rc" -eq 0 ] || status=1
}

mkdir -p "$OUT"
timed differential "$FUZZ" differential --seed "$SEED" --start "$START" --count "$DIFF_COUNT" --out "$OUT"
timed mutate "$FUZZ" mutate --seed "$SEED" --start "$START" --count "$MUTATE_COUNT" --kiln "$KILN" \
    --timeout "$TIMEOUT" --out "$OUT"
exit $status
