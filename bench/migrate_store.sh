#!/usr/bin/env bash
# kakunin migrate-store (issue 13): a node of N imported residents moved from SQLite to
# PostgreSQL and back, on a private server (tests/support/pg_server.sh) stopped at the end. Prints
# one JSON line: seconds for each move (the copy and the checks as the command reports them) and
# the largest resident set of each, in KiB.
# Usage: bench/migrate_store.sh path/to/kakunin [N]
set -euo pipefail
bin=$1 n=${2:-100000}
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d) pg=$(mktemp -d)
trap 'bash "$here/tests/support/pg_server.sh" stop "$pg" || true; rm -rf "$tmp" "$pg"' EXIT
bash "$here/tests/support/pg_server.sh" start "$pg" $$
psql -X -q -At -v ON_ERROR_STOP=1 "postgresql:///postgres?host=$pg&user=kakunin" \
  -c "CREATE DATABASE node"
url="postgresql:///node?host=$pg&user=kakunin"
"$bin" init --data "$tmp/node" --prefecture 19 > /dev/null
"$bin" generate --count "$n" --seed 9 --today 2026-04-01 > "$tmp/in.jsonl"
"$bin" import --data "$tmp/node" --batch 10000 "$tmp/in.jsonl" > /dev/null 2>&1

# move TO NAME: runs the move under /usr/bin/time; sets NAME_s, NAME_copy_ms, NAME_check_ms, NAME_kib.
move() {
  local out="$tmp/$2.out"
  /usr/bin/time -f "%e %M" -o "$tmp/$2.time" "$bin" migrate-store --data "$tmp/node" --to "$1" \
    --quiet > "$out"
  read -r secs kib < "$tmp/$2.time"
  local copy check
  copy=$(sed -n 's/^copy \([0-9]*\) ms, checks \([0-9]*\) ms$/\1/p' "$out")
  check=$(sed -n 's/^copy \([0-9]*\) ms, checks \([0-9]*\) ms$/\2/p' "$out")
  printf '"%s":{"seconds":%s,"copy_ms":%s,"checks_ms":%s,"max_rss_kib":%s}' "$2" "$secs" "$copy" \
    "$check" "$kib"
}
to_pg=$(move "$url" to_postgresql)
back=$(move sqlite:back.db to_sqlite)
echo "{\"bench\":\"migrate_store\",\"residents\":$n,$to_pg,$back}"
