#!/bin/sh
# bench_decode.sh — decoder speed of `lore generate` on Qwen2.5-0.5B-shape
# models (random weights, GPT-2 vocab), next to llama.cpp's numbers on the
# same machine (shared/golden/README.md §6: llama-bench -t 2 -p 512 -n 128).
#
#   tests/bench/bench_decode.sh [BUILD_DIR] [RUNS]
#
# BUILD_DIR defaults to ./build, RUNS to 3.  Environment:
#   LORE_SHARED   the shared data dir (default /work/shared): vocab + prompt
#   SYNTH_DIR     where the synthetic models live (default /work/synth);
#                 missing ones are written with `lore model synth`
#   THREADS       threads (default 2, as the reference)
#
# For each model: a ~476-token prompt (the first 2300 bytes of
# perf/sentences-1000x40.txt), 128 generated tokens with --ignore-eos,
# RUNS times; prints prompt (pp) and generation (tg) tokens/s of each run,
# the best and the median, and the ratio of the best to llama.cpp's.  Best-of
# because the machine is shared: a slow run measures the other jobs.  The
# load average is printed before and after — compare ratios within one run.
set -eu

BUILD=${1:-build}
RUNS=${2:-3}
SHARED=${LORE_SHARED:-/work/shared}
SYNTH=${SYNTH_DIR:-/work/synth}
THREADS=${THREADS:-2}
LORE="$BUILD/lore"
VOCAB="$SHARED/models/tokenizer-vocab-llamacpp/ggml-vocab-gpt-2.gguf"
PROMPT_SRC="$SHARED/golden/perf/sentences-1000x40.txt"

[ -x "$LORE" ] || { echo "bench_decode: no '$LORE' (build first)" >&2; exit 1; }
[ -f "$PROMPT_SRC" ] || { echo "bench_decode: no '$PROMPT_SRC'" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench_decode: needs python3" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
head -c 2300 "$PROMPT_SRC" > "$TMP/prompt.txt"
mkdir -p "$SYNTH"

echo "# bench_decode: $LORE, $THREADS threads, $RUNS runs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %8s %8s   %s\n' model "pp t/s" "tg t/s" ""
# model type, llama.cpp pp512, llama.cpp tg128 (golden README §6)
for spec in "Q8_0 242.61 52.18" "Q4_K_M 190.67 61.80"; do
    set -- $spec
    type=$1 ref_pp=$2 ref_tg=$3
    model="$SYNTH/qwen2-0.5b-$type.gguf"
    if [ ! -f "$model" ]; then
        [ -f "$VOCAB" ] || { echo "bench_decode: no vocab '$VOCAB'" >&2; exit 1; }
        "$LORE" model synth --preset qwen2-0.5b --vocab "$VOCAB" --type "$type" \
            --out "$model" -q
    fi
    : > "$TMP/runs"
    i=0
    while [ $i -lt "$RUNS" ]; do
        "$LORE" generate --model "$model" --prompt-file "$TMP/prompt.txt" --n 128 \
            --ignore-eos --json --threads "$THREADS" > "$TMP/out.json"
        python3 - "$TMP/out.json" >> "$TMP/runs" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
n = lambda v: len(v) if isinstance(v, list) else v
print("%.2f %.2f %d" % (n(d["prompt_tokens"]) / d["prompt_ms"] * 1e3,
                       n(d["tokens"]) / d["gen_ms"] * 1e3, n(d["prompt_tokens"])))
EOF
        set -- $(tail -1 "$TMP/runs")
        printf '%-22s %8s %8s   (run %d, %s prompt tokens)\n' "qwen2-0.5b $type" "$1" "$2" \
            $((i + 1)) "$3"
        i=$((i + 1))
    done
    python3 - "$TMP/runs" "$type" "$ref_pp" "$ref_tg" <<'EOF'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
pp = [r[0] for r in rows]; tg = [r[1] for r in rows]
rpp, rtg = float(sys.argv[3]), float(sys.argv[4])
print("%-22s %8.1f %8.1f   best   (median pp %.1f, tg %.1f)" % (
    "qwen2-0.5b " + sys.argv[2], max(pp), max(tg), statistics.median(pp), statistics.median(tg)))
print("%-22s %8.1f %8.1f   llama.cpp (idle machine); lore/llama.cpp pp %.2f, tg %.2f" % (
    "", rpp, rtg, max(pp) / rpp, max(tg) / rtg))
EOF
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
