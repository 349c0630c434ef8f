#!/bin/sh
# Installs what lore needs, builds it and runs every test (unit tests and
# end-to-end tests, through ctest). With --sanitize: the same in a separate
# build under AddressSanitizer + UndefinedBehaviorSanitizer.
# Tests that need model files read them from $LORE_TEST_MODELS (default:
# ../shared/golden/models beside the checkout) and are skipped, visibly,
# when it is absent.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/install-deps.sh"
if [ -z "${LORE_TEST_MODELS:-}" ] && [ -d "$ROOT/../shared/golden/models" ]; then
    LORE_TEST_MODELS=$(cd "$ROOT/../shared/golden/models" && pwd)
    export LORE_TEST_MODELS
fi
if [ "${1:-}" = "--sanitize" ]; then
    export LORE_BUILD="$ROOT/build-asan"
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:hard_rss_limit_mb=8000}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    if [ -f "$ROOT/tests/lsan.supp" ]; then
        export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
    fi
    "$ROOT/scripts/build.sh" -DLORE_SANITIZE=ON -DLORE_WERROR=OFF
else
    export LORE_BUILD="$ROOT/build"
    "$ROOT/scripts/build.sh"
fi
[ -n "${LORE_TEST_MODELS:-}" ] || echo "note: LORE_TEST_MODELS is not set: tests that need model files will be skipped"
ctest --test-dir "$LORE_BUILD" --output-on-failure -j 2 --timeout 900
