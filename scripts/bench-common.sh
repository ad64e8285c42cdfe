# Sourced by the scripts that time Kiln against wasmtime 48 on ../shared/bench (or
# $KILN_BENCH_DIR): strict mode, the repository as working directory, BENCH, RUNS (default 5),
# wasmtime on PATH, KILN (built in release mode unless given), PRELOAD (the no-op `bench`
# module), TMP (removed on exit), and best_ms.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
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
