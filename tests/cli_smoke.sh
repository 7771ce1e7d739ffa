#!/usr/bin/env bash
# End-to-end smoke test of the built binary. Usage: tests/cli_smoke.sh path/to/kakunin
set -euo pipefail
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bin" --help > "$tmp/help"; grep -q validate "$tmp/help" || fail "top-level help"
"$bin" generate --count 500 --seed 3 > "$tmp/a.jsonl"
[ "$(wc -l < "$tmp/a.jsonl")" -eq 500 ] || fail "generate count"
"$bin" validate --today 2026-04-01 "$tmp/a.jsonl" > "$tmp/out" || fail "generated data rejected"
[ "$(grep -c '"ok":true' "$tmp/out")" -eq 500 ] || fail "500 ok lines"

# CSV in CP932, as a municipal system exports it; *.csv implies --format csv.
"$bin" generate --count 100 --format csv > "$tmp/u.csv"
iconv -f UTF-8 -t CP932 "$tmp/u.csv" > "$tmp/s.csv"
"$bin" validate --encoding cp932 --today 2026-04-01 "$tmp/s.csv" > "$tmp/out" || fail "cp932 csv"
[ "$(grep -c '"ok":true' "$tmp/out")" -eq 100 ] || fail "100 ok lines (cp932)"
# The same bytes read as UTF-8 are rejected record by record (exit 1), not crashed on.
set +e
"$bin" validate --today 2026-04-01 "$tmp/s.csv" > "$tmp/out" 2> "$tmp/err"; rc=$?
set -e
[ "$rc" -eq 1 ] || fail "cp932 read as utf-8 should exit 1, got $rc"
grep -q invalid_text "$tmp/out" || fail "invalid_text reported"
# ... and the person is told what to try.
grep -q -- "--encoding cp932" "$tmp/err" || fail "no hint to use --encoding cp932: $(cat "$tmp/err")"

# One bad record: exit 1 and the contract's line.
head -3 "$tmp/a.jsonl" \
  | sed '2s/"individual_number":"[0-9]*"/"individual_number":"123456789019"/' > "$tmp/bad.jsonl"
set +e
"$bin" validate --today 2026-04-01 - < "$tmp/bad.jsonl" > "$tmp/out"; rc=$?
set -e
[ "$rc" -eq 1 ] || fail "exit 1 on a rejected record, got $rc"
[ "$(sed -n 2p "$tmp/out")" = '{"line":2,"ok":false,"errors":[{"field":"individual_number","code":"check_digit"}]}' ] \
  || fail "contract line for check_digit: $(sed -n 2p "$tmp/out")"

# Usage and I/O errors: exit 2 with a message on stderr.
set +e
"$bin" validate "$tmp/missing.jsonl" 2> "$tmp/err"; rc=$?
set -e
[ "$rc" -eq 2 ] && [ -s "$tmp/err" ] || fail "missing file exit 2"
# The demo CA: a municipal CS certificate verifies with openssl, and not once revoked.
"$bin" pki init --ca "$tmp/ca" > /dev/null
"$bin" pki issue --ca "$tmp/ca" --kind municipal-cs --name 甲府市CS --municipality 192015 \
  --out "$tmp/ca/kofu" > "$tmp/issued"
openssl verify -CAfile "$tmp/ca/ca.pem" "$tmp/ca/kofu.pem" > /dev/null || fail "issued cert"
serial=$(sed 's/.*"serial":"\([0-9a-f]*\)".*/\1/' "$tmp/issued")
"$bin" pki revoke --ca "$tmp/ca" --serial "$serial" > /dev/null
if openssl verify -crl_check -CRLfile "$tmp/ca/crl.pem" -CAfile "$tmp/ca/ca.pem" \
  "$tmp/ca/kofu.pem" > /dev/null 2>&1; then fail "a revoked certificate verified"; fi
# The kind as `clients register` spells it is taken too; an unknown kind is named as such.
"$bin" pki issue --ca "$tmp/ca" --kind municipal_cs --name 甲府市CS --municipality 192015 \
  --out "$tmp/ca/kofu2" > /dev/null || fail "pki issue --kind municipal_cs"
set +e
"$bin" pki issue --ca "$tmp/ca" --kind cs --name x --out "$tmp/ca/x" 2> "$tmp/err"; rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q -- '--kind must be' "$tmp/err" || fail "an unknown --kind: $(cat "$tmp/err")"

# The host's command line administers the node and prints no resident data: the commands that
# read it are gone (exit 2, pointing to the console and the API), and a node whose files other
# OS users could read is refused (exit 2, naming the fix).
"$bin" init --data "$tmp/node" --prefecture 19 > /dev/null
"$bin" ingest --data "$tmp/node" --today 2026-04-01 "$tmp/a.jsonl" > /dev/null || fail "ingest"
code=$(head -1 "$tmp/a.jsonl" | sed 's/.*"resident_code":"\([0-9]*\)".*/\1/')
# `kakunin demo` serves only a node it made: on a real node it would print a resident's code.
set +e
"$bin" demo --data "$tmp/node" --port 0 --console-port 0 > "$tmp/out" 2> "$tmp/err"
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "demo on a node it did not make: exit $rc, expected 2"
[ ! -e "$tmp/node/example-notification.json" ] || fail "demo wrote a resident's notification"
grep -q "$code" "$tmp/out" "$tmp/err" && fail "demo printed a resident code"
for c in show search history provide provisions; do
  set +e
  "$bin" "$c" --data "$tmp/node" --purpose registry.maintenance "$code" > "$tmp/out" 2> "$tmp/err"
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "$c should exit 2, got $rc"
  [ ! -s "$tmp/out" ] && grep -q "console or the API" "$tmp/err" || fail "$c: $(cat "$tmp/err")"
  if grep -q "$code" "$tmp/err"; then fail "$c repeated the resident code"; fi
done
chmod 750 "$tmp/node"
set +e
"$bin" stats --data "$tmp/node" > "$tmp/out" 2> "$tmp/err"
rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "chmod 700 $tmp/node" "$tmp/err" || fail "group-readable node opened"
chmod 700 "$tmp/node"
stats=$("$bin" stats --data "$tmp/node")
grep -q "active residents: 500" <<< "$stats" || fail "stats after chmod 700"
# After a restore other than by `kakunin restore`: the outbox numbering moves 2^40 on, and the
# log verifies with the renumbering recorded.
out=$("$bin" link renumber --data "$tmp/node")
[ "$out" = "送信番号を進めました / renumbered: the next change forwarded is number $((500 + (1 << 40) + 1))" ] \
  || fail "link renumber: $out"
"$bin" audit verify --data "$tmp/node" > /dev/null || fail "audit verify after link renumber"
# A past record from 塩山市 (192031, merged into 甲州市 192139 on 2005-11-01): today it is
# abolished and names its successor; as a past record it is checked as of its change_date.
past='{"municipality_code":"192031","sequence":1,"kind":"entry","reason":"birth","change_date":"2004-06-01","resident_code":"24727059608","individual_number":"123456789018","name":"山田　花子","sex":"female","birth_date":"2004-06-01","address":"山梨県塩山市上於曽1番地"}'
"$bin" init --data "$tmp/past" --prefecture 19 > /dev/null
set +e
echo "$past" | "$bin" ingest --data "$tmp/past" --today 2026-04-01 - > "$tmp/out"
set -e
grep -qF '"code":"abolished","successors":["192139"]' "$tmp/out" || fail "abolished: $(cat "$tmp/out")"
echo "$past" | "$bin" ingest --data "$tmp/past" --today 2026-04-01 --past-records - > "$tmp/out" \
  || fail "past record refused: $(cat "$tmp/out")"
grep -qx '{"line":1,"ok":true}' "$tmp/out" || fail "past record: $(cat "$tmp/out")"
echo "cli smoke: 1 passed, 0 failed"
