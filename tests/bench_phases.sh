#!/usr/bin/env bash
# The large benchmarks' build and measure phases (bench/bench_dir.h): a log built into
# KAKUNIN_BENCH_DIR is reused only when complete and built with the same parameters, `measure`
# refuses a directory without one, a build cut short is redone, the cold run (EVICT) still
# verifies, and nothing else in the directory is touched.
# Usage: tests/bench_phases.sh path/to/proof_bench path/to/statement_bench
set -euo pipefail
proof=$1
statement=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export KAKUNIN_BENCH_DIR=$tmp/p
mkdir -p "$tmp/p"
echo keep > "$tmp/p/other-file"

# measure before any build: refused.
set +e
KAKUNIN_BENCH_PHASE=measure "$proof" 5000 20 >/dev/null 2>"$tmp/err"; rc=$?
set -e
[[ $rc == 2 ]] || fail "measure without a log exited $rc"
grep -q "no complete log" "$tmp/err" || fail "no message"
# A bad phase: refused.
set +e
KAKUNIN_BENCH_PHASE=bogus "$proof" 5000 20 >/dev/null 2>&1; rc=$?
set -e
[[ $rc == 2 ]] || fail "bad phase exited $rc"

KAKUNIN_BENCH_PHASE=build "$proof" 5000 2>/dev/null
[[ -f $tmp/p/complete ]] || fail "no marker after the build"
ino=$(stat -c %i "$tmp/p/registry.db")
out=$(KAKUNIN_BENCH_PHASE=measure "$proof" 5000 20)
grep -q '"reused_log":true' <<<"$out" || fail "measure did not reuse: $out"
[[ $(stat -c %i "$tmp/p/registry.db") == "$ino" ]] || fail "the log was rebuilt"
out=$(KAKUNIN_BENCH_PHASE=measure KAKUNIN_BENCH_EVICT=1 "$proof" 5000 20)
grep -q '"evicted":true' <<<"$out" || fail "not evicted: $out"
# Other parameters: measure refuses, all rebuilds.
set +e
KAKUNIN_BENCH_PHASE=measure "$proof" 6000 20 >/dev/null 2>&1; rc=$?
set -e
[[ $rc == 2 ]] || fail "measure of another size exited $rc"
out=$("$proof" 6000 20 2>/dev/null)
grep -q '"reused_log":false' <<<"$out" || fail "another size reused the log: $out"
grep -q '"entries":6000' <<<"$out" || fail "$out"
# A build cut short (no marker) is redone, not measured.
rm "$tmp/p/complete"
out=$("$proof" 6000 20 2>/dev/null)
grep -q '"reused_log":false' <<<"$out" || fail "an incomplete log was reused: $out"
[[ -f $tmp/p/other-file ]] || fail "a file the bench did not write was removed"

# The statement bench: same phases; the reused log (and its key) still gives a valid statement.
export KAKUNIN_BENCH_DIR=$tmp/s
KAKUNIN_BENCH_PHASE=build "$statement" 20000 20 1000 >/dev/null
out=$(KAKUNIN_BENCH_PHASE=measure "$statement" 20000 20 1000)
grep -q '"reused_log":true' <<<"$out" || fail "statement log not reused: $out"
grep -q '"valid":true' <<<"$out" || fail "statement not valid on the reused log: $out"
grep -q '"accesses":20,' <<<"$out" || fail "$out"
set +e
KAKUNIN_BENCH_PHASE=measure "$statement" 20000 30 1000 >/dev/null 2>&1; rc=$?
set -e
[[ $rc == 2 ]] || fail "statement measure with other parameters exited $rc"
# Without KAKUNIN_BENCH_DIR: a temporary directory, removed afterwards.
unset KAKUNIN_BENCH_DIR
export TMPDIR=$tmp/t
mkdir -p "$TMPDIR"
"$proof" 5000 20 >/dev/null 2>&1
[[ -z $(ls -A "$TMPDIR") ]] || fail "temporary log left behind"
echo "bench phases: ok"
