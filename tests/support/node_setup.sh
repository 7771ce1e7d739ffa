# Shared set-up of the shell tests that run a real node (crl_reload.sh, startup_failures.sh).
# Sourced, not run: `source "$(dirname "${BASH_SOURCE[0]}")/support/node_setup.sh" "$1"`.
# Gives: $bin (the kakunin binary, absolute), $tmp (removed on exit unless KEEP_TMP is set),
# pids (killed on exit), the counters ok/fail, make_demo_node and start_serve.
# The node listens on any free port unless KAKUNIN_TEST_PORT (the node, and the demo's national
# node on the next one) and KAKUNIN_TEST_CONSOLE_PORT are set: on a machine where a test may use
# only some ports.
test_port=${KAKUNIN_TEST_PORT:-0}
console_port=${KAKUNIN_TEST_CONSOLE_PORT:-0}
national_port=$(( test_port == 0 ? 0 : test_port + 1 ))
set -uo pipefail
bin=$(realpath "$1")
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# A node in $tmp/d with a [server] table, certificates and a CA: the demo's, made once and
# stopped. The console's default port may be taken on this machine: any free port.
make_demo_node() {
  "$bin" demo --data "$tmp/d" --port "$test_port" --console-port "$console_port" \
    --national-port "$national_port" --residents 0 > "$tmp/demo.out" 2> "$tmp/demo.err" &
  local demo=$!
  pids+=("$demo")
  for _ in $(seq 1 120); do [ -f "$tmp/d/demo.json" ] && break; sleep 0.5; done
  [ -f "$tmp/d/demo.json" ] || { cat "$tmp/demo.err"; echo "FAIL: demo.json never appeared"; exit 1; }
  kill -TERM "$demo"
  wait "$demo"
  sed -i "/^\[console\]/,\$ s/^port = .*/port = $console_port/" "$tmp/d/kakunin.toml"
}

# Starts `kakunin serve` on the node in $tmp/d, any free port, stderr in $tmp/serve.err; sets
# $serve to its pid and waits (boundedly) until it says it listens. The caller checks that it did.
start_serve() {
  "$bin" serve --data "$tmp/d" --port "$test_port" > /dev/null 2> "$tmp/serve.err" &
  serve=$!
  pids+=("$serve")
  for _ in $(seq 1 100); do grep -q "listening on" "$tmp/serve.err" && break; sleep 0.1; done
}
