#!/usr/bin/env bash
# A private PostgreSQL server for one test run (issue 13): initdb into DIR, a unix socket in DIR
# only (no TCP), fsync on, trust authentication for the socket's owner-only directory.
#
#   pg_server.sh start DIR WATCH_PID [NAME=VALUE ...]   server settings as postgres -c options
#   pg_server.sh standby DIR PRIMARY_DIR WATCH_PID
#   pg_server.sh promote DIR
#   pg_server.sh restart DIR                            (settings given at start are kept)
#   pg_server.sh stop DIR
#   pg_server.sh bin                                    the PostgreSQL bin directory
#
# As root (CI, the developers' machines) the server runs as `nobody` through setpriv, since
# PostgreSQL refuses to run as root. A watchdog stops the server (and removes DIR) when WATCH_PID
# exits, so a test that crashes leaves no server running.
set -euo pipefail

bin=""
for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
  if [[ -x "$d/initdb" ]]; then bin=$d; break; fi
done
if [[ -z "$bin" ]]; then
  echo "pg_server: initdb not found (scripts/bootstrap installs postgresql-15)" >&2
  exit 1
fi

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
  else
    "$@"
  fi
}

cmd=${1:-}
case "$cmd" in
  bin)
    echo "$bin"
    ;;
  start)
    dir=$2 watch=$3
    shift 3
    [[ $(id -u) -eq 0 ]] && chown nobody:nogroup "$dir"
    chmod 700 "$dir"
    # --no-sync: initdb's files are synced by the server's first checkpoint; the server itself
    # runs with fsync on, as in production.
    as_owner "$bin/initdb" -D "$dir/data" -U kakunin -A trust -E UTF8 --locale=C --no-sync \
      >"$dir/initdb.log" 2>&1
    opts="-k $dir -c listen_addresses='' -c fsync=on -c synchronous_commit=on"
    for o in "$@"; do opts+=" -c $o"; done
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -s -o "$opts" start
    # The watchdog polls the test process once a second: it waits for nothing the test checks.
    setsid bash -c '
      while kill -0 "$1" 2>/dev/null; do sleep 1; done
      if [[ -f "$2/data/postmaster.pid" ]]; then
        if [[ $(id -u) -eq 0 ]]; then
          setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$3/pg_ctl" -D "$2/data" -m immediate -s stop
        else
          "$3/pg_ctl" -D "$2/data" -m immediate -s stop
        fi
      fi
      rm -rf "$2"' _ "$watch" "$dir" "$bin" </dev/null >/dev/null 2>&1 &
    ;;
  standby)
    # A streaming-replication standby of the server in PRIMARY_DIR (pg_basebackup -R), with its
    # own socket directory and watchdog.
    dir=$2 primary=$3 watch=$4
    [[ $(id -u) -eq 0 ]] && chown nobody:nogroup "$dir"
    chmod 700 "$dir"
    as_owner "$bin/pg_basebackup" -D "$dir/data" -h "$primary" -U kakunin -R -X stream \
      -c fast >"$dir/basebackup.log" 2>&1
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -s \
      -o "-k $dir -c listen_addresses=''" start
    setsid bash -c '
      while kill -0 "$1" 2>/dev/null; do sleep 1; done
      if [[ -f "$2/data/postmaster.pid" ]]; then
        if [[ $(id -u) -eq 0 ]]; then
          setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$3/pg_ctl" -D "$2/data" -m immediate -s stop
        else
          "$3/pg_ctl" -D "$2/data" -m immediate -s stop
        fi
      fi
      rm -rf "$2"' _ "$watch" "$dir" "$bin" </dev/null >/dev/null 2>&1 &
    ;;
  promote)
    as_owner "$bin/pg_ctl" -D "$2/data" -w -t 60 -s promote
    ;;
  restart)
    dir=$2
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 -s restart
    ;;
  stop)
    dir=$2
    # (A server killed with kill -9 leaves its pid file: nothing to stop then.)
    if [[ -f "$dir/data/postmaster.pid" ]] && kill -0 "$(head -1 "$dir/data/postmaster.pid")" 2>/dev/null; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 -s stop
    fi
    ;;
  *)
    echo "usage: pg_server.sh start|standby|promote|restart|stop|bin …" >&2
    exit 2
    ;;
esac
