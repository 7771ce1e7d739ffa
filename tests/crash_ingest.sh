#!/usr/bin/env bash
# Crash test (issue: "kill -9 the ingest at random moments"): an ingest killed at random
# moments, 20 times, then completed. Every result printed before a kill must be durable,
# nothing may be applied twice, and the database must pass PRAGMA integrity_check.
# Usage: tests/crash_ingest.sh path/to/kakunin [COUNT]
set -euo pipefail
bin=$1
count=${2:-20000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bin" init --data "$tmp/node" --prefecture 19 > /dev/null
"$bin" generate --count "$count" --seed 11 --today 2026-04-01 > "$tmp/in.jsonl"

applied() { "$bin" stats --data "$tmp/node" --json | sed 's/.*"applied_notifications":\([0-9]*\).*/\1/'; }

printed_total=0
for round in $(seq 1 20); do
  "$bin" ingest --data "$tmp/node" --batch 300 --today 2026-04-01 "$tmp/in.jsonl" \
    > "$tmp/out.$round" 2>/dev/null &
  pid=$!
  # A random moment between 20 and 400 ms in.
  sleep "0.$(printf '%03d' $((20 + RANDOM % 380)))"
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
[ "$(sqlite3 "$tmp/node/registry.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
# The operation log survived every kill: it verifies, and holds an entry for every
# notification the ingests acknowledged (plus the refusals and replays of later runs).
"$bin" audit verify --data "$tmp/node" > "$tmp/verify" || fail "audit verify: $(cat "$tmp/verify")"
entries=$(sed 's/.*verified: \([0-9]*\) entries.*/\1/' "$tmp/verify")
[ "$entries" -ge "$count" ] || fail "the log holds $entries entries for $count notifications"
echo "crash ingest: 20 kills, $printed_total results printed before kills, all durable; 1 passed, 0 failed"
