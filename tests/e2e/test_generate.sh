#!/bin/sh
# test_generate.sh — `lore generate --json` against llama.cpp's goldens:
# stories260K's 200 greedy tokens from BOS exactly, and for every decoder
# fixture and quant type, the prompt's token ids and the greedy ids up to the
# first step whose golden margin is below the type's threshold
# (shared/golden/README.md §4). Skipped when the model files are absent.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "jq missing: run scripts/install-deps.sh"; exit 1; }
SH=${LORE_SHARED:-$LORE_SRC/../shared}
GM=${LORE_TEST_MODELS:-}
S260="$SH/models/stories260K"
if [ ! -f "$S260/stories260K.gguf" ] || [ -z "$GM" ] || [ ! -d "$GM" ]; then
    echo "model files not found (LORE_TEST_MODELS, shared/models): skipped"
    exit 77
fi

# stories260K: greedy from BOS, 200 tokens, text and ids exactly
expect 0 "$LORE" generate --model "$S260/stories260K.gguf" --prompt "" --n 200 --json
WANT_IDS=$(tr -s ' \n' ' ' <"$S260/golden_greedy_200_from_bos.ids" | sed 's/^ //; s/ $//')
GOT_IDS=$(printf '%s\n' "$OUT" | jq -r '(.prompt_tokens + .tokens) | map(tostring) | join(" ")')
same "$GOT_IDS" "$WANT_IDS" "stories260K 200 greedy ids from BOS"
same "$(printf '%s\n' "$OUT" | jq -r .text)" "$(cat "$S260/golden_greedy_200_from_bos.txt")" "stories260K text"

check() { # golden-file model-file threshold
    G=$1; M=$2; THR=$3
    [ -f "$G" ] && [ -f "$M" ] || { echo "skip: $G or $M missing"; return; }
    N=$(jq '.items | length' "$G")
    i=0
    while [ "$i" -lt "$N" ]; do
        ITEM=$(jq -c ".items[$i] | {text, prompt_ids, generated_ids, margins: [.steps[].margin]}" "$G")
        printf '%s\n' "$ITEM" | jq -j .text >"$T/prompt.txt"   # exact bytes, trailing newlines kept
        expect 0 "$LORE" generate --model "$M" --prompt-file "$T/prompt.txt" --n 32 --ignore-eos --json
        R=$(jq -n --argjson g "$ITEM" --argjson o "$OUT" --argjson thr "$THR" '
            (($g.margins | map(. < $thr) | index(true)) // ($g.margins | length)) as $k
            | {prompt: ($g.prompt_ids == $o.prompt_tokens),
               greedy: ($g.generated_ids[0:$k] == $o.tokens[0:$k]), k: $k}')
        same "$(printf '%s' "$R" | jq .prompt)" true "$(basename "$G") item $i prompt ids"
        same "$(printf '%s' "$R" | jq .greedy)" true "$(basename "$G") item $i greedy ids (first $(printf '%s' "$R" | jq .k))"
        i=$((i + 1))
    done
}
GD="$GM/.."
check "$GD/stories260K/decode.F32.json" "$S260/stories260K.gguf" 0.001
for t in F16 Q8_0 Q4_0 Q4_K_M Q5_K_M Q6_K; do
    thr=0.5; [ "$t" = F16 ] && thr=0.02
    check "$GD/llama-spm-tiny/decode.$t.json" "$GM/llama-spm-tiny-$t.gguf" $thr
done
for t in F16 Q8_0 Q4_K_M; do
    thr=0.5; [ "$t" = F16 ] && thr=0.02
    check "$GD/qwen2-bpe-tiny/decode.$t.json" "$GM/qwen2-bpe-tiny-$t.gguf" $thr
done
for t in F16 Q4_K_M; do
    thr=0.5; [ "$t" = F16 ] && thr=0.02
    check "$GD/qwen2-bpe-mini/decode.$t.json" "$GM/qwen2-bpe-mini-$t.gguf" $thr
done
# bad input: a clear one-line error, no crash
printf 'GGUF\003\000\000\000garbage' >"$T/bad.gguf"
expect 1 "$LORE" generate --model "$T/bad.gguf" --prompt hi
contains "$ERR" "bad.gguf" "bad model named"
expect 2 "$LORE" generate --prompt hi
finish
