#!/usr/bin/env bash
# Crash test for audited reads (issue 11): a node answers lookups over HTTPS (mutual TLS, an
# agency's certificate) from several clients at once and is killed with SIGKILL at a random
# moment, ROUNDS times, restarted on the same data each time. A lookup is recorded in the
# operation log durably before it is answered, so after every restart the log holds at least
# one resident.provide entry for the resident per lookup answered 200 so far; at the end the log
# verifies. Usage: tests/crash_reads.sh path/to/kakunin [ROUNDS]
set -euo pipefail
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
rounds=${2:-5}
clients=4
tmp=$(mktemp -d)
node=$tmp/node
pid=""
loaders=()
stop_loaders() {
  local p
  for p in "${loaders[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${loaders[@]}"; do wait "$p" 2>/dev/null || true; done
  loaders=()
}
cleanup() {
  stop_loaders
  if [[ -n $pid ]]; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# start: serves the node (made by the first call) and waits for its demo.json.
start() {
  rm -f "$node/demo.json"
  "$bin" demo --data "$node" --port 0 --console-port 0 --residents 50 >>"$tmp/demo.log" 2>&1 &
  pid=$!
  local i
  for ((i = 0; i < 1200; i++)); do
    if [[ -s $node/demo.json ]] && jq -e .port "$node/demo.json" >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { tail -20 "$tmp/demo.log" >&2; fail "the node exited"; }
    sleep 0.1
  done
  fail "the node did not start"
}

start
# Read quotas would refuse one agency reading this fast (docs/quotas.md).
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
printf '\n[quotas]\nenabled = false\n' >>"$node/kakunin.toml"
demo=$node/demo.json
ca=$(jq -er .ca_file "$demo")
cert=$(jq -er '[.clients[] | select(.kind == "agency")][0].certificate' "$demo")
key=$(jq -er '[.clients[] | select(.kind == "agency")][0].key' "$demo")
code=$(jq -er .examples.resident_code "$demo")
purpose=$(jq -er .examples.purpose "$demo")

# Entries in the log that read the resident (audit search seals the log's tail first).
reads_logged() {
  "$bin" audit search --data "$node" --target "$code" --action resident.provide --limit 100000 |
    grep -c . || true
}

answered=0
for round in $(seq 1 "$rounds"); do
  start
  url=$(jq -er .url "$demo")
  for c in $(seq 1 "$clients"); do
    (
      while :; do
        curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 --cacert "$ca" --cert "$cert" \
          --key "$key" "$url/v1/residents/$code?purpose=$purpose" || true
      done
    ) >"$tmp/codes.$round.$c" 2>/dev/null &
    loaders+=("$!")
  done
  # Until the clients have some answers, then a random moment up to 0.5 s later.
  for ((i = 0; i < 600; i++)); do
    [[ $(cat "$tmp"/codes."$round".* | grep -c '^200$' || true) -ge 5 ]] && break
    sleep 0.1
  done
  sleep "0.$(printf '%03d' $((RANDOM % 500)))"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
  stop_loaders
  ok=$(cat "$tmp"/codes."$round".* | grep -c '^200$' || true)
  [[ $ok -gt 0 ]] || fail "round $round: no lookup was answered"
  answered=$((answered + ok))
  logged=$(reads_logged)
  [[ $logged -ge $answered ]] ||
    fail "round $round: $answered lookups answered 200 but only $logged in the log"
done

"$bin" audit verify --data "$node" >"$tmp/verify" || fail "audit verify: $(cat "$tmp/verify")"
echo "crash reads: $rounds kills, $answered lookups answered, all in the log; 1 passed, 0 failed"
