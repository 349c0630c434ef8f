#!/bin/sh
# The quick start: installs what lore needs, builds it, ingests the sample
# corpus in data/ into ./lore-kb and answers a sample question from it.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh"
LORE="$ROOT/build/lore"
KB=${LORE_KB:-$ROOT/lore-kb}
"$LORE" --kb "$KB" ingest "$ROOT/data"
Q=${1:-"how long are backups kept"}
echo
echo "question: $Q"
echo
"$LORE" --kb "$KB" ask "$Q"
echo
echo "The knowledge base is in $KB. Try: $LORE --kb $KB ask 'your question'"
echo "                             or: $LORE --kb $KB search 'some words'"
