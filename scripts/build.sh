#!/bin/sh
# Configures and builds lore into build/ (or $LORE_BUILD). Extra arguments go
# to cmake, e.g. scripts/build.sh -DLORE_SANITIZE=ON.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${LORE_BUILD:-$ROOT/build}
GEN=""
if command -v ninja >/dev/null 2>&1; then GEN="-G Ninja"; fi
# shellcheck disable=SC2086
cmake -S "$ROOT" -B "$B" $GEN -DCMAKE_BUILD_TYPE=${LORE_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$B" -j "$(nproc)"
