#!/bin/sh
# test_vectors.sh — a knowledge base with an embedding model, end to end:
# ingest embeds every chunk; vector and hybrid search; vectors.faiss deleted
# or corrupted is rebuilt and gives the same results; kill -9 during an
# ingest with vectors, then a re-run: consistent and complete; a second
# model's vectors are refused until `lore reembed`.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "jq missing: run scripts/install-deps.sh"; exit 1; }
M="${LORE_TEST_MODELS:-}/bert-bge-tiny-F32.gguf"
M2="${LORE_TEST_MODELS:-}/bert-bge-tiny-Q8_0.gguf"
if [ -z "${LORE_TEST_MODELS:-}" ] || [ ! -f "$M" ]; then
    echo "LORE_TEST_MODELS not set or bert-bge-tiny missing: skipped"
    exit 77
fi
DATA="$LORE_SRC/data"
expect 0 "$LORE" init --embed-model "$M"
contains "$OUT" "128 dimensions" "model recorded"
expect 0 "$LORE" ingest --json "$DATA"
CH=$(printf '%s\n' "$OUT" | jq .chunks)
same "$(printf '%s\n' "$OUT" | jq .embedded)" "$CH" "every chunk embedded"
same "$("$LORE" stats --json | jq .vectors)" "$CH" "vectors counted"
[ -f "$LORE_KB/vectors.faiss" ] && ok || bad "vectors.faiss written"
expect 0 "$LORE" check
ids() { "$LORE" search --json --k 5 --mode "$1" "$2" | jq -c '[.hits[].chunk_id]'; }
Q1="how long are backups kept"; Q2="visitor wifi network name"
V1=$(ids vector "$Q1"); V2=$(ids vector "$Q2"); H1=$(ids hybrid "$Q1")
same "$(printf '%s' "$V1" | jq length)" 5 "vector hits"
same "$("$LORE" search --json "$Q1" | jq -r .mode)" hybrid "hybrid by default"
same "$("$LORE" search --json --mode bm25 "$Q1" | jq -r .mode)" bm25 "bm25 on request"
# the vector file is a cache: gone or damaged, results stay the same
rm "$LORE_KB/vectors.faiss"
same "$(ids vector "$Q1")" "$V1" "same results without vectors.faiss"
expect 0 "$LORE" ingest --quiet "$DATA"           # a writer puts it back
[ -f "$LORE_KB/vectors.faiss" ] && ok || bad "vectors.faiss rewritten"
SZ=$(wc -c <"$LORE_KB/vectors.faiss")
printf 'garbage garbage garbage' | dd of="$LORE_KB/vectors.faiss" bs=1 seek=$((SZ / 2)) conv=notrunc 2>/dev/null
same "$(ids vector "$Q1")" "$V1" "same results with a corrupt vectors.faiss"
same "$(ids vector "$Q2")" "$V2" "same results (2) with a corrupt vectors.faiss"
same "$(ids hybrid "$Q1")" "$H1" "same hybrid results"
expect nonzero "$LORE" check
contains "$ERR" "vectors.faiss" "check names the damaged file"
expect 0 "$LORE" ingest --quiet "$DATA"
expect 0 "$LORE" check
# deleting a document removes its vectors
DOC=$("$LORE" docs --json | jq '.documents[0].doc_id')
expect 0 "$LORE" rm "$DOC"
same "$("$LORE" stats --json | jq '.vectors == .chunks')" true "vectors follow chunks"
expect 0 "$LORE" check
# kill -9 during an ingest with vectors, then run again
D="$T/many"; mkdir -p "$D"
for i in $(seq 1 200); do printf 'Note %s about capybaras and their habits.\n\nMore detail %s.\n' "$i" "$i" >"$D/n$i.txt"; done
"$LORE" ingest --quiet "$D" & PID=$!
sleep 0.4; kill -9 $PID 2>/dev/null; wait $PID 2>/dev/null
expect 0 "$LORE" check
expect 0 "$LORE" ingest --quiet "$D"
expect 0 "$LORE" check
same "$("$LORE" stats --json | jq '.vectors == .chunks')" true "complete after resume"
# a second model's vectors are refused; reembed switches
if [ -f "$M2" ]; then
    expect 1 "$LORE" model set-embed "$M2"
    contains "$ERR" "re-embed" "mixing models refused"
    expect 0 "$LORE" reembed --embed-model "$M2"
    same "$("$LORE" stats --json | jq '.vectors == .chunks')" true "re-embedded"
    expect 0 "$LORE" check
fi
# lore embed
printf 'first line\nsecond line\n' >"$T/lines"
expect 0 sh -c "\"$LORE\" embed --model \"$M\" --json <\"$T/lines\""
same "$(printf '%s\n' "$OUT" | jq '.dim')" 128 "embed dim"
same "$(printf '%s\n' "$OUT" | jq '.embeddings | length')" 2 "embed rows"
same "$(printf '%s\n' "$OUT" | jq '.embeddings[0] | map(. * .) | add | . * 1000 | round')" 1000 "normalised"
finish
