#!/bin/sh
# test_sample.sh — the quick start's corpus: data/ ingests cleanly and each
# question in data/questions.tsv finds the file that answers it in the top 3,
# with the answer phrase in one of the cited passages.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "jq missing: run scripts/install-deps.sh"; exit 1; }
DATA="$LORE_SRC/data"
expect 0 "$LORE" ingest --json "$DATA"
same "$(printf '%s\n' "$OUT" | jq .failed)" 0 "no failed document"
N=$(ls "$DATA"/*.md "$DATA"/*.html | wc -l)
same "$(printf '%s\n' "$OUT" | jq .added)" "$N" "every document added"
TAB=$(printf '\t')
while IFS="$TAB" read -r q file phrase; do
    [ -n "$q" ] || continue
    R=$("$LORE" search --json --k 3 "$q")
    URIS=$(printf '%s\n' "$R" | jq -r '.hits[].uri')
    contains "$URIS" "/$file" "top 3 for: $q"
    TEXTS=$(printf '%s\n' "$R" | jq -r '.hits[].text')
    contains "$TEXTS" "$phrase" "answer phrase for: $q"
done <"$DATA/questions.tsv"
finish
