#!/usr/bin/env bash
# Crash test (issue: "kill -9 the ingest at random moments"): an ingest killed at random
# moments, 20 times, then completed. Every result printed before a kill must be durable,
# nothing may be applied twice, and the database must pass PRAGMA integrity_check.
# With STORE postgresql (issue 13) the node keeps its registry on a private PostgreSQL server this
# script starts and stops (tests/support/pg_server.sh); the server's own checks replace SQLite's
# integrity_check, the rest is the same.
# Usage: tests/crash_ingest.sh path/to/kakunin [COUNT] [sqlite|postgresql]
set -euo pipefail
bin=$1
count=${2:-20000}
store=${3:-sqlite}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pg=""
cleanup() {
  if [ -n "$pg" ]; then bash "$here/support/pg_server.sh" stop "$pg" || true; rm -rf "$pg"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

case "$store" in
  sqlite) "$bin" init --data "$tmp/node" --prefecture 19 > /dev/null ;;
  postgresql)
    pg=$(mktemp -d)
    bash "$here/support/pg_server.sh" start "$pg" $$
    psql -X -q -v ON_ERROR_STOP=1 "postgresql:///postgres?host=$pg&user=kakunin" -c "CREATE DATABASE registry"
    "$bin" init --data "$tmp/node" --prefecture 19 \
      --database-url "postgresql:///registry?host=$pg&user=kakunin" > /dev/null ;;
  *) fail "store: sqlite or postgresql, not $store" ;;
esac
"$bin" generate --count "$count" --seed 11 --today 2026-04-01 > "$tmp/in.jsonl"

applied() { "$bin" stats --data "$tmp/node" --json | sed 's/.*"applied_notifications":\([0-9]*\).*/\1/'; }

printed_total=0
for round in $(seq 1 20); do
  "$bin" ingest --data "$tmp/node" --batch 300 --today 2026-04-01 "$tmp/in.jsonl" \
    > "$tmp/out.$round" 2>/dev/null &
  pid=$!
  # A random moment between 20 and 400 ms in (on PostgreSQL, whose batches take longer, up to
  # 1.2 s: a third of the kills land before the first batch, the rest between batches or in one).
  if [ "$store" = sqlite ]; then ms=$((20 + RANDOM % 380)); else ms=$((20 + RANDOM % 1180)); fi
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # Results printed by this run that were new (not duplicates) are durable now.
  fresh=$(grep -c '"ok":true}$' "$tmp/out.$round" || true)
  printed_total=$((printed_total + fresh))
  now=$(applied)
  [ "$now" -ge "$printed_total" ] || fail "round $round: $printed_total printed but only $now applied"
  rejected=$(grep -c '"ok":false' "$tmp/out.$round" || true)
  [ "$rejected" -eq 0 ] || fail "round $round: $rejected records rejected after a crash"
done

# The sender sends the whole file once more: everything is applied exactly once.
"$bin" ingest --data "$tmp/node" --today 2026-04-01 "$tmp/in.jsonl" > "$tmp/out.final"
[ "$(applied)" -eq "$count" ] || fail "applied $(applied), expected $count"
stats=$("$bin" stats --data "$tmp/node" --json)
echo "$stats" | grep -q "\"active\":$count," || fail "active count: $stats"
echo "$stats" | grep -q "\"versions\":$count," || fail "a notification was applied twice: $stats"
if [ "$store" = sqlite ]; then
  [ "$(sqlite3 "$tmp/node/registry.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
else
  # No transaction a kill cut short was left open on the server, nor any lock held.
  left=$(psql -X -At "postgresql:///registry?host=$pg&user=kakunin" -c \
    "SELECT count(*) FROM pg_stat_activity WHERE datname = 'registry' AND pid <> pg_backend_pid()")
  [ "$left" -eq 0 ] || fail "$left sessions of killed ingests still on the server"
fi
# The operation log survived every kill: it verifies, and holds an entry for every
# notification the ingests acknowledged (plus the refusals and replays of later runs).
"$bin" audit verify --data "$tmp/node" > "$tmp/verify" || fail "audit verify: $(cat "$tmp/verify")"
entries=$(sed 's/.*verified: \([0-9]*\) entries.*/\1/' "$tmp/verify")
[ "$entries" -ge "$count" ] || fail "the log holds $entries entries for $count notifications"
echo "crash ingest ($store): 20 kills, $printed_total results printed before kills, all durable; 1 passed, 0 failed"
