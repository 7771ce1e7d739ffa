#!/usr/bin/env bash
# The link's benchmark (issue 12): a prefecture node takes notifications through its API while
# its link forwards them to a national node, in the same run. Prints JSON lines:
#   ingest rate (notifications applied per second on the prefecture node), forwarding rate
#   (changes applied per second on the national node, first prefecture apply to last national
#   apply), their ratio (goal ≥ 0.8), and the lag from each change's apply on the prefecture node
#   to its apply on the national node (p50/p99, from the two databases' version timestamps).
# Nothing fails on a timing. Usage: bench/link_bench.sh path/to/kakunin [COUNT]
here=$(dirname "${BASH_SOURCE[0]}")
source "$here/../tests/support/node_setup.sh" "$1"
source "$here/../tests/support/link_setup.sh"
want=${2:-3000}

start nat
start p19
# 甲府市's notifications only (its CS's certificate), gap-free sequences.
"$bin" generate --count $((want * 5)) --seed 9 --today 2026-04-01 |
  grep '"municipality_code":"192015"' | head -n "$want" > "$tmp/in.jsonl"
count=$(wc -l < "$tmp/in.jsonl")
split -l 200 -d -a 4 "$tmp/in.jsonl" "$tmp/chunk."
for c in "$tmp"/chunk.*; do
  out=$(post p19 "$tmp/kofu" "$c")
  case "$out" in *'"ok":false'*|'') die "a notification was refused: ${out:0:200}" ;; esac
done
wait_drained p19
stop p19
stop nat
q() { sqlite3 "$tmp/p19/registry.db" "ATTACH '$tmp/nat/registry.db' AS nat; $1"; }
# µs: first and last apply on each side.
read -r p_first p_last <<< "$(q "SELECT min(applied_at), max(applied_at) FROM versions" | tr '|' ' ')"
read -r n_last <<< "$(q "SELECT max(applied_at) FROM nat.versions")"
lags="$tmp/lags"
q "SELECT n.applied_at - p.applied_at FROM versions p JOIN nat.versions n
   ON n.municipality_code = p.municipality_code AND n.sequence = p.sequence ORDER BY 1" > "$lags"
matched=$(wc -l < "$lags")
pct() { sed -n "$(( ($1 * matched + 99) / 100 ))p" "$lags"; }
awk -v n="$count" -v pf="$p_first" -v pl="$p_last" -v nl="$n_last" -v m="$matched" \
    -v p50="$(pct 50)" -v p99="$(pct 99)" 'BEGIN {
  ingest = n / ((pl - pf) / 1e6); forward = n / ((nl - pf) / 1e6);
  printf "{\"bench\":\"link\",\"notifications\":%d,\"forwarded\":%d,\"ingest_per_s\":%.0f,\"forward_per_s\":%.0f,\"ratio\":%.2f,\"goal\":0.8}\n", n, m, ingest, forward, forward / ingest;
  printf "{\"bench\":\"link_lag\",\"p50_ms\":%.1f,\"p99_ms\":%.1f}\n", p50 / 1000, p99 / 1000 }'
