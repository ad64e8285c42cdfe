#!/usr/bin/env bash
# Component calls, Kiln against wasmtime 48 as libraries on the same components: a host →
# guest call with a string and a list of records, and a guest → guest call between two
# components. Builds wasmtime 48 the first time (some minutes). Prints ns per call and
# Kiln's ratio (lower is better). Not part of CI: speed lives in benchmarks, not tests.
set -euo pipefail
cd "$(dirname "$0")/../benches/component-calls"
cargo run --release -q
