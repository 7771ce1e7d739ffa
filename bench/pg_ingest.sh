#!/usr/bin/env bash
# Ingest on PostgreSQL (issue 13): N generated notifications through the full path (`kakunin
# ingest` into a node on PostgreSQL: validation, sealing, search keys, versions, the operation log,
# one durable commit per batch) against raw INSERTs (one transaction per batch, like ingest) and
# COPY of the same rows into a plain table on the same server, in the same run; SQLite's ingest too.
# Prints one JSON line. A private server (tests/support/pg_server.sh), stopped at the end.
# Usage: bench/pg_ingest.sh path/to/kakunin [N] [BATCH]
set -euo pipefail
bin=$1 n=${2:-5000} batch=${3:-500}
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d) pg=$(mktemp -d)
trap 'bash "$here/tests/support/pg_server.sh" stop "$pg" || true; rm -rf "$tmp" "$pg"' EXIT
bash "$here/tests/support/pg_server.sh" start "$pg" $$
admin="postgresql:///postgres?host=$pg&user=kakunin"
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
q "$admin" -c "CREATE DATABASE node" -c "CREATE DATABASE raw"
"$bin" generate --count "$n" --seed 7 --today 2026-04-01 > "$tmp/in.jsonl"
now() { date +%s.%N; }
rate() { awk -v n="$n" -v a="$1" -v b="$2" 'BEGIN { print n / (b - a) }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { print a / b }'; }

"$bin" init --data "$tmp/pgnode" --prefecture 19 --database-url "postgresql:///node?host=$pg&user=kakunin" > /dev/null
t0=$(now); "$bin" ingest --data "$tmp/pgnode" --today 2026-04-01 --batch "$batch" "$tmp/in.jsonl" > /dev/null; t1=$(now)
"$bin" init --data "$tmp/sqlnode" --prefecture 19 > /dev/null
t2=$(now); "$bin" ingest --data "$tmp/sqlnode" --today 2026-04-01 --batch "$batch" "$tmp/in.jsonl" > /dev/null; t3=$(now)

# The same rows as plain INSERT statements and as a COPY file, made before the clock starts.
r="postgresql:///raw?host=$pg&user=kakunin"
cols="resident_code text PRIMARY KEY, municipality_code text, seq int8, name text, name_kana text,
      sex text, birth_date text, address text, individual_number text"
q "$r" -c "CREATE TABLE stage (j jsonb)" -c "CREATE TABLE ins ($cols)" -c "CREATE TABLE cp ($cols)" \
  -c "CREATE INDEX ON ins (birth_date, name_kana)" -c "CREATE INDEX ON cp (birth_date, name_kana)"
q "$r" -c "\\copy stage FROM '$tmp/in.jsonl' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
q "$r" -c "SELECT CASE WHEN (row_number() OVER ()) % $batch = 1 THEN 'BEGIN;' ELSE '' END ||
  format('INSERT INTO ins VALUES (%L,%L,%s,%L,%L,%L,%L,%L,%L);', j->>'resident_code',
         j->>'municipality_code', j->>'sequence', j->>'name', j->>'name_kana', j->>'sex',
         j->>'birth_date', j->>'address', j->>'individual_number') ||
  CASE WHEN (row_number() OVER ()) % $batch = 0 THEN 'COMMIT;' ELSE '' END FROM stage" > "$tmp/ins.sql"
echo "COMMIT;" >> "$tmp/ins.sql"
q "$r" -c "\\copy (SELECT j->>'resident_code', j->>'municipality_code', (j->>'sequence')::int8,
  j->>'name', j->>'name_kana', j->>'sex', j->>'birth_date', j->>'address',
  j->>'individual_number' FROM stage) TO '$tmp/rows.csv' WITH (FORMAT csv)"
t4=$(now); q "$r" -f "$tmp/ins.sql" 2>/dev/null; t5=$(now)
t6=$(now); q "$r" -c "\\copy cp FROM '$tmp/rows.csv' WITH (FORMAT csv)"; t7=$(now)
[ "$(q "$r" -c 'SELECT count(*) FROM ins')" -eq "$n" ] || { echo "raw INSERTs incomplete" >&2; exit 1; }

pg=$(rate "$t0" "$t1") sq=$(rate "$t2" "$t3") ins=$(rate "$t4" "$t5") cp=$(rate "$t6" "$t7")
printf '{"bench":"pg_ingest","n":%d,"batch":%d,"pg_ingest_per_s":%.0f,"sqlite_ingest_per_s":%.0f,"raw_insert_per_s":%.0f,"copy_per_s":%.0f,"ratio_vs_insert":%.3f,"ratio_vs_copy":%.3f,"goal_vs_insert":0.5}\n' \
  "$n" "$batch" "$pg" "$sq" "$ins" "$cp" "$(div "$pg" "$ins")" "$(div "$pg" "$cp")"
