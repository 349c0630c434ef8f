#!/bin/sh
# test_cli.sh — lore's CLI end to end: ingest, re-ingest, change, prune, rm,
# search (incl. FTS-hostile text), docs/stats JSON, help, exit codes, the
# writer lock, and damaged knowledge bases.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "jq missing: run scripts/install-deps.sh"; exit 1; }

D="$T/docs"
mkdir -p "$D/sub" "$D/.hidden"
cat >"$D/guide.md" <<'MD'
# Lore Guide

Lore keeps a knowledge base of your documents. The aardvark appears only here.

## Installing

Run the installer. It needs about two minutes on a laptop.
MD
printf 'Plain notes\n\nThe pangolin eats ants. Nothing else matters here.\n' >"$D/sub/notes.txt"
printf 'secret pangolin\n' >"$D/.hidden/x.txt"
printf '\000\001\002 binary' >"$D/junk.txt"
printf 'ignored' >"$D/image.png"

# --- help and usage
for c in init ingest search docs rm stats check extract eval; do
    expect 0 "$LORE" "$c" --help
    contains "$OUT" "usage: lore" "help of $c"
done
expect 0 "$LORE" --help
expect 2 "$LORE" frobnicate
contains "$ERR" "unknown command 'frobnicate'" "unknown command"
expect 2 "$LORE" search --bogus x
expect nonzero "$LORE" search anything
contains "$ERR" "no knowledge base" "search before init"
same "$(printf '%s' "$ERR" | wc -l)" "0" "one-line error"

# --- ingest
expect 0 "$LORE" ingest --json "$D"
same "$(printf "%s\n" "$OUT" | jq .added)" 2 "added"
same "$(printf "%s\n" "$OUT" | jq .failed)" 1 "failed (binary junk)"
expect 0 "$LORE" stats --json
same "$(printf "%s\n" "$OUT" | jq .documents)" 2 "documents"
same "$(printf "%s\n" "$OUT" | jq .collections)" 1 "collections"
CH1=$(printf "%s\n" "$OUT" | jq .chunks)
[ "$(printf "%s\n" "$OUT" | jq '.bytes > 0')" = true ] && ok || bad "bytes"
expect 0 "$LORE" docs --json
same "$(printf "%s\n" "$OUT" | jq '[.documents[] | select(.status=="failed")] | length')" 1 "failed doc listed"
contains "$(printf "%s\n" "$OUT" | jq -r '.documents[] | select(.status=="failed") | .error')" "junk.txt" "error names the file"
contains "$(printf "%s\n" "$OUT" | jq -r '.documents[] | select(.uri|endswith("guide.md")) | .title')" "Lore Guide" "title"

# --- search with citations
expect 0 "$LORE" search --json aardvark
same "$(printf "%s\n" "$OUT" | jq '.hits | length')" 1 "one hit"
same "$(printf "%s\n" "$OUT" | jq -r '.hits[0].uri')" "$D/guide.md" "uri"
same "$(printf "%s\n" "$OUT" | jq -r '.hits[0].title')" "Lore Guide" "hit title"
same "$(printf "%s\n" "$OUT" | jq -r '.query')" "aardvark" "query echoed"
for f in chunk_id doc_id uri title page char_start char_end score text; do
    same "$(printf "%s\n" "$OUT" | jq ".hits[0] | has(\"$f\")")" true "hit has $f"
done
# the span points at the passage in the source file
S=$(printf "%s\n" "$OUT" | jq .hits[0].char_start); E=$(printf "%s\n" "$OUT" | jq .hits[0].char_end)
SRC=$(python3 -c "import sys;t=open(sys.argv[1],encoding='utf-8').read();print(t[int(sys.argv[2]):int(sys.argv[3])])" "$D/guide.md" "$S" "$E" 2>/dev/null || cut -c1- "$D/guide.md")
contains "$SRC" "aardvark" "span covers the passage"
expect 0 "$LORE" search --json --k 1 pangolin
same "$(printf "%s\n" "$OUT" | jq '.hits | length')" 1 "--k 1"
same "$(printf "%s\n" "$OUT" | jq -r '.hits[0].uri')" "$D/sub/notes.txt" "hidden folders skipped"
expect 0 "$LORE" search installer -- --k
# hostile queries: never an error
for q in '"' '(' 'a AND' 'NEAR(x y' 'title:aardvark' '*' '^a' 'x" OR "y' "'; DROP TABLE chunks; --" '' '"""'; do
    expect 0 "$LORE" search --json -- "$q"
    printf "%s\n" "$OUT" | jq -e . >/dev/null && ok || bad "json for query [$q]"
done
expect 0 "$LORE" search --json 'aardvark)'
same "$(printf "%s\n" "$OUT" | jq '.hits | length')" 1 "operators ignored"

# --- re-ingest unchanged: no new rows
expect 0 "$LORE" ingest --json "$D"
same "$(printf "%s\n" "$OUT" | jq .unchanged)" 3 "unchanged (failed one not retried)"
same "$(printf "%s\n" "$OUT" | jq .added)" 0 "nothing added"
same "$("$LORE" stats --json | jq .chunks)" "$CH1" "same chunk count"

# --- change a file: its chunks are replaced
sed -i 's/aardvark/okapi/' "$D/guide.md"
expect 0 "$LORE" ingest --json "$D"
same "$(printf "%s\n" "$OUT" | jq .updated)" 1 "updated"
same "$("$LORE" search --json aardvark | jq '.hits | length')" 0 "old text gone"
same "$("$LORE" search --json okapi | jq '.hits | length')" 1 "new text found"
same "$("$LORE" stats --json | jq .documents)" 2 "no duplicate"

# --- delete a file + prune
rm "$D/sub/notes.txt"
expect 0 "$LORE" ingest --prune --json "$D"
same "$(printf "%s\n" "$OUT" | jq .pruned)" 1 "pruned"
same "$("$LORE" search --json pangolin | jq '.hits | length')" 0 "pruned text gone"

# --- rm by path and by id
ID=$("$LORE" docs --json | jq '.documents[] | select(.uri|endswith("guide.md")) | .doc_id')
expect 0 "$LORE" rm "$ID"
same "$("$LORE" search --json okapi | jq '.hits | length')" 0 "rm purges"
expect nonzero "$LORE" rm 99999
contains "$ERR" "no document" "rm unknown"
expect 0 "$LORE" check

# --- collections
printf 'Wombats dig burrows.\n' >"$D/w.txt"
expect 0 "$LORE" ingest --collection zoo "$D/w.txt"
same "$("$LORE" search --json --collection zoo wombat | jq '.hits | length')" 1 "collection filter"
same "$("$LORE" search --json --collection default wombat | jq '.hits | length')" 0 "other collection"
expect nonzero "$LORE" search --collection nope wombat

# --- the writer lock: a second writer fails clearly while one holds it
if command -v flock >/dev/null; then
    flock "$LORE_KB/lock" sleep 3 &
    sleep 0.5
    expect nonzero "$LORE" ingest "$D/w.txt"
    contains "$ERR" "another lore process" "lock message"
    expect 0 "$LORE" search wombat   # readers still work
    expect 0 "$LORE" ingest --wait --quiet "$D/w.txt"   # --wait waits it out
    wait
fi
# two writers at once, both with --wait: both complete, nothing corrupt
for i in 1 2 3 4 5 6; do printf 'Document %s about capybaras.\n' "$i" >"$D/c$i.txt"; done
"$LORE" ingest --wait --quiet "$D/c1.txt" "$D/c2.txt" "$D/c3.txt" &
"$LORE" ingest --wait --quiet "$D/c4.txt" "$D/c5.txt" "$D/c6.txt"
wait
same "$("$LORE" search --json --k 20 capybaras | jq '.hits | length')" 6 "both writers landed"
expect 0 "$LORE" check

# --- damaged knowledge bases: clear error, no crash
BAD="$T/badkb"; mkdir -p "$BAD"
head -c 20000 /dev/urandom >"$BAD/lore.db"
expect 1 "$LORE" --kb "$BAD" search x
contains "$ERR" "not a lore knowledge base" "garbage db"
expect 1 "$LORE" --kb "$BAD" ingest "$D/w.txt"
cp "$LORE_KB/lore.db" "$T/trunc.db"
mkdir -p "$T/trunckb"; head -c 3000 "$T/trunc.db" >"$T/trunckb/lore.db"
expect nonzero "$LORE" --kb "$T/trunckb" search wombat

finish
