#!/usr/bin/env bash
# DESIGN §3: commands in cli/ call use cases only. No store type (store::…) and no store header
# (store/…) may appear in src/cli outside comments, and nothing in src/cli may include app/,
# which sits above cli/ (configuration and wiring). Usage: layering_cli_has_no_store.sh SRC_ROOT
set -u
root=${1:?usage: $0 SOURCE_ROOT}
cli="$root/src/cli"
[ -d "$cli" ] || { echo "no $cli"; exit 2; }
status=0

# Lines that mention the store in code (a type, a header, or a member reached as .store or
# ->store): the text before any // comment is what counts.
store_hits=$(grep -Hn 'store' "$cli"/* |
             awk '{ line = $0; sub(/^[^:]*:[0-9]+:/, "", line); sub(/\/\/.*/, "", line)
                    if (line ~ /(^|[^_A-Za-z0-9])store(::|\/)/ ||
                        line ~ /(\.|->)store([^_A-Za-z0-9]|$)/) print }' || true)
if [ -n "$store_hits" ]; then
  echo "FAIL: store types or headers in src/cli (use a registry/ use case instead):"
  echo "$store_hits"
  status=1
fi

app_hits=$(grep -n '#[[:space:]]*include[[:space:]]*["<]app/' "$cli"/* || true)
if [ -n "$app_hits" ]; then
  echo "FAIL: src/cli includes app/ (cli/ sits below app/; declare an interface in cli/):"
  echo "$app_hits"
  status=1
fi

[ $status -eq 0 ] && echo "ok: src/cli names no store type and includes nothing from app/"
exit $status
