#!/bin/sh
# test_eval.sh — `lore eval` computes the BEIR metrics right on a tiny data
# set whose answers are worked out by hand.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "jq missing: run scripts/install-deps.sh"; exit 1; }
cat >"$T/corpus.jsonl" <<'J'
{"_id": "d1", "title": "Zebras", "text": "Zebras have black and white stripes."}
{"_id": "d2", "title": "Lions", "text": "The male lion has a mane."}
{"_id": "d3", "title": "Cats", "text": "Domestic cats purr."}
{"_id": 4, "title": "Dogs", "text": "Dogs bark at the mailman."}
J
cat >"$T/queries.jsonl" <<'J'
{"_id": "q1", "text": "zebra stripes"}
{"_id": "q2", "text": "lion mane"}
{"_id": "q3", "text": "no qrels for this one"}
J
printf 'query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq2\td3\t1\n' >"$T/qrels.tsv"
expect 0 "$LORE" eval --corpus "$T/corpus.jsonl" --queries "$T/queries.jsonl" --qrels "$T/qrels.tsv" --json
j() { printf '%s\n' "$OUT" | jq "$1"; }
same "$(j .queries)" 2 "only queries with qrels"
# q1: d1 first: nDCG 1. q2: d2 first, d3 never found: DCG 1, IDCG 1 + 1/log2(3)
same "$(j '.["ndcg@10"] * 1000 | round')" "$(awk 'BEGIN{printf "%d", (1 + 1/(1+1/(log(3)/log(2))))/2*1000 + 0.5}')" "ndcg@10"
same "$(j '.["recall@10"]')" 0.75 "recall@10"
same "$(j '.["recall@100"]')" 0.75 "recall@100"
same "$(j '.["mrr@10"]')" 1 "mrr@10"
same "$(j 'has("ms_per_query")')" true "ms_per_query"
# the temporary knowledge base is cleaned up; --kb keeps one
expect 0 "$LORE" eval --corpus "$T/corpus.jsonl" --queries "$T/queries.jsonl" --qrels "$T/qrels.tsv" --kb "$T/ekb"
contains "$OUT" "nDCG@10" "plain output"
[ -f "$T/ekb/lore.db" ] && ok || bad "--kb kept"
expect nonzero "$LORE" eval --corpus "$T/nope.jsonl" --queries "$T/queries.jsonl" --qrels "$T/qrels.tsv"
contains "$ERR" "nope.jsonl" "missing file named"
printf 'not json\n' >"$T/bad.jsonl"
expect nonzero "$LORE" eval --corpus "$T/bad.jsonl" --queries "$T/queries.jsonl" --qrels "$T/qrels.tsv"
contains "$ERR" "line 1" "bad line named"
finish
