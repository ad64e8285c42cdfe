#!/usr/bin/env bash
# The run-time cost of fuel and of epoch checks, Kiln and wasmtime side by side, on the
# Sightglass programs of ../shared/bench (or $KILN_BENCH_DIR). Each program is compiled three
# times by each tool: plain, with fuel (`-W fuel=…`) and with epoch checks (`-W timeout=…`,
# 3600s, so it never fires); each artifact runs whole-process as in compare-wasmtime.sh,
# best of $RUNS (default 5), in one run of this script. Printed: run times, each tool's
# ratio to its own plain run (fuel/plain, epoch/plain), and the geometric means.
#
# Needs wasmtime 48 on PATH:   cargo install wasmtime-cli --version 48.0.8 --locked
# Builds Kiln in release mode first, unless KILN names a kiln binary to measure instead.
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
FUEL=18446744073709551615

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
addlog() { awk -v l="$1" -v r="$2" 'BEGIN { print l + log(r) }'; }

# The three variants: name and the -W options of each, to compile (wasmtime's `compile`
# turns epoch checks on only with `epoch-interruption`) and to run.
VARIANTS=(plain fuel epoch)
declare -A COPTS=([plain]="" [fuel]="-W fuel=$FUEL" [epoch]="-W epoch-interruption=y")
declare -A WOPTS=([plain]="" [fuel]="-W fuel=$FUEL" [epoch]="-W timeout=3600s")

printf '%-20s %9s %9s %9s %6s %6s | %9s %9s %9s %6s %6s\n' program \
    "k plain" "k fuel" "k epoch" "fuel" "epoch" "wt plain" "wt fuel" "wt epoch" "fuel" "epoch"
declare -A LOG=([kf]=0 [ke]=0 [wf]=0 [we]=0)
n=0
for dir in "$BENCH"/*/; do
    name=$(basename "$dir")
    wasm="$dir/$name.wasm"
    [ -f "$wasm" ] || continue
    declare -A T=()
    ok=1
    for v in "${VARIANTS[@]}"; do
        # shellcheck disable=SC2086
        "$KILN" compile -C cache=n ${COPTS[$v]} -o "$TMP/k-$v.cwasm" "$wasm" >/dev/null 2>&1 || { ok=0; break; }
        # shellcheck disable=SC2086
        wasmtime compile -C cache=n ${COPTS[$v]} -o "$TMP/w-$v.cwasm" "$wasm"
    done
    if [ "$ok" = 0 ]; then printf '%-20s (kiln cannot compile it)\n' "$name"; continue; fi
    for v in "${VARIANTS[@]}"; do
        # shellcheck disable=SC2086
        T[k$v]=$(cd "$dir" && best_ms "$KILN" run -C cache=n ${WOPTS[$v]} --allow-precompiled --preload "bench=$PRELOAD" --dir .::. "$TMP/k-$v.cwasm")
        # shellcheck disable=SC2086
        T[w$v]=$(cd "$dir" && best_ms wasmtime run -C cache=n ${WOPTS[$v]} --allow-precompiled --preload "bench=$PRELOAD" --dir .::. "$TMP/w-$v.cwasm")
    done
    kf=$(ratio "${T[kfuel]}" "${T[kplain]}"); ke=$(ratio "${T[kepoch]}" "${T[kplain]}")
    wf=$(ratio "${T[wfuel]}" "${T[wplain]}"); we=$(ratio "${T[wepoch]}" "${T[wplain]}")
    printf '%-20s %9s %9s %9s %6s %6s | %9s %9s %9s %6s %6s\n' "$name" \
        "${T[kplain]}" "${T[kfuel]}" "${T[kepoch]}" "$kf" "$ke" "${T[wplain]}" "${T[wfuel]}" "${T[wepoch]}" "$wf" "$we"
    LOG[kf]=$(addlog "${LOG[kf]}" "$kf"); LOG[ke]=$(addlog "${LOG[ke]}" "$ke")
    LOG[wf]=$(addlog "${LOG[wf]}" "$wf"); LOG[we]=$(addlog "${LOG[we]}" "$we")
    n=$((n + 1))
done
awk -v kf="${LOG[kf]}" -v ke="${LOG[ke]}" -v wf="${LOG[wf]}" -v we="${LOG[we]}" -v n="$n" 'BEGIN {
    printf "geometric mean over %d programs (run time with the control / plain run time):\n", n
    printf "  fuel:  kiln %.3f, wasmtime %.3f\n", exp(kf / n), exp(wf / n)
    printf "  epoch: kiln %.3f, wasmtime %.3f\n", exp(ke / n), exp(we / n)
}'
