#!/usr/bin/env bash
# kakunin notify after the node was restored from an older backup (docs/backup.md, a rollback):
# the journal lists as acknowledged what the node lost. A plain run trusts the journal and sends
# none of it, so the node stays without those records and refuses the next new one as
# sequence_gap; `--resend` sends every record, the node applies what it lacks and answers what
# it holds as duplicates, the summary says how many it held, and the journal records the new
# acknowledgements (a plain run afterwards sends nothing). Then the node holds every record
# once and its operation log verifies.
# Usage: tests/notify_resend.sh path/to/kakunin
# (KAKUNIN_TEST_PORT / KAKUNIN_TEST_CONSOLE_PORT fix the ports: tests/support/node_setup.sh.)
source "$(dirname "${BASH_SOURCE[0]}")/support/node_setup.sh" "$1"

make_demo_node
serve_node() {
  start_serve
  port=$(sed -n 's/.*listening on https:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/serve.err")
  [ -n "$port" ] || { cat "$tmp/serve.err"; echo "FAIL: serve did not start"; exit 1; }
  sed -i "s|^url = .*|url = \"https://127.0.0.1:$port\"|" "$tmp/notify.toml"
}
stop_node() { kill -TERM "$serve"; wait "$serve"; }
applied() { "$bin" stats --data "$tmp/d" --json | sed -n 's/.*"applied_notifications":\([0-9]*\),.*/\1/p'; }

# 甲府市's first 81 notifications (gap-free sequences 1..81): 40 before the backup, 40 after it
# (lost by the rollback), and one new after the restore.
"$bin" generate --count 3000 --seed 5 --today 2026-04-01 --format csv > "$tmp/all.csv"
head -1 "$tmp/all.csv" > "$tmp/head.csv"
grep '^192015,' "$tmp/all.csv" | head -81 > "$tmp/kofu.rows"
[ "$(wc -l < "$tmp/kofu.rows")" = 81 ] && [ "$(sed -n 81p "$tmp/kofu.rows" | cut -d, -f2)" = 81 ] \
  || { echo "FAIL: set-up (81 rows of 甲府市 with sequences 1..81)"; exit 1; }
{ cat "$tmp/head.csv"; head -40 "$tmp/kofu.rows"; } > "$tmp/first.csv"
{ cat "$tmp/head.csv"; head -80 "$tmp/kofu.rows"; } > "$tmp/lost.csv"
{ cat "$tmp/head.csv"; cat "$tmp/kofu.rows"; } > "$tmp/new.csv"

cat > "$tmp/notify.toml" <<TOML
url = "https://127.0.0.1:0"
ca_file = "d/ca/ca.pem"
cert_file = "d/clients/kofu-cs.pem"
key_file = "d/clients/kofu-cs.key"
journal = "kofu.journal"
format = "csv"
encoding = "utf-8"
batch_size = 25
retries = 3
timeout_seconds = 20
TOML
notify() { "$bin" notify --config "$tmp/notify.toml" --today 2026-04-01 "$@"; }

# 1..40, a backup, then 41..80.
serve_node
notify "$tmp/first.csv" > "$tmp/out.1" 2> "$tmp/err.1" && ok || fail "first run: $(cat "$tmp/err.1")"
stop_node
"$bin" backup keygen --key "$tmp/backup.key" > /dev/null 2>&1
"$bin" backup --data "$tmp/d" --to "$tmp/backup1" --key "$tmp/backup.key" > /dev/null 2> "$tmp/backup.err" \
  && ok || fail "backup: $(cat "$tmp/backup.err")"
serve_node
notify "$tmp/lost.csv" > "$tmp/out.2" 2> "$tmp/err.2" && ok || fail "second run: $(cat "$tmp/err.2")"
grep -q "40 applied, 0 duplicates, 40 acknowledged before (journal)" "$tmp/err.2" && ok \
  || fail "second run: $(cat "$tmp/err.2")"
stop_node

# The rollback: the node loses 41..80; the municipality's journal still lists them.
"$bin" restore --from "$tmp/backup1" --data "$tmp/d" --key "$tmp/backup.key" --confirm-rollback \
  > /dev/null 2> "$tmp/restore.err" && ok || fail "restore: $(cat "$tmp/restore.err")"
[ "$(applied)" = 40 ] && ok || fail "after the restore the node holds $(applied), expected 40"
# A restored node serves only after a purge (what it holds may be past its retention).
"$bin" purge --data "$tmp/d" > /dev/null 2> "$tmp/purge.err" && ok || fail "purge: $(cat "$tmp/purge.err")"

# A plain run sends nothing: every line a duplicate from the journal, exit 0, the node unchanged.
serve_node
notify "$tmp/lost.csv" > "$tmp/out.plain" 2> "$tmp/err.plain"
rc=$?
[ "$rc" = 0 ] && ok || fail "plain run after the rollback: exit $rc"
grep -q "80 acknowledged before (journal), 0 rejected; 0 requests" "$tmp/err.plain" && ok \
  || fail "plain run after the rollback sent something: $(cat "$tmp/err.plain")"
[ "$(grep -c '"ok":true,"duplicate":true' "$tmp/out.plain")" = 80 ] && ok || fail "plain run output"
# ... and the next new record is refused: the node still lacks 41..80.
notify "$tmp/new.csv" > "$tmp/out.gap" 2> "$tmp/err.gap"
rc=$?
[ "$rc" = 1 ] && grep -qx '{"line":82,"ok":false,"errors":\[{"field":"record","code":"sequence_gap"}\]}' "$tmp/out.gap" \
  && ok || fail "the new record after a plain run: exit $rc, $(tail -1 "$tmp/out.gap")"
stop_node
[ "$(applied)" = 40 ] && ok || fail "a plain run changed the node: $(applied) applied"

# --resend: 1..40 answered as duplicates, 41..80 and the new 81 applied.
serve_node
entries_before=$(wc -l < "$tmp/kofu.journal")
notify --resend "$tmp/new.csv" > "$tmp/out.resend" 2> "$tmp/err.resend"
rc=$?
[ "$rc" = 0 ] && ok || fail "--resend: exit $rc: $(cat "$tmp/err.resend")"
grep -q "81 records, sent again whatever the journal says (--resend; 80 acknowledged before): 41 applied, 40 already held by the node (duplicates), 0 rejected" "$tmp/err.resend" \
  && ok || fail "--resend summary: $(cat "$tmp/err.resend")"
[ "$(grep -c '"ok":true,"duplicate":true' "$tmp/out.resend")" = 40 ] && ok || fail "--resend: duplicates printed"
[ "$(grep -c '"ok":true}' "$tmp/out.resend")" = 41 ] && ok || fail "--resend: applied printed"
# The journal gained the new acknowledgement only (81 was never acknowledged before).
[ "$(wc -l < "$tmp/kofu.journal")" = $((entries_before + 1)) ] && ok \
  || fail "the journal has $(wc -l < "$tmp/kofu.journal") lines, expected $((entries_before + 1))"
# Afterwards a plain run finds everything in the journal again.
notify "$tmp/new.csv" > "$tmp/out.after" 2> "$tmp/err.after" && ok || fail "plain run after --resend"
grep -q "81 acknowledged before (journal), 0 rejected; 0 requests" "$tmp/err.after" && ok \
  || fail "plain run after --resend: $(cat "$tmp/err.after")"
stop_node

[ "$(applied)" = 81 ] && ok || fail "the node holds $(applied) applied notifications, expected 81"
"$bin" audit verify --data "$tmp/d" > "$tmp/verify" 2>&1 && ok || fail "audit verify: $(cat "$tmp/verify")"
"$bin" notify --help | grep -q -- "--resend" && ok || fail "--resend is not in notify --help"

echo "notify_resend: $passed passed, $failed failed"
[ "$failed" = 0 ]
