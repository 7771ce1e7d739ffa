#!/usr/bin/env bash
# The Debian package on this machine (issue 14): builds it (scripts/deb: dpkg-buildpackage, then
# lintian, which fails on any error or warning), installs it with dpkg -i, checks what it put
# where (the kakunin user, its private /var/lib/kakunin, the configuration only that user may
# read, the console's files, the units), verifies and scores the units with systemd-analyze,
# makes a node with `kakunin init` as the packaged documentation says, runs the service's
# ExecStart command line as the service user until the node listens and answers over TLS, stops
# it with SIGTERM, and purges the package: no user, group, data, configuration or statoverride
# left. The machine is left as it was, also when a step fails.
#
# Needs root, and a machine without a kakunin package, user or /var/lib/kakunin (it will not
# touch someone's node). Runs only with KAKUNIN_TEST_DEB=1 (make test sets it): building the
# package compiles the binary again with Debian's flags. Exit 77 = skipped.
# Usage: tests/deb_install.sh SOURCE_DIR
set -euo pipefail
src=$(cd "${1:?usage: deb_install.sh SOURCE_DIR}" && pwd)

skip() { echo "SKIP: $*"; exit 77; }
[[ ${KAKUNIN_TEST_DEB:-} == 1 ]] ||
  skip "set KAKUNIN_TEST_DEB=1 to build, install and purge the Debian package (make test does)"
[[ $(id -u) -eq 0 ]] || skip "dpkg -i needs root"
if dpkg-query -W -f='${Status}' kakunin 2>/dev/null | grep -q installed; then
  skip "a kakunin package is installed here already; this test does not touch it"
fi
getent passwd kakunin >/dev/null && skip "a kakunin user exists here already"
getent group kakunin >/dev/null && skip "a kakunin group exists here already"
[[ -e /var/lib/kakunin || -e /etc/kakunin ]] && skip "/var/lib/kakunin or /etc/kakunin exists already"

work=$(mktemp -d /tmp/kakunin-deb-test.XXXXXX)
server_pid=
installed=
cleanup() {
  local rc=$?
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n $installed ]]; then dpkg --purge kakunin >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
as_kakunin() { runuser -u kakunin -- "$@"; }

echo "== make deb (dpkg-buildpackage, lintian)"
start=$SECONDS
"$src/scripts/deb" "$work/deb" || fail "building the package or lintian failed"
echo "   built and checked in $((SECONDS - start)) s"
deb=$(ls "$work"/deb/kakunin_*.deb)

echo "== dpkg -i"
installed=1
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i failed"; }
getent passwd kakunin >/dev/null || fail "no kakunin user"
[[ $(getent passwd kakunin | cut -d: -f7) == */nologin || $(getent passwd kakunin | cut -d: -f7) == /bin/false ]] ||
  fail "the kakunin user has a login shell"
[[ $(stat -c '%U %a' /var/lib/kakunin) == "kakunin 700" ]] || fail "/var/lib/kakunin: $(stat -c '%U %a' /var/lib/kakunin)"
[[ $(stat -c '%U %a' /etc/kakunin/kakunin.toml) == "kakunin 600" ]] ||
  fail "/etc/kakunin/kakunin.toml: $(stat -c '%U %a' /etc/kakunin/kakunin.toml)"
grep -qx /etc/kakunin/kakunin.toml <(dpkg-query -W -f='${Conffiles}\n' kakunin | awk '{print $1}') ||
  fail "/etc/kakunin/kakunin.toml is not a conffile"
[[ -f /usr/share/kakunin/web/index.html ]] || fail "the console's files are missing"
/usr/bin/kakunin --version | grep "^kakunin 0\." >/dev/null || fail "kakunin --version"
units=(kakunin.service kakunin-purge.service kakunin-purge.timer kakunin-backup.service
       kakunin-backup.timer kakunin-checkpoint.service kakunin-checkpoint.timer)
unit_dir=/lib/systemd/system
for u in "${units[@]}"; do [[ -f $unit_dir/$u ]] || fail "missing unit $u"; done

if command -v systemd-analyze >/dev/null; then
  echo "== systemd-analyze verify"
  (cd "$unit_dir" && systemd-analyze verify "${units[@]/#/$unit_dir/}") >"$work/verify.log" 2>&1 || {
    cat "$work/verify.log"; fail "systemd-analyze verify"; }
  # Lines that are not about our units (the container's own) are not ours to judge.
  if grep -i kakunin "$work/verify.log"; then fail "systemd-analyze verify reported the above"; fi
  echo "== systemd-analyze security (offline)"
  systemd-analyze security --offline=yes "$unit_dir/kakunin.service" >"$work/security.log" 2>&1 || true
  grep -i "overall exposure" "$work/security.log" || { cat "$work/security.log"; fail "no score"; }
  for u in kakunin-purge kakunin-backup kakunin-checkpoint; do
    systemd-analyze security --offline=yes "$unit_dir/$u.service" 2>&1 | grep -i "overall exposure" |
      sed "s/^/   $u: /"
  done
else
  echo "SKIPPED (systemd-analyze missing): verify and security of the units"
fi

echo "== the sample configuration before the node exists: problems, exit 1"
set +e
as_kakunin kakunin config check --config /etc/kakunin/kakunin.toml --data /var/lib/kakunin >"$work/check0" 2>&1
rc=$?
set -e
cat "$work/check0"
[[ $rc -eq 1 ]] || fail "config check of the unfilled sample exited $rc"
grep -q "prefecture" "$work/check0" || fail "the unfilled prefecture was not reported"
grep -q "key_file" "$work/check0" || fail "the missing key file was not reported with the rest"

echo "== making the node as /etc/kakunin/kakunin.toml says"
as_kakunin kakunin init --data /var/lib/kakunin --prefecture 19 >/dev/null
as_kakunin kakunin pki init --ca /var/lib/kakunin/ca >/dev/null
as_kakunin mkdir -m 700 /var/lib/kakunin/tls
as_kakunin kakunin pki server --ca /var/lib/kakunin/ca --dns localhost --ip 127.0.0.1 \
  --out /var/lib/kakunin/tls/server >/dev/null
as_kakunin cp /var/lib/kakunin/ca/ca.pem /var/lib/kakunin/tls/client-ca.pem
# A monitoring client, registered, to ask /readyz.
as_kakunin mkdir -m 700 /var/lib/kakunin/clients
as_kakunin kakunin pki issue --ca /var/lib/kakunin/ca --kind national --name 機構 \
  --out /var/lib/kakunin/clients/monitor >/dev/null
as_kakunin kakunin clients register --data /var/lib/kakunin \
  --cert /var/lib/kakunin/clients/monitor.pem --kind national --name 機構 >/dev/null
# Ports nobody holds: the sample's 8443/8444 may be another node's on this machine.
port=$(( 20000 + RANDOM % 20000 ))
console_port=$(( port + 1 ))
sed -i -e 's/^prefecture = 0$/prefecture = 19/' -e "s/^port = 8443$/port = $port/" \
  -e "s/^port = 8444$/port = $console_port/" /etc/kakunin/kakunin.toml
ln -sf /etc/kakunin/kakunin.toml /var/lib/kakunin/kakunin.toml
as_kakunin kakunin config check --data /var/lib/kakunin || fail "config check of the made node"

echo "== the unit's ExecStart as the service user"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit_dir/kakunin.service")
[[ -n $exec_start ]] || fail "no ExecStart"
read -r -a cmd <<<"$exec_start"
runuser -u kakunin -- "${cmd[@]}" >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
for _ in $(seq 1 600); do
  grep -q "listening on" "$work/serve.err" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.err"; fail "the service exited"; }
  sleep 0.1
done
grep -q "listening on https://127.0.0.1:$port" "$work/serve.err" || { cat "$work/serve.err"; fail "not listening"; }
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert /var/lib/kakunin/ca/ca.pem \
  --cert /var/lib/kakunin/clients/monitor.pem --key /var/lib/kakunin/clients/monitor.key \
  "https://127.0.0.1:$port/readyz" || true)
[[ $code == 200 ]] || fail "/readyz answered '$code'"
echo "   /readyz: 200"
# The console's pages come from the package's /usr/share/kakunin/web (the compiled-in default).
curl -sS --cacert /var/lib/kakunin/ca/ca.pem "https://localhost:$console_port/" \
  --resolve "localhost:$console_port:127.0.0.1" >"$work/console.html" || fail "the console did not answer"
cmp -s "$work/console.html" /usr/share/kakunin/web/index.html ||
  fail "the console did not serve /usr/share/kakunin/web/index.html"
echo "   the console serves /usr/share/kakunin/web"
# SIGTERM to kakunin itself, as systemd sends it (runuser, its parent here, would report a
# forwarded signal as its own death); runuser then exits with kakunin's status.
node_pid=$(pgrep -P "$server_pid" -x kakunin || true)
[[ -n $node_pid ]] || fail "no kakunin process under runuser"
kill -TERM "$node_pid"
rc=0
wait "$server_pid" || rc=$?
[[ $rc -eq 0 ]] || { cat "$work/serve.err"; fail "the service did not stop cleanly on SIGTERM (exit $rc)"; }
grep -q "stopped" "$work/serve.err" || fail "no clean stop reported"
server_pid=
as_kakunin kakunin audit verify --data /var/lib/kakunin >/dev/null || fail "audit verify after the run"

echo "== dpkg --purge"
dpkg --purge kakunin >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge"; }
installed=
getent passwd kakunin >/dev/null && fail "the kakunin user is left"
getent group kakunin >/dev/null && fail "the kakunin group is left"
[[ -e /var/lib/kakunin ]] && fail "/var/lib/kakunin is left"
[[ -e /etc/kakunin ]] && fail "/etc/kakunin is left"
[[ -e /var/backups/kakunin ]] && fail "/var/backups/kakunin is left"
dpkg-statoverride --list | grep -q kakunin && fail "a statoverride is left"
echo "deb_install: ok"
