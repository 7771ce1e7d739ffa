#!/usr/bin/env bash
# `kakunin demo` end to end, as `make run` uses it: the curl commands it prints work as printed;
# kakunin halt/resume from another process take effect on the running server at once;
# SIGTERM stops it cleanly and the operation log verifies.
# Usage: tests/demo_smoke.sh path/to/kakunin
set -uo pipefail
bin=$(realpath "$1")
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

"$bin" demo --data "$tmp/demo" --port 0 --residents 2000 > "$tmp/out" 2> "$tmp/err" &
pid=$!
for _ in $(seq 1 120); do [ -f "$tmp/demo/demo.json" ] && break; sleep 0.5; done
[ -f "$tmp/demo/demo.json" ] || { cat "$tmp/err"; echo "FAIL: demo.json never appeared"; exit 1; }
for _ in $(seq 1 20); do grep -q '^curl' "$tmp/out" && break; sleep 0.2; done

mapfile -t curls < <(grep '^curl' "$tmp/out")
[ "${#curls[@]}" -eq 4 ] && ok || fail "expected 4 curl commands, got ${#curls[@]}"
# 1. the notification is applied.
out=$(eval "${curls[0]}")
[[ "$out" == '{"results":[{"index":0,"ok":true}]}' ]] && ok || fail "notification: $out"
# 2. the lookup answers with the purpose's fields only, and shows the new address.
out=$(eval "${curls[1]}")
[[ "$out" == *'"record":{"name":'*'"address":"山梨県甲府市丸の内一丁目6番1号"}}' ]] && ok || fail "lookup: $out"
re='"record":\{"name":"[^"]*","sex":"(male|female)","birth_date":"[0-9-]{10}","address":"[^"]*"\}\}$'
[[ "$out" =~ $re ]] && ok || fail "minimisation (name, sex, birth_date, address only): $out"
# 3. an unregistered purpose is refused.
out=$(eval "${curls[2]}")
[[ "$out" == *'"code":"purpose_not_permitted"'* ]] && ok || fail "refusal: $out"
# 4. the health URL works as printed.
out=$(eval "${curls[3]} -w ' %{http_code}'")
[[ "$out" == *" 200" ]] && ok || fail "readyz as printed: $out"
# demo.json says what was made.
grep -q '"kind":"municipal_cs","municipality_code":"192015"' "$tmp/demo/demo.json" && ok || fail "demo.json clients"
grep -q '"purposes":\["board.school_aid"\]' "$tmp/demo/demo.json" && ok || fail "demo.json purposes"

# Halt from another process: the running server answers 503 at once, and 200 after resume.
"$bin" halt --data "$tmp/demo" --reason "demo smoke test" > /dev/null && ok || fail "halt"
code=$(eval "${curls[1]} -o /dev/null -w '%{http_code}'")
[ "$code" = 503 ] && ok || fail "lookup while halted gave $code"
code=$(eval "${curls[0]} -o /dev/null -w '%{http_code}'")
[ "$code" = 503 ] && ok || fail "notification while halted gave $code"
"$bin" resume --data "$tmp/demo" > /dev/null && ok || fail "resume"
code=$(eval "${curls[1]} -o /dev/null -w '%{http_code}'")
[ "$code" = 200 ] && ok || fail "lookup after resume gave $code"

# A clean stop, and a log that verifies with the halt and resume in it.
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" = 0 ] && ok || fail "demo exit status $rc"
"$bin" audit verify --data "$tmp/demo" > /dev/null && ok || fail "audit verify"
n=$("$bin" audit search --data "$tmp/demo" --action node.halt | wc -l)
[ "$n" = 1 ] && ok || fail "halt entries: $n"
# kakunin serve --config: the same node from its configuration file, on another port.
"$bin" serve --config "$tmp/demo/kakunin.toml" --port 0 2> "$tmp/serve.err" &
pid=$!
for _ in $(seq 1 50); do grep -q 'listening on' "$tmp/serve.err" && break; sleep 0.2; done
port=$(sed -n 's/.*listening on https:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$tmp/serve.err")
d=$tmp/demo
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$d/ca/ca.pem" --cert "$d/clients/national.pem" \
  --key "$d/clients/national.key" "https://127.0.0.1:$port/readyz")
[ "$code" = 200 ] && ok || fail "serve --config: readyz gave $code"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
[ "$rc" = 0 ] && ok || fail "serve exit status $rc"
"$bin" serve --data "$tmp" > /dev/null 2>&1; rc=$?
[ "$rc" != 0 ] && ok || fail "serve without a node should fail"

# The access log has requests and no personal data.
grep -q '"route":"/v1/residents/{resident_code}"' "$tmp/demo/access.log" && ok || fail "access log"
grep -q '丸の内\|"/v1/residents/[0-9]' "$tmp/demo/access.log" && fail "personal data in the access log" || ok

echo "demo smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
