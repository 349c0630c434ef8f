#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang and runs each
# for a short time (SECONDS per target, default 15) from its seed corpus in
# tests/fuzz/corpus/NAME when there is one. A crash fails the run and leaves
# the reproducer in build-fuzz/. Usage: scripts/fuzz.sh [SECONDS]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-15}
B="$ROOT/build-fuzz"
CC=clang CXX=clang++ cmake -S "$ROOT" -B "$B" -G Ninja -DLORE_FUZZ=ON -DLORE_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B" -j "$(nproc)" >/dev/null
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
for f in "$ROOT"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$f" .c)
    corpus="$B/corpus-$name"
    mkdir -p "$corpus"
    [ -d "$ROOT/tests/fuzz/corpus/$name" ] && cp -n "$ROOT/tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null || true
    echo "fuzz: $name for ${SECS}s"
    (cd "$B" && "./$name" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=0 "$corpus" >"$B/$name.log" 2>&1) || {
        tail -40 "$B/$name.log"
        echo "fuzz: $name FAILED"
        exit 1
    }
    grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "$B/$name.log" | tail -1 || true
done
echo "fuzz: all targets ran clean"
