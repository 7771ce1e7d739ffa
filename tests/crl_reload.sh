#!/usr/bin/env bash
# A running `kakunin serve` takes a new CRL without a restart: a certificate revoked with
# `kakunin pki revoke` is refused on new connections, SIGHUP reloads the TLS files (and no longer
# ends the process), and a CRL that does not load is reported and the previous one kept.
# Usage: tests/crl_reload.sh path/to/kakunin
source "$(dirname "${BASH_SOURCE[0]}")/support/node_setup.sh" "$1"

make_demo_node
start_serve
port=$(sed -n 's/.*listening on https:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/serve.err")
[ -n "$port" ] || { cat "$tmp/serve.err"; echo "FAIL: serve did not start"; exit 1; }

status_of() {  # status_of CLIENT: the HTTP status of /healthz, 000 if no HTTP at all
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$tmp/d/ca/ca.pem" \
    --cert "$tmp/d/clients/$1.pem" --key "$tmp/d/clients/$1.key" "https://127.0.0.1:$port/healthz"
}
# eventually CLIENT STATUS: the file is looked at once a second at most, so allow a few.
eventually() {
  local got
  for _ in $(seq 1 50); do
    got=$(status_of "$1")
    [ "$got" = "$2" ] && return 0
    sleep 0.1
  done
  echo "$got"
  return 1
}

[ "$(status_of board-of-education)" = 200 ] && ok || fail "board before revocation"
serial=$(openssl x509 -in "$tmp/d/clients/board-of-education.pem" -noout -serial | cut -d= -f2)
"$bin" pki revoke --ca "$tmp/d/ca" --serial "$serial" > /dev/null && ok || fail "pki revoke"
got=$(eventually board-of-education 000) && ok || fail "revoked board still served ($got)"
[ "$(status_of kofu-cs)" = 200 ] && ok || fail "kofu-cs after the revocation"
grep -q "TLS files reloaded for the API" "$tmp/serve.err" && ok || fail "no reload reported"

# SIGHUP: reloads, and the server goes on.
kill -HUP "$serve"
for _ in $(seq 1 50); do grep -q "SIGHUP" "$tmp/serve.err" && break; sleep 0.1; done
grep -q "SIGHUP" "$tmp/serve.err" && ok || fail "SIGHUP not acknowledged"
kill -0 "$serve" 2>/dev/null && ok || fail "SIGHUP ended the server"
[ "$(status_of kofu-cs)" = 200 ] && ok || fail "kofu-cs after SIGHUP"
[ "$(status_of board-of-education)" = 000 ] && ok || fail "board after SIGHUP"

# A CRL that does not load: reported without its content, the previous one stays.
cp "$tmp/d/ca/crl.pem" "$tmp/crl.good"
printf -- '-----BEGIN X509 CRL-----\n山田太郎\n' > "$tmp/d/ca/crl.pem"
kill -HUP "$serve"
for _ in $(seq 1 50); do grep -q "not reloaded" "$tmp/serve.err" && break; sleep 0.1; done
grep -q "not reloaded" "$tmp/serve.err" && ok || fail "broken CRL not reported: $(cat "$tmp/serve.err")"
grep -q "山田" "$tmp/serve.err" && fail "the report shows the file's content" || ok
[ "$(status_of kofu-cs)" = 200 ] && ok || fail "kofu-cs with a broken CRL file"
[ "$(status_of board-of-education)" = 000 ] && ok || fail "board with a broken CRL file"

kill -TERM "$serve"
wait "$serve"
rc=$?
[ "$rc" = 0 ] && ok || fail "serve exit status $rc"

echo "crl_reload: $passed passed, $failed failed"
[ "$failed" = 0 ]
