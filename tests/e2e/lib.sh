# lib.sh — helpers for the end-to-end tests, which drive the built `lore`
# binary ($LORE) in a scratch folder. Sourced by tests/e2e/test_*.sh.
set -u
: "${LORE:?set LORE to the lore binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/lore-e2e-XXXXXX")
trap 'rm -rf "$T"' EXIT
export LORE_KB="$T/kb"
PASS=0
FAIL=0

ok() { PASS=$((PASS + 1)); }
bad() { FAIL=$((FAIL + 1)); echo "FAIL: $*" >&2; }

# expect STATUS CMD... : runs CMD, checks the exit status, keeps output in $OUT/$ERR
expect() {
    want=$1; shift
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
    if [ "$want" = nonzero ]; then
        [ "$got" -ne 0 ] && ok || bad "expected failure: $* (stdout: $OUT)"
    elif [ "$got" -eq "$want" ]; then ok; else bad "exit $got (wanted $want): $* -- $ERR"; fi
}

# same STRING1 STRING2 WHAT
same() { [ "$1" = "$2" ] && ok || bad "$3: got '$1', wanted '$2'"; }
contains() { case "$1" in *"$2"*) ok ;; *) bad "$3: '$2' not in '$1'" ;; esac; }

finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
