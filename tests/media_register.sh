#!/usr/bin/env bash
# The media register from the command line (docs/backup.md "The media register"): a backup and
# an operation-log export are each a medium with the digest of what was written (the export's
# the SHA-256 of the archive as it is on the medium); `kakunin media record` takes a medium out,
# returns it and disposes of it, in that order only; a note with a resident-number-shaped run is
# refused; the log names the medium and the event, never the note.
# Usage: tests/media_register.sh path/to/kakunin
set -euo pipefail
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
passed=0

"$bin" init --data "$tmp/node" --prefecture 19 > /dev/null
"$bin" generate --count 3 --seed 7 --today 2026-04-01 \
  | "$bin" ingest --data "$tmp/node" --today 2026-04-01 - > /dev/null
"$bin" backup keygen --key "$tmp/backup.key" > /dev/null
"$bin" backup --data "$tmp/node" --to "$tmp/bk1" --key "$tmp/backup.key" > /dev/null
"$bin" audit export --data "$tmp/node" --from 2000-01-01 --to 2100-01-01 --out "$tmp/log.kla" \
  > "$tmp/export.out"
grep -q "媒体の管理簿 / media register: medium 2" "$tmp/export.out" \
  || fail "the export does not name its medium: $(cat "$tmp/export.out")"

# 1. Both are media; the export's digest and size are those of the file.
"$bin" media list --data "$tmp/node" --json > "$tmp/list.json"
[ "$(wc -l < "$tmp/list.json")" -eq 2 ] || fail "two media expected: $(cat "$tmp/list.json")"
sed -n 1p "$tmp/list.json" | grep -q '"kind":"backup".*"status":"complete".*"custody":"stored","events":\[\]' \
  || fail "backup row: $(sed -n 1p "$tmp/list.json")"
export_row=$(sed -n 2p "$tmp/list.json")
sum=$(sha256sum "$tmp/log.kla" | cut -d' ' -f1)
size=$(stat -c %s "$tmp/log.kla")
echo "$export_row" | grep -qF "\"id\":2,\"kind\":\"audit_export\",\"label\":\"2000-01-01..2100-01-01\",\"location\":\"$tmp/log.kla\"" \
  || fail "export row: $export_row"
echo "$export_row" | grep -qF "\"status\":\"complete\",\"bytes\":$size,\"digest\":\"$sum\",\"custody\":\"stored\"" \
  || fail "export row's size or digest ($size, $sum): $export_row"
passed=$((passed + 1))

# 2. An export that cannot be written is a failed medium, and says why.
mkdir "$tmp/ro"
chmod 0500 "$tmp/ro"
if [ "$(id -u)" -ne 0 ]; then
  if "$bin" audit export --data "$tmp/node" --from 2000-01-01 --to 2100-01-01 \
    --out "$tmp/ro/log.kla" > /dev/null 2>&1; then fail "an export into a read-only directory"; fi
else
  # root writes anywhere: a name that exists already is refused instead.
  touch "$tmp/taken.kla.tmp"
  if "$bin" audit export --data "$tmp/node" --from 2000-01-01 --to 2100-01-01 \
    --out "$tmp/taken.kla" > /dev/null 2>&1; then fail "an export over a leftover temporary file"; fi
fi
"$bin" media list --data "$tmp/node" --json > "$tmp/list.json"
sed -n 3p "$tmp/list.json" | grep -q '"kind":"audit_export".*"status":"failed"' \
  || fail "the failed export is not a failed medium: $(cat "$tmp/list.json")"
passed=$((passed + 1))

# 3. Taken out, returned, disposed of; each out of order refused (exit 1) and recorded.
rec() { "$bin" media record "$1" --event "$2" --note "$3" --data "$tmp/node"; }
rec 2 taken_out "監査委員事務局へ貸出（定期監査）" > "$tmp/out" || fail "take out: $(cat "$tmp/out")"
grep -q "記録しました / recorded: medium 2 taken_out" "$tmp/out" || fail "$(cat "$tmp/out")"
set +e
rec 2 taken_out "二度目の持出し" > "$tmp/out" 2>&1; rc=$?
set -e
[ "$rc" -eq 1 ] || fail "a medium taken out twice: exit $rc: $(cat "$tmp/out")"
grep -q "cannot be taken_out now" "$tmp/out" || fail "$(cat "$tmp/out")"
rec 2 returned "返却 施錠保管庫へ" > /dev/null || fail "return"
rec 2 disposed "物理破砕 立会: 情報政策課" > /dev/null || fail "dispose"
set +e
rec 2 returned "廃棄後の返却" > "$tmp/out" 2>&1; rc=$?
set -e
[ "$rc" -eq 1 ] || fail "a disposed medium returned: exit $rc"
"$bin" media list --data "$tmp/node" --json | sed -n 2p > "$tmp/row.json"
grep -q '"custody":"disposed","events":\[{"id":1,.*"event":"taken_out","note":"監査委員事務局へ貸出（定期監査）".*"event":"returned".*"event":"disposed","note":"物理破砕 立会: 情報政策課"' "$tmp/row.json" \
  || fail "the events: $(cat "$tmp/row.json")"
"$bin" media list --data "$tmp/node" > "$tmp/list.txt"
grep -q "廃棄済み / disposed" "$tmp/list.txt" || fail "text list: $(cat "$tmp/list.txt")"
passed=$((passed + 1))

# 4. Malformed: exit 2, nothing recorded in the register; a number-shaped note refused.
for args in "2 --event lent --note x" "x --event taken_out --note x" \
            "1 --event taken_out --note 12345678901" "1 --event taken_out"; do
  set +e
  # shellcheck disable=SC2086
  "$bin" media record $args --data "$tmp/node" > "$tmp/out" 2>&1; rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "media record $args: exit $rc: $(cat "$tmp/out")"
  if grep -q "12345678901" "$tmp/out"; then fail "the refusal repeats the note"; fi
done
set +e
rec 99 taken_out "ない媒体" > "$tmp/out" 2>&1; rc=$?
set -e
[ "$rc" -eq 1 ] || fail "an unknown medium: exit $rc"
"$bin" media list --data "$tmp/node" --json > "$tmp/list.json"
sed -n 1p "$tmp/list.json" | grep -q '"custody":"stored","events":\[\]' \
  || fail "a refused call changed the backup's row"
passed=$((passed + 1))

# 5. The log: every call, refusals included, by medium and event, never the note; it verifies.
"$bin" audit search --data "$tmp/node" --action media.custody > "$tmp/log.out" 2> /dev/null
[ "$(grep -c '"outcome":"done"' "$tmp/log.out")" -eq 3 ] || fail "done: $(cat "$tmp/log.out")"
[ "$(grep -c '"outcome":"refused:conflict"' "$tmp/log.out")" -eq 2 ] || fail "conflicts: $(cat "$tmp/log.out")"
[ "$(grep -c '"outcome":"refused:invalid_request"' "$tmp/log.out")" -eq 2 ] \
  || fail "invalid: $(cat "$tmp/log.out")"
[ "$(grep -c '"outcome":"refused:not_found"' "$tmp/log.out")" -eq 1 ] || fail "not found"
for word in 監査委員 施錠 破砕 12345678901 lent; do
  if grep -q "$word" "$tmp/log.out"; then fail "the log holds '$word'"; fi
done
"$bin" audit search --data "$tmp/node" --action audit.export.complete > "$tmp/log.out" 2> /dev/null
grep -q "media=2 sha256=$sum" "$tmp/log.out" || fail "audit.export.complete: $(cat "$tmp/log.out")"
"$bin" audit verify --data "$tmp/node" > /dev/null || fail "the log does not verify"
passed=$((passed + 1))
echo "media register: $passed passed, 0 failed"
