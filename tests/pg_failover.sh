#!/usr/bin/env bash
# High availability (issue 13): a primary and a synchronous standby (streaming replication,
# synchronous_standby_names), a node whose URL names both (target_session_attrs=read-write). The
# primary is killed with kill -9 in the middle of an ingest; the standby is promoted; the ingest
# is sent again and completes on the new primary. Every result printed before the kill is there,
# nothing is applied twice, the operation log verifies.
# (The ingest here is `kakunin ingest`, the same WriteQueue and store as the API's.)
# Usage: tests/pg_failover.sh path/to/kakunin [COUNT]
set -euo pipefail
bin=$1 count=${2:-6000}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d) p1=$(mktemp -d) p2=$(mktemp -d)
cleanup() {
  bash "$here/support/pg_server.sh" stop "$p2" || true
  bash "$here/support/pg_server.sh" stop "$p1" || true
  rm -rf "$tmp" "$p1" "$p2"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

bash "$here/support/pg_server.sh" start "$p1" $$
q "postgresql:///postgres?host=$p1&user=kakunin" -c "CREATE DATABASE registry"
bash "$here/support/pg_server.sh" standby "$p2" "$p1" $$
# Synchronous once the standby is there (before, a commit would wait for it for ever).
q "postgresql:///postgres?host=$p1&user=kakunin" -c "ALTER SYSTEM SET synchronous_standby_names = '*'" \
  -c "SELECT pg_reload_conf()" > /dev/null
# The standby is synchronous before the node starts: a commit waits for its flush.
for _ in $(seq 1 100); do
  [ "$(q "postgresql:///postgres?host=$p1&user=kakunin" -c "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ] && break
  sleep 0.1
done
[ "$(q "postgresql:///postgres?host=$p1&user=kakunin" -c "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ] \
  || fail "the standby is not synchronous"

url="postgresql:///registry?host=$p1,$p2&user=kakunin&target_session_attrs=read-write"
"$bin" init --data "$tmp/node" --prefecture 19 --database-url "$url" > /dev/null
"$bin" generate --count "$count" --seed 13 --today 2026-04-01 > "$tmp/in.jsonl"

"$bin" ingest --data "$tmp/node" --batch 200 --today 2026-04-01 "$tmp/in.jsonl" \
  > "$tmp/out.1" 2> "$tmp/err.1" &
ingest=$!
# Kill the primary once some results are out (polling the output: no fixed sleep decides it).
for _ in $(seq 1 600); do
  [ "$(grep -c '"ok":true}$' "$tmp/out.1" || true)" -ge 400 ] && break
  kill -0 "$ingest" 2>/dev/null || break
  sleep 0.05
done
primary_pid=$(head -1 "$p1/data/postmaster.pid")
kill -9 "$primary_pid"
t_kill=$(date +%s.%N)
wait "$ingest" 2>/dev/null && ingest_rc=0 || ingest_rc=$?
printed=$(grep -c '"ok":true}$' "$tmp/out.1" || true)
[ "$printed" -lt "$count" ] || fail "the ingest finished before the kill: raise COUNT"

bash "$here/support/pg_server.sh" promote "$p2"
# The sender sends the whole file again; the node (the same URL) now writes to the new primary.
"$bin" ingest --data "$tmp/node" --batch 200 --today 2026-04-01 "$tmp/in.jsonl" > "$tmp/out.2"
t_back=$(date +%s.%N)
stats=$("$bin" stats --data "$tmp/node" --json)
applied=$(echo "$stats" | sed 's/.*"applied_notifications":\([0-9]*\).*/\1/')
[ "$applied" -eq "$count" ] || fail "applied $applied, expected $count"
echo "$stats" | grep -q "\"versions\":$count," || fail "a notification was applied twice: $stats"
# Every result printed before the kill was acknowledged durable: the second run saw it applied
# already (a duplicate), not new.
fresh=$(grep -c '"ok":true}$' "$tmp/out.2" || true)
[ $((printed + fresh)) -le "$count" ] || fail "$printed printed before the kill, yet $fresh applied anew"
"$bin" audit verify --data "$tmp/node" > "$tmp/verify" || fail "audit verify: $(cat "$tmp/verify")"
echo "pg_failover: primary killed after $printed acknowledged (ingest exit $ingest_rc), standby promoted," \
  "$fresh applied on the new primary, $applied in all, none twice; log verifies;" \
  "kill to completion $(awk -v a="$t_kill" -v b="$t_back" 'BEGIN { printf "%.1f", b - a }') s"
