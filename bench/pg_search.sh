#!/usr/bin/env bash
# Kana + birth-date search p50/p99 on PostgreSQL at N residents (issue 13; budget p99 ≤ 20 ms at
# 10 M): bench/pg_search_bench against a private server (tests/support/pg_server.sh), stopped at
# the end. The loader and what is timed are described in bench/pg_search_bench.cc.
# Usage: bench/pg_search.sh BUILD_DIR [RESIDENTS] [SEARCHES]
set -euo pipefail
build=${1:?usage: bench/pg_search.sh BUILD_DIR [RESIDENTS] [SEARCHES]}
n=${2:-100000} searches=${3:-2000}
here=$(cd "$(dirname "$0")/.." && pwd)
pg=$(mktemp -d)
trap 'bash "$here/tests/support/pg_server.sh" stop "$pg" || true; rm -rf "$pg"' EXIT
# A server sized for a large table: the default 128 MB of shared buffers is for a laptop.
bash "$here/tests/support/pg_server.sh" start "$pg" $$ shared_buffers=1GB max_wal_size=8GB
psql -X -q -v ON_ERROR_STOP=1 "postgresql:///postgres?host=$pg&user=kakunin" -c "CREATE DATABASE node"
"$build/bench/pg_search_bench" "postgresql:///node?host=$pg&user=kakunin" "$n" "$searches"
