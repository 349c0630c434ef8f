#!/bin/sh
# test_ask.sh — `lore ask` end to end on the sample corpus: extractive
# answers with citations that exist and point into the cited document, the
# JSON shape, not-found for questions the documents cannot answer, and
# conversations (--session) that read follow-ups in context.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "jq missing: run scripts/install-deps.sh"; exit 1; }
DATA="$LORE_SRC/data"
expect 0 "$LORE" ingest --quiet "$DATA"
TAB=$(printf '\t')
N=0; HIT=0
while IFS="$TAB" read -r q file phrase; do
    [ -n "$q" ] || continue
    N=$((N + 1))
    R=$("$LORE" ask --json "$q")
    printf '%s' "$R" | jq -e '.answer and (.citations|type=="array") and (.not_found|type=="boolean")
        and (.retrieval_ms|type=="number") and (.generation_ms|type=="number")' >/dev/null \
        && ok || bad "json shape for: $q"
    case "$(printf '%s' "$R" | jq -r .answer)" in *"$phrase"*) HIT=$((HIT + 1)) ;; esac
    # every [n] in the answer is a listed citation, and each citation has its fields
    NUMS=$(printf '%s' "$R" | jq -r '.answer' | grep -o '\[[0-9, ]*\]' | tr -d '[] ' | tr ',' '\n' | sort -u)
    for n in $NUMS; do
        same "$(printf '%s' "$R" | jq "[.citations[] | select(.n == $n)] | length")" 1 "citation [$n] listed for: $q"
    done
    printf '%s' "$R" | jq -e '.citations | all(.uri and .title and (.page|type=="number") and
        (.char_start <= .char_end) and (.text|length > 0) and (.supported|type=="boolean"))' >/dev/null \
        && ok || bad "citation fields for: $q"
done <"$DATA/questions.tsv"
[ "$HIT" -ge $((N * 3 / 4)) ] && ok || bad "answer phrase in only $HIT of $N answers"
echo "answer phrase found in $HIT of $N answers"
# a question the documents cannot answer
expect 0 "$LORE" ask --json "xylophone quantum zebra marmalade"
same "$(printf '%s\n' "$OUT" | jq .not_found)" true "not found"
same "$(printf '%s\n' "$OUT" | jq '.citations | length')" 0 "no citations when not found"
# human output: the answer, then the numbered sources
expect 0 "$LORE" ask "How long does Northwind keep nightly server backups?"
contains "$OUT" "35 days" "plain answer"
contains "$OUT" "[1] " "sources listed"
# conversations
expect 0 "$LORE" ask --json --session t1 "How long does Northwind keep nightly server backups?"
expect 0 "$LORE" ask --json --session t1 "and where are they kept?"
contains "$(printf '%s\n' "$OUT" | jq -r .query)" "nightly server backups" "follow-up rewritten"
same "$(printf '%s\n' "$OUT" | jq -r .session)" t1 "session echoed"
expect 0 "$LORE" ask --session new "what is lore"
contains "$ERR" "session: " "new session id printed"
# a generator behind an OpenAI-compatible URL: streamed, citations checked
if [ -n "${LORE_FAKE_OPENAI:-}" ] && [ -x "$LORE_FAKE_OPENAI" ]; then
    REPLY='Nightly server backups are kept for 35 days [1]. The moon is cheese [9].'
    "$LORE_FAKE_OPENAI" "$REPLY" 2 20 >"$T/port" &
    FP=$!
    for i in 1 2 3 4 5 6 7 8 9 10; do [ -s "$T/port" ] && break; sleep 0.2; done
    PORT=$(cat "$T/port")
    expect 0 "$LORE" ask --json --gen-url "http://127.0.0.1:$PORT" "How long are nightly server backups kept?"
    same "$(printf '%s\n' "$OUT" | jq -r .mode)" generated "generated mode"
    contains "$(printf '%s\n' "$OUT" | jq -r .answer)" "35 days [1]" "streamed answer kept its valid citation"
    same "$(printf '%s\n' "$OUT" | jq .removed_citations)" 1 "invented [9] removed"
    same "$(printf '%s\n' "$OUT" | jq '[.citations[].n] | max')" 1 "no citation beyond the sources"
    expect 0 "$LORE" ask --gen-url "http://127.0.0.1:$PORT/v1" "How long are nightly server backups kept?"
    contains "$OUT" "35 days" "streamed to the terminal"
    contains "$OUT" "[1] " "sources under the answer"
    wait $FP
    # the server is gone now: a clear one-line error
    expect 1 "$LORE" ask --gen-url "http://127.0.0.1:$PORT" "anything"
    contains "$ERR" "cannot connect" "server down"
fi
expect 2 "$LORE" ask
expect 1 "$LORE" ask --gen-model "$T/nope.gguf" "anything"
contains "$ERR" "nope.gguf" "missing model named"
finish
