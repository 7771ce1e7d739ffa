#!/usr/bin/env bash
# Keys in hardware, end to end (docs/keys.md): a SoftHSM2 token of the test's own (SOFTHSM2_CONF
# in a temporary directory), a node whose field keys get wrapped by the token's AES key and whose
# signing key moves onto the token by rotation; a field-key rotation re-sealed by the serving
# node in the background; the log verifies throughout; the PIN never shows. Nothing is left.
# Usage: tests/keys_hsm.sh path/to/kakunin
set -euo pipefail
bin=$1
module=/usr/lib/softhsm/libsofthsm2.so
if ! command -v softhsm2-util > /dev/null || [ ! -e "$module" ]; then
  echo "SKIP: SoftHSM2 is not installed (scripts/bootstrap)"; exit 0
fi
tmp=$(mktemp -d)
serve=
cleanup() { [ -n "$serve" ] && kill "$serve" 2> /dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir "$tmp/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$tmp" \
  > "$tmp/softhsm2.conf"
export SOFTHSM2_CONF="$tmp/softhsm2.conf"
softhsm2-util --init-token --free --label kakunin --pin 246810 --so-pin 13579113 > /dev/null

d="$tmp/node"
"$bin" init --data "$d" --prefecture 19 > /dev/null
"$bin" pki init --ca "$tmp/ca" > /dev/null
"$bin" pki server --ca "$tmp/ca" --dns localhost --ip 127.0.0.1 --out "$tmp/server" > /dev/null
"$bin" pki issue --ca "$tmp/ca" --kind agency --name 山梨県教育委員会 --out "$tmp/boe" > /dev/null
"$bin" clients register --data "$d" --cert "$tmp/boe.pem" --kind agency --name 山梨県教育委員会 \
  --recipient agency:yamanashi-board-of-education --purposes board.school_aid > /dev/null
"$bin" generate --count 300 --seed 7 --today 2026-04-01 \
  | "$bin" ingest --data "$d" --today 2026-04-01 --batch 100 - > /dev/null
code=$("$bin" generate --count 1 --seed 7 | sed 's/.*"resident_code":"\([0-9]*\)".*/\1/')

# A PIN in the configuration is refused; the PIN file must be private.
cp "$d/kakunin.toml" "$tmp/plain.toml"
printf '\n[hsm]\nmodule = "%s"\ntoken = "kakunin"\npin = "246810"\n' "$module" >> "$d/kakunin.toml"
if out=$("$bin" keys status --data "$d" 2>&1); then fail "a PIN in kakunin.toml was accepted"; fi
grep -q 'hsm.pin is not allowed' <<< "$out" || fail "no reason for refusing hsm.pin: $out"
cp "$tmp/plain.toml" "$d/kakunin.toml"
printf '\n[hsm]\nmodule = "%s"\ntoken = "kakunin"\npin_file = "hsm.pin"\n' "$module" >> "$d/kakunin.toml"
printf '246810\n' > "$d/hsm.pin"
chmod 644 "$d/hsm.pin"
if out=$("$bin" keys status --data "$d" 2>&1); then fail "a readable PIN file was accepted"; fi
chmod 600 "$d/hsm.pin"

# The field keys wrapped by the token: the key file holds no key in clear any more.
plain_keys=$(sed -n 's/^\(aead\|hmac\) //p' "$d/keys")
"$bin" keys init-token --data "$d" > /dev/null
"$bin" keys wrap-field-keys --data "$d" > /dev/null
head -1 "$d/keys" | grep -qx 'kakunin-keys v2 wrapped' || fail "the key file is not wrapped"
for k in $plain_keys; do grep -q "$k" "$d/keys" && fail "a field key is still in clear"; done
"$bin" stats --data "$d" > /dev/null || fail "the node does not open with wrapped keys"

# A wrong PIN: refused with a message, exit status 1 or 2, no PIN in it.
printf '999999\n' > "$d/hsm.pin"
if out=$("$bin" stats --data "$d" 2>&1); then fail "a wrong PIN opened the node"; fi
grep -q 'PIN' <<< "$out" || fail "no word on the PIN: $out"
grep -q '999999\|246810' <<< "$out" && fail "a PIN was printed: $out"
printf '246810\n' > "$d/hsm.pin"

# The signing key moves onto the token by rotation, announced in the log: the log verifies, and
# so does an archive with the new public key (src/audit/key_rotation_test.cc: the original key).
# The log as it was before, and the old public key, to check them with afterwards.
cp "$d/audit.key.pub" "$tmp/old.pub"
"$bin" audit export --data "$d" --from 2000-01-01 --to 2100-01-01 --out "$tmp/before.kla" > /dev/null
"$bin" keys rotate-signing-key --data "$d" --label kakunin-signing-2 > "$tmp/rotate.out" \
  || fail "rotate-signing-key: $(cat "$tmp/rotate.out")"
# The old key was the file, not a key on the token: the file is destroyed, as in a rotation from
# file to file (found in review: it stayed, and every later backup held it, as [hsm] was there).
[ ! -e "$d/audit.key" ] || fail "the old signing key file stayed after moving onto the token"
grep -q "old private key .*audit.key is destroyed" "$tmp/rotate.out" \
  || fail "no word of the old key file destroyed: $(cat "$tmp/rotate.out")"
grep -q "stays on the token" "$tmp/rotate.out" && fail "a key file said to be on the token"
cmp -s "$d/audit.key.pub" "$tmp/old.pub" || fail "the old public key changed"
"$bin" config check --data "$d" > "$tmp/check.out" || fail "config check after the move: $(cat "$tmp/check.out")"
"$bin" audit verify --archive "$tmp/before.kla" --public-key "$tmp/old.pub" > /dev/null \
  || fail "the checkpoints before the rotation no longer verify with the old public key"
grep -q "signing_key_label = 'kakunin-signing-2'" "$d/kakunin.toml" || fail "config not updated"
"$bin" audit verify --data "$d" > /dev/null || fail "the log does not verify after the rotation"
"$bin" audit export --data "$d" --from 2000-01-01 --to 2100-01-01 --out "$tmp/log.kla" > /dev/null
# An archive names the key in force: the new public key file the rotation wrote.
newpub=$(ls "$d"/signing-*.pub)
"$bin" audit verify --archive "$tmp/log.kla" --public-key "$newpub" > /dev/null \
  || fail "the archive does not verify with the new public key"
# Output captured first: `producer | grep -q` races (grep exits at the first match, the producer
# gets SIGPIPE, and pipefail makes the pipeline fail).
found=$("$bin" audit search --data "$d" --action key.signing.rotate)
grep -q '"public_key' <<< "$found" \
  || fail "no announcement in the log"

# A backup of a node whose keys are on the token (a wrapped key file, the signing key by label):
# it verifies and restores where the token is reachable — the PIN file from the node's
# directory — and says why where it is not. (Review: it was written, registered "complete", and
# could never be verified or restored: both read the key files alone.)
"$bin" backup keygen --key "$tmp/backup.key" > /dev/null
bdir=$("$bin" backup --data "$d" --into "$tmp/backups" --key "$tmp/backup.key" --json | sed -n 's/.*"dir":"\([^"]*\)".*/\1/p') \
  || fail "backup of a node with its keys on the token"
"$bin" backup verify "$bdir" --key "$tmp/backup.key" --public-key "$newpub" --data "$d" \
  > "$tmp/bverify.out" 2>&1 || fail "backup verify with the token: $(cat "$tmp/bverify.out")"
if out=$("$bin" backup verify "$bdir" --key "$tmp/backup.key" --public-key "$newpub" 2>&1); then
  fail "a backup of keys on a token verified without the PIN file"
fi
grep -q 'PKCS#11 token' <<< "$out" || fail "no word on the token: $out"
grep -q '246810' <<< "$out" && fail "the PIN was printed: $out"
r="$tmp/restored"
mkdir -m 700 "$r"
cp -p "$d/hsm.pin" "$r/hsm.pin"
"$bin" restore --from "$bdir" --data "$r" --key "$tmp/backup.key" --public-key "$newpub" \
  > "$tmp/restore.out" 2>&1 || fail "restore with the token: $(cat "$tmp/restore.out")"
"$bin" audit verify --data "$r" > /dev/null || fail "the restored node's log does not verify"
# The backup held no old key file to restore (it was destroyed by the rotation).
[ ! -e "$r/audit.key" ] || fail "the backup held the old signing key file"
"$bin" stats --data "$r" > /dev/null || fail "the restored node does not open with the token"
# Into the node's own directory, whose key is the token's: the node has logged more since (the
# backup, the checks), so it is a rollback, refused until confirmed, then recorded.
if "$bin" restore --from "$bdir" --data "$d" --key "$tmp/backup.key" > "$tmp/restore2.out" 2>&1; then
  fail "a rollback onto the node was restored unconfirmed"
fi
grep -q 'rollback' "$tmp/restore2.out" || fail "not refused as a rollback: $(cat "$tmp/restore2.out")"
"$bin" restore --from "$bdir" --data "$d" --key "$tmp/backup.key" --confirm-rollback \
  > "$tmp/restore2.out" 2>&1 || fail "confirmed rollback: $(cat "$tmp/restore2.out")"
[ -s "$d/rollbacks.log" ] || fail "the rollback was not written to rollbacks.log"
"$bin" audit verify --data "$d" > /dev/null || fail "the log does not verify after the restore"
found=$("$bin" audit search --data "$d" --action backup.rollback)
[ -n "$found" ] || fail "the rollback is not in the log"
# A restored node is served only once it is purged as of today (docs/backup.md).
"$bin" purge --data "$d" > "$tmp/purge.out" 2>&1 || fail "purge after the restore: $(cat "$tmp/purge.out")"

# A field-key rotation while the node serves: SIGHUP makes it take the new key and re-seal the
# rest in the background, without a restart, while an agency reads.
printf '\n[server]\naddress = "127.0.0.1"\nport = 0\ncertificate = "%s"\nkey = "%s"\nclient_ca = "%s"\naccess_log = "-"\n' \
  "$tmp/server.pem" "$tmp/server.key" "$tmp/ca/ca.pem" >> "$d/kakunin.toml"
"$bin" serve --data "$d" 2> "$tmp/serve.err" & serve=$!
for _ in $(seq 1 300); do grep -q 'listening on' "$tmp/serve.err" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on https:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$tmp/serve.err")
[ -n "$port" ] || fail "serve did not start: $(cat "$tmp/serve.err")"
read_one() {
  curl -sSf --cacert "$tmp/ca/ca.pem" --cert "$tmp/boe.pem" --key "$tmp/boe.key" \
    "https://127.0.0.1:$port/v1/residents/$code?purpose=board.school_aid" > /dev/null
}
read_one || fail "a read failed before the rotation: $(cat "$tmp/serve.err")"
"$bin" keys rotate-field-key --data "$d" > /dev/null
status=$("$bin" keys status --data "$d")
grep -q '300 values still under an older key' <<< "$status" \
  || fail "status: $("$bin" keys status --data "$d")"
if "$bin" keys retire-field-keys --data "$d" > /dev/null 2>&1; then
  fail "older keys retired while values were still under them"
fi
read_one || fail "a read failed after the new key was added"
kill -HUP "$serve"
for _ in $(seq 1 600); do
  read_one || fail "a read failed during the rotation: $(cat "$tmp/serve.err")"
  grep -q 'field-key rotation: every value' "$tmp/serve.err" && break
  sleep 0.1
done
grep -q 'field keys reloaded: 2 loaded' "$tmp/serve.err" || fail "no reload: $(cat "$tmp/serve.err")"
grep -q 'field-key rotation: every value' "$tmp/serve.err" \
  || fail "the serving node did not finish the rotation: $(cat "$tmp/serve.err")"
read_one || fail "a read failed after the rotation"
kill -TERM "$serve"; wait "$serve" || fail "serve did not stop cleanly"; serve=
status=$("$bin" keys status --data "$d")
grep -q 'field-key rotation: done' <<< "$status" || fail "status after serve"
"$bin" keys retire-field-keys --data "$d" > /dev/null || fail "retire-field-keys"
[ "$(grep -c '^aead ' "$d/keys")" -eq 1 ] || fail "older field keys left in the key file"
"$bin" stats --data "$d" > /dev/null || fail "the node does not open after retiring"
"$bin" audit verify --data "$d" > /dev/null || fail "the log does not verify at the end"
[ "$("$bin" audit search --data "$d" --action field_key.rotate.finish | wc -l)" -eq 1 ] \
  || fail "no finish of the field-key rotation in the log"
# Older keys are retired only with the node stopped: a serving node that has not taken the new
# key (no SIGHUP) still seals what it writes under the key it holds, and retiring that key (after
# a `keys reseal` from another process found nothing under it) would leave those values
# unreadable at its next start.
"$bin" serve --data "$d" 2> "$tmp/serve2.err" & serve=$!
for _ in $(seq 1 300); do grep -q 'listening on' "$tmp/serve2.err" && break; sleep 0.1; done
grep -q 'listening on' "$tmp/serve2.err" || fail "serve did not start again: $(cat "$tmp/serve2.err")"
"$bin" keys rotate-field-key --data "$d" > /dev/null
"$bin" keys reseal --data "$d" > /dev/null || fail "reseal beside a serving node"
if "$bin" keys retire-field-keys --data "$d" > "$tmp/retire.out" 2>&1; then
  fail "older field keys retired while a node holding them was serving"
fi
grep -q 'in use' "$tmp/retire.out" || fail "no reason for refusing to retire: $(cat "$tmp/retire.out")"
[ "$(grep -c '^aead ' "$d/keys")" -eq 2 ] || fail "a refused retire changed the key file"
# The signing key likewise (found in review: the serving node signed on with the retired key,
# under no announcement, and the log never verified again).
cp "$d/kakunin.toml" "$tmp/before-rotate.toml"
if "$bin" keys rotate-signing-key --data "$d" --label kakunin-signing-x > "$tmp/rotate-x.out" 2>&1; then
  fail "the signing key was rotated while the node was serving"
fi
grep -q 'in use' "$tmp/rotate-x.out" || fail "no reason for refusing to rotate: $(cat "$tmp/rotate-x.out")"
cmp -s "$d/kakunin.toml" "$tmp/before-rotate.toml" || fail "a refused rotation changed the configuration"
kill -TERM "$serve"; wait "$serve" || fail "serve did not stop cleanly"; serve=
"$bin" keys retire-field-keys --data "$d" > /dev/null || fail "retire-field-keys, node stopped"
[ "$(grep -c '^aead ' "$d/keys")" -eq 1 ] || fail "older field keys left in the key file"
"$bin" stats --data "$d" > /dev/null || fail "the node does not open after retiring again"
# No key bytes and no PIN in anything printed or logged.
for k in $plain_keys; do grep -rq "$k" "$tmp/serve.err" "$tmp/serve2.err" "$tmp/rotate.out" && fail "a key was printed"; done
grep -q '246810' "$tmp/serve.err" "$tmp/rotate.out" && fail "the PIN was printed"
echo "ok: keys on a SoftHSM2 token, both rotations, the log verifies"
