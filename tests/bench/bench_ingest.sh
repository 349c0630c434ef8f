#!/bin/sh
# bench_ingest.sh — lore's PDF ingest speed against Poppler's own pdftotext,
# on the same 500-page text PDF, measured in one run (ratios, not absolute
# times, are what compare on a shared machine). Also a folder of many
# files, to show the parser workers using both cores.
#   usage: tests/bench/bench_ingest.sh [BUILD_DIR] [PAGES] [REPEATS]
#
# The three commands run in turn, round after round (so a change in the
# machine's load hits all of them alike), and each keeps its best round.
# Wall time is what the ratio is taken on; CPU time (user + system, child
# processes included) is printed too: on a loaded machine it is the
# steadier number.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-$ROOT/build}
PAGES=${2:-500}
R=${3:-3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$B/tests/bench/make_pdf" "$T/big.pdf" "$PAGES"
TIME=
if [ -x /usr/bin/time ] && /usr/bin/time -f %U true >/dev/null 2>&1; then
    TIME=/usr/bin/time
fi
# run CMD...: prints "WALL_MS CPU_MS" (CPU_MS is 0 without GNU time)
run() {
    s=$(date +%s%N)
    if [ -n "$TIME" ]; then
        $TIME -o "$T/time" -f "%U %S" "$@" >/dev/null 2>&1
    else
        "$@" >/dev/null 2>&1
    fi
    e=$(date +%s%N)
    c=0
    [ -n "$TIME" ] && c=$(awk '{ printf "%d", ($1 + $2) * 1000 }' "$T/time")
    echo "$(( (e - s) / 1000000 )) $c"
}
# min A B
min() { if [ -z "$1" ] || [ "$2" -lt "$1" ]; then echo "$2"; else echo "$1"; fi; }
P= PC= L= LC= X= XC=
for i in $(seq "$R"); do
    set -- $(run pdftotext "$T/big.pdf" "$T/out.txt"); P=$(min "$P" "$1"); PC=$(min "$PC" "$2")
    rm -rf "$T/kb"
    set -- $(run "$B/lore" --kb "$T/kb" ingest --quiet "$T/big.pdf"); L=$(min "$L" "$1"); LC=$(min "$LC" "$2")
    set -- $(run "$B/lore" extract "$T/big.pdf"); X=$(min "$X" "$1"); XC=$(min "$XC" "$2")
done
CH=$("$B/lore" --kb "$T/kb" stats --json)
pps() { echo $(( PAGES * 1000 / ($1 > 0 ? $1 : 1) )); }
echo "pages: $PAGES (best of $R interleaved rounds; wall, and CPU user+sys)"
echo "pdftotext:            ${P} ms  ($(pps "$P") pages/s)   cpu ${PC} ms"
echo "lore extract:         ${X} ms  ($(pps "$X") pages/s)   cpu ${XC} ms"
echo "lore ingest (stored): ${L} ms  ($(pps "$L") pages/s)   cpu ${LC} ms  $CH"
awk -v p="$P" -v l="$L" -v pc="$PC" -v lc="$LC" 'BEGIN {
    printf "ratio lore ingest / pdftotext pages/s: %.2f", p / l
    if (lc > 0) printf "  (by CPU time: %.2f)", pc / lc
    printf "\n" }'
# many files: 1 parser worker vs the default (one per CPU)
mkdir -p "$T/many"
for i in $(seq 1 16); do "$B/tests/bench/make_pdf" "$T/many/f$i.pdf" 40; done
J1= JN=
for i in $(seq "$R"); do
    rm -rf "$T/kb2"
    set -- $(run "$B/lore" --kb "$T/kb2" ingest --quiet --jobs 1 "$T/many"); J1=$(min "$J1" "$1")
    rm -rf "$T/kb2"
    set -- $(run "$B/lore" --kb "$T/kb2" ingest --quiet "$T/many"); JN=$(min "$JN" "$1")
done
echo "16 files x 40 pages: --jobs 1 ${J1} ms, default ($(nproc) CPUs) ${JN} ms, speed-up $(awk -v a="$J1" -v b="$JN" 'BEGIN{printf "%.2f", a/b}')"
