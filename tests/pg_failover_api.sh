#!/usr/bin/env bash
# High availability through the API (issue 13): `kakunin serve` on PostgreSQL with a multi-host
# URL (target_session_attrs=read-write) over a primary and a synchronous standby, two municipal
# CSs sending notifications over mutual TLS. The primary is killed with kill -9 mid-stream;
# /readyz says not ready while no primary is reachable; the standby is promoted; the node goes
# on without a restart. Every request is answered 200 or 503 (retryable; never a 500, never a
# dropped connection); a sender resends a batch only after a 503, so every batch acknowledged
# before the kill must be on the new primary (a lost one would leave a sequence gap, refused);
# nothing is applied twice; the operation log verifies. Prints the 503 window: from the
# primary's death to the first request acknowledged on the new primary.
# Usage: tests/pg_failover_api.sh path/to/kakunin
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d) p1=$(mktemp -d) p2=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  bash "$here/support/pg_server.sh" stop "$p2" || true
  bash "$here/support/pg_server.sh" stop "$p1" || true
  rm -rf "$tmp" "$p1" "$p2"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }

# --- a primary and a synchronous standby ---
bash "$here/support/pg_server.sh" start "$p1" $$
q "postgresql:///postgres?host=$p1&user=kakunin" -c "CREATE DATABASE registry"
bash "$here/support/pg_server.sh" standby "$p2" "$p1" $$
q "postgresql:///postgres?host=$p1&user=kakunin" -c "ALTER SYSTEM SET synchronous_standby_names = '*'" \
  -c "SELECT pg_reload_conf()" > /dev/null
sync_standbys() {
  q "postgresql:///postgres?host=$p1&user=kakunin" \
    -c "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'"
}
for _ in $(seq 1 100); do [ "$(sync_standbys)" = 1 ] && break; sleep 0.1; done
[ "$(sync_standbys)" = 1 ] || fail "the standby is not synchronous"

# --- the node: a multi-host URL, a server certificate, two municipal CSs ---
url="postgresql:///registry?host=$p1,$p2&user=kakunin&target_session_attrs=read-write"
"$bin" init --data "$tmp/node" --prefecture 19 --database-url "$url" > /dev/null
"$bin" pki init --ca "$tmp/ca" > /dev/null
"$bin" pki server --ca "$tmp/ca" --dns localhost --ip 127.0.0.1 --out "$tmp/server" > /dev/null
senders=(192015 192082)
for m in "${senders[@]}"; do
  "$bin" pki issue --ca "$tmp/ca" --kind municipal-cs --name "cs$m" --municipality "$m" \
    --out "$tmp/cs$m" > /dev/null
  "$bin" clients register --data "$tmp/node" --cert "$tmp/cs$m.pem" --kind municipal_cs \
    --name "cs$m" --municipality "$m" > /dev/null
done
printf '\n[server]\naddress = "127.0.0.1"\nport = 0\ncertificate = "%s"\nkey = "%s"\nclient_ca = "%s"\n' \
  "$tmp/server.pem" "$tmp/server.key" "$tmp/ca/ca.pem" >> "$tmp/node/kakunin.toml"

# Each sender's notifications (gap-free sequences 1..n), in request bodies of 20.
"$bin" generate --count 6000 --seed 13 --today 2026-04-01 > "$tmp/all.jsonl"
total=0
for m in "${senders[@]}"; do
  mkdir "$tmp/b$m"
  grep "^{\"municipality_code\":\"$m\"" "$tmp/all.jsonl" | awk -v dir="$tmp/b$m" '
    { i = int((NR - 1) / 20); f = sprintf("%s/%04d.json", dir, i)
      if ((NR - 1) % 20 == 0) printf "{\"notifications\":[%s", $0 > f; else printf ",%s", $0 > f }
    END { for (j = 0; j <= i; j++) printf "]}" >> sprintf("%s/%04d.json", dir, j) }'
  total=$((total + $(grep -c "^{\"municipality_code\":\"$m\"" "$tmp/all.jsonl")))
done

"$bin" serve --data "$tmp/node" > /dev/null 2> "$tmp/serve.err" &
serve=$!
pids+=("$serve")
for _ in $(seq 1 100); do grep -q 'listening on' "$tmp/serve.err" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on https:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$tmp/serve.err" | head -1)
[ -n "$port" ] || fail "serve did not start: $(cat "$tmp/serve.err")"
base="https://127.0.0.1:$port"
readyz() {
  curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/ca/ca.pem" --cert "$tmp/cs192015.pem" \
    --key "$tmp/cs192015.key" "$base/readyz" || true
}
[ "$(readyz)" = 200 ] || fail "not ready before the failover"

# A sender: each body in order; after a 503 the same body again (what a municipal CS does);
# anything else is recorded, and the body sent again too, so the run ends. One line per request:
# start end status batch.
send_all() {
  local m=$1 f code t0 tries
  for f in "$tmp/b$m"/*.json; do
    tries=0
    while :; do
      t0=$(now)
      code=$(curl -s -o "$tmp/resp.$m" -w '%{http_code}' --max-time 30 --cacert "$tmp/ca/ca.pem" \
        --cert "$tmp/cs$m.pem" --key "$tmp/cs$m.key" -H 'content-type: application/json' \
        --data-binary "@$f" "$base/v1/notifications" || true)
      echo "$t0 $(now) $code $(basename "$f")" >> "$tmp/requests.$m"
      if [ "$code" = 200 ]; then
        cat "$tmp/resp.$m" >> "$tmp/results.$m"
        echo >> "$tmp/results.$m"
        break
      fi
      [ "$code" = 503 ] || cp "$tmp/resp.$m" "$tmp/odd.$m.$(basename "$f").$tries"
      tries=$((tries + 1))
      [ "$tries" -lt 2000 ] || { echo "gave up on $f" >> "$tmp/requests.$m"; return 1; }
      sleep 0.02  # a client's pause between retries
    done
  done
}
sender_pids=()
for m in "${senders[@]}"; do
  : > "$tmp/requests.$m"
  send_all "$m" &
  sender_pids+=($!)
  pids+=($!)
done

# Kill the primary once a quarter of the first sender's bodies are acknowledged (polling the
# record of answers, not a fixed sleep).
want=$(( $(ls "$tmp/b192015" | wc -l) / 4 ))
for _ in $(seq 1 1200); do
  [ "$(grep -c ' 200 ' "$tmp/requests.192015" || true)" -ge "$want" ] && break
  sleep 0.05
done
primary_pid=$(head -1 "$p1/data/postmaster.pid")
kill -9 "$primary_pid"
t_kill=$(now)
acked_before=$(cat "$tmp"/requests.* | grep -c ' 200 ' || true)
[ "$acked_before" -ge "$want" ] || fail "only $acked_before bodies acknowledged before the kill"

# No primary: the node says it is not ready (and keeps answering 503 to the senders).
for _ in $(seq 1 200); do [ "$(readyz)" = 503 ] && break; sleep 0.05; done
[ "$(readyz)" = 503 ] || fail "/readyz did not say 503 while no primary was reachable"
t_notready=$(now)

# The standby is promoted (what Patroni does once the leader's key expires); the node, not
# restarted, finds it through the multi-host URL.
bash "$here/support/pg_server.sh" promote "$p2"
t_promoted=$(now)
for _ in $(seq 1 200); do [ "$(readyz)" = 200 ] && break; sleep 0.05; done
[ "$(readyz)" = 200 ] || fail "/readyz not ready after the promotion: $(tail -5 "$tmp/serve.err")"

for p in "${sender_pids[@]}"; do wait "$p" || fail "a sender gave up: $(tail -3 "$tmp"/requests.*)"; done

# --- what the senders saw ---
cat "$tmp"/requests.* > "$tmp/requests"
odd=$(awk '$3 != 200 && $3 != 503' "$tmp/requests" | wc -l)
[ "$odd" -eq 0 ] || fail "$odd answers neither 200 nor 503: $(awk '$3 != 200 && $3 != 503' "$tmp/requests" | head -5) $(cat "$tmp"/odd.* 2>/dev/null | head -c 600)"
unavailable=$(awk '$3 == 503' "$tmp/requests" | wc -l)
[ "$unavailable" -gt 0 ] || fail "no request was answered 503: the kill missed the stream"
# Every notification of every acknowledged body was applied (or found applied: a body whose
# commit reached the standby before the kill, answered 503, comes back as duplicates).
count_in() { cat "$tmp"/results.* | { grep -o "$1" || true; } | wc -l; }
refused=$(count_in '"ok":false')
[ "$refused" -eq 0 ] || fail "$refused notifications refused: $(grep -o '"ok":false[^}]*}' "$tmp"/results.* | head -3)"
oks=$(count_in '"ok":true')
[ "$oks" -eq "$total" ] || fail "$oks acknowledged results for $total notifications"
duplicates=$(count_in '"duplicate":true')

# --- what the new primary holds ---
kill -TERM "$serve"
wait "$serve" || fail "serve did not stop cleanly: $(tail -5 "$tmp/serve.err")"
grep -q '"status":500\|internal' "$tmp/serve.err" && fail "the server logged an internal error: $(grep -m3 'internal' "$tmp/serve.err")"
stats=$("$bin" stats --data "$tmp/node" --json)
applied=$(echo "$stats" | sed 's/.*"applied_notifications":\([0-9]*\).*/\1/')
[ "$applied" -eq "$total" ] || fail "applied $applied, expected $total"
echo "$stats" | grep -q "\"versions\":$total," || fail "a notification was applied twice: $stats"
"$bin" audit verify --data "$tmp/node" > "$tmp/verify" || fail "audit verify: $(cat "$tmp/verify")"

# The 503 window: the primary's death to the end of the first request that started after it
# and was acknowledged.
window=$(awk -v k="$t_kill" '$1 >= k && $3 == 200 { if (first == "" || $2 < first) first = $2 }
  END { printf "%.2f", first - k }' "$tmp/requests")
gap=$(awk -v k="$t_kill" -v p="$t_promoted" 'BEGIN { printf "%.2f", p - k }')
after=$(awk -v p="$t_promoted" -v k="$t_kill" '$1 >= k && $3 == 200 { if (first == "" || $2 < first) first = $2 }
  END { printf "%.2f", first - p }' "$tmp/requests")
echo "pg_failover_api: $total notifications from ${#senders[@]} senders over HTTPS; primary killed" \
  "after $acked_before bodies acknowledged; $unavailable answers 503, none other than 200/503;" \
  "$duplicates found applied on resend; $applied applied, none twice; log verifies"
echo "503 window: ${window} s from the primary's death to the first acknowledged request" \
  "(promotion at +${gap} s, first acknowledgment ${after} s after it; not ready at" \
  "+$(awk -v k="$t_kill" -v n="$t_notready" 'BEGIN { printf "%.2f", n - k }') s)"
