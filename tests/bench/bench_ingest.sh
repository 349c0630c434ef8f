#!/bin/sh
# bench_ingest.sh — lore's PDF ingest speed against Poppler's own pdftotext,
# on the same 500-page text PDF, measured in one run (ratios, not absolute
# times, are what compare on a shared machine). Also a folder of many
# files, to show the parser workers using both cores.
#   usage: tests/bench/bench_ingest.sh [BUILD_DIR] [PAGES] [REPEATS]
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-$ROOT/build}
PAGES=${2:-500}
R=${3:-3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$B/tests/bench/make_pdf" "$T/big.pdf" "$PAGES"
best() { sort -n | head -1; }
ms() { s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
P=$(for i in $(seq "$R"); do ms pdftotext "$T/big.pdf" "$T/out.txt"; done | best)
L=$(for i in $(seq "$R"); do rm -rf "$T/kb"; ms "$B/lore" --kb "$T/kb" ingest --quiet "$T/big.pdf"; done | best)
X=$(for i in $(seq "$R"); do ms "$B/lore" extract "$T/big.pdf"; done | best)
CH=$("$B/lore" --kb "$T/kb" stats --json)
echo "pages: $PAGES"
echo "pdftotext:            ${P} ms  ($(( PAGES * 1000 / (P > 0 ? P : 1) )) pages/s)"
echo "lore extract:         ${X} ms  ($(( PAGES * 1000 / (X > 0 ? X : 1) )) pages/s)"
echo "lore ingest (stored): ${L} ms  ($(( PAGES * 1000 / (L > 0 ? L : 1) )) pages/s)  $CH"
awk -v p="$P" -v l="$L" 'BEGIN { printf "ratio lore ingest / pdftotext pages/s: %.2f\n", p / l }'
# many files: 1 parser worker vs the default (one per CPU)
mkdir -p "$T/many"
for i in $(seq 1 16); do "$B/tests/bench/make_pdf" "$T/many/f$i.pdf" 40; done
J1=$(for i in $(seq "$R"); do rm -rf "$T/kb2"; ms "$B/lore" --kb "$T/kb2" ingest --quiet --jobs 1 "$T/many"; done | best)
JN=$(for i in $(seq "$R"); do rm -rf "$T/kb2"; ms "$B/lore" --kb "$T/kb2" ingest --quiet "$T/many"; done | best)
echo "16 files x 40 pages: --jobs 1 ${J1} ms, default ($(nproc) CPUs) ${JN} ms, speed-up $(awk -v a="$J1" -v b="$JN" 'BEGIN{printf "%.2f", a/b}')"
