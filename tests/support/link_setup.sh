# Shared set-up of the link's shell tests and benchmark (tests/link_faults.sh,
# bench/link_bench.sh): a private CA, a national node and two prefecture nodes (山梨県 19,
# 東京都 13) whose [upstream] points at it, each registered where it must be, and helpers to
# start, kill and query them. Sourced after support/node_setup.sh, which gives $bin, $tmp, pids,
# ok and fail. Nothing is started here.
die() { echo "FAIL: $*" >&2; exit 1; }

ca="$tmp/ca"
"$bin" pki init --ca "$ca" > /dev/null || die "pki init"
"$bin" pki server --ca "$ca" --dns localhost --ip 127.0.0.1 --out "$tmp/server" > /dev/null
issue() { "$bin" pki issue --ca "$ca" "$@" > /dev/null || die "pki issue $*"; }
issue --kind national --name 山梨県 --out "$tmp/link19"
issue --kind national --name 東京都 --out "$tmp/link13"
issue --kind municipal-cs --name 甲府市CS --municipality 192015 --out "$tmp/kofu"
issue --kind municipal-cs --name 新宿区CS --municipality 131041 --out "$tmp/shinjuku"
issue --kind national --name monitor --out "$tmp/monitor"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nport=$(free_port)

server_table() {  # $1 = port, $2 = name
  cat <<EOF

[server]
address = "127.0.0.1"
port = $1
certificate = "$tmp/server.pem"
key = "$tmp/server.key"
client_ca = "$ca/ca.pem"
access_log = "$tmp/access-$2.log"
EOF
}
"$bin" init --data "$tmp/nat" --role national > /dev/null
"$bin" init --data "$tmp/p19" --prefecture 19 > /dev/null
"$bin" init --data "$tmp/p13" --prefecture 13 > /dev/null
server_table "$nport" nat >> "$tmp/nat/kakunin.toml"
for p in 19 13; do
  server_table 0 "p$p" >> "$tmp/p$p/kakunin.toml"
  cat >> "$tmp/p$p/kakunin.toml" <<EOF

[upstream]
url = "https://127.0.0.1:$nport"
ca_file = "$ca/ca.pem"
cert_file = "$tmp/link$p.pem"
key_file = "$tmp/link$p.key"
batch_size = 200
retry_min_ms = 20
retry_max_ms = 400
poll_ms = 20
ready_threshold_seconds = 1
EOF
done
"$bin" clients register --data "$tmp/nat" --cert "$tmp/link19.pem" --kind prefecture \
  --name 山梨県 --prefecture 19 > /dev/null
"$bin" clients register --data "$tmp/nat" --cert "$tmp/link13.pem" --kind prefecture \
  --name 東京都 --prefecture 13 > /dev/null
"$bin" clients register --data "$tmp/p19" --cert "$tmp/kofu.pem" --kind municipal_cs \
  --name 甲府市CS --municipality 192015 > /dev/null
"$bin" clients register --data "$tmp/p13" --cert "$tmp/shinjuku.pem" --kind municipal_cs \
  --name 新宿区CS --municipality 131041 > /dev/null
for n in nat p19 p13; do
  "$bin" clients register --data "$tmp/$n" --cert "$tmp/monitor.pem" --kind national \
    --name monitor > /dev/null
done

declare -A pid_of port_of
start() {  # $1 = nat | p19 | p13
  "$bin" serve --data "$tmp/$1" > /dev/null 2> "$tmp/$1.err" &
  pid_of[$1]=$!
  pids+=("${pid_of[$1]}")
  # Up to 30 s: a loaded CI machine (deb build, browser tests) once took more than 10.
  for _ in $(seq 1 600); do grep -q "listening on" "$tmp/$1.err" && break; sleep 0.05; done
  grep -q "listening on" "$tmp/$1.err" || { cat "$tmp/$1.err"; die "$1 did not start"; }
  port_of[$1]=$(sed -n 's/.*listening on https:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$tmp/$1.err" | tail -1)
  : > "$tmp/$1.err.seen"
}
kill9() { kill -9 "${pid_of[$1]}" 2>/dev/null || true; wait "${pid_of[$1]}" 2>/dev/null || true; }
stop() { kill -TERM "${pid_of[$1]}" 2>/dev/null || true; wait "${pid_of[$1]}" 2>/dev/null || true; }
get() {  # $1 = node, $2 = path: prints the status code, body in $tmp/get.out
  curl -s -o "$tmp/get.out" -w '%{http_code}' --cacert "$ca/ca.pem" --cert "$tmp/monitor.pem" \
    --key "$tmp/monitor.key" "https://127.0.0.1:${port_of[$1]}$2" || true
}
metric() {  # $1 = node, $2 = name
  get "$1" /metrics > /dev/null
  sed -n "s/^$2 \\([0-9.]*\\)$/\\1/p" "$tmp/get.out"
}
post() {  # $1 = node, $2 = cs cert prefix, $3 = file of notification lines
  { printf '{"notifications":['; paste -sd, "$3"; printf ']}'; } > "$tmp/body.json"
  curl -s --cacert "$ca/ca.pem" --cert "$2.pem" --key "$2.key" -H 'content-type: application/json' \
    --data-binary @"$tmp/body.json" "https://127.0.0.1:${port_of[$1]}/v1/notifications"
}
wait_drained() {  # $1 = node: backlog 0 within a generous bound
  for _ in $(seq 1 600); do [ "$(metric "$1" kakunin_link_backlog)" = 0 ] && return 0; sleep 0.1; done
  die "$1: the backlog did not drain: $(metric "$1" kakunin_link_backlog)"
}

