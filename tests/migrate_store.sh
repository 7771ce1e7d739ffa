#!/usr/bin/env bash
# kakunin migrate-store end to end (issue 13, "Moving a node"), on a private PostgreSQL server
# this script starts and stops (tests/support/pg_server.sh). A SQLite node with residents,
# history, removed residents, a client, operators, a log with checkpoints and an access
# statement moves to PostgreSQL: it serves the same lookup, `stats --digest` is equal, `audit
# verify` passes, a new notification applies, the old statement checks against its key; then
# it moves back to SQLite, the same again. Refusals, each leaving kakunin.toml untouched: a
# running node (on SQLite and on PostgreSQL), a target that is not empty (a database with rows,
# an existing file), a bad URL, a target where the node already is.
# Usage: tests/migrate_store.sh path/to/kakunin
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pg=$(mktemp -d)
serve=""
cleanup() {
  [ -n "$serve" ] && kill "$serve" 2>/dev/null && wait "$serve" 2>/dev/null
  bash "$here/support/pg_server.sh" stop "$pg" || true
  rm -rf "$tmp" "$pg"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
changes() { python3 "$here/support/migrate_changes.py" "$@"; }

bash "$here/support/pg_server.sh" start "$pg" $$ log_statement=all
admin="postgresql:///postgres?host=$pg&user=kakunin"
psql() { command psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
psql "$admin" -c "CREATE ROLE kakunin_node LOGIN" \
  -c "CREATE DATABASE registry OWNER kakunin_node" \
  -c "CREATE DATABASE busy OWNER kakunin_node" \
  -c "ALTER ROLE kakunin_node SET log_parameter_max_length = 0"
url="postgresql:///registry?host=$pg&user=kakunin_node"
node="$tmp/node"

# --- a SQLite node with everything a node holds ---
"$bin" init --data "$node" --prefecture 19 > /dev/null
"$bin" pki init --ca "$tmp/ca" > /dev/null
"$bin" pki server --ca "$tmp/ca" --dns localhost --ip 127.0.0.1 --out "$tmp/server" > /dev/null
"$bin" pki issue --ca "$tmp/ca" --kind agency --name 山梨県教育委員会 --out "$tmp/boe" > /dev/null
"$bin" clients register --data "$node" --cert "$tmp/boe.pem" --kind agency --name 山梨県教育委員会 \
  --recipient agency:yamanashi-board-of-education --purposes board.school_aid > /dev/null
"$bin" operator bootstrap --data "$node" --chief chief:県太郎 --access-manager access:県花子 > /dev/null
printf '\n[server]\naddress = "127.0.0.1"\nport = 0\ncertificate = "%s"\nkey = "%s"\nclient_ca = "%s"\n' \
  "$tmp/server.pem" "$tmp/server.key" "$tmp/ca/ca.pem" >> "$node/kakunin.toml"
"$bin" generate --count 1200 --seed 5 --today 2026-04-01 > "$tmp/first.jsonl"
"$bin" ingest --data "$node" --today 2026-04-01 --batch 200 "$tmp/first.jsonl" > /dev/null
changes "$tmp/first.jsonl" 0 40 move > "$tmp/moves.jsonl"
PREVIOUS="$tmp/moves.jsonl" changes "$tmp/first.jsonl" 100 30 death > "$tmp/deaths.jsonl"
cat "$tmp/moves.jsonl" "$tmp/deaths.jsonl" > "$tmp/changes.jsonl"
"$bin" ingest --data "$node" --today 2026-04-01 "$tmp/changes.jsonl" > /dev/null
code=$(sed -n '1s/.*"resident_code":"\([0-9]*\)".*/\1/p' "$tmp/first.jsonl")

# lookup: the agency reads the first (moved) resident over the API; prints the body.
lookup() {
  : > "$tmp/serve.err"; "$bin" serve --data "$node" > /dev/null 2>> "$tmp/serve.err" & serve=$!
  for _ in $(seq 1 200); do grep -q 'listening on' "$tmp/serve.err" && break; sleep 0.1; done
  local port
  port=$(sed -n 's/.*listening on https:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$tmp/serve.err")
  [ -n "$port" ] || fail "the node did not start: $(cat "$tmp/serve.err")"
  curl -sSf --cacert "$tmp/ca/ca.pem" --cert "$tmp/boe.pem" --key "$tmp/boe.key" \
    "https://127.0.0.1:$port/v1/residents/$code?purpose=board.school_aid" \
    || fail "the agency's lookup failed: $(cat "$tmp/serve.err")"
  kill -TERM "$serve"; wait "$serve" || fail "serve did not stop cleanly"
  serve=""
}
lookup > "$tmp/lookup.before"
grep -q "の2" "$tmp/lookup.before" || fail "the lookup does not show the amended address"
"$bin" audit statement --data "$node" --resident "$code" --out "$tmp/statement.json" > /dev/null 2>&1
"$bin" audit checkpoint --data "$node" > "$tmp/checkpoint.before"
"$bin" stats --data "$node" --digest > "$tmp/digest.before"
"$bin" stats --data "$node" > "$tmp/stats.before"
"$bin" audit verify --data "$node" > /dev/null || fail "the SQLite node's log does not verify"
grep -q 'residents 1170 digest' "$tmp/digest.before" || fail "unexpected digest line: $(cat "$tmp/digest.before")"
cp "$node/kakunin.toml" "$tmp/toml.sqlite"

# expect_refused NAME PATTERN ARGS...: migrate-store fails naming PATTERN; kakunin.toml unchanged.
expect_refused() {
  local name=$1 pattern=$2
  shift 2
  local before
  before=$(sha256sum < "$node/kakunin.toml")
  if "$bin" migrate-store --data "$node" "$@" > "$tmp/refused.out" 2>&1; then
    fail "$name: migrate-store succeeded"
  fi
  grep -q -- "$pattern" "$tmp/refused.out" || fail "$name: expected '$pattern': $(cat "$tmp/refused.out")"
  [ "$(sha256sum < "$node/kakunin.toml")" = "$before" ] || fail "$name: kakunin.toml changed"
  echo "refused ($name): $(head -c 200 "$tmp/refused.out" | head -1)"
}

# --- refusals before the move ---
expect_refused "bad URL" "not a PostgreSQL connection URL" --to 'postgresql://[::1/registry?x'
expect_refused "unknown kind" "not a store" --to 'mysql://db/registry'
expect_refused "where it already is" "already there" --to sqlite
psql "postgresql:///busy?host=$pg&user=kakunin_node" -c "CREATE TABLE notes (x int8)" -c "INSERT INTO notes VALUES (1)"
expect_refused "non-empty database" "not empty (table notes holds 1 rows)" \
  --to "postgresql:///busy?host=$pg&user=kakunin_node"
touch "$node/taken.db"
expect_refused "existing file" "already exists" --to sqlite:taken.db
# A node that cannot be opened (its signing key gone) leaves no target behind: a retry once the
# key is back needs nothing removed first.
mv "$node/audit.key" "$tmp/audit.key.aside"
expect_refused "source cannot be opened" "audit.key" --to sqlite:fresh.db
mv "$tmp/audit.key.aside" "$node/audit.key"
[ ! -e "$node/fresh.db" ] || fail "a source that could not be opened left its target behind"
: > "$tmp/serve.err"; "$bin" serve --data "$node" > /dev/null 2>> "$tmp/serve.err" & serve=$!
for _ in $(seq 1 200); do grep -q 'listening on' "$tmp/serve.err" && break; sleep 0.1; done
expect_refused "running node (SQLite)" "in use" --to "$url"
kill -TERM "$serve"; wait "$serve"; serve=""
[ "$(psql "$url" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" -eq 0 ] \
  || fail "a refused move left tables in the target"

# --- SQLite -> PostgreSQL ---
"$bin" migrate-store --data "$node" --to "$url" > "$tmp/move1.out" 2>&1 \
  || fail "migrate to PostgreSQL: $(cat "$tmp/move1.out")"
cat "$tmp/move1.out" | tail -3
grep -q 'kind = "postgresql"' "$node/kakunin.toml" || fail "kakunin.toml not switched"
cmp -s "$node/kakunin.toml.bak" "$tmp/toml.sqlite" || fail "the old configuration was not kept"
[ "$(stat -c %a "$node/kakunin.toml")" = 600 ] || fail "kakunin.toml is not 0600"
grep -q '^\[server\]' "$node/kakunin.toml" || fail "the rest of kakunin.toml was lost"
[ "$(psql "$url" -c 'SELECT count(*) FROM residents')" -eq 1200 ] || fail "not 1200 residents on PostgreSQL"
# The move is recorded on the target only, as the last entry.
[ "$(psql "$url" -c "SELECT action FROM audit_entries ORDER BY seq DESC LIMIT 1")" = store.migrate ] \
  || fail "no store.migrate entry at the end of the target's log"
[ "$(sqlite3 "$node/registry.db" "SELECT count(*) FROM audit_entries WHERE action = 'store.migrate'")" -eq 0 ] \
  || fail "the source's log holds store.migrate"
"$bin" stats --data "$node" --digest > "$tmp/digest.pg"
cmp -s "$tmp/digest.before" "$tmp/digest.pg" || fail "digest differs on PostgreSQL: $(cat "$tmp/digest.pg")"
# The source database stays in the data directory, holding what a purge erases on the target:
# every purge says so (found in review). (A purge before today's date erases nothing here.)
"$bin" purge --data "$node" --as-of 2026-01-01 > /dev/null 2> "$tmp/purge.err" \
  || fail "purge on PostgreSQL: $(cat "$tmp/purge.err")"
grep -q "is the database this node moved from" "$tmp/purge.err" \
  || fail "purge did not warn of the database left behind: $(cat "$tmp/purge.err")"
"$bin" audit verify --data "$node" > "$tmp/verify.pg" || fail "audit verify on PostgreSQL: $(cat "$tmp/verify.pg")"
"$bin" audit check-statement --public-key "$node/audit.key.pub" "$tmp/statement.json" > "$tmp/check.pg" \
  || fail "the statement from before does not check: $(cat "$tmp/check.pg")"
# A statement made on PostgreSQL proves its log consistent with a checkpoint signed before.
"$bin" audit statement --data "$node" --resident "$code" --checkpoint "$tmp/checkpoint.before" \
  --out "$tmp/statement.pg.json" > /dev/null 2>&1
"$bin" audit check-statement --public-key "$node/audit.key.pub" \
  --checkpoint "$tmp/checkpoint.before" "$tmp/statement.pg.json" > "$tmp/check.pg2" \
  || fail "the statement on PostgreSQL is not consistent with the checkpoint from before: $(cat "$tmp/check.pg2")"
lookup > "$tmp/lookup.pg"
cmp -s "$tmp/lookup.before" "$tmp/lookup.pg" || fail "the lookup differs on PostgreSQL"
# The PostgreSQL server never saw an individual number (every statement was logged).
while IFS= read -r v; do
  if grep -qF -- "$v" "$pg/server.log"; then fail "an individual number in the server log"; fi
done < <(sed -n 's/.*"individual_number":"\([0-9]*\)".*/\1/p' "$tmp/first.jsonl")
# A new notification applies on PostgreSQL; the outbox numbering goes on from SQLite's.
PREVIOUS="$tmp/changes.jsonl" changes "$tmp/first.jsonl" 500 1 move > "$tmp/later.jsonl"
"$bin" ingest --data "$node" --today 2026-04-01 "$tmp/later.jsonl" > "$tmp/later.out" \
  || fail "a notification after the move: $(cat "$tmp/later.out")"
[ "$(psql "$url" -c 'SELECT max(outbox_id) FROM outbox')" -eq 1271 ] || fail "the outbox numbering did not go on"
echo "on PostgreSQL: same lookup, digest, log verifies, statement checks, a new notification applied"

# A running node on PostgreSQL is refused too.
: > "$tmp/serve.err"; "$bin" serve --data "$node" > /dev/null 2>> "$tmp/serve.err" & serve=$!
for _ in $(seq 1 200); do grep -q 'listening on' "$tmp/serve.err" && break; sleep 0.1; done
expect_refused "running node (PostgreSQL)" "in use" --to sqlite:back.db
kill -TERM "$serve"; wait "$serve"; serve=""
[ ! -e "$node/back.db" ] || fail "a refused move left a file"

# --- PostgreSQL -> SQLite ---
"$bin" stats --data "$node" --digest > "$tmp/digest.pg2"
"$bin" migrate-store --data "$node" --to sqlite:back.db > "$tmp/move2.out" 2>&1 \
  || fail "migrate back to SQLite: $(cat "$tmp/move2.out")"
tail -3 "$tmp/move2.out"
grep -q 'path = "back.db"' "$node/kakunin.toml" || fail "kakunin.toml not switched back"
[ -e "$node/kakunin.toml.bak.1" ] || fail "the second old configuration was not kept"
[ "$(stat -c %a "$node/back.db")" = 600 ] || fail "the new database file is not 0600"
"$bin" stats --data "$node" --digest > "$tmp/digest.back"
cmp -s "$tmp/digest.pg2" "$tmp/digest.back" || fail "digest differs after moving back"
"$bin" audit verify --data "$node" > "$tmp/verify.back" || fail "audit verify after moving back: $(cat "$tmp/verify.back")"
[ "$(sqlite3 "$node/back.db" "SELECT count(*) FROM audit_entries WHERE action = 'store.migrate'")" -eq 2 ] \
  || fail "the two moves are not both in the log"
"$bin" audit check-statement --public-key "$node/audit.key.pub" "$tmp/statement.json" > /dev/null \
  || fail "the statement from before does not check after moving back"
lookup > "$tmp/lookup.back"
cmp -s "$tmp/lookup.pg" "$tmp/lookup.back" || fail "the lookup differs after moving back"
PREVIOUS="$tmp/changes.jsonl $tmp/later.jsonl" changes "$tmp/first.jsonl" 600 1 move > "$tmp/later2.jsonl"
"$bin" ingest --data "$node" --today 2026-04-01 "$tmp/later2.jsonl" > /dev/null \
  || fail "a notification after moving back"
[ "$(sqlite3 "$node/back.db" 'SELECT seq FROM sqlite_sequence WHERE name = '"'outbox'")" -eq 1272 ] \
  || fail "the outbox counter did not come back"
# The old SQLite file cannot be started by mistake: its log does not extend audit.head.
cp "$node/kakunin.toml.bak" "$node/kakunin.toml"
if "$bin" stats --data "$node" > "$tmp/stale.out" 2>&1; then fail "the stale SQLite file opened"; fi
grep -q 'audit.head' "$tmp/stale.out" || fail "stale file refused for another reason: $(cat "$tmp/stale.out")"
echo "back on SQLite: same digest, log verifies, statement checks, a new notification applied"
echo "migrate_store: ok"
