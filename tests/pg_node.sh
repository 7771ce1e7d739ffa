#!/usr/bin/env bash
# A node on PostgreSQL end to end (issue 13), on a private server this script starts and stops
# (tests/support/pg_server.sh): init with --database-url, ingest, audit verify; `stats --digest`
# equal to a SQLite node's that ingested the same file (and to a PostgreSQL node that imported
# it), also after a field-key rotation re-sealed every number; kakunin backup refused
# (pg_basebackup's job) and recorded in the media register; privacy in the server's own log with
# log_statement = 'all'; tampering with the log in the database (an UPDATE and a DELETE by someone
# with SQL access) found by `kakunin audit verify`.
# Usage: tests/pg_node.sh path/to/kakunin
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pg=$(mktemp -d)
cleanup() {
  bash "$here/support/pg_server.sh" stop "$pg" || true
  rm -rf "$tmp" "$pg"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Every statement logged; a failed statement's text is logged too (the default
# log_min_error_statement = error).
bash "$here/support/pg_server.sh" start "$pg" $$ log_statement=all log_min_error_statement=error
admin="postgresql:///postgres?host=$pg&user=kakunin"
psql() { command psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
# The node's own role, not a superuser, owning its database; the administrator keeps bound values
# out of the server's log for it (docs/postgresql.md): a superuser-only setting, set on the role.
psql "$admin" -c "CREATE ROLE kakunin_node LOGIN" \
  -c "CREATE DATABASE registry OWNER kakunin_node" \
  -c "ALTER ROLE kakunin_node SET log_parameter_max_length = 0"
url="postgresql:///registry?host=$pg&user=kakunin_node"

"$bin" init --data "$tmp/node" --prefecture 19 --database-url "$url" > /dev/null
grep -q 'kind = "postgresql"' "$tmp/node/kakunin.toml" || fail "init did not write [database]"
[ ! -e "$tmp/node/registry.db" ] || fail "init made a SQLite file beside a PostgreSQL node"
# A second init into the same database is refused: a database holds one node.
if "$bin" init --data "$tmp/other" --prefecture 19 --database-url "$url" > "$tmp/again" 2>&1; then
  fail "a second node was created in the same database"
fi
grep -q "already holds a node" "$tmp/again" || fail "second init: $(cat "$tmp/again")"
# …and the refused init leaves nothing it made: not the directory it made (found in review: its
# keys, audit.key, audit.key.pub and purposes.toml stayed), and nothing in one that was there.
[ ! -e "$tmp/other" ] || fail "a refused init left: $(ls -A "$tmp/other")"
mkdir -m700 "$tmp/there"
if "$bin" init --data "$tmp/there" --prefecture 19 --database-url "$url" > "$tmp/again" 2>&1; then
  fail "a second node was created in the same database"
fi
[ -d "$tmp/there" ] && [ -z "$(ls -A "$tmp/there")" ] || fail "a refused init left: $(ls -A "$tmp/there")"

"$bin" generate --count 400 --seed 5 --today 2026-04-01 > "$tmp/first.jsonl"
"$bin" ingest --data "$tmp/node" --today 2026-04-01 --batch 100 "$tmp/first.jsonl" > /dev/null
[ "$(psql "$url" -c 'SELECT count(*) FROM residents')" -eq 400 ] || fail "not 400 residents"
"$bin" audit verify --data "$tmp/node" > "$tmp/ok.out" || fail "clean log does not verify: $(cat "$tmp/ok.out")"

# --- the same registry on SQLite and on PostgreSQL: stats --digest gives the same lines ---
"$bin" init --data "$tmp/lite" --prefecture 19 > /dev/null
"$bin" ingest --data "$tmp/lite" --today 2026-04-01 --batch 100 "$tmp/first.jsonl" > /dev/null
"$bin" stats --data "$tmp/lite" --digest > "$tmp/digest.lite"
"$bin" stats --data "$tmp/node" --digest > "$tmp/digest.pg"
grep -q '^prefecture 19 residents 400 digest [0-9a-f]\{64\}$' "$tmp/digest.pg" \
  || fail "stats --digest on PostgreSQL: $(cat "$tmp/digest.pg")"
cmp -s "$tmp/digest.lite" "$tmp/digest.pg" \
  || fail "digests differ: SQLite $(cat "$tmp/digest.lite") PostgreSQL $(cat "$tmp/digest.pg")"
echo "digest: $(cat "$tmp/digest.pg") on both"
# The bulk path (kakunin import: large batches, progress recorded per batch) gives it too.
psql "$admin" -c "CREATE DATABASE imported OWNER kakunin_node"
"$bin" init --data "$tmp/imported" --prefecture 19 \
  --database-url "postgresql:///imported?host=$pg&user=kakunin_node" > /dev/null
"$bin" import --data "$tmp/imported" --batch 150 "$tmp/first.jsonl" > "$tmp/import.out" \
  || fail "import on PostgreSQL: $(tail -3 "$tmp/import.out")"
"$bin" stats --data "$tmp/imported" --digest > "$tmp/digest.imported"
cmp -s "$tmp/digest.lite" "$tmp/digest.imported" \
  || fail "imported on PostgreSQL: $(cat "$tmp/digest.imported")"
[ "$(psql "postgresql:///imported?host=$pg&user=kakunin_node" -c 'SELECT count(*) FROM import_batches')" -eq 3 ] \
  || fail "import progress not recorded per batch"
"$bin" audit verify --data "$tmp/imported" > /dev/null || fail "the imported node's log does not verify"
echo "import: the same digest, 3 batches recorded"

# --- field-key rotation on PostgreSQL: every number re-sealed, the records unchanged ---
"$bin" keys rotate-field-key --data "$tmp/node" > /dev/null
"$bin" keys reseal --data "$tmp/node" > "$tmp/reseal.out" || fail "reseal: $(cat "$tmp/reseal.out")"
"$bin" keys retire-field-keys --data "$tmp/node" > "$tmp/retire.out" \
  || fail "older keys still in use after reseal: $(cat "$tmp/retire.out")"
"$bin" stats --data "$tmp/node" --digest > "$tmp/digest.resealed"
cmp -s "$tmp/digest.lite" "$tmp/digest.resealed" || fail "re-sealing changed a record"
# Each change of the key file is in the log, by key id only (found in review: none was).
"$bin" audit search --data "$tmp/node" --action field_key.add > "$tmp/keylog" \
  && grep -q '"conditions":"key_id=' "$tmp/keylog" || fail "rotate-field-key left no entry: $(cat "$tmp/keylog")"
"$bin" audit search --data "$tmp/node" --action field_key.retire > "$tmp/keylog" \
  && grep -q '"conditions":"retired=' "$tmp/keylog" || fail "retire-field-keys left no entry: $(cat "$tmp/keylog")"
echo "reseal: every number re-sealed, older key retired, digest unchanged"

# --- backups: kakunin backup refuses (the server's tools back it up); the register records it ---
"$bin" backup keygen --key "$tmp/backup.key" > /dev/null
if "$bin" backup --data "$tmp/node" --to "$tmp/b1" --key "$tmp/backup.key" > "$tmp/backup.out" 2>&1; then
  fail "kakunin backup wrote a backup of a PostgreSQL node"
fi
grep -q 'pg_basebackup' "$tmp/backup.out" || fail "backup refused without pointing to pg_basebackup: $(cat "$tmp/backup.out")"
"$bin" media list --data "$tmp/node" > "$tmp/media.out"
[ "$(grep -c '  backup  .*  failed  ' "$tmp/media.out")" -eq 1 ] \
  || fail "the media register does not show the failed backup: $(cat "$tmp/media.out")"
echo "backup: refused, pointing to pg_basebackup; the media register shows it failed"

# --- privacy: nothing personal in the server's log ---
log="$pg/server.log"
grep -q 'LOG:  execute' "$log" || fail "the server logged no statement: the check below would prove nothing"
# extract FIELD FILE: every value of a string field of the generated notifications.
extract() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$2" | sort -u; }
leaks=0
for field in individual_number resident_code name birth_date address; do
  while IFS= read -r v; do
    if grep -qF -- "$v" "$log"; then
      echo "in the server log: a $field" >&2
      leaks=$((leaks + 1))
    fi
  done < <(extract "$field" "$tmp/first.jsonl")
done
[ "$leaks" -eq 0 ] || fail "$leaks personal values in the server log"
echo "privacy: $(grep -c 'LOG:  execute' "$log") statements logged, no personal value among them"

# Without that setting the server would log every bound value (names, codes, addresses): a node
# on a role without it refuses to start, naming the setting and the fix, and sends nothing (found
# in review: it ran and logged them). A second node, on a role without the setting.
psql "$admin" -c "CREATE ROLE kakunin_loud LOGIN" -c "CREATE DATABASE loud OWNER kakunin_loud"
loud="postgresql:///loud?host=$pg&user=kakunin_loud"
refused() {  # WHAT FILE: the refusal names the setting and the fix
  grep -q "log_statement = 'all' with log_parameter_max_length = -1" "$2" \
    && grep -q 'ALTER ROLE kakunin_loud SET log_parameter_max_length = 0' "$2" \
    || fail "$1 refused without naming the setting and the fix: $(cat "$2")"
}
if "$bin" init --data "$tmp/loud" --prefecture 19 --database-url "$loud" > "$tmp/loud.out" 2>&1; then
  fail "a node was made on a role whose parameters the server logs"
fi
refused init "$tmp/loud.out"
[ "$(psql "$loud" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" -eq 0 ] \
  || fail "the refused init left tables behind"
# With the role setting the documentation asks for, the same role is accepted.
psql "$admin" -c "ALTER ROLE kakunin_loud SET log_parameter_max_length = 0"
"$bin" init --data "$tmp/loud" --prefecture 19 --database-url "$loud" > /dev/null
# Taken away again: serve cannot start (a message and exit status 2), ingest is refused.
psql "$admin" -c "ALTER ROLE kakunin_loud RESET log_parameter_max_length"
set +e
"$bin" serve --data "$tmp/loud" > /dev/null 2> "$tmp/loud.serve"
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "serve on a role whose parameters the server logs exited $rc: $(cat "$tmp/loud.serve")"
grep -q 'cannot start' "$tmp/loud.serve" || fail "serve: $(cat "$tmp/loud.serve")"
refused serve "$tmp/loud.serve"
if "$bin" ingest --data "$tmp/loud" --today 2026-04-01 --batch 100 "$tmp/first.jsonl" \
  > "$tmp/loud.ingest" 2>&1; then
  fail "ingest ran on a role whose parameters the server logs"
fi
refused ingest "$tmp/loud.ingest"
[ "$(psql "$loud" -c 'SELECT count(*) FROM residents')" -eq 0 ] || fail "the refused ingest wrote"
# sed, not head: head exits after one line and sort, still writing, dies of SIGPIPE, which
# pipefail turns into a silent exit of this script.
name=$(extract name "$tmp/first.jsonl" | sed -n 1p)
if grep -qF -- "$name" "$log"; then fail "a name in the server log"; fi
echo "privacy: a role whose parameters the server would log is refused (init, serve, ingest)"

# The individual number reaches the server sealed: not one is in the database in clear.
"$(bash "$here/support/pg_server.sh" bin)/pg_dump" "$url" > "$tmp/registry.sql"
grep -qF -- "$name" "$tmp/registry.sql" || fail "pg_dump holds no name: the number check proves nothing"
while IFS= read -r v; do
  if grep -qF -- "$v" "$tmp/registry.sql"; then fail "an individual number in the database"; fi
done < <(extract individual_number "$tmp/first.jsonl")
echo "privacy: no individual number in the database in clear"

# --- tampering in the database, found by audit verify ---
psql "$admin" -c "ALTER DATABASE registry RENAME TO clean"
passed=0
expect_detected() {
  local name=$1 sql=$2 pattern=$3
  psql "$admin" -c "DROP DATABASE IF EXISTS registry" -c "CREATE DATABASE registry TEMPLATE clean OWNER kakunin_node"
  psql "$url" -c "$sql"
  set +e
  "$bin" audit verify --data "$tmp/node" > "$tmp/out" 2>&1
  local rc=$?
  set -e
  [ "$rc" -eq 1 ] || fail "$name: verify exited $rc: $(cat "$tmp/out")"
  grep -q "$pattern" "$tmp/out" || fail "$name: expected '$pattern', got: $(cat "$tmp/out")"
  echo "detected $name: $(head -c 300 "$tmp/out")"
  passed=$((passed + 1))
}
expect_detected "one changed byte (UPDATE)" \
  "UPDATE audit_entries SET payload = set_byte(payload, length(payload) - 1, 88 + (get_byte(payload, length(payload) - 1) = 88)::int) WHERE seq = 300" \
  "entry 300 does not match its leaf hash"
expect_detected "a deleted entry" \
  "DELETE FROM audit_entries WHERE seq = 200" \
  "entry 200 is missing"
expect_detected "a changed provision-free entry's actor" \
  "UPDATE audit_entries SET actor = 'os:someone-else' WHERE seq = 250" \
  "entry 250"
# An entry appended out of sequence is refused by the database itself.
psql "$admin" -c "DROP DATABASE registry" -c "CREATE DATABASE registry TEMPLATE clean OWNER kakunin_node"
size=$(psql "$url" -c "SELECT count(*) FROM audit_entries")
if psql "$url" -c "INSERT INTO audit_entries (seq, time, actor, action, purpose, payload, leaf_hash) VALUES ($((size + 1)), 0, '', '', '', NULL, '\\x00')" 2> "$tmp/gap.err"; then
  fail "an entry that skips a sequence number was accepted"
fi
grep -q "out of sequence" "$tmp/gap.err" || fail "gap refused for another reason: $(cat "$tmp/gap.err")"
"$bin" audit verify --data "$tmp/node" > /dev/null || fail "the clean copy does not verify"
echo "pg_node: $passed tamperings detected; a gap refused by the database"
