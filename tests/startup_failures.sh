#!/usr/bin/env bash
# `kakunin serve` and `kakunin demo` that cannot start (port taken, certificate missing, key
# unreadable, configuration broken) say why on stderr and exit 2 — they used to die of a
# segmentation fault (139) when the server failed to start.
# Usage: tests/startup_failures.sh path/to/kakunin
source "$(dirname "${BASH_SOURCE[0]}")/support/node_setup.sh" "$1"

make_demo_node

# A port that is taken: a listener of our own.
python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(300)
' > "$tmp/busy" &
pids+=("$!")
for _ in $(seq 1 50); do [ -s "$tmp/busy" ] && break; sleep 0.1; done
busy=$(cat "$tmp/busy")
[ -n "$busy" ] || { echo "FAIL: no busy port"; exit 1; }

# expect_start_failure NAME PATTERN COMMAND...: exit 2 (not a crash) and PATTERN on stderr.
expect_start_failure() {
  local name=$1 pattern=$2
  shift 2
  timeout 60 "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" < /dev/null
  local rc=$?
  if [ "$rc" = 2 ]; then ok; else fail "$name: exit $rc, expected 2: $(cat "$tmp/$name.err")"; fi
  if grep -q -- "$pattern" "$tmp/$name.err"; then ok; else fail "$name: no '$pattern' on stderr: $(cat "$tmp/$name.err")"; fi
  if grep -q "cannot start" "$tmp/$name.err"; then ok; else fail "$name: no 'cannot start' on stderr"; fi
}

# Configurations next to the node's (serve --config takes the data directory from the file's).
variant() {  # variant NAME SED-SCRIPT (private, as the node refuses files others can read)
  sed "$2" "$tmp/d/kakunin.toml" > "$tmp/d/$1.toml"
  chmod 600 "$tmp/d/$1.toml"
}

expect_start_failure busy_port "Address already in use" "$bin" serve --data "$tmp/d" --port "$busy"
expect_start_failure busy_port_demo "Address already in use" "$bin" demo --data "$tmp/d" --port "$busy" --console-port 0 --national-port 0
expect_start_failure busy_console_port "Address already in use" "$bin" demo --data "$tmp/d" --port 0 --console-port "$busy"
expect_start_failure busy_national_port "national node: .*Address already in use" "$bin" demo --data "$tmp/d" --port 0 --console-port 0 --national-port "$busy"

variant missing_cert 's#^certificate = .*#certificate = "tls/missing.pem"#'
expect_start_failure missing_cert "server certificate" "$bin" serve --config "$tmp/d/missing_cert.toml" --port 0

# Unreadable: a key that is not a key, and (unless root, who reads anything) one without rights.
echo "not a key" > "$tmp/d/tls/garbage.key"
chmod 600 "$tmp/d/tls/garbage.key"
variant garbage_key 's#^key = .*#key = "tls/garbage.key"#'
expect_start_failure garbage_key "server key" "$bin" serve --config "$tmp/d/garbage_key.toml" --port 0
if [ "$(id -u)" != 0 ]; then
  cp "$tmp/d/tls/server.key" "$tmp/d/tls/locked.key"
  chmod 000 "$tmp/d/tls/locked.key"
  variant locked_key 's#^key = .*#key = "tls/locked.key"#'
  expect_start_failure locked_key "server key" "$bin" serve --config "$tmp/d/locked_key.toml" --port 0
fi
variant missing_ca 's#^client_ca = .*#client_ca = "ca/missing.pem"#'
expect_start_failure missing_ca "client CA" "$bin" serve --config "$tmp/d/missing_ca.toml" --port 0
echo "garbage" > "$tmp/d/ca/bad-crl.pem"
variant bad_crl 's#^crl = .*#crl = "ca/bad-crl.pem"#'
expect_start_failure bad_crl "CRL" "$bin" serve --config "$tmp/d/bad_crl.toml" --port 0

# A broken configuration file.
printf 'role = "prefecture"\nprefecture = \n[server\n' > "$tmp/d/broken.toml"
chmod 600 "$tmp/d/broken.toml"
expect_start_failure broken_config "broken.toml\|line\|config" "$bin" serve --config "$tmp/d/broken.toml" --port 0
variant bad_address 's#^address = "127.0.0.1"#address = "not-an-address"#'
expect_start_failure bad_address "not an IP address" "$bin" serve --config "$tmp/d/bad_address.toml" --port 0
# The role must be the database's (found in review: a prefecture database served with
# role = "national" and its prefecture started, and took any municipality's notifications for
# any resident). Without the [upstream] only a prefecture node has, as a node not linked yet.
no_upstream='/^\[upstream\]/,/^\[/{/^\[upstream\]/d; /^[a-z_]* = /d}'
variant national_role "s#^role = .*#role = \"national\"#; $no_upstream"
expect_start_failure national_role "'prefecture' is for role = \"prefecture\" only" "$bin" serve --config "$tmp/d/national_role.toml" --port 0
# Without the prefecture too: a valid national configuration, refused for the database's role.
variant national_role_alone "s#^role = .*#role = \"national\"#; /^prefecture = /d; $no_upstream"
expect_start_failure national_role_alone "role (\"national\") does not match the database's (\"prefecture\")" "$bin" serve --config "$tmp/d/national_role_alone.toml" --port 0

# Not a regular file, where the node reads one (found in review: a FIFO blocked the start for
# ever with the stop signals blocked; a directory as the configuration aborted the process).
mkfifo -m600 "$tmp/d/ca/fifo-crl.pem"
variant fifo_crl 's#^crl = .*#crl = "ca/fifo-crl.pem"#'
expect_start_failure fifo_crl "not a regular file" "$bin" serve --config "$tmp/d/fifo_crl.toml" --port 0
mkfifo -m600 "$tmp/d/fifo.log"
variant fifo_access_log 's#^access_log = .*#access_log = "fifo.log"#'
grep -q '^access_log = "fifo.log"' "$tmp/d/fifo_access_log.toml" && ok || fail "no access_log in the node's configuration"
expect_start_failure fifo_access_log "access log is not a file" "$bin" serve --config "$tmp/d/fifo_access_log.toml" --port 0
mkdir -m700 "$tmp/d/dir.toml"
expect_start_failure dir_config "is a directory" "$bin" serve --config "$tmp/d/dir.toml" --port 0
mkfifo -m600 "$tmp/d/fifo.toml"
expect_start_failure fifo_config "is not a file" "$bin" serve --config "$tmp/d/fifo.toml" --port 0
# A TLS server key other users can read is refused, as the node's own keys are.
cp "$tmp/d/tls/server.key" "$tmp/d/tls/open.key"
chmod 644 "$tmp/d/tls/open.key"
variant open_key 's#^key = .*#key = "tls/open.key"#'
expect_start_failure open_key "open to other users" "$bin" serve --config "$tmp/d/open_key.toml" --port 0
# A file-size limit: the write fails and the command says so (exit 2), not killed by SIGXFSZ.
(ulimit -f 100; exec "$bin" init --data "$tmp/small-node" --prefecture 19) > /dev/null 2> "$tmp/xfsz.err"
rc=$?
[ "$rc" = 2 ] && ok || fail "init under ulimit -f: exit $rc, expected 2: $(cat "$tmp/xfsz.err")"
# …and leaves nothing of itself, not even the directory it made: init again, without the
# limit, makes the node.
[ ! -e "$tmp/small-node" ] && ok || fail "a failed init left: $(ls -Ad "$tmp/small-node" "$tmp/small-node"/*)"
# A directory that was there before (empty) stays, empty.
mkdir -m700 "$tmp/made-before"
(ulimit -f 100; exec "$bin" init --data "$tmp/made-before" --prefecture 19) > /dev/null 2>&1
[ -d "$tmp/made-before" ] && [ -z "$(ls -A "$tmp/made-before")" ] && ok ||
  fail "a failed init in an existing directory: $(ls -A "$tmp/made-before" 2>&1)"
"$bin" init --data "$tmp/small-node" --prefecture 19 > /dev/null 2> "$tmp/reinit.err" && ok ||
  fail "init after a failed init: $(cat "$tmp/reinit.err")"

# Nothing was damaged: the node still serves, and its log verifies.
start_serve
grep -q "listening on" "$tmp/serve.err" && ok || fail "the node does not start afterwards: $(cat "$tmp/serve.err")"
# A second serve of the same database, on another port: refused while the first serves (found
# in review: it started, and the quotas kept per process counted double).
expect_start_failure second_serve "in use by another process" "$bin" serve --data "$tmp/d" --port 0
expect_start_failure demo_beside_serve "in use by another process" "$bin" demo --data "$tmp/d" --port 0 --console-port 0 --national-port 0
kill -TERM "$serve"
wait "$serve"
rc=$?
[ "$rc" = 0 ] && ok || fail "serve exit status $rc after SIGTERM"
"$bin" audit verify --data "$tmp/d" > /dev/null && ok || fail "audit verify"

echo "startup_failures: $passed passed, $failed failed"
[ "$failed" = 0 ]
