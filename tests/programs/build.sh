#!/bin/sh
# Rebuilds the committed test programs from their C sources. Needs Debian's
#   apt-get install clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32
set -eu
cd "$(dirname "$0")"
for src in *.c; do
    clang-16 --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Werror -Wl,--strip-debug -o "${src%.c}.wasm" "$src"
done
