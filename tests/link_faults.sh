#!/usr/bin/env bash
# Fault test of the link to the national node (issue 12): two prefecture nodes (山梨県 19,
# 東京都 13) forward to one national node over mutual TLS while notifications arrive.
#   1. the national node is killed with kill -9 three times while 19 forwards under load;
#   2. the national node is stopped a while: 19's backlog grows and its /readyz says so; started
#      again, the backlog drains;
#   3. the prefecture node is killed with kill -9 while delivering, and started again;
#   4. residents move 19 → 13 and 13 → 19, the 転入 reaching the national node first for some and
#      the 転出 first for others.
# Afterwards: every version either prefecture applied is at the national node exactly once
# (compared by sender and sequence), the current records of each prefecture agree (a digest
# without keys or MACs), the link's points agree, and all three operation logs verify.
# Usage: tests/link_faults.sh path/to/kakunin
source "$(dirname "${BASH_SOURCE[0]}")/support/node_setup.sh" "$1"
source "$(dirname "${BASH_SOURCE[0]}")/support/link_setup.sh"

start nat
start p19
start p13

# --- 1. load on 19 while the national node is killed three times -------------------------------
# 甲府市's CS sends only 甲府市's notifications (gap-free sequences per municipality).
"$bin" generate --count 8000 --seed 5 --today 2026-04-01 | grep '"municipality_code":"192015"' \
  > "$tmp/in.jsonl"
split -l 100 -d -a 3 "$tmp/in.jsonl" "$tmp/chunk."
chunks=("$tmp"/chunk.*)
sender_loop() {  # $1 = first chunk index, $2 = last
  for i in $(seq "$1" "$2"); do
    for _ in $(seq 1 50); do
      out=$(post p19 "$tmp/kofu" "${chunks[$i]}")
      case "$out" in *'"results"'*) break ;; esac
      sleep 0.1
    done
    echo "$out" >> "$tmp/results.jsonl"
  done
}
sender_loop 0 7 &
load=$!
for k in 1 2 3; do
  sleep "0.$((200 + RANDOM % 600))"
  kill9 nat
  sleep 0.2
  start nat
done
wait "$load"
ok

# --- 2. the national node stopped a while -------------------------------------------------------
stop nat
sender_loop 8 11
for _ in $(seq 1 300); do [ "$(get p19 /readyz)" = 503 ] && break; sleep 0.1; done
[ "$(get p19 /readyz)" = 503 ] && ok || fail "p19 /readyz did not report the link down"
grep -q '"detail":"link_down: ' "$tmp/get.out" && ok || fail "/readyz does not say link_down: $(cat "$tmp/get.out")"
[ "$(metric p19 kakunin_link_up)" = 0 ] && ok || fail "kakunin_link_up is not 0 while down"
backlog=$(metric p19 kakunin_link_backlog)
[ "${backlog:-0}" -ge 300 ] && ok || fail "backlog while the national node was down: $backlog"
grep -q "kakunin_link_oldest_pending_seconds" "$tmp/get.out" && ok || fail "no oldest-pending age"
start nat

# --- 3. the prefecture node killed while delivering ---------------------------------------------
sender_loop 12 $((${#chunks[@]} - 1))
start_delivering=$(metric p19 kakunin_link_acknowledged_sequence)
for _ in $(seq 1 200); do
  now=$(metric p19 kakunin_link_acknowledged_sequence)
  [ "${now:-0}" != "$start_delivering" ] && break
  sleep 0.02
done
kill9 p19
start p19
wait_drained p19
[ "$(get p19 /readyz)" = 200 ] && ok || fail "p19 not ready after draining: $(cat "$tmp/get.out")"

# --- 4. moves between prefectures, both orders --------------------------------------------------
# Residents of 甲府市 from the load, moving to 新宿区; and residents born in 新宿区 moving to 甲府市.
note() {  # municipality seq kind reason date code number name kana sex birth address
  printf '{"municipality_code":"%s","sequence":%s,"kind":"%s","reason":"%s","change_date":"%s","resident_code":"%s","individual_number":"%s","name":"%s","name_kana":"%s","sex":"%s","birth_date":"%s","address":"%s"}\n' "$@"
}
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<< "$2"; }
# move $1 = from node, $2 = from CS, $3 = from municipality, $4 = to node, $5 = to CS,
# $6 = to municipality, $7 = the person's generated line, $8 = 1: the 転入 first.
declare -A seq_of
seq_of[192015]=$(tail -1 "$tmp/in.jsonl" | sed 's/.*"sequence":\([0-9]*\).*/\1/')
seq_of[131041]=2  # the two 新宿区 residents below come first
declare -A town=([192015]="山梨県甲府市丸の内1丁目1番1号" [131041]="東京都新宿区西新宿2丁目8番1号")
person_note() {  # municipality kind reason date line
  local line=$5
  seq_of[$1]=$((${seq_of[$1]} + 1))
  note "$1" "${seq_of[$1]}" "$2" "$3" "$4" "$(field resident_code "$line")" \
    "$(field individual_number "$line")" "$(field name "$line")" "$(field name_kana "$line")" \
    "$(field sex "$line")" "$(field birth_date "$line")" "${town[$1]}"
}
move() {
  person_note "$3" removal moved_out 2026-03-31 "$7" > "$tmp/m.out"
  person_note "$6" entry moved_in 2026-04-01 "$7" > "$tmp/m.in"
  if [ "$8" = 1 ]; then
    post "$4" "$5" "$tmp/m.in" > "$tmp/r"; wait_drained "$4"
    post "$1" "$2" "$tmp/m.out" >> "$tmp/r"; wait_drained "$1"
  else
    post "$1" "$2" "$tmp/m.out" > "$tmp/r"; wait_drained "$1"
    post "$4" "$5" "$tmp/m.in" >> "$tmp/r"; wait_drained "$4"
  fi
  [ "$(grep -o '"ok":true' "$tmp/r" | wc -l)" = 2 ] || die "move not applied: $(cat "$tmp/r")"
}
# 新宿区 registers its two residents first (their sequences 1 and 2).
"$bin" generate --count 300 --seed 77 --prefecture 13 --today 2026-04-01 |
  grep '"municipality_code":"131041"' | head -2 > "$tmp/tokyo.jsonl"
[ "$(wc -l < "$tmp/tokyo.jsonl")" = 2 ] || die "no 新宿区 residents generated"
post p13 "$tmp/shinjuku" "$tmp/tokyo.jsonl" > "$tmp/r"
[ "$(grep -o '"ok":true' "$tmp/r" | wc -l)" = 2 ] || die "新宿区 entries refused: $(cat "$tmp/r")"
wait_drained p13
# 甲府市 → 新宿区: residents from the load.
i=0
while read -r line; do
  i=$((i + 1))
  move p19 "$tmp/kofu" 192015 p13 "$tmp/shinjuku" 131041 "$line" $((i % 2))
done < <(head -4 "$tmp/in.jsonl")
# 新宿区 → 甲府市: people of 新宿区 (registered there first), in both orders.
i=0
while read -r line; do
  i=$((i + 1))
  move p13 "$tmp/shinjuku" 131041 p19 "$tmp/kofu" 192015 "$line" $((i % 2))
done < "$tmp/tokyo.jsonl"
ok

# --- afterwards ---------------------------------------------------------------------------------
wait_drained p19
wait_drained p13
# The national node's route itself: a gap is 409 with the point to resend from, an empty batch
# at the point is acknowledged, another prefecture's certificate or a non-prefecture is refused.
link_post() {  # $1 = cert prefix, $2 = body: prints the status, body in $tmp/lp.out
  curl -s -o "$tmp/lp.out" -w '%{http_code}' --cacert "$ca/ca.pem" --cert "$1.pem" --key "$1.key" \
    -H 'content-type: application/json' --data-binary "$2" \
    "https://127.0.0.1:${port_of[nat]}/v1/link/changes"
}
point=$(sqlite3 "$tmp/nat/registry.db" "SELECT last_sequence FROM link_received WHERE prefecture = 19")
[ "$(metric nat 'kakunin_link_received_sequence{prefecture="19"}')" = "$point" ] && ok ||
  fail "the national node's metrics do not show 19's point $point"
[ "$(link_post "$tmp/link19" '{"prefecture":19,"after":999999999,"changes":[]}')" = 409 ] &&
  grep -q "\"sequence_gap\",\"acknowledged\":$point}" "$tmp/lp.out" && ok ||
  fail "a gap: $(cat "$tmp/lp.out")"
# A number already applied, with another change under it (a restored prefecture node reusing its
# outbox numbers): 409 sequence_conflict, nothing applied (the versions compared below).
change=$(head -1 "$tmp/in.jsonl" | sed -e \
  's/^{"municipality_code":"\([0-9]*\)","sequence":[0-9]*,/{"sequence":1,"municipality_code":"\1","municipal_sequence":999999,/' \
  -e 's/}$/,"former_surname":null,"alias":null,"new_resident_code":null,"applied_at":1}/')
[ "$(link_post "$tmp/link19" "{\"prefecture\":19,\"after\":0,\"changes\":[$change]}")" = 409 ] &&
  grep -q "\"sequence_conflict\",\"sequence\":1,\"acknowledged\":$point}" "$tmp/lp.out" && ok ||
  fail "a reused number: $(cat "$tmp/lp.out")"
[ "$(link_post "$tmp/link19" "{\"prefecture\":19,\"after\":$point,\"changes\":[]}")" = 200 ] &&
  grep -q "\"acknowledged\":$point," "$tmp/lp.out" && ok || fail "at the point: $(cat "$tmp/lp.out")"
[ "$(link_post "$tmp/link13" '{"prefecture":19,"after":0,"changes":[]}')" = 403 ] && ok ||
  fail "13's certificate speaking for 19: $(cat "$tmp/lp.out")"
[ "$(link_post "$tmp/monitor" '{"prefecture":19,"after":0,"changes":[]}')" = 403 ] && ok ||
  fail "a client that is not a prefecture node: $(cat "$tmp/lp.out")"
stop p19; stop p13; stop nat
versions() { sqlite3 "$tmp/$1/registry.db" "SELECT municipality_code || '#' || sequence FROM versions ORDER BY 1"; }
sort <(versions p19) <(versions p13) > "$tmp/expected"
versions nat > "$tmp/got"
diff -q "$tmp/expected" "$tmp/got" > /dev/null && ok || fail "the national node's versions differ: $(diff "$tmp/expected" "$tmp/got" | head -5)"
[ "$(wc -l < "$tmp/got")" -ge 1000 ] && ok || fail "only $(wc -l < "$tmp/got") versions"
digest() {  # $1 = node, $2 = prefecture: the current records, without keys or MACs
  sqlite3 "$tmp/$1/registry.db" "SELECT resident_code, municipality_code, name, name_kana, sex, birth_date, address FROM residents WHERE status = 'active' AND substr(municipality_code, 1, 2) = '$2' ORDER BY resident_code" | sha256sum
}
[ "$(digest p19 19)" = "$(digest nat 19)" ] && ok || fail "digests of 19 differ"
[ "$(digest p13 13)" = "$(digest nat 13)" ] && ok || fail "digests of 13 differ"
moved=$(sqlite3 "$tmp/nat/registry.db" "SELECT count(*) FROM residents WHERE municipality_code = '131041' AND status = 'active'")
[ "$moved" = 4 ] && ok || fail "$moved movers current in 新宿区 at the national node, expected 4"
for p in 19 13; do
  sent=$(sqlite3 "$tmp/p$p/registry.db" "SELECT coalesce(max(outbox_id), 0) FROM outbox")
  got=$(sqlite3 "$tmp/nat/registry.db" "SELECT coalesce((SELECT last_sequence FROM link_received WHERE prefecture = $p), 0)")
  [ "$sent" = "$got" ] && ok || fail "prefecture $p: sent up to $sent, national has $got"
done
"$bin" stats --data "$tmp/p19" --json > "$tmp/stats.p19"
grep -q '"outbox_pending":0,"link_acknowledged":[1-9]' "$tmp/stats.p19" && ok ||
  fail "kakunin stats of 19: $(cat "$tmp/stats.p19")"
"$bin" stats --data "$tmp/nat" --json > "$tmp/stats.nat"
grep -q '"link_prefectures":2,' "$tmp/stats.nat" && ok || fail "kakunin stats of the national node: $(cat "$tmp/stats.nat")"
for n in nat p19 p13; do
  "$bin" audit verify --data "$tmp/$n" > "$tmp/verify.$n" 2>&1 && ok || fail "audit verify $n: $(cat "$tmp/verify.$n")"
done
echo "link faults: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
