#!/usr/bin/env bash
# Audited lookups over HTTPS on PostgreSQL against the SQLite node (issue 13), same run, same
# load client (bench/https_load: TLS 1.3, client certificates, keep-alive): GET
# /v1/residents/{code}?purpose=… with the agency's certificate, each answer a lookup and an
# operation-log entry committed before it is sent.
#
# Two nodes from the same residents: `kakunin demo` makes the SQLite node (generated residents of
# 山梨県, its CA and clients); its twin is the same data directory (keys, certificates,
# configuration) pointed at a private PostgreSQL server (tests/support/pg_server.sh), whose
# database gets the schema from `kakunin init`, the demo's key ids and client register, and the
# same notifications through `kakunin ingest`. Read quotas are off on both (one agency reading as
# fast as it can is what they refuse). Prints each load run's JSON line, then one summary line.
# Fails when a node answered anything but 2xx; never on a timing. Everything it starts is stopped.
#
# Usage: bench/pg_api.sh BUILD_DIR
# Environment: KAKUNIN_BENCH_PG_API_RESIDENTS (5000), KAKUNIN_BENCH_API_CONNECTIONS (16),
#   KAKUNIN_BENCH_API_SECONDS (10), KAKUNIN_BENCH_API_WARMUP (2).
set -euo pipefail

build=${1:?usage: bench/pg_api.sh BUILD_DIR}
build=$(cd "$build" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$build/kakunin
load=$build/bench/https_load
residents=${KAKUNIN_BENCH_PG_API_RESIDENTS:-5000}
connections=${KAKUNIN_BENCH_API_CONNECTIONS:-16}
seconds=${KAKUNIN_BENCH_API_SECONDS:-10}
warmup=${KAKUNIN_BENCH_API_WARMUP:-2}
today=2026-04-01
for f in "$bin" "$load"; do
  [[ -x $f ]] || { echo "pg_api: $f is missing: build first (make build)" >&2; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kakunin-bench-pg-api.XXXXXX")
pg=$(mktemp -d "${TMPDIR:-/tmp}/kakunin-bench-pg-api-db.XXXXXX")
pids=()
stop_pid() {
  local pid=$1 i
  if kill -TERM "$pid" 2>/dev/null; then
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  local kept=()
  for i in "${pids[@]}"; do [[ $i == "$pid" ]] || kept+=("$i"); done
  pids=("${kept[@]}")
}
cleanup() {
  local pid
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  bash "$root/tests/support/pg_server.sh" stop "$pg" || true
  rm -rf "$tmp" "$pg"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
  echo "pg_api: $*" >&2
  exit 1
}

# start_demo DIR: serves the demo node in DIR (made first if missing); waits for its demo.json.
start_demo() {
  local dir=$1 i
  rm -f "$dir/demo.json"
  "$bin" demo --data "$dir" --port 0 --console-port 0 --residents "$residents" >"$dir.log" 2>&1 &
  demo_pid=$!
  pids+=("$demo_pid")
  for ((i = 0; i < 6000; i++)); do
    if [[ -s $dir/demo.json ]] && jq -e .port "$dir/demo.json" >/dev/null 2>&1; then return 0; fi
    kill -0 "$demo_pid" 2>/dev/null || { tail -20 "$dir.log" >&2; fail "kakunin demo exited"; }
    sleep 0.1
  done
  fail "kakunin demo not ready after 600 s"
}

# lookups NAME DIR: the load client against the node serving DIR; prints its JSON line.
lookups() {
  local json=$2/demo.json
  local cert key
  cert=$(jq -er '[.clients[] | select(.kind == "agency")][0].certificate' "$json")
  key=$(jq -er '[.clients[] | select(.kind == "agency")][0].key' "$json")
  "$load" --name "$1" \
    --url "$(jq -er .url "$json")/v1/residents/$(jq -er .examples.resident_code "$json")?purpose=$(jq -er .examples.purpose "$json")" \
    --connections "$connections" --seconds "$seconds" --warmup "$warmup" \
    --cert "$cert" --key "$key" --ca "$(jq -er .ca_file "$json")"
}

# The SQLite node, made by the demo, then stopped with quotas off.
sq=$tmp/sqlite
start_demo "$sq"
stop_pid "$demo_pid"
printf '\n[quotas]\nenabled = false\n' >>"$sq/kakunin.toml"

# Its PostgreSQL twin: the same directory, a database with the same key ids, clients and
# residents.
bash "$root/tests/support/pg_server.sh" start "$pg" $$
url="postgresql:///node?host=$pg&user=kakunin"
psql -X -q -v ON_ERROR_STOP=1 "postgresql:///postgres?host=$pg&user=kakunin" -c "CREATE DATABASE node"
"$bin" init --data "$tmp/schema" --prefecture 19 --database-url "$url" >/dev/null
p=$tmp/pg
mkdir -p "$p"
chmod 700 "$p"
(cd "$sq" && find . -maxdepth 1 -mindepth 1 ! -name 'registry.db*' ! -name 'audit.head*' ! -name national ! -name demo.json \
  -exec cp -a {} "$p/" \;)
cp -a "$sq/national" "$p/national"
# The configuration names the database instead of the SQLite file.
awk -v url="$url" '
  /^\[database\]/ { skip = 1; next }
  /^\[/ { skip = 0; table = 1 }
  !table && /^database *=/ { next }
  !skip { print }
  END { printf "\n[database]\nkind = \"postgresql\"\nurl = \"%s\"\n", url }' \
  "$sq/kakunin.toml" >"$p/kakunin.toml"
db=$sq/registry.db
[[ -f $db ]] || db=$(ls "$sq"/*.db | head -1)
meta() { sqlite3 "$db" "SELECT value FROM meta WHERE key = '$1'"; }
sqlite3 -csv "$db" "SELECT spki_sha256, kind, name, municipality_code, recipient, purposes,
  registered_at, revoked_at FROM clients" >"$tmp/clients.csv"
psql -X -q -v ON_ERROR_STOP=1 "$url" \
  -c "UPDATE meta SET value = '$(meta key_id)' WHERE key = 'key_id'" \
  -c "UPDATE meta SET value = '$(meta log_key_id)' WHERE key = 'log_key_id'" \
  -c "\\copy clients (spki_sha256, kind, name, municipality_code, recipient, purposes, registered_at, revoked_at) FROM '$tmp/clients.csv' WITH (FORMAT csv)"
"$bin" ingest --data "$p" --today "$today" "$sq/notifications.jsonl" >"$tmp/pg-ingest.out" ||
  fail "kakunin ingest on PostgreSQL refused some notifications"
# The SQLite node's changes reached its national node when the demo first ran; the twin's are
# the same changes, so they count as delivered too (nothing to forward during the run).
psql -X -q -v ON_ERROR_STOP=1 "$url" -c "UPDATE outbox SET delivered_at = 1 WHERE delivered_at IS NULL"
a=$("$bin" stats --digest --data "$sq" 2>/dev/null | tail -1 || true)
b=$("$bin" stats --digest --data "$p" 2>/dev/null | tail -1 || true)
[[ -n $a && $a == "$b" ]] || fail "the two nodes do not hold the same records ($a / $b)"

# Both nodes, one after the other, the same client and load.
start_demo "$sq"
sqlite_line=$(lookups https_lookup_sqlite "$sq") || { echo "$sqlite_line"; fail "SQLite node answered errors"; }
echo "$sqlite_line"
stop_pid "$demo_pid"
start_demo "$p"
pg_line=$(lookups https_lookup_postgresql "$p") || { echo "$pg_line"; fail "PostgreSQL node answered errors"; }
echo "$pg_line"
stop_pid "$demo_pid"

num() { jq -er ".$2" <<<"$1"; }
s_rps=$(num "$sqlite_line" requests_per_s)
p_rps=$(num "$pg_line" requests_per_s)
printf '{"bench":"pg_https_lookup","residents":%s,"connections":%s,"pg_requests_per_s":%s,"pg_p99_ms":%s,"sqlite_requests_per_s":%s,"sqlite_p99_ms":%s,"ratio_pg_vs_sqlite":%s}\n' \
  "$residents" "$connections" "$p_rps" "$(num "$pg_line" p99_ms)" "$s_rps" \
  "$(num "$sqlite_line" p99_ms)" "$(awk -v a="$p_rps" -v b="$s_rps" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')"
